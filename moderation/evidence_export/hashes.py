"""What the export computes from the work's file itself: SHA-256, PDQ and a clean preview.

The hashes are computed again at export time rather than copied from the case, so the
bundle states what the stored file *is* now and whether it is still the file the scan
saw (``content_sha256``). PDQ (Meta's perceptual hash, the format hash banks exchange)
is added when the optional ``pdqhash`` package is installed; its hex form is the one
Meta's ThreatExchange tools use (the 256 bits in order, 64 lowercase hex digits).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from moderation.evidence import ImageInput

try:  # optional: the fingerprints extra installs it
    import pdqhash
except ImportError:  # pragma: no cover - depends on the installed extras
    pdqhash = None

#: The longest side of the preview written into the bundle.
PREVIEW_MAX_SIDE = 1024


@dataclass(frozen=True)
class PdqHash:
    """A PDQ hash as 64 hex digits and its quality (0-100; below 50 HMA does not match)."""

    hash: str
    quality: int


def pdq_available() -> bool:
    return pdqhash is not None


def bits_to_hex(bits: Any) -> str:
    """256 bits (most significant first) as 64 lowercase hex digits."""
    value = int("".join("1" if int(b) else "0" for b in bits), 2)
    return f"{value:064x}"


def pdq_of(decoded: ImageInput) -> PdqHash | None:
    """PDQ of the decoded picture (EXIF-transposed RGB), or None without ``pdqhash``."""
    if pdqhash is None:
        return None
    pixels = np.ascontiguousarray(np.asarray(decoded.image.convert("RGB"), dtype=np.uint8))
    bits, quality = pdqhash.compute(pixels)
    return PdqHash(bits_to_hex(bits), int(quality))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def preview_jpeg(decoded: ImageInput) -> bytes:
    """A JPEG of the picture at most :data:`PREVIEW_MAX_SIDE` wide or high.

    Saved without ``exif=`` or an ICC profile: the preview carries no metadata of the
    original (no camera data, no location, no generation parameters).
    """
    preview = decoded.image.copy()
    preview.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    out = io.BytesIO()
    preview.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()
