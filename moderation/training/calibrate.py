"""Temperature calibration and operating thresholds from out-of-fold validation scores."""

from __future__ import annotations

import numpy as np

from moderation.training.metrics import threshold_at_fpr

FPR_TARGETS = (0.01, 0.05)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64))))


def nll(z: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of labels ``y`` under ``sigmoid(z / T)``."""
    p = np.clip(sigmoid(z / temperature), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """Return the T minimising validation NLL (a coarse log grid, then a fine one).

    One parameter on held-out logits: it changes confidence, never the ranking, so the
    thresholds below can be read off the calibrated scores.
    """
    grid = np.exp(np.linspace(np.log(0.05), np.log(50), 200))
    best = min(grid, key=lambda t: nll(z, y, float(t)))
    fine = np.exp(np.linspace(np.log(best) - 0.05, np.log(best) + 0.05, 101))
    return float(min(fine, key=lambda t: nll(z, y, float(t))))


def thresholds(z: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, float]:
    """Calibrated-score thresholds for 1% and 5% hand-made false positives.

    ``review`` is the 1% point: the issue sets the operating point at <= 1% false
    positives on hand-made art.
    """
    p = sigmoid(z / temperature)
    human = p[np.asarray(y) == 0]
    out = {f"fpr_{rate:g}": min(1.0, threshold_at_fpr(human, rate)) for rate in FPR_TARGETS}
    out["review"] = out["fpr_0.01"]
    return out
