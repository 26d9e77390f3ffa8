"""URLs for ``tests.demo_settings``: the suite's own routes, the demo site, and media.

The demo's ``config.urls`` serves media only when DEBUG is on, and the test runner
turns DEBUG off, so media is routed here explicitly for the browser test.
"""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from config.urls import urlpatterns as demo_patterns
from tests.urls import urlpatterns as suite_patterns

urlpatterns = [
    *suite_patterns,
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    *demo_patterns,
]
