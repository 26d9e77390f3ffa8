"""What one report weighs: reputation × account age × burst × shared cluster.

* **Reputation** (:mod:`~moderation.reports.reputation`): the reporter's precision for
  the reason; below ``REPORT_REPUTATION_FLOOR`` the report weighs nothing.
* **Account age**: ``REPORT_NEW_ACCOUNT_FACTOR`` for an account created today, rising
  linearly to 1 at ``REPORT_FULL_WEIGHT_ACCOUNT_DAYS`` (anonymous viewers: the minimum).
* **Burst**: when ``REPORT_BURST_MIN_REPORTERS`` or more reporters who had never reported
  before report one artist's works within ``REPORT_BURST_WINDOW_SECONDS``, those reports
  are a burst and share the weight of one (each is divided by the burst's size). Stored
  on the report, so a burst stays discounted after its window has passed.
* **Cluster**: reports on one work whose reporters share a key from the host's
  ``REPORT_CLUSTER_KEYS`` hook share one weight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.models import Report, ReportStatus
from moderation.reports.reputation import Reputation, reputation, track_records


@dataclass(frozen=True)
class Weight:
    """A report's weight and the factors it is the product of."""

    reputation: float
    age: float
    burst: float
    cluster: float
    floor: bool

    @property
    def value(self) -> float:
        if self.floor:
            return 0.0
        return round(self.reputation * self.age * self.burst * self.cluster, 6)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "value": self.value}


def age_factor(joined: datetime | None, now: datetime) -> float:
    """How much an account of this age counts (the minimum for no account)."""
    start = float(moderation_settings.REPORT_NEW_ACCOUNT_FACTOR)
    full_days = float(moderation_settings.REPORT_FULL_WEIGHT_ACCOUNT_DAYS)
    if joined is None:
        return start
    if full_days <= 0:
        return 1.0
    days = max(0.0, (now - joined).total_seconds() / 86400)
    return round(start + (1 - start) * min(1.0, days / full_days), 6)


def cluster_factors(reports: Iterable[Report]) -> dict[int, float]:
    """1 / (reports sharing the report's most shared key) for each report on one work."""
    rows = list(reports)
    counts: Counter[str] = Counter(key for r in rows for key in set(r.cluster_keys or ()))
    return {r.pk: 1.0 / max([1, *(counts[k] for k in set(r.cluster_keys or ()))])
            for r in rows}


def weigh(report: Report, rep: Reputation, cluster: float, now: datetime) -> Weight:
    joined = report.reporter.date_joined if report.reporter_id and report.reporter else None
    burst = float((report.weight_parts or {}).get("burst", 1.0))
    return Weight(reputation=round(rep.precision, 6), age=age_factor(joined, now),
                  burst=burst, cluster=round(cluster, 6), floor=rep.below_floor)


def reweigh_case(case_id: int, now: datetime | None = None) -> float:
    """Recompute the weight of every open report on the case; return their sum."""
    now = now or timezone.now()
    reports = list(Report.objects.filter(case_id=case_id, status=ReportStatus.OPEN)
                   .select_related("reporter"))
    records = track_records(r.reporter_id for r in reports if r.reporter_id)
    clusters = cluster_factors(reports)
    total = 0.0
    changed = []
    for report in reports:
        rep = records.get(report.reporter_id or 0, {}).get(report.reason) or reputation(
            report.reason)
        weight = weigh(report, rep, clusters[report.pk], now)
        parts = {**(report.weight_parts or {}), **weight.as_dict()}
        if parts != report.weight_parts or weight.value != report.weight:
            report.weight, report.weight_parts = weight.value, parts
            changed.append(report)
        total += weight.value
    Report.objects.bulk_update(changed, ["weight", "weight_parts"], batch_size=500)
    return round(total, 6)


def refresh_burst(artist_id: int | None, now: datetime | None = None) -> set[int]:
    """Mark the first-time reports against ``artist_id`` within the window as a burst
    when there are enough of them, and lower their weights to the burst's share.

    Returns the cases with a report that newly joined the burst: those need a rescore
    (a burst is shown to moderators). The others' weights only fell, which changes no
    route, so their stored weights are updated here without one.
    """
    if artist_id is None:
        return set()
    now = now or timezone.now()
    since = now - timedelta(seconds=int(moderation_settings.REPORT_BURST_WINDOW_SECONDS))
    fresh = list(Report.objects.filter(artist_id=artist_id, first_report=True,
                                       created_at__gte=since))
    reporters = {r.reporter_id or f"anon:{r.anonymous_key}" for r in fresh}
    size = len(reporters)
    if size < int(moderation_settings.REPORT_BURST_MIN_REPORTERS):
        return set()
    changed = []
    joined: set[int] = set()
    share = round(1.0 / size, 6)
    for report in fresh:
        parts = dict(report.weight_parts or {})
        # Only ever lower a report's burst share: a burst that ends stays discounted.
        new_share = min(share, float(parts.get("burst", 1.0)))
        if report.in_burst and parts.get("burst") == new_share:
            continue
        parts["burst"] = new_share
        parts["burst_size"] = max(size, int(parts.get("burst_size", 0)))
        if "reputation" in parts:  # weighed before: the same product with the new share
            parts["value"] = Weight(float(parts["reputation"]), float(parts["age"]),
                                    new_share, float(parts["cluster"]),
                                    bool(parts.get("floor"))).value
            report.weight = parts["value"]
        if not report.in_burst:
            joined.add(report.case_id)
        report.in_burst, report.weight_parts = True, parts
        changed.append(report)
    Report.objects.bulk_update(changed, ["in_burst", "weight", "weight_parts"],
                               batch_size=500)
    return joined
