"""PDQ perceptual hashes: the 256-bit hash, its quality and the eight dihedral variants.

PDQ (Meta's open perceptual hash, the one Hasher-Matcher-Actioner exchanges) survives
re-encoding, resizing, small crops and colour changes; the eight dihedral variants
(rotations by 90° and mirrors) let an upload that was flipped or turned still find its
original. Hashes travel as the 64-character hex string PDQ's reference tools print and
are stored and indexed as 32 bytes. A quality under ``FINGERPRINT_MIN_QUALITY`` marks a
hash of a flat image (a solid colour, a near-empty canvas): such hashes collide with
each other, so they are stored but never matched.

``pdqhash`` is an optional dependency (the ``match`` extra); :func:`available` says
whether it is installed, and nothing here imports it at module load.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

#: Bits in a PDQ hash.
BITS = 256
#: Bytes in a PDQ hash.
BYTES = BITS // 8
#: Longest side the image is reduced to before hashing. PDQ itself box-filters to 64x64,
#: so detail above this size does not change the hash beyond a bit or two; it bounds
#: the time a 60-megapixel upload takes (about 1 s at full size, 15 ms at 512).
HASH_MAX_SIDE = 512
#: The order pdqhash returns the dihedral variants in.
VARIANTS: tuple[str, ...] = ("original", "rot90", "rot180", "rot270",
                             "flip_x", "flip_y", "flip_plus1", "flip_minus1")


#: Crops hashed besides the whole image, as ``(name, (left, top, right, bottom))``: the
#: share of the width or height trimmed from each side. PDQ is fragile to cropping (a 5%
#: margin cut from each side moves a hash 60-90 bits), so a bank entry also carries the
#: hashes of these crops: a repost trimmed by about as much lands within a few bits of
#: one of them. The central 90% and 80%; then 10% trimmed from one side (top, bottom,
#: left, right) and a corner kept (10% trimmed from two adjacent sides). The tolerance
#: is narrow (measured on the developers' dev sets, docs/fingerprints.md): one-sided
#: trims of 9-11% match, 5% or 15% do not. The order is the stored order: entries hashed
#: before a crop was added carry the leading ones only.
CROPS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("centre_90", (0.05, 0.05, 0.05, 0.05)),
    ("centre_80", (0.1, 0.1, 0.1, 0.1)),
    ("trim_top", (0.0, 0.1, 0.0, 0.0)),
    ("trim_bottom", (0.0, 0.0, 0.0, 0.1)),
    ("trim_left", (0.1, 0.0, 0.0, 0.0)),
    ("trim_right", (0.0, 0.0, 0.1, 0.0)),
    ("corner_top_left", (0.0, 0.0, 0.1, 0.1)),
    ("corner_top_right", (0.1, 0.0, 0.0, 0.1)),
    ("corner_bottom_left", (0.0, 0.1, 0.1, 0.0)),
    ("corner_bottom_right", (0.1, 0.1, 0.0, 0.0)),
)
#: The name of each crop, in stored order.
CROP_NAMES: tuple[str, ...] = tuple(name for name, _ in CROPS)


@dataclass(frozen=True)
class Fingerprint:
    """One image's PDQ hash (hex), its quality (0-100), the eight dihedral hashes and the
    hashes of its crops (:data:`CROPS`, in that order)."""

    pdq: str
    quality: int
    dihedral: tuple[str, ...]
    crops: tuple[str, ...] = ()


def _module() -> Any:
    return importlib.import_module("pdqhash")


def available() -> bool:
    """Whether the ``pdqhash`` package is installed (the ``match`` extra)."""
    try:
        _module()
    except ImportError:
        return False
    return True


def vector_to_hex(vector: Any) -> str:
    """pdqhash's 256 bits (most significant first) as PDQ's canonical 64-char hex."""
    bits = np.asarray(vector, dtype=np.uint8).reshape(BITS)
    return np.packbits(bits).tobytes().hex()


def hex_to_bytes(value: str) -> bytes:
    """Parse a PDQ hex string; raise ValueError unless it is 64 hex digits."""
    text = value.strip().lower()
    if len(text) != BYTES * 2:
        raise ValueError(f"a PDQ hash has {BYTES * 2} hex digits, got {len(text)}")
    return bytes.fromhex(text)


def hex_to_array(values: list[str]) -> np.ndarray:
    """Hex hashes as the (n, 32) uint8 array the hash index takes."""
    if not values:
        return np.zeros((0, BYTES), dtype=np.uint8)
    return np.frombuffer(b"".join(hex_to_bytes(v) for v in values),
                         dtype=np.uint8).reshape(-1, BYTES)


def distance(a: str, b: str) -> int:
    """Hamming distance of two hex hashes (0-256)."""
    return int.bit_count(int.from_bytes(hex_to_bytes(a), "big")
                         ^ int.from_bytes(hex_to_bytes(b), "big"))


def _prepare(image: Image.Image) -> np.ndarray:
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if max(rgb.size) > HASH_MAX_SIDE:
        rgb = rgb.copy()
        rgb.thumbnail((HASH_MAX_SIDE, HASH_MAX_SIDE), Image.Resampling.BOX)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def crop_box(pixels: np.ndarray, trim: tuple[float, float, float, float]) -> np.ndarray:
    """``pixels`` with ``trim`` (left, top, right, bottom shares) cut off."""
    h, w = pixels.shape[:2]
    left, top, right, bottom = trim
    x0, x1 = round(w * left), w - round(w * right)
    y0, y1 = round(h * top), h - round(h * bottom)
    return np.ascontiguousarray(pixels[y0:y1 if y1 > y0 else h, x0:x1 if x1 > x0 else w])


def dihedral(image: Image.Image) -> tuple[tuple[str, ...], int]:
    """Only the eight dihedral hashes and the quality: what a lookup needs (a tenth of
    :func:`compute`'s time, which also hashes the crops a bank entry carries)."""
    vectors, quality = _module().compute_dihedral(_prepare(image))
    return tuple(vector_to_hex(v) for v in vectors), int(quality)


def compute(image: Image.Image) -> Fingerprint:
    """Hash ``image`` (the pipeline's decoded RGB frame); raise ImportError without pdqhash."""
    module = _module()
    pixels = _prepare(image)
    vectors, quality = module.compute_dihedral(pixels)
    hexes = tuple(vector_to_hex(v) for v in vectors)
    crops = tuple(vector_to_hex(module.compute(crop_box(pixels, trim))[0]) for _, trim in CROPS)
    return Fingerprint(pdq=hexes[0], quality=int(quality), dihedral=hexes, crops=crops)
