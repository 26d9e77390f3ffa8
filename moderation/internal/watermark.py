"""Decode the invisible DWT-DCT watermarks open generators embed (``invisible-watermark``).

The payloads, taken from the generators' own sources:

* **Stable Diffusion 1.x** — CompVis/stable-diffusion ``scripts/txt2img.py``:
  ``set_watermark('bytes', "StableDiffusionV1".encode('utf-8'))`` on a BGR copy (136 bits).
* **Stable Diffusion 2.x** — Stability-AI/stablediffusion ``scripts/txt2img.py``:
  ``set_watermark('bytes', "SDV2".encode('utf-8'))`` on a BGR copy (32 bits).
* **Stable Diffusion XL** — huggingface/diffusers
  ``src/diffusers/pipelines/stable_diffusion_xl/watermark.py`` (copied there from
  Stability-AI/generative-models ``scripts/demo/streamlit_helpers.py``):
  ``WATERMARK_MESSAGE = 0b101100111110110010010000011110111011000110011110``, embedded as
  ``'bits'`` (48). diffusers hands the encoder an **RGB** array where it expects BGR, so
  the mark sits in the chroma plane of the channel-swapped image.
* **FLUX.1** — black-forest-labs/flux ``src/flux/util.py``:
  ``WATERMARK_MESSAGE = 0b001010101111111010000111100111001111010100101110``;
  ``bin(x)[2:]`` drops the two leading zeros, so **46** bits are embedded.

How the library decodes (``imwatermark.maxDct.EmbedMaxDct``): the image goes to YUV, the
U plane gets a one-level Haar DWT, and every 4×4 block of the approximation band votes
one bit (its largest AC coefficient modulo ``scale = 36``); block *n* votes for bit
``n mod L``. The library needs the payload length up front; here each block's vote is
taken **once** with the library's own ``decode_frame`` (length 1 keeps every vote in
order) and the votes are then folded for each payload length, so four payloads cost one
pass per channel order instead of four.

**Decision.** The library calls a bit 1 when more than half its votes are 1. On drawings
that rule loses marks that are plainly there: the embedder truncates to integers, and on
textured or saturated carriers the votes of 0-bits drift towards 1 (measured: every 1-bit
at 100 % ones, every 0-bit near 58 %), so a clean mark reads as 27 of 48 bits. The votes
of the two kinds still separate, so the split is placed where it agrees best with the
payload: bits sorted by their share of 1-votes, every cut between distinct shares tried
(the library's own cut is one of them).

**Threshold.** On an image without the mark the bit positions are exchangeable (each
bit's blocks are spread evenly over the picture), so whatever the carrier does to the
votes, a cut that makes ``m`` bits 1 yields a uniformly random string with ``m`` ones,
and its agreement with a payload of ``n`` bits, ``w`` of them 1, is ``A = 2X + n - m - w``
with ``X ~ Hypergeometric(n, w, m)``. Trying every cut, ``P(max A >= k) <= sum_m
P(A_m >= k)`` (union bound). One scan tests :data:`TESTS_PER_IMAGE` hypotheses
(payloads × channel orders × sizes), so each payload's threshold is the smallest ``k``
with ``TESTS_PER_IMAGE * sum_m P(A_m >= k) < 1e-6``: the chance that an unmarked image
matches anything is below one in a million. That gives 103/136 (SD 1.x), 32/32 (SD 2.x),
44/48 (SDXL) and 43/46 (FLUX); :func:`thresholds` computes them. The agreement measured
on hand-made images (``bench/watermark_bench.py``) stays far below.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: Chance probability per image we accept (family-wise, union bound).
FALSE_MATCH_PROBABILITY = 1e-6
#: The embedder's quantisation step for the U channel (``EmbedMaxDct`` default scales).
SCALE = 36
#: The library refuses images smaller than this many pixels (256×256).
MIN_PIXELS = 256 * 256
#: Short sides generators render at; a rescaled upload is also tried back at these.
GENERATOR_SIDES = (512, 768, 1024)
#: Sizes tried per image: the native size plus at most this many rescalings.
MAX_RESCALES = 4
#: Channel orders tried: BGR as the reference scripts hand it over, RGB as diffusers does.
ORDERS = ("bgr", "rgb")


def _bits_of_int(value: int) -> tuple[int, ...]:
    """The bits ``[int(b) for b in bin(value)[2:]]`` the generators embed."""
    return tuple(int(b) for b in bin(value)[2:])


def _bits_of_bytes(value: bytes) -> tuple[int, ...]:
    """The bits ``set_watermark('bytes', …)`` embeds: every byte, most significant first."""
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(value, dtype=np.uint8)))


@dataclass(frozen=True)
class Payload:
    """One generator's watermark."""

    key: str
    generator: str
    bits: tuple[int, ...]
    source: str

    @property
    def length(self) -> int:
        return len(self.bits)


PAYLOADS: tuple[Payload, ...] = (
    Payload("sd1", "Stable Diffusion 1.x", _bits_of_bytes(b"StableDiffusionV1"),
            "CompVis/stable-diffusion scripts/txt2img.py"),
    Payload("sd2", "Stable Diffusion 2.x", _bits_of_bytes(b"SDV2"),
            "Stability-AI/stablediffusion scripts/txt2img.py"),
    Payload("sdxl", "Stable Diffusion XL",
            _bits_of_int(0b101100111110110010010000011110111011000110011110),
            "huggingface/diffusers src/diffusers/pipelines/stable_diffusion_xl/watermark.py"),
    Payload("flux", "FLUX.1",
            _bits_of_int(0b001010101111111010000111100111001111010100101110),
            "black-forest-labs/flux src/flux/util.py"),
)
#: Hypotheses tested on one image: every payload, in both channel orders, at every size.
TESTS_PER_IMAGE = len(PAYLOADS) * len(ORDERS) * (1 + MAX_RESCALES)


def _cut_tail(n: int, w: int, m: int, k: int) -> float:
    """P(A >= k) for one cut with ``m`` ones: ``A = 2X + n - m - w``, X hypergeometric."""
    total = math.comb(n, m)
    hits = sum(math.comb(w, x) * math.comb(n - w, m - x)
               for x in range(max(0, m + w - n), min(w, m) + 1) if 2 * x + n - m - w >= k)
    return hits / total


@functools.cache
def chance_probability(n: int, w: int, k: int, tests: int = TESTS_PER_IMAGE) -> float:
    """Chance that an unmarked image reaches ``k`` agreeing bits with an ``n``-bit payload
    of ``w`` ones, over every cut and ``tests`` hypotheses (union bound, capped at 1)."""
    return min(1.0, tests * sum(_cut_tail(n, w, m, k) for m in range(n + 1)))


@functools.cache
def threshold(n: int, w: int, alpha: float = FALSE_MATCH_PROBABILITY) -> int:
    """The fewest agreeing bits whose chance probability is below ``alpha``."""
    for k in range(n // 2, n + 1):
        if chance_probability(n, w, k) < alpha:
            return k
    raise ValueError(f"a {n}-bit payload cannot reach {alpha} with {TESTS_PER_IMAGE} tests")


def payload_threshold(payload: Payload) -> int:
    return threshold(payload.length, sum(payload.bits))


def thresholds() -> dict[str, tuple[int, int, float]]:
    """Payload key -> (agreeing bits needed, payload length, chance per unmarked image)."""
    out = {}
    for payload in PAYLOADS:
        k = payload_threshold(payload)
        out[payload.key] = (k, payload.length,
                            chance_probability(payload.length, sum(payload.bits), k))
    return out


@dataclass(frozen=True)
class Match:
    """The best agreement of one payload in one image."""

    payload: Payload
    agreeing: int
    order: str
    size: tuple[int, int]
    chance: float

    @property
    def detected(self) -> bool:
        return self.agreeing >= payload_threshold(self.payload)


def block_votes(rgb: np.ndarray, order: str) -> np.ndarray:
    """Every 4×4 block's bit vote of the U plane, in the embedder's block order."""
    # cv2 comes with invisible-watermark (an optional extra): imported where it is used.
    import cv2
    import pywt
    from imwatermark.maxDct import EmbedMaxDct

    pixels = rgb[:, :, ::-1] if order == "bgr" else rgb
    rows, cols = pixels.shape[0] // 4 * 4, pixels.shape[1] // 4 * 4
    yuv = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_BGR2YUV)
    approx, _details = pywt.dwt2(yuv[:rows, :cols, 1], "haar")
    votes = EmbedMaxDct(wmLen=1).decode_frame(approx, SCALE, [[]])[0]
    return np.asarray(votes, dtype=np.float32)


def bit_shares(votes: np.ndarray, length: int) -> np.ndarray:
    """Each bit's share of 1-votes (block n votes for bit n mod ``length``)."""
    if votes.size < length:
        return np.zeros(length, dtype=np.float64)
    counts = np.bincount(np.arange(votes.size) % length, minlength=length)
    ones = np.bincount(np.arange(votes.size) % length, weights=votes, minlength=length)
    return ones / counts


def best_agreement(shares: np.ndarray, bits: Sequence[int]) -> int:
    """Most payload bits any cut of the sorted shares agrees with (see the module doc)."""
    payload = np.asarray(bits, dtype=np.int64)
    order = np.argsort(-shares, kind="stable")
    ranked_shares, ranked_bits = shares[order], payload[order]
    # Cut after position m: the top m bits read 1, the rest 0.
    ones_above = np.concatenate(([0], np.cumsum(ranked_bits)))
    zeros_below = (1 - ranked_bits).sum() - np.concatenate(([0], np.cumsum(1 - ranked_bits)))
    agreement = ones_above + zeros_below
    n = len(payload)
    valid = np.ones(n + 1, dtype=bool)
    # A cut inside a run of equal shares is not a threshold; skip it.
    valid[1:n] = ranked_shares[:-1] > ranked_shares[1:]
    return int(agreement[valid].max())


def _fits(size: tuple[int, int], max_pixels: int) -> bool:
    return MIN_PIXELS <= size[0] * size[1] <= max_pixels


def candidate_sizes(width: int, height: int, *, max_pixels: int,
                    rescale: bool = True) -> list[tuple[int, int]]:
    """The native size, then rescalings back to the generators' sizes (a 0.75× or 2×
    copy of a 1024-px render is tried at 1024 px), at most :data:`MAX_RESCALES` of them.

    A native size over ``max_pixels`` is not decoded (the cost grows with the area), but
    its rescalings still are: an upscaled render is caught at the size it was made.
    Nothing under 256×256 is decoded (the embedder refuses such images).
    """
    sizes = [(width, height)] if _fits((width, height), max_pixels) else []
    if not rescale or width * height < MIN_PIXELS:
        return sizes
    short = min(width, height)
    rescaled: list[tuple[int, int]] = []
    for side in (*GENERATOR_SIDES, short // 2):
        if side <= 0 or side == short:
            continue
        factor = side / short
        size = (round(width * factor), round(height * factor))
        if size not in sizes and size not in rescaled and _fits(size, max_pixels):
            rescaled.append(size)
    return sizes + rescaled[:MAX_RESCALES]


def decode(image: Image.Image, *, max_pixels: int = 4_200_000,
           payloads: Sequence[Payload] = PAYLOADS, rescale: bool = True) -> list[Match]:
    """Best agreement of every payload with ``image`` (RGB), over sizes and orders.

    An empty list means nothing was decoded (see :func:`candidate_sizes`).
    """
    width, height = image.size
    sizes = candidate_sizes(width, height, max_pixels=max_pixels, rescale=rescale)
    best: dict[str, Match] = {}
    for size in sizes:
        scaled = image if size == (width, height) else image.resize(size, Image.Resampling.LANCZOS)
        rgb = np.asarray(scaled.convert("RGB"))
        for order in ORDERS:
            votes = block_votes(rgb, order)
            for payload in payloads:
                agreeing = best_agreement(bit_shares(votes, payload.length), payload.bits)
                current = best.get(payload.key)
                if current is None or agreeing > current.agreeing:
                    best[payload.key] = Match(
                        payload, agreeing, order, size,
                        chance_probability(payload.length, sum(payload.bits), agreeing))
        if any(m.detected for m in best.values()):
            break  # found at this size; the other sizes cannot make it more certain
    return sorted(best.values(), key=lambda m: m.chance)
