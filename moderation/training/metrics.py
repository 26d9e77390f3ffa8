"""Ranking metrics and operating points, in plain numpy.

Written out (rather than taken from scikit-learn) so ``moderation_evaluate`` runs with
the core dependencies only; ``tests/test_classifier_metrics.py`` checks them against
scikit-learn when it is installed. Positive class = AI.
"""

from __future__ import annotations

import numpy as np


def _ranks(values: np.ndarray) -> np.ndarray:
    """Return 1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_vals = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U); NaN when a class is missing."""
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision: sum over score thresholds of (recall step) x precision."""
    y = np.asarray(labels, dtype=bool)
    if not y.any():
        return float("nan")
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # Only the last position of each tied run is a threshold.
    last = np.r_[np.diff(s) != 0, True]
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def threshold_at_fpr(human_scores: np.ndarray, fpr: float) -> float:
    """Return the lowest threshold at which at most ``fpr`` of hand-made works score >= it."""
    s = np.sort(np.asarray(human_scores, dtype=np.float64))[::-1]
    if len(s) == 0:
        return 1.0
    allowed = int(np.floor(fpr * len(s) + 1e-9))
    if allowed >= len(s):
        return float(s[-1])
    return float(np.nextafter(s[allowed], np.inf))


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """Fraction of AI images caught at the threshold that keeps hand-made FPR <= ``fpr``."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if not y.any() or y.all():
        return float("nan")
    return float(np.mean(s[y] >= threshold_at_fpr(s[~y], fpr)))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (fpr, tpr) arrays from the strictest to the loosest threshold."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.diff(s) != 0, True]
    tp = np.r_[0, np.cumsum(y)[last]]
    fp = np.r_[0, np.cumsum(~y)[last]]
    return fp / max(1, (~y).sum()), tp / max(1, y.sum())


def summary(labels: np.ndarray, scores: np.ndarray, threshold: float | None = None
            ) -> dict[str, object]:
    """Return the metrics every report uses, for one set of scores."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    out: dict[str, object] = {
        "n_ai": int(y.sum()), "n_human": int((~y).sum()),
        "auroc": auroc(y, s), "ap": average_precision(y, s),
        "tpr_at_fpr": {"0.01": tpr_at_fpr(y, s, 0.01), "0.05": tpr_at_fpr(y, s, 0.05)},
    }
    if threshold is not None:
        out["threshold"] = threshold
        out["fpr_at_threshold"] = float(np.mean(s[~y] >= threshold)) if (~y).any() else None
        out["tpr_at_threshold"] = float(np.mean(s[y] >= threshold)) if y.any() else None
    return out
