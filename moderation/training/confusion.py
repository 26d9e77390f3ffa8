"""Per-detector-version confusion counts from moderator decisions.

A moderator's verdict is the only ground truth the site has; comparing it with what each
detector version said (including shadow versions, which never decided) is what the review
queue's accuracy panel shows and what a promotion decision rests on.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from moderation.constants import EvidenceLabel, Label
from moderation.models import Evidence

#: Moderator labels that count as "AI" for a detector claiming AI.
AI_LABELS = frozenset({Label.AI, Label.AI_ASSISTED})
MODERATOR_LABELS = frozenset({Label.AI, Label.AI_ASSISTED, Label.HUMAN})


def confusion_counts() -> dict[tuple[str, str, str], dict[str, int]]:
    """Return ``{(detector, version, mode): {"tp", "fp", "tn", "fn"}}``.

    Only cases a moderator decided are counted. A detector "says AI" when its evidence
    label is AI or AI-assisted; errored evidence is skipped (it said nothing).
    """
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"tp": 0, "fp": 0, "tn": 0, "fn": 0})
    rows = (Evidence.objects
            .filter(case__decided_by__isnull=False, case__label__in=MODERATOR_LABELS, error="")
            .values_list("detector", "detector_version", "mode", "label", "case__label"))
    for detector, version, mode, said, truth in rows.iterator():
        says_ai = said in {EvidenceLabel.AI, EvidenceLabel.AI_ASSISTED}
        is_ai = truth in AI_LABELS
        key = "tp" if says_ai and is_ai else "fp" if says_ai else "fn" if is_ai else "tn"
        counts[(detector, version, mode)][key] += 1
    return dict(counts)


def rates(c: dict[str, int]) -> dict[str, Any]:
    """Precision, recall and false-positive rate of one confusion count (None if undefined)."""
    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    return {"precision": ratio(c["tp"], c["tp"] + c["fp"]),
            "recall": ratio(c["tp"], c["tp"] + c["fn"]),
            "fpr": ratio(c["fp"], c["fp"] + c["tn"]),
            "n": sum(c.values())}
