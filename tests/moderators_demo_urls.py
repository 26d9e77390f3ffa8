"""The demo site's test routes plus the moderator pages and API (browser walk)."""

from tests.demo_urls import urlpatterns as demo_patterns
from tests.urls import urlpatterns as suite_patterns

urlpatterns = [*suite_patterns, *demo_patterns]
