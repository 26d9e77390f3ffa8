"""A reporter's precision per reason: a Beta posterior over "a moderator upheld it".

With the prior ``REPORT_PRIOR`` = (a, b), a reporter with ``u`` upheld and ``r`` rejected
reports for a reason has precision (a + u) / (a + b + u + r): a new account starts at
a / (a + b) and moves towards its observed rate as moderators decide, so a few lucky
reports count for little and a long accurate record for a lot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from moderation.conf import moderation_settings
from moderation.models import ReporterReputation


@dataclass(frozen=True)
class Reputation:
    """One reporter's record for one reason."""

    reason: str
    upheld: int
    rejected: int
    precision: float
    #: Below ``REPORT_REPUTATION_FLOOR``: the reporter's reports are kept but weigh nothing.
    below_floor: bool

    @property
    def decided(self) -> int:
        return self.upheld + self.rejected


def prior() -> tuple[float, float]:
    alpha, beta = moderation_settings.REPORT_PRIOR
    return float(alpha), float(beta)


def precision(upheld: int, rejected: int) -> float:
    """The Beta posterior mean of the reporter's precision."""
    alpha, beta = prior()
    return (alpha + upheld) / (alpha + beta + upheld + rejected)


def reputation(reason: str, upheld: int = 0, rejected: int = 0) -> Reputation:
    value = precision(upheld, rejected)
    return Reputation(reason, upheld, rejected, value,
                      value < float(moderation_settings.REPORT_REPUTATION_FLOOR))


def reputation_of(user: Any, reason: str) -> Reputation:
    """``user``'s reputation for ``reason`` (the prior for anonymous viewers)."""
    if user is None or not getattr(user, "pk", None):
        return reputation(reason)
    row = ReporterReputation.objects.filter(user_id=user.pk, reason=reason).first()
    return reputation(reason, row.upheld, row.rejected) if row else reputation(reason)


def track_records(user_ids: Iterable[int]) -> dict[int, dict[str, Reputation]]:
    """Every reason's reputation of each of ``user_ids`` (reasons never decided omitted)."""
    out: dict[int, dict[str, Reputation]] = {}
    for row in ReporterReputation.objects.filter(user_id__in=set(user_ids)):
        out.setdefault(row.user_id, {})[row.reason] = reputation(row.reason, row.upheld,
                                                                 row.rejected)
    return out


def record_outcome(user_id: int, reason: str, *, upheld: bool, reverse: bool = False) -> None:
    """Count one moderator outcome in the reporter's record (atomic increment).

    ``reverse``: the outcome replaces the opposite one counted before (an appeal
    corrected the verdict), which is taken back.
    """
    row, _created = ReporterReputation.objects.get_or_create(user_id=user_id, reason=reason)
    field, other = ("upheld", "rejected") if upheld else ("rejected", "upheld")
    changes: dict[str, Any] = {field: F(field) + 1}
    if reverse and getattr(row, other) > 0:
        changes[other] = F(other) - 1
    ReporterReputation.objects.filter(pk=row.pk).update(**changes)
