"""Detector accuracy from moderators' decisions, and daily series for the panel's charts.

Ground truth is the label a moderator set (``decided_by`` not null); AI and AI-assisted
count as positive. A detector "says AI" when its evidence label is AI or AI-assisted —
for the classifier that is exactly "score at or above its current threshold".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from django.utils import timezone

from moderation.constants import DetectorMode, EvidenceLabel, Label
from moderation.models import Evidence, ModerationCase
from moderation.reasons import CLASSIFIER_SKIPPED

POSITIVE_LABELS = {Label.AI, Label.AI_ASSISTED}
POSITIVE_EVIDENCE = {EvidenceLabel.AI, EvidenceLabel.AI_ASSISTED}


@dataclass
class Confusion:
    detector: str
    version: str
    mode: str
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    agree: int = 0  # shadow rows: agreed with the enforcing verdict
    compared: int = 0

    @property
    def decided(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def agreement(self) -> float | None:
        return self.agree / self.compared if self.compared else None


def confusion_by_detector(since: datetime | None = None) -> list[Confusion]:
    """Confusion counts per (detector, version, mode) over moderator-decided cases."""
    decided = ModerationCase.objects.filter(decided_by__isnull=False,
                                            label__in=[Label.HUMAN, *POSITIVE_LABELS])
    if since is not None:
        decided = decided.filter(decided_at__gte=since)
    truth = dict(decided.values_list("pk", "label"))
    # A classifier that did not run (provenance already proved the work AI) said nothing.
    rows = Evidence.objects.filter(case_id__in=list(truth)).exclude(error__gt="") \
        .exclude(message=CLASSIFIER_SKIPPED.code) \
        .values_list("case_id", "detector", "detector_version", "mode", "label")
    table: dict[tuple[str, str, str], Confusion] = {}
    enforce_says: dict[int, bool] = defaultdict(bool)
    shadow_rows: list[tuple[int, Confusion, bool]] = []
    for case_id, detector, version, mode, label in rows:
        key = (detector, version, mode)
        conf = table.setdefault(key, Confusion(detector, version, mode))
        said = label in POSITIVE_EVIDENCE
        actual = truth[case_id] in POSITIVE_LABELS
        if said and actual:
            conf.tp += 1
        elif said:
            conf.fp += 1
        elif actual:
            conf.fn += 1
        else:
            conf.tn += 1
        if mode == DetectorMode.ENFORCE:
            enforce_says[case_id] |= said
        else:
            shadow_rows.append((case_id, conf, said))
    for case_id, conf, said in shadow_rows:
        conf.compared += 1
        conf.agree += int(said == enforce_says[case_id])
    return sorted(table.values(), key=lambda c: (c.detector, c.mode, c.version))


@dataclass
class DailySeries:
    days: list[date] = field(default_factory=list)
    ai_share: list[float] = field(default_factory=list)
    queue_size: list[int] = field(default_factory=list)
    hours_to_decision: list[float] = field(default_factory=list)


def daily_series(days: int = 30, *, now: datetime | None = None) -> DailySeries:
    """AI share of new uploads, queue size at each day's end and median hours to decide."""
    now = now or timezone.now()
    start = timezone.localtime(now).date() - timedelta(days=days - 1)
    cases = list(ModerationCase.objects.filter(
        created_at__gte=timezone.make_aware(datetime.combine(start, datetime.min.time()))
        - timedelta(days=60)).values("created_at", "label", "needs_review", "decided_at"))
    series = DailySeries()
    by_day: dict[date, list[Any]] = defaultdict(list)
    for c in cases:
        by_day[timezone.localtime(c["created_at"]).date()].append(c)
    for offset in range(days):
        day = start + timedelta(days=offset)
        end = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))
        made = by_day.get(day, [])
        ai = sum(1 for c in made if c["label"] in POSITIVE_LABELS)
        series.days.append(day)
        series.ai_share.append(ai / len(made) if made else 0.0)
        series.queue_size.append(sum(
            1 for c in cases if c["created_at"] < end
            and ((c["decided_at"] is None and c["needs_review"])
                 or (c["decided_at"] is not None and c["decided_at"] >= end))))
        waits = [(c["decided_at"] - c["created_at"]).total_seconds() / 3600 for c in cases
                 if c["decided_at"] is not None
                 and timezone.localtime(c["decided_at"]).date() == day]
        series.hours_to_decision.append(round(median(waits), 2) if waits else 0.0)
    return series


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


def bars(values: list[float], labels: list[str], *, width: int = 600, height: int = 140,
         fmt: str = "{:.0f}") -> list[Bar]:
    """Geometry for a server-rendered SVG bar chart (no JavaScript needed)."""
    if not values:
        return []
    top = max(values) or 1.0
    step = width / len(values)
    out = []
    for i, (v, label) in enumerate(zip(values, labels, strict=True)):
        h = (v / top) * (height - 20)
        out.append(Bar(x=round(i * step + 1, 2), y=round(height - h, 2),
                       width=round(max(step - 2, 1), 2), height=round(h, 2), label=label,
                       value=fmt.format(v)))
    return out
