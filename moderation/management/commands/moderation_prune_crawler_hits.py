"""Delete AI-crawler hit rows older than ``MODERATION["CRAWLER_HIT_RETENTION_DAYS"]``.

Run daily (cron or Celery beat); the creator's page counts only what is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from moderation.optout.crawlers import prune_hits


class Command(BaseCommand):
    help = "Delete AI-crawler hit rows older than CRAWLER_HIT_RETENTION_DAYS."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = prune_hits()
        self.stdout.write(f"deleted {deleted} crawler hit(s)")
