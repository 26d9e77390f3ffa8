"""Include at the site root: ``path("", include("moderation.optout.urls"))``.

Gives /robots.txt, /ai.txt, /.well-known/tdmrep.json, thumbnails, and -- when
``MEDIA_URL`` is a local path -- the media view that adds the reservation and visibility
check to uploaded files (skip it if a web server serves media; see docs/optout-nginx.md).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.urls import path, re_path

from moderation.optout import views

app_name = views.URL_NAMESPACE
urlpatterns = [
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("ai.txt", views.ai_txt, name="ai_txt"),
    path(".well-known/tdmrep.json", views.tdmrep_json, name="tdmrep_json"),
    path("thumbs/<str:model>/<str:object_id>/<slug:size>.jpg", views.thumbnail,
         name="thumbnail"),
]

_media_url = str(getattr(settings, "MEDIA_URL", "") or "")
if _media_url.startswith("/") and len(_media_url) > 1:
    urlpatterns.append(re_path(rf"^{re.escape(_media_url.lstrip('/'))}(?P<path>.+)$",
                               views.serve_media, name="media"))
