"""Where the creator's setting forms post.

``path("creator/", include("moderation.optout.creator_urls"))``.

Namespace ``moderation_creator``: ``training`` (all the creator's works) and
``work_training`` (one work), ``protected`` (the creator's protected works: register
one, see its matches) and ``unprotect``.
"""

from __future__ import annotations

from django.urls import path

from moderation.optout.creator_views import (
    protected_works,
    save_training,
    save_work_training,
    unprotect_work,
)

app_name = "moderation_creator"
urlpatterns = [
    path("training/", save_training, name="training"),
    path("training/<str:model>/<str:object_id>/", save_work_training, name="work_training"),
    path("protected/", protected_works, name="protected"),
    path("protected/<int:entry_id>/remove/", unprotect_work, name="unprotect"),
]
