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


def crops_along(length: int, bundle: ModelBundle) -> int:
    """Crops per axis: the bundle's grid, or for a "coverage" plan only as many as cover
    ``length`` (their starts are then a subset of the grid's: the first and the last)."""
    grid = bundle.crop.grid
    if bundle.crop.type == "coverage":
        return max(1, min(grid, math.ceil(length / bundle.crop.size)))
    return grid


def to_array(image: Image.Image, bundle: ModelBundle,
             full_size: tuple[int, int] | None = None) -> np.ndarray:
    """Return the image as uint8 HxWx3 after the bundle's integer-factor reduction.

    ``full_size`` is the upload's size when ``image`` arrives already reduced (a JPEG
    decoded with DCT scaling): the factor is computed on the full size, so a 4000 px
    JPEG decoded at 1/4 is not reduced again, and one decoded at 1/2 is halved once more.
    """
    factor = reduce_factor(image.width, image.height, bundle.crop.max_side)
    if full_size is not None:
        total = reduce_factor(*full_size, bundle.crop.max_side)
        done = max(1, round(full_size[0] / image.width))
        if total % done == 0:
            factor = total // done
    if factor > 1:
        image = image.reduce(factor)
    arr = np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    size = bundle.crop.size
    pad_h, pad_w = max(0, size - arr.shape[0]), max(0, size - arr.shape[1])
    if pad_h or pad_w:
        arr = np.pad(arr, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                           (0, 0)), mode="symmetric")
    return arr


def dct_reduction(width: int, height: int, bundle: ModelBundle) -> int:
    """The largest power of two dividing the bundle's reduction factor for this size.

    A decoder may hand the classifier pixels reduced by this much (JPEG DCT scaling) and
    :func:`to_array` reduces the rest by an integer factor: the total stays the bundle's.
    """
    factor = reduce_factor(width, height, bundle.crop.max_side)
    return factor & -factor


def make_crops(image: Image.Image, bundle: ModelBundle,
               full_size: tuple[int, int] | None = None) -> np.ndarray:
    """Return float32 crops, normalised, in the bundle's layout (N,3,S,S or N,S,S,3).

    One batch for one inference call; each crop is cast, centred and laid out in one
    pass straight into it and scaled in place, so no float copy of the image is made.
    """
    return make_crop_grid(image, bundle, full_size)[0]


def make_crop_grid(image: Image.Image, bundle: ModelBundle,
                   full_size: tuple[int, int] | None = None
                   ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`make_crops` and the grid it laid out, (rows, columns), crops row-major."""
    arr = to_array(image, bundle, full_size)
    size = bundle.crop.size
    ys = grid_offsets(arr.shape[0], size, crops_along(arr.shape[0], bundle))
    xs = grid_offsets(arr.shape[1], size, crops_along(arr.shape[1], bundle))
    return _lay_out(arr, bundle, [(y, x) for y in ys for x in xs]), (len(ys), len(xs))


def diagonal_rows(rows: int, columns: int) -> np.ndarray:
    """Indices of the crops along the grid's diagonal (0, 4, 8 of a 3 x 3 grid; every
    crop of a single row or column).

    A blended bundle's trace CNNs read only these: on the dev set the diagonal's three
    crops rank images as well as all nine (AUROC 0.851 / 0.861 / 0.853 clean / JPEG q85 /
    0.75x against 0.853 / 0.862 / 0.853) for a third of the trace networks' time,
    because the residual statistics they average are the same all over a picture.
    """
    n = max(rows, columns)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    cells = {round(i * (rows - 1) / (n - 1)) * columns + round(i * (columns - 1) / (n - 1))
             for i in range(n)}
    return np.asarray(sorted(cells), dtype=np.int64)


def _lay_out(arr: np.ndarray, bundle: ModelBundle,
             starts: list[tuple[int, int]]) -> np.ndarray:
    """Cast, centre, scale and (for NCHW) transpose each crop straight into one batch."""
    size = bundle.crop.size
    mean = np.asarray(bundle.mean, np.float32)
    std = np.asarray(bundle.std, np.float32)
    if bundle.layout == "NCHW":
        batch = np.empty((len(starts), 3, size, size), np.float32)
        for i, (y, x) in enumerate(starts):  # cast, centre and transpose in one pass
            np.subtract(arr[y:y + size, x:x + size].transpose(2, 0, 1), mean[:, None, None],
                        out=batch[i])
        batch /= std[None, :, None, None]
        return batch
    batch = np.empty((len(starts), size, size, 3), np.float32)
    for i, (y, x) in enumerate(starts):
        np.subtract(arr[y:y + size, x:x + size], mean, out=batch[i])
    batch /= std
    return batch


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
