"""Cache of processed training crops and of the frozen trunk's activations.

Decoding multi-megapixel wallpapers and running the trunk dominate training cost on a
CPU, so both happen once; every later experiment (probe, fine-tune, calibration) reads
these arrays.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from moderation.training.augment import views
from moderation.training.backbone import INPUT_SIZE, MEAN, STD, Trunk

Progress = Callable[[str], None]


def build_crops(dataset: Path, rows: list[dict[str, str]], views_per_image: int,
                max_side: int, seed: int, progress: Progress) -> tuple[np.ndarray, np.ndarray]:
    """Return (crops uint8 N×S×S×3, owning row index N) for every manifest row."""
    cache = dataset / "cache" / f"crops-v{views_per_image}-m{max_side}-s{seed}.npz"
    if cache.exists():
        data = np.load(cache)
        if len(np.unique(data["owner"])) == len(rows):
            return data["crops"], data["owner"]
    rng = random.Random(seed)
    crops, owner = [], []
    for i, row in enumerate(rows):
        if i % 50 == 0:
            progress(f"  crops {i}/{len(rows)}")
        with Image.open(dataset / row["path"]) as im:
            im.load()
            for crop in views(im, views_per_image, INPUT_SIZE, max_side, rng):
                crops.append(crop)
                owner.append(i)
    arr, own = np.stack(crops), np.asarray(owner, dtype=np.int32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=arr, owner=own)
    return arr, own


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """Normalise uint8 NHWC crops to the bundle's NCHW float input."""
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD


@torch.no_grad()
def trunk_activations(trunk: Trunk, crops: np.ndarray, cache: Path,
                      progress: Progress, batch: int = 32) -> torch.Tensor:
    """Return (and cache as float16) the trunk's output for every crop."""
    if cache.exists():
        cached: torch.Tensor = torch.load(cache)
        if cached.shape[0] == len(crops):
            return cached
    trunk.eval()
    out = []
    for start in range(0, len(crops), batch):
        if start % (batch * 10) == 0:
            progress(f"  trunk {start}/{len(crops)}")
        out.append(trunk(to_tensor(crops[start:start + batch])).half())
    acts = torch.cat(out)
    torch.save(acts, cache)
    return acts
