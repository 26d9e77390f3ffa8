"""Bursts decided at write time: each work that enters a feed gets a burst id once.

A burst is the works one account puts into the feeds within ``BURST_WINDOW_SECONDS``
of the burst's first work. When a case's route first becomes public (a scan publishing
the work, a moderator releasing it), :func:`assign_burst` looks up the owner's latest
burst -- two index lookups on ``moderation_owner_time`` and the primary key -- and either
joins it or starts a new one whose id is the case's own pk. The id never changes
afterwards, so a burst folds the same on every page and every feed, and the rest of a
burst that straddles a page boundary can be left out by the database
(:mod:`moderation.feeds.bursts`) instead of being read and folded row by row.

Read-time folding (by the window around a tile's newest work) is kept for cases without
an id: cases from before the column, and cases bulk-created without signals. For a
burst that spans at most the window the two agree; an account posting without a break
for longer than the window gets one tile per window either way, cut where its first
work's window ends rather than where the newest shown work's window ends.

Two works of one account published at the same instant by two processes may each start
a burst (one extra tile); nothing else depends on the id being unique per burst.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moderation.conf import moderation_settings
from moderation.models import ModerationCase
from moderation.visibility import PUBLIC_ROUTES


def burst_for(case: ModerationCase) -> int | None:
    """The burst ``case`` belongs to: the owner's latest burst if ``case`` is within
    ``BURST_WINDOW_SECONDS`` of that burst's first work, else a new one (its own pk).
    None for a case without an owner (nothing to fold it with)."""
    if case.owner_id is None or case.pk is None:
        return None
    window = timedelta(seconds=int(moderation_settings.BURST_WINDOW_SECONDS))
    latest = (ModerationCase.objects.filter(owner_id=case.owner_id, burst__isnull=False,
                                            created_at__lte=case.created_at)
              .exclude(pk=case.pk).order_by("-created_at", "-pk")
              .values_list("burst", flat=True).first())
    if latest is not None and window:
        started = (ModerationCase.objects.filter(pk=latest)
                   .values_list("created_at", flat=True).first())
        if started is not None and case.created_at - started <= window:
            return int(latest)
    return int(case.pk)


def assign_burst(case: ModerationCase) -> None:
    """Give ``case`` its burst id if it is in a feed and has none yet (saved at once,
    without touching ``updated_at`` or sending signals)."""
    loaded = case.__dict__
    if not {"burst", "owner_id", "created_at"} <= loaded.keys():
        return  # a deferred load: the next full save assigns it
    if loaded["burst"] is not None or loaded.get("route") not in PUBLIC_ROUTES:
        return
    burst = burst_for(case)
    if burst is None:
        return
    ModerationCase.objects.filter(pk=case.pk, burst__isnull=True).update(burst=burst)
    case.burst = burst


def on_case_saved(sender: type[ModerationCase], instance: ModerationCase,
                  raw: bool = False, **kwargs: Any) -> None:
    """post_save: a case entering a feed gets its burst id."""
    if not raw:
        assign_burst(instance)
