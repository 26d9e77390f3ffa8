"""Burst collapsing: one account's flood of works costs a feed one tile, not ten pages.

* :func:`collapse_page` turns a feed queryset into tiles; works one account posted within
  ``BURST_WINDOW_SECONDS`` of the tile's newest work fold into it ("+12 more from @x"),
  even when other accounts' works are interleaved, so one account posting 200 works an
  hour costs new arrivals one tile instead of ten pages.
* ``AI_FEED_SHARE_CAP`` bounds the share of AI tiles on one page of a mixed feed; capped
  works are still in the AI feed.

The upload-time limit on AI works per account is :mod:`moderation.feeds.quota`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, QuerySet
from django.utils.translation import ngettext

from moderation.conf import moderation_settings
from moderation.constants import Label, Route
from moderation.feeds.queries import annotate_moderation
from moderation.models import ModerationCase
from moderation.visibility import case_for_outer


@dataclass
class Tile:
    """One feed slot: the newest work of a burst plus how many more it stands for."""

    works: list[Any]
    owner_id: Any
    anchor: Any
    is_ai: bool
    more: int = 0
    owner_name: str = ""

    @property
    def work(self) -> Any:
        return self.works[0]

    @property
    def more_text(self) -> str:
        if not self.more:
            return ""
        return ngettext("+%(count)d more from @%(name)s", "+%(count)d more from @%(name)s",
                        self.more) % {"count": self.more, "name": self.owner_name}


@dataclass
class FeedPage:
    tiles: list[Tile]
    #: Offset of the next page in the underlying queryset (pass as ``start``).
    next_start: int
    has_more: bool
    #: AI works left off this page by ``AI_FEED_SHARE_CAP``.
    capped: int = 0
    scanned: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _is_ai(work: Any) -> bool:
    return (getattr(work, "moderation_route", None) == Route.AI_FEED
            or getattr(work, "moderation_label", None) == Label.AI)


def _ai_slots(page_size: int, cap: float | None) -> int:
    if cap is None:
        return page_size
    return max(0, math.floor(page_size * float(cap)))


def collapse(works: Iterable[Any], *, page_size: int, window_seconds: int | None = None,
             show: int | None = None, ai_share_cap: float | None = None) -> FeedPage:
    """Fold ``works`` (annotated by :func:`annotate_moderation`, newest first) into at
    most ``page_size`` tiles; stops at the first work that would need one more tile."""
    window = int(moderation_settings.BURST_WINDOW_SECONDS if window_seconds is None
                 else window_seconds)
    show = max(1, int(moderation_settings.BURST_SHOW if show is None else show))
    cap = moderation_settings.AI_FEED_SHARE_CAP if ai_share_cap is None else ai_share_cap
    ai_slots = _ai_slots(page_size, cap)
    tiles: list[Tile] = []
    open_tiles: dict[Any, Tile] = {}
    scanned = capped = 0
    exhausted = True
    for work in works:
        owner = getattr(work, "moderation_owner_id", None)
        when = getattr(work, "moderation_created_at", None)
        tile = open_tiles.get(owner) if owner is not None and window > 0 else None
        # abs(): the host's feed order need not be the upload order (e.g. "-pk" after
        # an import), so a work is in the burst if it is within the window either way.
        if tile is not None and when is not None and tile.anchor is not None and abs(
                tile.anchor - when) <= timedelta(seconds=window):
            scanned += 1
            if len(tile.works) < show:
                tile.works.append(work)
            else:
                tile.more += 1
            continue
        if len(tiles) >= page_size:
            exhausted = False
            break
        scanned += 1
        is_ai = _is_ai(work)
        if is_ai and sum(t.is_ai for t in tiles) >= ai_slots:
            capped += 1
            continue
        tile = Tile(works=[work], owner_id=owner, anchor=when, is_ai=is_ai)
        tiles.append(tile)
        if owner is not None:
            open_tiles[owner] = tile
    _name_owners(tiles)
    return FeedPage(tiles=tiles, next_start=scanned, has_more=not exhausted, capped=capped,
                    scanned=scanned)


def collapse_page(qs: QuerySet[Any], *, page_size: int = 40, start: int = 0,
                  **options: Any) -> FeedPage:
    """Tiles for one page of a feed queryset (already filtered by ``for_viewer``).

    Reads at most ``FEED_SCAN_LIMIT`` rows from ``start``; ``page.next_start`` is the
    offset of the following page.
    """
    limit = int(moderation_settings.FEED_SCAN_LIMIT)
    if not qs.ordered:
        qs = qs.order_by("-pk")
    rows = _batches(annotate_moderation(qs), start, limit, max(100, page_size * 3))
    page = collapse(rows, page_size=page_size, **options)
    page.next_start = start + page.scanned
    page.has_more = page.has_more or page.scanned >= limit
    return page


def burst_of(qs: QuerySet[Any], anchor: Any) -> QuerySet[Any]:
    """The works a tile headed by ``anchor`` stands for: ``qs`` narrowed to the same
    account's works uploaded within ``BURST_WINDOW_SECONDS`` of it, either side (as
    :func:`collapse` folds them). Empty when ``anchor`` has no case or owner."""
    case = ModerationCase.objects.for_instance(anchor).only("owner_id", "created_at").first()
    if case is None or case.owner_id is None:
        return qs.none()
    window = timedelta(seconds=int(moderation_settings.BURST_WINDOW_SECONDS))
    cases = case_for_outer(qs).filter(
        owner_id=case.owner_id,
        created_at__range=(case.created_at - window, case.created_at + window))
    return qs.filter(Exists(cases))


def _batches(qs: QuerySet[Any], start: int, limit: int, size: int) -> Iterator[Any]:
    """Rows ``start..start+limit`` fetched ``size`` at a time, lazily.

    A page usually fills after a few dozen rows; fetching the whole scan window at once
    would cost the annotation subqueries for up to ``FEED_SCAN_LIMIT`` rows every time.
    """
    offset = start
    end = start + limit
    while offset < end:
        batch = list(qs[offset:min(offset + size, end)])
        yield from batch
        if len(batch) < size:
            return
        offset += size


def _name_owners(tiles: list[Tile]) -> None:
    ids = {t.owner_id for t in tiles if t.more and t.owner_id is not None}
    if not ids:
        return
    user_model = get_user_model()
    names = {u.pk: u.get_username() for u in user_model._default_manager.filter(pk__in=ids)}
    for tile in tiles:
        tile.owner_name = str(names.get(tile.owner_id, ""))
