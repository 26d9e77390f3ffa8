"""Where the creator's setting forms post.

``path("creator/", include("moderation.optout.creator_urls"))``.

Namespace ``moderation_creator``: ``training`` (all the creator's works) and
``work_training`` (one work).
"""

from __future__ import annotations

from django.urls import path

from moderation.optout.creator_views import save_training, save_work_training

app_name = "moderation_creator"
urlpatterns = [
    path("training/", save_training, name="training"),
    path("training/<str:model>/<str:object_id>/", save_work_training, name="work_training"),
]
