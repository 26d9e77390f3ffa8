"""Rebuilding a bundle's fine-tunable torch model from its ``trainable.pt``.

Kept apart from :mod:`moderation.training.site` (which reads the site's cases through
Django models) so that offline tools such as the aligned trace CLI can load a bundle's
semantic network from a bare shell, without Django settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moderation.training.backbone import (
    FEATURES,
    TRUNK_CHANNELS,
    Classifier,
    Tail,
    Trunk,
    load_pretrained,
)
from moderation.training.errors import SiteDataError
from moderation.training.train import TRAINABLE_STATE


def load_trainable(bundle_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Rebuild the torch model of a bundle: pretrained trunk + the bundle's saved weights."""
    meta = json.loads((bundle_dir / "model.json").read_text())
    state_path = bundle_dir / TRAINABLE_STATE
    if not state_path.is_file():
        raise SiteDataError(f"{bundle_dir} has no {TRAINABLE_STATE}; it cannot be fine-tuned")
    state = torch.load(state_path, weights_only=True)
    base = load_pretrained()
    tail = Tail(base)
    if state.get("tail"):
        tail.load_state_dict({k: v.float() for k, v in state["tail"].items()})
    ai_head, photo_head = nn.Linear(FEATURES, 1), nn.Linear(TRUNK_CHANNELS, 1)
    ai_head.load_state_dict(state["ai_head"])
    photo_head.load_state_dict(state["photo_head"])
    trunk = Trunk(base, npr=meta.get("input_variant") == "npr")
    return Classifier(trunk, tail, ai_head, photo_head), meta
