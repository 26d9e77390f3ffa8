"""Recognise AI-training crawlers by user agent and log what they fetched.

The list lives in ``MODERATION["AI_CRAWLERS"]`` (robots.txt product tokens); a crawler
matches when its token appears in the User-Agent header, case-insensitively, which is how
these bots identify themselves (e.g. ``Mozilla/5.0 ... GPTBot/1.1; +https://openai.com/gptbot``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.http import HttpRequest

from moderation.conf import moderation_settings
from moderation.models import CrawlerHit
from moderation.optout.policy import owner_id_of
from moderation.querysets import content_type_for

#: Most hit rows one request may write (a listing page names many works).
MAX_HITS_PER_REQUEST = 50


def crawler_names() -> list[str]:
    return [str(name) for name in moderation_settings.AI_CRAWLERS]


def match_crawler(user_agent: str) -> str | None:
    """The configured crawler token found in ``user_agent``, or None."""
    if not user_agent:
        return None
    lowered = user_agent.lower()
    for name in crawler_names():
        if name.lower() in lowered:
            return name
    return None


def request_crawler(request: HttpRequest) -> str | None:
    return match_crawler(request.headers.get("User-Agent", ""))


def log_hits(request: HttpRequest, crawler: str, works: Iterable[models.Model]) -> int:
    """Record that ``crawler`` fetched reserved ``works``; returns rows written."""
    if not moderation_settings.LOG_CRAWLER_HITS:
        return 0
    ua = request.headers.get("User-Agent", "")[:300]
    path = request.get_full_path()[:500]
    rows = []
    for obj in list(works)[:MAX_HITS_PER_REQUEST]:
        rows.append(CrawlerHit(
            creator_id=owner_id_of(obj), content_type=content_type_for(type(obj)),
            object_id=str(obj.pk), crawler=crawler, user_agent=ua, path=path,
        ))
    CrawlerHit.objects.bulk_create(rows)
    return len(rows)


def hit_count(creator: Any) -> int:
    """How many fetches by AI crawlers of this creator's reserved works were logged."""
    if creator is None or not getattr(creator, "pk", None):
        return 0
    return CrawlerHit.objects.filter(creator_id=creator.pk).count()


def hit_counts_by_crawler(creator: Any) -> list[tuple[str, int]]:
    """``[(crawler, count), ...]`` for the creator's page, most frequent first."""
    rows = (CrawlerHit.objects.filter(creator_id=creator.pk).values("crawler")
            .annotate(n=models.Count("id")).order_by("-n", "crawler"))
    return [(row["crawler"], row["n"]) for row in rows]


def prune_hits(now: Any = None) -> int:
    """Delete hits older than ``CRAWLER_HIT_RETENTION_DAYS``; returns rows deleted."""
    from datetime import timedelta

    from django.utils import timezone

    days = moderation_settings.CRAWLER_HIT_RETENTION_DAYS
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=int(days))
    deleted, _by_model = CrawlerHit.objects.filter(created_at__lt=cutoff).delete()
    return int(deleted)
