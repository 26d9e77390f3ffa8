"""The process's multi-index hash of the banks, kept in step with the ``BankEntry`` table.

The table is the truth; the index is a cache of its live, matchable rows. Entries are
never edited (leaving a bank stamps ``removed_at``, coming back writes a new row), so one
cheap query per lookup brings the index up to date:

* rows above the highest id seen are added; an id below it that was missing (its
  transaction had not committed yet, or rolled back) is asked for again on the next
  syncs, within a window of :data:`GAP_WINDOW` ids, so an out-of-order commit is not lost;
* rows removed since the last sync (less a margin for clock skew between processes)
  are discarded.

At start a process loads the file ``FINGERPRINT_INDEX_PATH`` (if set) and catches up
from there; it saves the file again after ``FINGERPRINT_INDEX_SAVE_EVERY`` new entries.
``manage.py moderation_fingerprint_index`` rebuilds it from scratch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta

import numpy as np
from django.core.signals import setting_changed
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from moderation.conf import moderation_settings
from moderation.fingerprints.index import HashIndex
from moderation.fingerprints.pdq import hex_to_array
from moderation.models import BankEntry

logger = logging.getLogger(__name__)

#: How far below the highest id seen a missing id is still waited for.
GAP_WINDOW = 10_000
#: Removals are re-read this far back, so a clock a little behind another's loses none.
REMOVAL_MARGIN = timedelta(minutes=5)
#: Rows fetched per query while building.
BATCH = 20_000

_lock = threading.Lock()
_index: HashIndex | None = None


def matchable() -> Q:
    """Rows the index holds: live, with a hash of usable quality."""
    return Q(removed_at__isnull=True, quality__gte=moderation_settings.FINGERPRINT_MIN_QUALITY)


def new_index() -> HashIndex:
    """An empty index set up as the settings say."""
    return HashIndex(flat_max=moderation_settings.FINGERPRINT_INDEX_FLAT_MAX,
                     max_flips=moderation_settings.FINGERPRINT_INDEX_MAX_FLIPS)


def build(progress: Callable[[int], None] | None = None) -> HashIndex:
    """A fresh index of every matchable row; ``progress(n)`` is told of each batch."""
    index = new_index()
    started = timezone.now()
    high = BankEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last = 0
    ids: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    while True:
        rows = list(BankEntry.objects.filter(matchable(), pk__gt=last, pk__lte=high)
                    .order_by("pk").values_list("pk", "pdq", "crops")[:BATCH])
        if not rows:
            break
        batch_ids, batch_codes = _arrays(rows)
        ids.append(batch_ids)
        codes.append(batch_codes)
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    if ids:  # all at once: the tables are built once, not merged batch by batch
        index.add(np.concatenate(ids), np.concatenate(codes))
    # Ids near the top the build did not see may belong to transactions still open.
    recent = set(BankEntry.objects.filter(pk__gt=high - GAP_WINDOW, pk__lte=high)
                 .values_list("pk", flat=True))
    missing = [i for i in range(max(1, high - GAP_WINDOW + 1), high + 1) if i not in recent]
    index.meta = {"high": int(high), "missing": missing,
                  "removed_checked": started.isoformat(), "unsaved": 0}
    # Rows removed while the build ran are discarded by the first sync (removed_checked).
    return index


def hashes_of(pdq: str, crops: object) -> list[str]:
    """An entry's indexed hashes: the whole image's, then its crops' (pdq.CROPS)."""
    return [pdq, *(c for c in (crops if isinstance(crops, list) else []) if c)]


def _arrays(rows: list[tuple[int, str, object]]) -> tuple[np.ndarray, np.ndarray]:
    ids: list[int] = []
    hashes: list[str] = []
    for pk, pdq, crops in rows:
        for value in hashes_of(pdq, crops):
            ids.append(pk)
            hashes.append(value)
    return np.asarray(ids, dtype=np.int64), hex_to_array(hashes)


def _add(index: HashIndex, rows: list[tuple[int, str, object]]) -> None:
    index.add(*_arrays(rows))


def sync(index: HashIndex) -> int:
    """Bring ``index`` up to date with the table; return the entries added."""
    meta = index.meta
    high = int(meta.get("high", 0))
    missing = [int(i) for i in meta.get("missing", [])]
    checked = parse_datetime(str(meta.get("removed_checked") or "")) or timezone.now()
    now = timezone.now()
    rows = list(BankEntry.objects.filter(Q(pk__gt=high) | Q(pk__in=missing))
                .order_by("pk").values_list("pk", "pdq", "crops", "quality", "removed_at"))
    seen = {pk for pk, *_ in rows}
    min_quality = moderation_settings.FINGERPRINT_MIN_QUALITY
    fresh = [(pk, pdq, crops) for pk, pdq, crops, quality, removed in rows
             if removed is None and quality >= min_quality and not (
                 pk <= high and index.contains(pk))]
    _add(index, fresh)
    new_high = max([high, *seen])
    floor = new_high - GAP_WINDOW
    gaps = [i for i in missing if i not in seen and i > floor]
    gaps += [i for i in range(max(high + 1, floor + 1), new_high) if i not in seen]
    removed = BankEntry.objects.filter(removed_at__gte=checked - REMOVAL_MARGIN,
                                       pk__lte=new_high).values_list("pk", flat=True)
    index.discard(removed)
    meta.update(high=new_high, missing=gaps, removed_checked=now.isoformat(),
                unsaved=int(meta.get("unsaved", 0)) + len(fresh))
    return len(fresh)


def _load_or_build() -> HashIndex:
    """Load the saved index, or build one (and save it, so the next start loads it)."""
    path = moderation_settings.FINGERPRINT_INDEX_PATH
    if path:
        try:
            return HashIndex.load(path, flat_max=moderation_settings.FINGERPRINT_INDEX_FLAT_MAX,
                                  max_flips=moderation_settings.FINGERPRINT_INDEX_MAX_FLIPS)
        except FileNotFoundError:
            pass
        except ValueError as exc:
            logger.warning("fingerprint index %s unusable (%s); rebuilding", path, exc)
    index = build()
    save(index)
    return index


def get_index() -> HashIndex:
    """This process's index, loaded or built on first use and synced on every call."""
    global _index
    with _lock:
        if _index is None:
            _index = _load_or_build()
        sync(_index)
        path = moderation_settings.FINGERPRINT_INDEX_PATH
        if path and int(_index.meta.get("unsaved", 0)) >= \
                moderation_settings.FINGERPRINT_INDEX_SAVE_EVERY:
            save(_index)
        return _index


def save(index: HashIndex) -> None:
    """Write ``index`` to ``FINGERPRINT_INDEX_PATH`` (nothing when unset)."""
    path = moderation_settings.FINGERPRINT_INDEX_PATH
    if not path:
        return
    index.meta["unsaved"] = 0
    index.save(path)


def install(index: HashIndex) -> None:
    """Make ``index`` this process's index (after a rebuild)."""
    global _index
    with _lock:
        _index = index


def forget(ids: Iterable[int] = ()) -> None:
    """Discard ``ids`` from this process's index now (other processes see the removal
    on their next sync)."""
    with _lock:
        if _index is not None:
            _index.discard(ids)


def reset() -> None:
    """Drop this process's index: the next lookup loads or builds it again (a restart)."""
    global _index
    with _lock:
        _index = None


def _reset_on_change(*, setting: str, **kwargs: object) -> None:
    if setting == "MODERATION":
        reset()


setting_changed.connect(_reset_on_change, dispatch_uid="moderation.fingerprints.reset")
