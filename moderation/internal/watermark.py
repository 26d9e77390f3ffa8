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

How the library embeds (``imwatermark.maxDct.EmbedMaxDct``): the image goes to YUV, the
U plane gets a one-level Haar DWT, and every 4×4 block of the approximation band carries
one bit (block *n* the bit ``n mod L``), quantised with ``scale = 36``.

**Reading a block.** Decoding is done here, vectorised, without the library: the U plane
is computed in floating point (OpenCV's ``BGR2YUV`` formula), the Haar approximation of a
2×2 cell is half its sum, and in every 4×4 block of it (8×8 pixels) the largest
coefficient but the first carries the bit as its magnitude modulo 36: 9 for a 0, 27 for
a 1. A block's **soft score** is ``-sin(2π·value/36)`` (+1 at 27, -1 at 9); a bit's
statistic is the mean soft score of its blocks. Soft scores average where hard votes
saturate (JPEG and resampling move values by a few units, not across the whole cell).
Blocks whose pixels touch 0 or 255 in any channel are left out when enough others
remain: the embedder clips its own mark there (its YUV→RGB conversion saturates).

**Decision.** The library calls a bit 1 when more than half its votes are 1. On drawings
that rule loses marks that are plainly there: the embedder truncates to integers, and on
textured or saturated carriers the 0-bits drift towards 1. The statistics of the two
kinds still separate, so the split is placed where it agrees best with the payload: bits
sorted by their statistic, every cut between distinct values tried.

**The block grid.** The grid has an 8-pixel period and block *n* (raster order over the
generator's own picture, ``C`` blocks a row) votes for bit ``n mod L``. A crop moves the
grid origin to a *phase* ``(dy, dx)`` in 0..7 and changes the numbering: in the cropped
picture block ``(i, j)`` votes for bit ``(j + i·δ + s) mod L`` with ``δ = C mod L`` and
``s`` set by the crop. The phase is **estimated without the payload**: a marked block's
value sits at 9 modulo 18 whatever its bit, so the phase whose blocks have the lowest
mean ``cos(2π·value/18)`` is the grid (every phase is tried on a central patch). The
same payload-free score picks the sizes a rescaled upload is tried back at (short sides
of 512 to 1536 pixels in steps of 64, the sizes generators render). ``(δ, s)`` are not
estimated: every one of the ``L²`` pairs is a hypothesis.

**Threshold.** On an image without the mark the bit positions are exchangeable (each
bit's blocks are spread evenly over the picture, and the phase and sizes are chosen
without looking at the payload), so whatever the carrier does to the statistics, a cut
that makes ``m`` bits 1 yields a uniformly random string with ``m`` ones, and its
agreement with a payload of ``n`` bits, ``w`` of them 1, is ``A = 2X + n - m - w`` with
``X ~ Hypergeometric(n, w, m)``. Trying every cut, ``P(max A >= k) <= sum_m P(A_m >=
k)`` (union bound). The family-wise budget of 1e-6 is split in two halves:

* *aligned* (the grid where the generator left it, at the native size and the four
  best rescalings): :data:`ALIGNED_TESTS` = payloads × channel orders × 5 sizes = 40
  tests in 5e-7, giving 104/136 (SD 1.x), 32/32 (SD 2.x), 44/48 (SDXL), 43/46 (FLUX);
* *shifted* (after a crop: the phase and the row step δ estimated without the payload,
  native size, every start ``s``): payloads × channel orders × ``L`` = 4 × 2 × L tests
  in 5e-7 (1088 for SD 1.x, 384 for SDXL, 368 for FLUX), giving 107/136, 45/48 and
  44/46. SD 2.x's 32 bits cannot reach it, so it is not searched shifted. (SD 1.x crops
  of 512 px renders are missed: their rows are too short for δ to show; see
  ``docs/provenance-marks.md``.)

Every test is at most its share, so the chance that an unmarked image matches anything
anywhere is below one in a million. :func:`thresholds` computes the table; the agreement
measured on hand-made images (``bench/watermark_bench.py``) stays far below.
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
#: Share of that budget spent on the aligned grid; the rest goes to shifted grids.
ALIGNED_SHARE = 0.5
#: The embedder's quantisation step for the U channel (``EmbedMaxDct`` default scales).
SCALE = 36
#: Pixels per block side: a 4×4 block of the half-resolution approximation band.
BLOCK = 8
#: The library refuses images smaller than this many pixels (256×256).
MIN_PIXELS = 256 * 256
#: Short sides a rescaled upload is tried back at: generators render multiples of 64.
GENERATOR_SIDES = tuple(range(512, 1537, 64))
#: Sizes decoded per image: the native size plus this many best-scoring rescalings.
MAX_RESCALES = 4
#: Channel orders tried: BGR as the reference scripts hand it over, RGB as diffusers does.
ORDERS = ("bgr", "rgb")
#: A pixel with a channel this close to 0 or 255 may have clipped the mark.
SATURATION_MARGIN = 2
#: Unsaturated blocks needed per payload bit before saturated blocks are left out.
MIN_BLOCKS_PER_BIT = 4
#: Side of the central patch the grid phase is estimated on (pixels).
PHASE_PATCH = 512
#: Phases (of 64) kept by the quantisation score for the row-correlation step: where
#: the largest coefficient dominates its neighbours, every phase of the right parity
#: reads marked cells and scores alike.
PHASE_CANDIDATES = 16


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

    @property
    def ones(self) -> int:
        return sum(self.bits)


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
#: Aligned hypotheses per image: every payload, in both channel orders, at every size.
ALIGNED_TESTS = len(PAYLOADS) * len(ORDERS) * (1 + MAX_RESCALES)
#: Kept for callers of the first version: the aligned stage's test count.
TESTS_PER_IMAGE = ALIGNED_TESTS
ALIGNED = "aligned"
SHIFTED = "shifted"


def shifted_tests(length: int) -> int:
    """Shifted hypotheses charged to each payload: payloads × orders × every start s
    (the phase and δ are estimated without the payload's bits)."""
    return len(PAYLOADS) * len(ORDERS) * length


def _cut_tail(n: int, w: int, m: int, k: int) -> float:
    """P(A >= k) for one cut with ``m`` ones: ``A = 2X + n - m - w``, X hypergeometric."""
    total = math.comb(n, m)
    hits = sum(math.comb(w, x) * math.comb(n - w, m - x)
               for x in range(max(0, m + w - n), min(w, m) + 1) if 2 * x + n - m - w >= k)
    return hits / total


@functools.cache
def chance_probability(n: int, w: int, k: int, tests: int = ALIGNED_TESTS) -> float:
    """Chance that an unmarked image reaches ``k`` agreeing bits with an ``n``-bit payload
    of ``w`` ones, over every cut and ``tests`` hypotheses (union bound, capped at 1)."""
    return min(1.0, tests * sum(_cut_tail(n, w, m, k) for m in range(n + 1)))


def _stage_tests(n: int, stage: str) -> int:
    return ALIGNED_TESTS if stage == ALIGNED else shifted_tests(n)


def stage_alpha(stage: str) -> float:
    share = ALIGNED_SHARE if stage == ALIGNED else 1 - ALIGNED_SHARE
    return FALSE_MATCH_PROBABILITY * share


@functools.cache
def threshold(n: int, w: int, stage: str = ALIGNED) -> int | None:
    """The fewest agreeing bits whose chance probability is below the stage's budget, or
    None when even a perfect match cannot get there."""
    tests, alpha = _stage_tests(n, stage), stage_alpha(stage)
    for k in range(n // 2, n + 1):
        if chance_probability(n, w, k, tests) < alpha:
            return k
    return None


def payload_threshold(payload: Payload, stage: str = ALIGNED) -> int | None:
    return threshold(payload.length, payload.ones, stage)


def payload_chance(payload: Payload, agreeing: int, stage: str = ALIGNED) -> float:
    return chance_probability(payload.length, payload.ones, agreeing,
                              _stage_tests(payload.length, stage))


def thresholds() -> dict[str, dict[str, tuple[int, int, float] | None]]:
    """Stage -> payload key -> (agreeing bits needed, payload length, chance per unmarked
    image at that threshold), or None where the stage cannot reach the budget."""
    out: dict[str, dict[str, tuple[int, int, float] | None]] = {}
    for stage in (ALIGNED, SHIFTED):
        out[stage] = {}
        for payload in PAYLOADS:
            k = payload_threshold(payload, stage)
            out[stage][payload.key] = None if k is None else (
                k, payload.length, payload_chance(payload, k, stage))
    return out


@dataclass(frozen=True)
class Match:
    """The best agreement of one payload in one image."""

    payload: Payload
    agreeing: int
    order: str
    size: tuple[int, int]
    chance: float
    stage: str = ALIGNED
    #: Grid origin (dy, dx) in pixels, and the block numbering (δ, s) that matched.
    phase: tuple[int, int] = (0, 0)
    numbering: tuple[int, int] = (0, 0)

    @property
    def needed(self) -> int | None:
        return payload_threshold(self.payload, self.stage)

    @property
    def detected(self) -> bool:
        needed = self.needed
        return needed is not None and self.agreeing >= needed


# ---------------------------------------------------------------------- block reading


#: OpenCV's ``BGR2YUV`` U row, ``0.492·(B - Y) + 128``, as weights of (R, G, B, 1).
_U_WEIGHTS = np.array([-0.492 * 0.299, -0.492 * 0.587, 0.492 * (1 - 0.114), 128.0],
                      dtype=np.float32)


def chroma_plane(rgb: np.ndarray, order: str) -> np.ndarray:
    """The U plane the embedder wrote into, in floating point.

    ``order`` is how the generator handed the pixels over: "bgr" as the encoder expects,
    "rgb" (diffusers) so the encoder's "blue" is the red channel. One pass of OpenCV's
    ``transform`` (a per-pixel matrix product), several times faster than NumPy's
    temporaries on a megapixel.
    """
    import cv2

    weights = _U_WEIGHTS if order == "bgr" else _U_WEIGHTS[[2, 1, 0, 3]]
    pixels = np.ascontiguousarray(rgb, dtype=np.float32)
    return cv2.transform(pixels, weights[None, :])


def saturated_pixels(rgb: np.ndarray) -> np.ndarray:
    """Integral image (one row and column of zeros in front) of the pixels with a channel
    at the ends of the range, where the embedder clips its own mark."""
    import cv2

    inside = cv2.inRange(np.ascontiguousarray(rgb), (SATURATION_MARGIN + 1,) * 3,
                         (254 - SATURATION_MARGIN,) * 3)
    return cv2.integral((inside == 0).view(np.uint8), sdepth=cv2.CV_32S)


@dataclass(frozen=True)
class Blocks:
    """The blocks of one grid: each block's carrier value and whether it is usable."""

    values: np.ndarray  # (rows, cols) float: magnitude of the block's largest coefficient
    usable: np.ndarray  # (rows, cols) bool: no saturated pixel

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.values.shape
        return rows, cols

    def soft(self) -> np.ndarray:
        """+1 at a clean 1-bit, -1 at a clean 0-bit."""
        return -np.sin(2 * np.pi * self.values / SCALE)

    def grid_score(self) -> float:
        """Mean ``cos(2π·value/18)`` of the usable blocks: near -1 on a marked grid."""
        values = self.values[self.usable] if self.usable.sum() >= 16 else self.values.ravel()
        if values.size == 0:
            return 0.0
        return float(np.cos(2 * np.pi * values / (SCALE / 2)).mean())


def read_blocks(plane: np.ndarray, saturated: np.ndarray, phase: tuple[int, int] = (0, 0)
                ) -> Blocks:
    """Every block of the grid starting at ``phase`` = (dy, dx), in raster order
    (``saturated``: the integral image :func:`saturated_pixels` returns)."""
    dy, dx = phase
    cells = plane[dy:, dx:]
    rows, cols = cells.shape[0] // BLOCK, cells.shape[1] // BLOCK
    cells = cells[:rows * BLOCK, :cols * BLOCK]
    approx = (cells[0::2, 0::2] + cells[0::2, 1::2] + cells[1::2, 0::2]
              + cells[1::2, 1::2]) / 2
    half = BLOCK // 2
    coeffs = approx.reshape(rows, half, cols, half).transpose(0, 2, 1, 3).reshape(
        rows, cols, half * half)
    ac = np.abs(coeffs[:, :, 1:])  # the embedder skips the first coefficient
    values = np.take_along_axis(ac, ac.argmax(axis=2)[..., None], axis=2)[..., 0]
    corners = saturated[dy:dy + rows * BLOCK + 1:BLOCK, dx:dx + cols * BLOCK + 1:BLOCK]
    clipped = (corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]) > 0
    return Blocks(values.astype(np.float64), ~clipped)


def _weights(blocks: Blocks, length: int) -> np.ndarray:
    """1 for usable blocks; every block counts when too few are usable."""
    usable = blocks.usable
    if usable.sum() >= MIN_BLOCKS_PER_BIT * length:
        return usable.astype(np.float64)
    return np.ones(usable.shape, dtype=np.float64)


def fold(blocks: Blocks, length: int, delta: int, shift: int = 0) -> np.ndarray:
    """Each bit's mean soft score when block (i, j) carries bit (j + i·δ + s) mod L."""
    return _Folder(blocks, length).fold(delta, shift)


class _Folder:
    """Folds one grid's soft scores for many numberings (the weights computed once)."""

    def __init__(self, blocks: Blocks, length: int) -> None:
        rows, cols = blocks.shape
        self.length = length
        self.row = np.repeat(np.arange(rows), cols)
        self.col = np.tile(np.arange(cols), rows)
        self.weights = _weights(blocks, length).ravel()
        self.weighted = blocks.soft().ravel() * self.weights

    def fold(self, delta: int, shift: int = 0) -> np.ndarray:
        position = (self.col + self.row * delta + shift) % self.length
        sums = np.bincount(position, weights=self.weighted, minlength=self.length)
        counts = np.bincount(position, weights=self.weights, minlength=self.length)
        return np.divide(sums, counts, out=np.zeros(self.length), where=counts > 0)


def bit_shares(votes: np.ndarray, length: int) -> np.ndarray:
    """Each bit's mean of a raster sequence of votes (block n votes for bit n mod L)."""
    if votes.size < length:
        return np.zeros(length, dtype=np.float64)
    counts = np.bincount(np.arange(votes.size) % length, minlength=length)
    ones = np.bincount(np.arange(votes.size) % length, weights=votes, minlength=length)
    return ones / counts


def _agreements(shares: np.ndarray, ranked_bits: np.ndarray) -> np.ndarray:
    """Best cut agreement for each row of ``ranked_bits`` (bits in the order of the
    descending ``shares``)."""
    n = shares.size
    ranked_shares = np.sort(shares)[::-1]
    ones_above = np.concatenate((np.zeros((ranked_bits.shape[0], 1), dtype=np.int64),
                                 np.cumsum(ranked_bits, axis=1)), axis=1)
    zeros = 1 - ranked_bits
    zeros_below = zeros.sum(axis=1, keepdims=True) - np.concatenate(
        (np.zeros((ranked_bits.shape[0], 1), dtype=np.int64), np.cumsum(zeros, axis=1)),
        axis=1)
    agreement = ones_above + zeros_below
    valid = np.ones(n + 1, dtype=bool)
    # A cut inside a run of equal shares is not a threshold; skip it.
    valid[1:n] = ranked_shares[:-1] > ranked_shares[1:]
    return np.asarray(agreement[:, valid].max(axis=1))


def best_agreement(shares: np.ndarray, bits: Sequence[int]) -> int:
    """Most payload bits any cut of the sorted shares agrees with (see the module doc)."""
    payload = np.asarray(bits, dtype=np.int64)
    order = np.argsort(-shares, kind="stable")
    return int(_agreements(shares, payload[order][None, :])[0])


def best_shift(blocks: Blocks, payload: Payload, delta: int) -> tuple[int, int]:
    """Best agreement over every start ``s`` of the numbering (j + i·δ + s) mod L."""
    n = payload.length
    bits = np.asarray(payload.bits, dtype=np.int64)
    shares = fold(blocks, n, delta)
    order = np.argsort(-shares, kind="stable")
    # With start s, folded position p carries bit (p + s) mod L.
    ranked_bits = bits[(order[None, :] + np.arange(n)[:, None]) % n]
    agreement = _agreements(shares, ranked_bits)
    shift = int(agreement.argmax())
    return int(agreement[shift]), shift


# ---------------------------------------------------------------------- sizes and phase


def _fits(size: tuple[int, int], max_pixels: int) -> bool:
    return MIN_PIXELS <= size[0] * size[1] <= max_pixels


def candidate_sizes(width: int, height: int, *, max_pixels: int,
                    rescale: bool = True) -> list[tuple[int, int]]:
    """The native size, then every rescaling back to a generator short side
    (:data:`GENERATOR_SIDES`, the long side a multiple of 8; a 0.75× copy of a 1024-px
    render is tried at 1024 px).

    :func:`decode` keeps the :data:`MAX_RESCALES` rescalings whose grid score is best. A
    native size over ``max_pixels`` is not decoded (the cost grows with the area), but its
    rescalings still are. Nothing under 256×256 is decoded (the embedder refuses them).
    """
    sizes = [(width, height)] if _fits((width, height), max_pixels) else []
    if not rescale or width * height < MIN_PIXELS:
        return sizes
    short = min(width, height)
    for side in GENERATOR_SIDES:
        if side == short:
            continue
        # The long side to the nearest multiple of 8: generators render those (diffusers
        # requires them), and a rescaled copy rounds its sides.
        long_side = max(BLOCK, round(max(width, height) * side / short / BLOCK) * BLOCK)
        size = (side, long_side) if width <= height else (long_side, side)
        if size not in sizes and _fits(size, max_pixels):
            sizes.append(size)
    return sizes


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB, without the copy ``convert`` makes of an image already in RGB."""
    return image if image.mode == "RGB" else image.convert("RGB")


def _resized(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    scaled = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(_rgb(scaled))


def _central_patch(rgb: np.ndarray) -> np.ndarray:
    """A central patch about :data:`PHASE_PATCH` square whose origin is on the 8-pixel
    lattice of the picture (so a phase found on it is the picture's phase)."""
    height, width = rgb.shape[:2]
    y0 = max(0, (height - PHASE_PATCH) // 2) // BLOCK * BLOCK
    x0 = max(0, (width - PHASE_PATCH) // 2) // BLOCK * BLOCK
    return rgb[y0:y0 + PHASE_PATCH + BLOCK, x0:x0 + PHASE_PATCH + BLOCK]


def grid_scores(rgb: np.ndarray, order: str) -> np.ndarray:
    """Grid score of every phase (8×8 array indexed by dy, dx), on the central patch."""
    patch = _central_patch(rgb)
    plane, saturated = chroma_plane(patch, order), saturated_pixels(patch)
    scores = np.zeros((BLOCK, BLOCK))
    for dy in range(BLOCK):
        for dx in range(BLOCK):
            scores[dy, dx] = read_blocks(plane, saturated, (dy, dx)).grid_score()
    return scores


def row_correlation(blocks: Blocks) -> np.ndarray:
    """``c[lag]`` = mean of ``soft[i+1][j] · soft[i][j+lag]`` (centred soft scores) over
    every pair in range, for lags ``-(cols-1) .. cols-1`` (index ``lag + cols - 1``).

    Block (i+1, j) carries the same bit as block (i, j+δ) (and (i, j+δ-L)), so a marked
    grid correlates at the lags congruent to δ modulo L; all lags at once by FFT.
    """
    rows, cols = blocks.shape
    soft = blocks.soft()
    soft = soft - soft.mean()
    size = 2 * cols
    upper = np.fft.rfft(soft[1:], n=size, axis=1)
    lower = np.fft.rfft(soft[:-1], n=size, axis=1)
    sums = np.fft.irfft((lower * np.conj(upper)).sum(axis=0), n=size)
    lags = np.arange(-(cols - 1), cols)
    pairs = (rows - 1) * (cols - np.abs(lags))
    return np.asarray(sums[lags % size] / np.maximum(pairs, 1))


def numbering_scores(correlation: np.ndarray, cols: int, length: int) -> np.ndarray:
    """Per δ in 0..L-1, the pair-weighted mean row correlation at the lags ≡ δ (mod L)."""
    lags = np.arange(-(cols - 1), cols)
    weights = cols - np.abs(lags).astype(np.float64)
    sums = np.bincount(lags % length, weights=correlation * weights, minlength=length)
    counts = np.bincount(lags % length, weights=weights, minlength=length)
    return np.divide(sums, counts, out=np.zeros(length), where=counts > 0)


def estimate_grids(plane: np.ndarray, saturated: np.ndarray, scores: np.ndarray,
                   lengths: Sequence[int]) -> dict[int, tuple[Blocks, tuple[int, int], int]]:
    """Per payload length L, the grid (blocks, phase (dy, dx), row step δ) that looks most
    like a mark of L bits, chosen without the payload's bits: among the
    :data:`PHASE_CANDIDATES` phases whose blocks look most quantised (``scores``, from
    :func:`grid_scores`), the (phase, δ) whose blocks one row apart correlate best at
    the lags δ (mod L)."""
    best: dict[int, tuple[float, Blocks, tuple[int, int], int]] = {}
    for flat in np.argsort(scores.ravel(), kind="stable")[:PHASE_CANDIDATES]:
        phase = (int(flat) // BLOCK, int(flat) % BLOCK)
        blocks = read_blocks(plane, saturated, phase)
        rows, cols = blocks.shape
        if rows < 2 or cols < 2:
            continue
        correlation = row_correlation(blocks)
        for length in lengths:
            per_delta = numbering_scores(correlation, cols, length)
            delta = int(per_delta.argmax())
            if length not in best or per_delta[delta] > best[length][0]:
                best[length] = (float(per_delta[delta]), blocks, phase, delta)
    return {length: entry[1:] for length, entry in best.items()}


def _size_score(image: Image.Image, size: tuple[int, int]) -> float:
    """Grid score of ``image`` rescaled to ``size``, computed on the central patch only
    (resampled straight from the matching box of the upload)."""
    factor_x, factor_y = size[0] / image.width, size[1] / image.height
    y0 = max(0, (size[1] - PHASE_PATCH) // 2) // BLOCK * BLOCK
    x0 = max(0, (size[0] - PHASE_PATCH) // 2) // BLOCK * BLOCK
    side_x, side_y = min(PHASE_PATCH, size[0] - x0), min(PHASE_PATCH, size[1] - y0)
    box = (x0 / factor_x, y0 / factor_y, (x0 + side_x) / factor_x, (y0 + side_y) / factor_y)
    patch = np.asarray(_rgb(image).resize((side_x, side_y), Image.Resampling.LANCZOS,
                                          box=box))
    saturated = saturated_pixels(patch)
    return min(read_blocks(chroma_plane(patch, order), saturated).grid_score()
               for order in ORDERS)


# ---------------------------------------------------------------------- decoding


@dataclass
class _Planes:
    """One decoded size's U planes (per channel order) and saturation integral, computed
    once and shared by the aligned and shifted stages."""

    rgb: np.ndarray
    saturated: np.ndarray
    planes: dict[str, np.ndarray]

    @classmethod
    def of(cls, rgb: np.ndarray) -> _Planes:
        return cls(rgb, saturated_pixels(rgb), {o: chroma_plane(rgb, o) for o in ORDERS})


def _aligned_matches(planes: _Planes, size: tuple[int, int],
                     payloads: Sequence[Payload]) -> list[Match]:
    out = []
    for order in ORDERS:
        blocks = read_blocks(planes.planes[order], planes.saturated)
        cols = blocks.shape[1]
        for payload in payloads:
            if blocks.values.size < payload.length:
                continue
            agreeing = best_agreement(fold(blocks, payload.length, cols % payload.length),
                                      payload.bits)
            out.append(Match(payload, agreeing, order, size,
                             payload_chance(payload, agreeing, ALIGNED), ALIGNED,
                             (0, 0), (cols % payload.length, 0)))
    return out


def _shifted_matches(planes: _Planes, size: tuple[int, int],
                     payloads: Sequence[Payload]) -> list[Match]:
    searched = [p for p in payloads if payload_threshold(p, SHIFTED) is not None]
    out = []
    for order in ORDERS:
        grids = estimate_grids(planes.planes[order], planes.saturated,
                               grid_scores(planes.rgb, order),
                               sorted({p.length for p in searched}))
        for payload in searched:
            if payload.length not in grids:
                continue
            blocks, phase, delta = grids[payload.length]
            if blocks.values.size < payload.length:
                continue
            agreeing, shift = best_shift(blocks, payload, delta)
            out.append(Match(payload, agreeing, order, size,
                             payload_chance(payload, agreeing, SHIFTED), SHIFTED,
                             phase, (delta, shift)))
    return out


def _keep_best(best: dict[str, Match], matches: list[Match]) -> None:
    """Keep per payload the match that is detected, else the one of lowest chance."""
    for match in matches:
        current = best.get(match.payload.key)
        if current is None or (match.detected, -match.chance) > (current.detected,
                                                                  -current.chance):
            best[match.payload.key] = match


def decode(image: Image.Image, *, max_pixels: int = 4_200_000,
           payloads: Sequence[Payload] = PAYLOADS, rescale: bool = True,
           shifted: bool = True) -> list[Match]:
    """Best match of every payload with ``image`` (RGB), lowest chance first.

    Aligned grid at the native size, then at the :data:`MAX_RESCALES` rescalings with the
    best grid score, then (``shifted``) the estimated grid phase at the native size. An
    empty list means nothing was decoded (see :func:`candidate_sizes`).
    """
    width, height = image.size
    sizes = candidate_sizes(width, height, max_pixels=max_pixels, rescale=rescale)
    best: dict[str, Match] = {}
    native = (width, height)
    native_planes = _Planes.of(_resized(image, native)) if native in sizes else None
    if native_planes is not None:
        _keep_best(best, _aligned_matches(native_planes, native, payloads))
    rescalings = [s for s in sizes if s != native]
    if rescalings and not any(m.detected for m in best.values()):
        rgb_image = _rgb(image)
        scored = sorted((_size_score(rgb_image, size), i, size)
                        for i, size in enumerate(rescalings))
        for _score, _i, size in scored[:MAX_RESCALES]:
            _keep_best(best, _aligned_matches(_Planes.of(_resized(rgb_image, size)), size,
                                              payloads))
            if any(m.detected for m in best.values()):
                break
    if shifted and native_planes is not None and not any(m.detected for m in best.values()):
        _keep_best(best, _shifted_matches(native_planes, native, payloads))
    return sorted(best.values(), key=lambda m: m.chance)
