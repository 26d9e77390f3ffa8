"""Heads trained on cached features: a linear probe and the last-blocks fine-tune.

Both return a function from trunk activations to per-crop AI logits so the training
loop can compare them on the same leave-groups-out folds and keep the better one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from moderation.training.backbone import Tail

Progress = Callable[[str], None]


@torch.no_grad()
def pooled(tail: Tail, acts: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Return the tail's 1280-d pooled features for cached trunk activations."""
    tail.eval()
    return torch.cat([tail(acts[i:i + batch].float())
                      for i in range(0, len(acts), batch)]).numpy()


def fit_linear(features: np.ndarray, labels: np.ndarray, c: float = 0.05) -> nn.Linear:
    """Logistic regression on standardised features, folded into one ``nn.Linear``.

    Class weights are balanced: the hand-made class is larger, and the operating point is
    chosen later from validation scores rather than from the training prior.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features)
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    clf.fit(scaler.transform(features), labels)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    weight = clf.coef_[0] / scale
    bias = clf.intercept_[0] - float(np.sum(clf.coef_[0] * scaler.mean_ / scale))
    layer = nn.Linear(features.shape[1], 1)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight).float().unsqueeze(0))
        layer.bias.fill_(float(bias))
    return layer


@torch.no_grad()
def linear_logits(layer: nn.Linear, features: np.ndarray) -> np.ndarray:
    """Apply a linear head to numpy features."""
    return layer(torch.from_numpy(features).float()).squeeze(1).numpy()


def finetune(tail: Tail, head: nn.Linear, acts: torch.Tensor, labels: np.ndarray,
             epochs: int, progress: Progress, seed: int = 0) -> tuple[Tail, nn.Linear]:
    """Fine-tune copies of the last blocks and the head on cached trunk activations.

    BatchNorm statistics stay frozen (eval mode): a few hundred images cannot re-estimate
    them, and frozen statistics export to ONNX exactly as trained. Batches are balanced
    by class so neither the prior nor a large source dominates the gradient.
    """
    torch.manual_seed(seed)
    tail, head = copy.deepcopy(tail), copy.deepcopy(head)
    tail.eval()
    y = torch.from_numpy(labels.astype(np.float32))
    opt = torch.optim.AdamW([
        {"params": tail.parameters(), "lr": 1e-4},
        {"params": head.parameters(), "lr": 1e-3},
    ], weight_decay=1e-4)
    pos = np.flatnonzero(labels == 1)
    neg = np.flatnonzero(labels == 0)
    rng = np.random.default_rng(seed)
    half = 32
    steps = max(1, (len(labels) // (2 * half)))
    dropout = nn.Dropout(0.2)
    for epoch in range(epochs):
        total = 0.0
        for _ in range(steps):
            idx = np.r_[rng.choice(pos, half), rng.choice(neg, half)]
            feats = dropout(tail(acts[idx].float()))
            loss = nn.functional.binary_cross_entropy_with_logits(
                head(feats).squeeze(1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        progress(f"    epoch {epoch + 1}/{epochs} loss {total / steps:.4f}")
    tail.eval()
    return tail, head


@torch.no_grad()
def tail_logits(tail: Tail, head: nn.Linear, acts: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Per-crop AI logits of a (fine-tuned) tail and head."""
    tail.eval()
    return torch.cat([head(tail(acts[i:i + batch].float())).squeeze(1)
                      for i in range(0, len(acts), batch)]).numpy()
