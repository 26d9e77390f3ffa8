"""Stacking the trace score with the semantic score, and thresholds that must transfer.

The two detectors see different things (decoder traces vs rendering style), so a
logistic regression over their logits is fitted on out-of-fold scores only: every
image's fused score comes from a fit that never saw its generator (AI) or its source
(hand-made). Thresholds are read from hand-made scores alone, and their transfer is
measured by holding one hand-made source out at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from moderation.training.metrics import auroc, threshold_at_fpr


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64))))


@dataclass(frozen=True)
class Stack:
    """``P(AI) = sigmoid(w . x + b)`` over standardised inputs, stored unstandardised."""

    weights: tuple[float, ...]
    bias: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(x, dtype=np.float64) @ np.asarray(self.weights)
                          + self.bias)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(x))


def fit_stack(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> Stack:
    """Fit an L2-regularised logistic regression by Newton's method.

    Classes are weighted to equal total weight, so the 149-vs-189 imbalance of the dev
    set (or any other) does not move the bias. Inputs are standardised for the solve;
    the returned weights apply to raw inputs.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    xs = np.c_[(x - mean) / std, np.ones(len(x))]
    pos = y.sum()
    w_sample = np.where(y > 0, 0.5 / max(pos, 1.0), 0.5 / max(len(y) - pos, 1.0)) * len(y)
    beta = np.zeros(xs.shape[1])
    penalty = np.r_[np.full(xs.shape[1] - 1, l2), 0.0]
    for _ in range(iterations):
        p = sigmoid(xs @ beta)
        grad = xs.T @ (w_sample * (p - y)) + penalty * beta
        hess = (xs * (w_sample * p * (1 - p))[:, None]).T @ xs + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    weights = beta[:-1] / std
    bias = float(beta[-1] - np.sum(beta[:-1] * mean / std))
    return Stack(tuple(float(w) for w in weights), bias)


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: Sequence[str], l2: float = 1.0
                ) -> np.ndarray:
    """Fused P(AI) for every row from a stack fitted without the row's group.

    ``groups`` holds the generator of AI rows and the source of hand-made rows; a group
    held out takes only its own rows out of the fit, the other class stays whole.
    """
    g = np.asarray(groups)
    out = np.empty(len(y))
    for name in sorted(set(groups)):
        held = g == name
        stack = fit_stack(x[~held], y[~held], l2)
        out[held] = stack.predict(x[held])
    return out


def threshold_for(human_scores: np.ndarray, fpr: float) -> float:
    """Lowest score that at most ``fpr`` of the given hand-made works reach."""
    return min(1.0, threshold_at_fpr(human_scores, fpr))


def transfer(scores: np.ndarray, y: np.ndarray, sources: Sequence[str], fpr: float
             ) -> dict[str, dict[str, float]]:
    """Threshold from all other hand-made sources; FPR and TPR it gives on the held one."""
    s, yy, src = np.asarray(scores), np.asarray(y, dtype=bool), np.asarray(sources)
    out: dict[str, dict[str, float]] = {}
    for name in sorted({str(v) for v in src[~yy]}):
        held = (~yy) & (src == name)
        rest = (~yy) & (src != name)
        t = threshold_for(s[rest], fpr)
        out[name] = {"threshold": t, "fpr_held_out": float(np.mean(s[held] >= t)),
                     "tpr": float(np.mean(s[yy] >= t)), "n": int(held.sum())}
    return out


#: Candidate trace weights of the one-parameter blend (0 = semantic alone, 1 = trace alone).
BLEND_GRID = tuple(round(0.05 * i, 2) for i in range(21))


@dataclass(frozen=True)
class Scale:
    """Label-free standardisation of one detector's logit: ``(z - centre) / spread``."""

    centre: float
    spread: float

    def apply(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, dtype=np.float64) - self.centre) / self.spread


def scale_of(pool: np.ndarray) -> Scale:
    """Median and standard deviation of a detector's logits over an unlabelled pool.

    Why label-free: a scale read from one class would carry that class's sources into
    the blend; the pool's spread only puts both detectors' logits in the same units.
    """
    pool = np.asarray(pool, dtype=np.float64)
    return Scale(float(np.median(pool)), float(np.std(pool)) + 1e-9)


def blend(semantic: np.ndarray, trace_z: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - w) * semantic + w * trace`` on standardised logits."""
    return (1.0 - weight) * np.asarray(semantic) + weight * np.asarray(trace_z)


def choose_weight(semantic: Sequence[np.ndarray], trace_z: Sequence[np.ndarray],
                  y: np.ndarray, grid: Sequence[float] = BLEND_GRID) -> float:
    """The blend weight with the best mean AUROC over the given views (e.g. perturbations).

    One parameter, chosen by ranking alone: unlike a logistic stack it has no bias or
    scale to fit, so a handful of groups cannot pull it far.
    """
    yy = np.asarray(y, dtype=bool)

    def score(w: float) -> float:
        views = zip(semantic, trace_z, strict=True)
        return float(np.mean([auroc(yy, blend(s, t, w)) for s, t in views]))

    return max(grid, key=lambda w: (round(score(w), 6), -abs(w - 0.5)))


def out_of_fold_blend(semantic: dict[str, np.ndarray], trace_z: dict[str, np.ndarray],
                      y: np.ndarray, folds: Sequence[str]
                      ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Blended scores of every row from a weight chosen without the row's fold.

    ``folds`` names a fold per row (a generator family for AI rows, a source for
    hand-made rows); rows of a held-out fold are scored with the weight chosen on every
    other fold, over all views at once.
    """
    f = np.asarray(folds)
    yy = np.asarray(y, dtype=bool)
    out = {k: np.empty(len(yy)) for k in semantic}
    weights: dict[str, float] = {}
    for name in sorted(set(f)):
        held = f == name
        rest = ~held
        if len(set(yy[rest])) < 2:
            raise ValueError(f"fold {name!r} leaves one class only")
        w = choose_weight([semantic[k][rest] for k in semantic],
                          [trace_z[k][rest] for k in semantic], yy[rest])
        weights[name] = w
        for k in semantic:
            out[k][held] = blend(semantic[k][held], trace_z[k][held], w)
    return out, weights


def blend_stack(report: dict[str, Any]) -> Stack:
    """The blend report's scales, weight and Platt scaling as one linear stack.

    ``P(AI) = sigmoid(a * ((1 - w) * s_sem + w * mean_i s_trace_i) + b)`` with every
    ``s = (z - centre) / spread``; expanded, it is linear in the raw logits, which is what
    the fused graph computes per crop.
    """
    a, b = float(report["platt"]["a"]), float(report["platt"]["b"])
    w = float(report["weight_all_groups"])
    scales = [Scale(sc["centre"], sc["spread"]) for sc in report["scales"]]
    k = len(scales) - 1
    shares = [1.0 - w] + [w / k] * k
    weights = tuple(a * share / sc.spread for share, sc in zip(shares, scales, strict=True))
    bias = b - a * sum(share * sc.centre / sc.spread
                       for share, sc in zip(shares, scales, strict=True))
    return Stack(weights, bias)
