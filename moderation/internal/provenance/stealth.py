"""Read "stealth" metadata hidden in pixel low bits (NovelAI, sd-webui-stealth-pnginfo forks).

Layout (provenance.md §1.7): the least significant bit of the alpha channel
(``stealth_png*``) or of R, G, B in turn (``stealth_rgb*``), read column by column
(x outer, y inner), most significant bit first. A 15-byte magic, a big-endian uint32
payload length *in bits*, then the payload: gzip for ``*comp``, UTF-8 for ``*info``.

Work is bounded: only the columns that hold the magic are read first (a 152-bit
header fits in ``ceil(152 / H)`` columns), then only the columns the declared length
needs, capped at :data:`MAX_PAYLOAD_BYTES`; gzip is inflated with an output limit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

MAGIC_LEN = 15
HEADER_BITS = (MAGIC_LEN + 4) * 8
MAGICS = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
#: Largest payload read from the pixels (compressed size).
MAX_PAYLOAD_BYTES = 1024 * 1024
#: Largest text kept after gunzip.
MAX_TEXT_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class StealthPayload:
    """One decoded stealth record. ``channel`` is "alpha" or "rgb"."""

    channel: str
    compressed: bool
    text: str
    truncated: bool = False


def _bits_alpha(alpha: np.ndarray, columns: int) -> np.ndarray:
    """LSBs of the first ``columns`` columns of an (H, W) plane, column-major."""
    return (alpha[:, :columns].T.reshape(-1) & 1).astype(np.uint8)


def _bits_rgb(rgb: np.ndarray, columns: int) -> np.ndarray:
    """LSBs of R, G, B of the first ``columns`` columns, pixel by pixel, column-major."""
    return (rgb[:, :columns, :3].transpose(1, 0, 2).reshape(-1) & 1).astype(np.uint8)


def _read(plane: np.ndarray, channel: str, nbits: int) -> bytes | None:
    """Return the first ``nbits`` (multiple of 8) stealth bits as bytes, or None if short."""
    height = plane.shape[0]
    per_column = height * (3 if channel == "rgb" else 1)
    columns = -(-nbits // per_column)
    if columns > plane.shape[1]:
        return None
    bits = _bits_rgb(plane, columns) if channel == "rgb" else _bits_alpha(plane, columns)
    return np.packbits(bits[:nbits]).tobytes()


def _gunzip(payload: bytes) -> tuple[bytes, bool]:
    """Inflate at most MAX_TEXT_BYTES; a stream that ends early is corrupt (zlib.error)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(payload, MAX_TEXT_BYTES)
    cut = bool(inflater.unconsumed_tail)
    if not cut and not inflater.eof:
        raise zlib.error("gzip stream ends early")
    return out, cut


def _decode(plane: np.ndarray, channel: str) -> StealthPayload | None:
    header = _read(plane, channel, HEADER_BITS)
    if header is None:
        return None
    magic = MAGICS.get(header[:MAGIC_LEN])
    if magic is None or magic[0] != channel:
        return None
    compressed = magic[1]
    length_bits = int.from_bytes(header[MAGIC_LEN:], "big")
    length_bytes = min(length_bits // 8, MAX_PAYLOAD_BYTES)
    truncated = length_bits // 8 > MAX_PAYLOAD_BYTES
    full = _read(plane, channel, HEADER_BITS + length_bytes * 8)
    if full is None:
        return None
    payload = full[MAGIC_LEN + 4 :]
    if compressed:
        try:
            raw, cut = _gunzip(payload)
        except zlib.error:
            return None
        truncated = truncated or cut
    else:
        raw = payload[:MAX_TEXT_BYTES]
    if not raw:
        return None
    return StealthPayload(channel, compressed, raw.decode("utf-8", errors="replace"), truncated)


def read_stealth(image: Image.Image) -> StealthPayload | None:
    """Return the stealth record in ``image`` (alpha first, then RGB), or None.

    ``image`` must be the decoded original (not flattened onto a background, which
    would rewrite the RGB low bits).
    """
    if image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = np.asarray(image if image.mode == "RGBA" else image.convert("RGBA"))
        found = _decode(rgba[:, :, 3], "alpha")
        if found is not None:
            return found
        return _decode(rgba, "rgb")
    if image.mode == "RGB":
        return _decode(np.asarray(image), "rgb")
    return None
