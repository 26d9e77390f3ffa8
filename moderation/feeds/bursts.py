"""Burst collapsing: one account's flood of works costs a feed one tile, not ten pages.

* :func:`collapse_page` turns a feed queryset into tiles; works of the same burst fold
  into one tile ("+12 more from @x"), even when other accounts' works are interleaved,
  so one account posting 200 works an hour costs new arrivals one tile instead of ten
  pages. A burst is decided when a work enters a feed (its case's ``burst`` id, see
  :mod:`moderation.feeds.burst_ids`); works without an id fold when one account posted
  them within ``BURST_WINDOW_SECONDS`` of the tile's newest work.
* works of one variation set (one account's near-identical uploads, see
  :mod:`moderation.similarity.variations`) fold into one tile whenever they were posted
  ("+29 similar works from @x"): a series spread over a week costs a feed one tile too.
* ``AI_FEED_SHARE_CAP`` bounds the share of AI tiles on one page of a mixed feed; capped
  works are still in the AI feed.

Pages follow a keyset cursor (:mod:`moderation.feeds.cursor`): each page reads rows after
the previous page's last row, a few dozen at a time, by the host's feed ordering, so the
cost of a page does not grow with the site or with how deep the page is. The cursor
carries the bursts still open at the page's end, and the next page folds their remaining
works away instead of opening a second tile for the same burst; the database leaves out
the works of carried bursts that have an id, so the rest of a 500-work burst is not
read again on the next page.

The upload-time limit on AI works per account is :mod:`moderation.feeds.quota`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, Q, QuerySet
from django.utils.translation import ngettext

from moderation.conf import moderation_settings
from moderation.constants import Label, Route
from moderation.feeds import cache as page_cache
from moderation.feeds import cursor as keyset
from moderation.feeds.queries import annotate_moderation, feed_database
from moderation.labels import TILE_CASE_FIELDS, prefetch_cases
from moderation.models import ModerationCase, WorkEmbedding
from moderation.registry import registry
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
    #: The write-time burst id of the works it folds (None: folds by the time window).
    burst: int | None = None
    #: The tile stands for a variation set (near-identical works), not a time burst.
    variation: bool = False

    @property
    def work(self) -> Any:
        return self.works[0]

    @property
    def more_text(self) -> str:
        if not self.more:
            return ""
        if self.variation:
            return ngettext("+%(count)d similar work from @%(name)s",
                            "+%(count)d similar works from @%(name)s",
                            self.more) % {"count": self.more, "name": self.owner_name}
        return ngettext("+%(count)d more from @%(name)s", "+%(count)d more from @%(name)s",
                        self.more) % {"count": self.more, "name": self.owner_name}


@dataclass
class FeedPage:
    tiles: list[Tile]
    #: Offset of the next page in the underlying queryset (legacy ``start``; prefer
    #: ``next_cursor``, which does not shift when works arrive).
    next_start: int
    has_more: bool
    #: AI works left off this page by ``AI_FEED_SHARE_CAP``.
    capped: int = 0
    #: Rows read to build the page (tiles, folded works, capped works).
    scanned: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Opaque token for the following page (``collapse_page(qs, cursor=...)``); empty
    #: on the last page.
    next_cursor: str = ""
    #: The last row the page consumed and the bursts still open after it.
    last_row: Any = None
    open_bursts: list[tuple[str, datetime, int | None]] = field(default_factory=list)


def _is_ai(work: Any) -> bool:
    return (getattr(work, "moderation_route", None) == Route.AI_FEED
            or getattr(work, "moderation_label", None) == Label.AI)


def _ai_slots(page_size: int, cap: float | None) -> int:
    if cap is None:
        return page_size
    return max(0, math.floor(page_size * float(cap)))


#: Prefix of the open-tile key of a variation set (owner bursts are keyed by owner id).
VARIATION_PREFIX = "v:"


def _variation_key(work: Any) -> str | None:
    key = getattr(work, "moderation_variation_key", None)
    return f"{VARIATION_PREFIX}{key}" if key is not None else None


def _folds(key: str, tile: Tile, work: Any, when: Any, window: int) -> bool:
    """Whether ``work`` (keyed ``key``, posted at ``when``) folds into the open ``tile``:
    a variation set folds at any distance in time, an owner's burst by burst id or
    within the window (:func:`_same_burst`)."""
    return key.startswith(VARIATION_PREFIX) or _same_burst(tile, work, when, window)


def _within(anchor: Any, when: Any, window: int) -> bool:
    # abs(): the host's feed order need not be the upload order (e.g. "-pk" after an
    # import), so a work is in the burst if it is within the window either way.
    return (anchor is not None and when is not None
            and abs(anchor - when) <= timedelta(seconds=window))


def _same_burst(tile: Tile, work: Any, when: Any, window: int) -> bool:
    """Whether ``work`` folds into ``tile`` (same owner already checked): by burst id
    when both have one, else by the time window around the tile's newest work."""
    burst = getattr(work, "moderation_burst", None)
    if tile.burst is not None and burst is not None:
        return bool(tile.burst == burst)
    return _within(tile.anchor, when, window)


def collapse(works: Iterable[Any], *, page_size: int, window_seconds: int | None = None,
             show: int | None = None, ai_share_cap: float | None = None,
             carried: Iterable[tuple[str, datetime, int | None]] = ()) -> FeedPage:
    """Fold ``works`` (annotated by :func:`annotate_moderation`, in feed order) into at
    most ``page_size`` tiles; stops at the first work that would need one more tile.

    ``carried`` are bursts a previous page showed (owner id as text, or a variation set's
    key prefixed with ``VARIATION_PREFIX``; the tile's anchor; its burst id or None):
    their remaining works are consumed without a tile, so a burst or variation set that
    straddles a page boundary is one tile, on the page where it starts.
    """
    window = int(moderation_settings.BURST_WINDOW_SECONDS if window_seconds is None
                 else window_seconds)
    show = max(1, int(moderation_settings.BURST_SHOW if show is None else show))
    cap = moderation_settings.AI_FEED_SHARE_CAP if ai_share_cap is None else ai_share_cap
    ai_slots = _ai_slots(page_size, cap)
    tiles: list[Tile] = []
    open_tiles: dict[str, Tile] = {}
    for carried_key, anchor, burst in carried:
        if window > 0 or carried_key.startswith(VARIATION_PREFIX):
            # A tile of the previous page: folds works, is never shown again.
            open_tiles[carried_key] = Tile(works=[], owner_id=carried_key, anchor=anchor,
                                           is_ai=False, burst=burst)
    scanned = capped = ai_tiles = 0
    exhausted = True
    last: Any = None
    for work in works:
        owner = getattr(work, "moderation_owner_id", None)
        owner_key = str(owner) if owner is not None and window > 0 else None
        variation_key = _variation_key(work)
        when = getattr(work, "moderation_created_at", None)
        tile = None
        for key in (variation_key, owner_key):
            candidate = open_tiles.get(key) if key is not None else None
            if candidate is not None and _folds(key, candidate, work, when, window):  # type: ignore[arg-type]
                tile = candidate
                break
        if tile is not None:
            scanned += 1
            last = work
            if not tile.works:
                continue  # the rest of a burst shown on the previous page
            if len(tile.works) < show:
                tile.works.append(work)
            else:
                tile.more += 1
            continue
        if len(tiles) >= page_size:
            exhausted = False
            break
        scanned += 1
        last = work
        is_ai = _is_ai(work)
        if is_ai and ai_tiles >= ai_slots:
            capped += 1
            continue
        tile = Tile(works=[work], owner_id=owner, anchor=when, is_ai=is_ai,
                    burst=getattr(work, "moderation_burst", None),
                    variation=variation_key is not None)
        tiles.append(tile)
        ai_tiles += is_ai
        for key in (variation_key, owner_key):
            if key is not None:
                open_tiles[key] = tile
    _name_owners(tiles)
    last_when = getattr(last, "moderation_created_at", None)
    # A burst's works all lie within the window of its newest one (an id's burst ends a
    # window after its first work), so a tile further back than that is closed; a
    # variation set folds at any distance, so its tile stays open. A variation set's
    # entry carries no burst id: the database leaves out only carried bursts' works.
    still_open = [(key, t.anchor, None if key.startswith(VARIATION_PREFIX) else t.burst)
                  for key, t in open_tiles.items()
                  if key.startswith(VARIATION_PREFIX)
                  or (window > 0 and _within(t.anchor, last_when, window))]
    return FeedPage(tiles=tiles, next_start=scanned, has_more=not exhausted, capped=capped,
                    scanned=scanned, last_row=last, open_bursts=still_open)


def collapse_page(qs: QuerySet[Any], *, page_size: int = 40, cursor: str | None = None,
                  start: int = 0, **options: Any) -> FeedPage:
    """Tiles for one page of a feed queryset (already filtered by ``for_viewer``).

    ``cursor`` is the previous page's ``next_cursor`` (None or "" for the first page);
    an invalid one raises :class:`moderation.feeds.cursor.InvalidCursor`. ``start``
    (an offset) is kept for links made before cursors: it reads from that offset once,
    and the page's ``next_cursor`` continues from there by keyset.

    The queryset's ordering (or the model's ``Meta.ordering``) is the feed order, with
    the primary key appended as the tie-breaker; give it an index (``manage.py check``
    warns when the registered model's ordering has none). Reads at most
    ``FEED_SCAN_LIMIT`` rows per page; the shown works' cases are prefetched for
    :func:`moderation.labels.label_for`.
    """
    keys = keyset.ordering_keys(qs)
    qs = keyset.order(qs, keys).using(feed_database(qs.model))
    if cursor or start or not page_cache.enabled():
        return _build_page(qs, keys, page_size, cursor, int(start or 0), options)
    settings_key = (*sorted(options.items()), page_size,
                    moderation_settings.BURST_WINDOW_SECONDS, moderation_settings.BURST_SHOW,
                    moderation_settings.AI_FEED_SHARE_CAP, moderation_settings.FEED_SCAN_LIMIT)
    page: FeedPage = page_cache.first_page(
        qs, settings_key, lambda: _build_page(qs, keys, page_size, None, 0, options),
        lambda p: [w for t in p.tiles for w in t.works])
    return page


def _build_page(qs: QuerySet[Any], keys: list[keyset.Key], page_size: int,
                cursor: str | None, start: int, options: dict[str, Any]) -> FeedPage:
    limit = int(moderation_settings.FEED_SCAN_LIMIT)
    annotated = annotate_moderation(qs)
    carried: list[tuple[str, datetime, int | None]] = []
    if cursor:
        position = keyset.decode(cursor, keys)
        carried = position.bursts
        annotated = annotated.filter(keyset.after(keys, position.values))
        done = [burst for _owner, _anchor, burst in carried if burst is not None]
        if done:
            # The previous page showed these bursts' tiles: the rest of their works
            # would only be folded away, so the database leaves them out.
            annotated = annotated.filter(Q(moderation_burst__isnull=True)
                                         | ~Q(moderation_burst__in=done))
        rows = _batches(annotated, keys, limit, page_size)
    else:
        rows = _batches(annotated, keys, limit, page_size, offset=max(0, start))
    page = collapse(rows, page_size=page_size, carried=carried, **options)
    page.next_start = start + page.scanned
    page.has_more = page.has_more or page.scanned >= limit
    if page.has_more and page.last_row is not None:
        page.next_cursor = keyset.encode(keyset.Cursor(
            values=keyset.row_values(page.last_row, keys), bursts=page.open_bursts))
    else:
        page.has_more = False
    prefetch_cases([w for t in page.tiles for w in t.works], using=qs.db,
                   fields=TILE_CASE_FIELDS)
    return page


def burst_of(qs: QuerySet[Any], anchor: Any) -> QuerySet[Any]:
    """The works a tile headed by ``anchor`` stands for: ``qs`` narrowed to the works of
    ``anchor``'s burst (its burst id), or for a case without one the same account's works
    uploaded within ``BURST_WINDOW_SECONDS`` of it, either side, and the works of its
    variation set (as :func:`collapse` folds them). Empty when ``anchor`` has no case or
    owner."""
    case = (ModerationCase.objects.for_instance(anchor)
            .only("owner_id", "created_at", "burst").first())
    if case is None or case.owner_id is None:
        return qs.none()
    if case.burst is not None:
        in_burst = Q(burst=case.burst)
    else:
        window = timedelta(seconds=int(moderation_settings.BURST_WINDOW_SECONDS))
        in_burst = Q(created_at__range=(case.created_at - window, case.created_at + window))
    key = WorkEmbedding.objects.filter(case=case).values_list("variation_key",
                                                              flat=True).first()
    if key is not None:
        in_burst |= Q(embedding__variation_key=key)
    cases = case_for_outer(qs).filter(in_burst, owner_id=case.owner_id)
    return qs.filter(Exists(cases))


def _sizes(page_size: int, limit: int) -> Iterator[int]:
    """Batch sizes: a page and a half first (most pages fill there), then four times
    as many each time a burst swallowed the batch, up to ``limit`` rows in all."""
    size = max(8, page_size + page_size // 2 + 1)
    left = limit
    while left > 0:
        yield min(size, left)
        left -= size
        size *= 4


def _batches(qs: QuerySet[Any], keys: list[keyset.Key], limit: int, page_size: int,
             offset: int = 0) -> Iterator[Any]:
    """Rows in feed order, fetched lazily in growing batches.

    The first batch starts at ``offset`` (0, or an old ``?start=N`` link); every later
    batch seeks past the previous batch's last row by keyset, so no row is read twice
    and a burst costs a few round trips, not one per hundred rows.
    """
    current = qs[offset:] if offset else qs
    for size in _sizes(page_size, limit):
        batch = list(current[:size])
        yield from batch
        if len(batch) < size:
            return
        current = qs.filter(keyset.after(keys, keyset.row_values(batch[-1], keys)))


def _name_owners(tiles: list[Tile]) -> None:
    """The "@name" of each tile that stands for more works.

    Read from the work's owner relation when the feed query loaded it
    (``select_related``); one query for the rest.
    """
    ids = {t.owner_id for t in tiles if t.more and t.owner_id is not None}
    if not ids:
        return
    names: dict[Any, str] = {}
    for tile in tiles:
        owner = _loaded_owner(tile.work)
        if owner is not None and tile.owner_id in ids and owner.pk == tile.owner_id:
            names[tile.owner_id] = owner.get_username()
    missing = ids - names.keys()
    if missing:
        user_model = get_user_model()
        manager = user_model._default_manager.using(feed_database(user_model))
        names.update({u.pk: u.get_username() for u in manager.filter(pk__in=missing)})
    for tile in tiles:
        tile.owner_name = str(names.get(tile.owner_id, ""))


def _loaded_owner(work: Any) -> Any:
    """The registered owner of ``work`` if it is already loaded, else None (no query)."""
    if not registry.is_registered(type(work)):
        return None
    field = type(work)._meta.get_field(registry.get_options(type(work)).owner_field)
    if not getattr(field, "is_relation", False) or not field.is_cached(work):
        return None
    owner = getattr(work, field.name)
    return owner if isinstance(owner, get_user_model()) else None
