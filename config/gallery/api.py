"""The demo's public works API: ``GET /api/works/?ai=exclude|include|only``.

Built from the app's public pieces the way the README tells hosts to: the ``?ai=`` filter
(which is also the visibility gate), the label field, and cursor pages that cost the same
at any depth (``FeedCursorPagination``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import permissions, serializers, viewsets

from config.gallery.models import Artwork
from moderation.api.fields import ModerationLabelField
from moderation.api.pagination import FeedCursorPagination
from moderation.filters import AIFilterBackend


class ArtworkSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    label = ModerationLabelField()

    class Meta:
        model = Artwork
        fields: ClassVar[list[str]] = ["id", "title", "author", "created_at", "label"]


class ArtworkViewSet(viewsets.ReadOnlyModelViewSet):
    """Public works, newest first; held and hidden works are 404 and never listed."""

    serializer_class = ArtworkSerializer
    filter_backends: ClassVar[list[Any]] = [AIFilterBackend]
    pagination_class = FeedCursorPagination
    permission_classes: ClassVar[list[Any]] = [permissions.AllowAny]
    queryset = Artwork.objects.select_related("author")
