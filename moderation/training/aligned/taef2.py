"""TAEF2: the tiny autoencoder of the FLUX.2 latent space, written from its weight layout.

Passing a hand-made crop through encode -> decode leaves the pixels a FLUX.2-family
decoder would produce for that content, which makes an "AI twin" matched in everything
but decoder traces. Used offline only; the weights are never shipped.

Layout (state_dict prefixes are the ``nn.Sequential`` indices): 64 channels everywhere,
residual blocks of three 3x3 convolutions, the deepest blocks with an extra
"mix" branch (1x1 -> GroupNorm(4) -> ReLU -> 1x1) added to the block input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

CHANNELS = 64
LATENT_CHANNELS = 32
MIX_CHANNELS = 256
#: Encoder and decoder change resolution by 8: crops must have sides divisible by it.
FACTOR = 8
ENCODER_FILE = "taef2_encoder.pth"
DECODER_FILE = "taef2_decoder.pth"


def _modules() -> tuple[type[nn.Module], type[nn.Module]]:
    """Build the two module classes (torch is an optional training dependency)."""
    import torch  # heavy optional dependency: only the offline training path needs it
    from torch import nn

    class Res(nn.Module):
        """Residual block; ``mix`` adds the global GroupNorm branch to the input first."""

        def __init__(self, mix: bool) -> None:
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1), nn.ReLU(),
                nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1), nn.ReLU(),
                nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1))
            self.pool: nn.Module | None = nn.Sequential(
                nn.Conv2d(CHANNELS, MIX_CHANNELS, 1, bias=False),
                nn.GroupNorm(4, MIX_CHANNELS, eps=1e-5), nn.ReLU(),
                nn.Conv2d(MIX_CHANNELS, CHANNELS, 1, bias=False)) if mix else None
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.pool is not None:
                x = x + self.pool(x)
            return self.act(self.conv(x) + x)

    class Clamp(nn.Module):
        """Soft clamp of the latent to (-3, 3), as the decoder was trained with."""

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.tanh(z / 3) * 3

    return Res, Clamp


def build_encoder() -> nn.Module:
    """Return the encoder (RGB in [0, 1] -> 32-channel latent at 1/8 resolution)."""
    from torch import nn  # heavy optional dependency (training only)

    res, _ = _modules()

    def down() -> nn.Module:
        return nn.Conv2d(CHANNELS, CHANNELS, 3, stride=2, padding=1, bias=False)

    return nn.Sequential(
        nn.Conv2d(3, CHANNELS, 3, padding=1), res(False),
        down(), res(False), res(False), res(False),
        down(), res(False), res(False), res(False),
        down(), res(True), res(True), res(True),
        nn.Conv2d(CHANNELS, LATENT_CHANNELS, 3, padding=1))


def build_decoder() -> nn.Module:
    """Return the decoder (latent -> RGB, approximately [0, 1])."""
    from torch import nn  # heavy optional dependency (training only)

    res, clamp = _modules()

    def up() -> list[nn.Module]:
        return [nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, bias=False)]

    return nn.Sequential(
        clamp(), nn.Conv2d(LATENT_CHANNELS, CHANNELS, 3, padding=1), nn.ReLU(),
        res(True), res(True), res(True),
        *up(), res(False), res(False), res(False),
        *up(), res(False), res(False), res(False),
        *up(), res(False),
        nn.Conv2d(CHANNELS, 3, 3, padding=1))


class TAEF2:
    """Encoder and decoder loaded strictly from ``weights_dir``, float32 on CPU."""

    def __init__(self, weights_dir: Path) -> None:
        import torch  # heavy optional dependency (training only)

        self.encoder = build_encoder()
        self.decoder = build_decoder()
        for module, name in ((self.encoder, ENCODER_FILE), (self.decoder, DECODER_FILE)):
            state = torch.load(weights_dir / name, map_location="cpu", weights_only=True)
            module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
            module.float().eval()

    def reconstruct(self, rgb: np.ndarray) -> np.ndarray:
        """Return encode -> decode of a uint8 HxWx3 array (sides divisible by 8) as uint8."""
        import torch  # heavy optional dependency (training only)

        h, w = rgb.shape[:2]
        if h % FACTOR or w % FACTOR:
            raise ValueError(f"TAEF2 needs sides divisible by {FACTOR}, got {w}x{h}")
        x = torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)[None].float() / 255.0
        with torch.inference_mode():
            y = self.decoder(self.encoder(x))
        out = (y[0].clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0).numpy()
        return np.ascontiguousarray(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0 ** 2 / mse))
