"""Turn one decoded RGB image into the batch of crops a model bundle expects.

Forensic traces of generators live in neighbouring-pixel relations and die in
resampling, so crops are taken at native resolution. Only images whose long side
exceeds the bundle's ``max_side`` are first reduced, and then by an integer factor
(box averaging, ``Image.reduce``), which keeps the pixel grid aligned. Images smaller
than a crop are padded by mirroring rather than upscaled, for the same reason.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from moderation.internal.bundle import ModelBundle


def reduce_factor(width: int, height: int, max_side: int) -> int:
    """Return the smallest integer factor that brings the long side within ``max_side``."""
    return max(1, math.ceil(max(width, height) / max_side))


def grid_offsets(length: int, size: int, grid: int) -> list[int]:
    """Return ``grid`` evenly spaced crop starts along one axis (deduplicated)."""
    if length <= size or grid == 1:
        return [max(0, (length - size) // 2)]
    span = length - size
    return sorted({round(span * i / (grid - 1)) for i in range(grid)})


def to_array(image: Image.Image, bundle: ModelBundle) -> np.ndarray:
    """Return the image as uint8 HxWx3 after the bundle's integer-factor reduction."""
    factor = reduce_factor(image.width, image.height, bundle.crop.max_side)
    if factor > 1:
        image = image.reduce(factor)
    arr = np.asarray(image.convert("RGB"), dtype=np.uint8)
    size = bundle.crop.size
    pad_h, pad_w = max(0, size - arr.shape[0]), max(0, size - arr.shape[1])
    if pad_h or pad_w:
        arr = np.pad(arr, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                           (0, 0)), mode="symmetric")
    return arr


def make_crops(image: Image.Image, bundle: ModelBundle) -> np.ndarray:
    """Return float32 crops, normalised, in the bundle's layout (N,3,S,S or N,S,S,3)."""
    arr = to_array(image, bundle)
    size, grid = bundle.crop.size, bundle.crop.grid
    crops = [arr[y:y + size, x:x + size]
             for y in grid_offsets(arr.shape[0], size, grid)
             for x in grid_offsets(arr.shape[1], size, grid)]
    pixels = np.stack(crops).astype(np.float32)
    batch: np.ndarray = ((pixels - np.asarray(bundle.mean, np.float32))
                         / np.asarray(bundle.std, np.float32))
    if bundle.layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
