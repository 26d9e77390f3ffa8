"""The trace detector: a small CNN on high-pass residuals at native resolution.

Why this shape: decoder and upsampler traces live in neighbouring-pixel relations, which
resampling destroys, so the network never resizes its input and its first convolution
runs at full resolution on fixed residuals (NPR: the image minus its 2x nearest
re-upsampled subsample; and the image minus a 3x3 box blur). The logit is the mean of a
per-position score map, so a 64 px training patch and a 224 px inference crop are scored
the same way.

Training batches hold both members of aligned pairs with identical post-processing
(:func:`postprocess_pair`), so softness, noise level or JPEG strength cannot separate
them; only the reconstruction does.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter

from moderation.internal.preprocess import diagonal_rows, grid_offsets

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Patch side used in training; inference crops may be any size (mean score map).
PATCH = 64
#: Residual gain: brings residual spread (a few grey levels) to order one.
GAIN = 8.0
#: Layers as (width, stride): one full-resolution layer, then three stride-2 stages.
#: About 0.3 GMAC per 224 px crop, so nine inference crops stay near 0.1 s on one core.
LAYERS = ((24, 1), (32, 2), (48, 2), (48, 1), (64, 2), (64, 1))


def postprocess_params(rng: random.Random) -> dict[str, Any]:
    """Draw one random upload history (applied identically to both pair members).

    Resize 0.5-1.0 (0.75 drawn explicitly a sixth of the time), light blur or
    sharpening, then JPEG q60-100 or WebP q60-100 or nothing.
    """
    params: dict[str, Any] = {}
    r = rng.random()
    if r < 0.15:
        params["scale"] = 0.75
    elif r < 0.55:
        params["scale"] = rng.uniform(0.5, 1.0)
    params["resample"] = rng.choice((Image.Resampling.BILINEAR, Image.Resampling.BICUBIC,
                                     Image.Resampling.LANCZOS))
    r = rng.random()
    if r < 0.12:
        params["blur"] = rng.uniform(0.3, 0.8)
    elif r < 0.24:
        params["sharpen"] = rng.randint(30, 120)
    r = rng.random()
    if r < 0.5:
        params["format"], params["quality"] = "JPEG", rng.randint(60, 100)
    elif r < 0.7:
        params["format"], params["quality"] = "WEBP", rng.randint(60, 100)
    return params


def apply_postprocess(rgb: np.ndarray, params: dict[str, Any], min_side: int = PATCH
                      ) -> np.ndarray:
    """Apply one upload history to a uint8 crop; never shrinks below ``min_side``."""
    image = Image.fromarray(rgb)
    scale = params.get("scale")
    if scale is not None and scale < 1.0:
        scale = max(scale, min_side / min(image.size))
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        if size != image.size:
            image = image.resize(size, params["resample"])
    if "blur" in params:
        image = image.filter(ImageFilter.GaussianBlur(params["blur"]))
    elif "sharpen" in params:
        image = image.filter(ImageFilter.UnsharpMask(radius=1, percent=params["sharpen"],
                                                     threshold=0))
    if "format" in params:
        buf = io.BytesIO()
        image.save(buf, format=params["format"], quality=params["quality"])
        buf.seek(0)
        with Image.open(buf) as decoded:
            image = decoded.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def postprocess_pair(real: np.ndarray, fake: np.ndarray, rng: random.Random,
                     patch: int = PATCH) -> tuple[np.ndarray, np.ndarray]:
    """Post-process both members identically and cut the same ``patch`` from each."""
    params = postprocess_params(rng)
    a, b = apply_postprocess(real, params, patch), apply_postprocess(fake, params, patch)
    return same_patch(a, b, patch, rng)


def same_patch(a: np.ndarray, b: np.ndarray, patch: int, rng: random.Random
               ) -> tuple[np.ndarray, np.ndarray]:
    """Cut one random ``patch`` window at the same place from two equal-size arrays."""
    h, w = a.shape[:2]
    if h < patch or w < patch:
        pad = ((0, max(0, patch - h)), (0, max(0, patch - w)), (0, 0))
        a, b = np.pad(a, pad, mode="symmetric"), np.pad(b, pad, mode="symmetric")
        h, w = a.shape[:2]
    y, x = rng.randint(0, h - patch), rng.randint(0, w - patch)
    return a[y:y + patch, x:x + patch], b[y:y + patch, x:x + patch]


def build_model(layers: Sequence[Sequence[int]] = LAYERS) -> nn.Module:
    """Return the trace CNN: uint8-range RGB (N,3,H,W float) in, one logit per image out.

    ``layers`` is (width, stride) per convolution; a bundle whose trace CNNs differ from
    :data:`LAYERS` records its own in ``model.json`` (``fusion.trace_layers``).
    """
    import torch  # heavy optional dependency (training only)
    from torch import nn
    from torch.nn import functional as F

    class Residuals(nn.Module):
        """Fixed high-pass views: NPR residual and image minus 3x3 box blur (6 channels)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x / 255.0
            h, w = x.shape[-2], x.shape[-1]
            sub = x[..., 0::2, 0::2]
            up = F.interpolate(sub, scale_factor=2.0, mode="nearest")[..., :h, :w]
            blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
            return torch.cat([x - up, x - blur], dim=1) * GAIN

    def layer(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    class TraceNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.residuals = Residuals()
            stack: list[nn.Module] = []
            cin = 6
            for width, stride in layers:
                stack += layer(cin, width, stride)
                cin = width
            self.features = nn.Sequential(*stack)
            self.score = nn.Conv2d(cin, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Mean of a per-position score map: the logit does not depend on crop size.
            return self.score(self.features(self.residuals(x))).mean(dim=(1, 2, 3))

    return TraceNet()


@dataclass
class PairSet:
    """Cached pairs in memory (uint8 HxWx3), with their source and family."""

    real: list[np.ndarray]
    fake: list[np.ndarray]
    source: list[str]
    family: list[str]


def batch_tensor(patches: Sequence[np.ndarray]) -> torch.Tensor:
    """Stack uint8 HxWx3 patches into a float NCHW tensor (0..255)."""
    import torch  # heavy optional dependency (training only)

    arr = np.stack(patches).astype(np.float32).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr))


def crop_grid(rgb: np.ndarray, size: int, grid: int) -> list[np.ndarray]:
    """The inference crops: a ``grid`` x ``grid`` of ``size`` crops, mirror-padded if small.

    Same layout as :func:`moderation.internal.preprocess.make_crops`, so offline scores
    match what the exported bundle sees.
    """
    h, w = rgb.shape[:2]
    pad_h, pad_w = max(0, size - h), max(0, size - w)
    if pad_h or pad_w:
        rgb = np.pad(rgb, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                           (0, 0)), mode="symmetric")
    return [rgb[y:y + size, x:x + size]
            for y in grid_offsets(rgb.shape[0], size, grid)
            for x in grid_offsets(rgb.shape[1], size, grid)]


def score_images(model: nn.Module, images: Sequence[np.ndarray], size: int = 224,
                 grid: int = 3, rows: str = "all") -> np.ndarray:
    """Mean trace logit over each image's inference crops (``rows="diagonal"``: only
    the crops a bundle with ``trace_rows: diagonal`` feeds its trace CNNs)."""
    import torch  # heavy optional dependency (training only)

    model.eval()
    out = []
    with torch.inference_mode():
        for rgb in images:
            crops = crop_grid(rgb, size, grid)
            if rows == "diagonal":
                shape = crop_grid_shape(rgb, size, grid)
                crops = [crops[i] for i in diagonal_rows(*shape)]
            out.append(float(model(batch_tensor(crops)).mean()))
    return np.asarray(out)


def crop_grid_shape(rgb: np.ndarray, size: int, grid: int) -> tuple[int, int]:
    """(rows, columns) of :func:`crop_grid`'s crops for ``rgb``."""
    h, w = (max(size, n) for n in rgb.shape[:2])
    return len(grid_offsets(h, size, grid)), len(grid_offsets(w, size, grid))
