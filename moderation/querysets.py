"""Query helpers for :class:`~moderation.models.ModerationCase`."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from moderation.constants import ProcessingState


class CaseQuerySet(models.QuerySet):
    def for_instance(self, instance: models.Model) -> CaseQuerySet:
        ct = ContentType.objects.get_for_model(instance, for_concrete_model=False)
        return self.filter(content_type=ct, object_id=str(instance.pk))

    def pending(self) -> CaseQuerySet:
        return self.filter(state__in=[ProcessingState.PENDING, ProcessingState.RUNNING])

    def stuck(self, older_than_seconds: int) -> CaseQuerySet:
        """Cases not terminal whose last write is older than ``older_than_seconds``."""
        cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
        return self.pending().filter(updated_at__lt=cutoff)

    def needs_review(self) -> CaseQuerySet:
        return self.filter(needs_review=True).order_by("-review_priority", "created_at")
