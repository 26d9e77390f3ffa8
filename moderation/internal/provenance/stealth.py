"""Read "stealth" metadata hidden in pixel low bits (NovelAI, sd-webui-stealth-pnginfo forks).

Layout: the least significant bit of the alpha channel
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


def _columns(image: Image.Image, columns: int, channel: str) -> np.ndarray:
    """The first ``columns`` columns as an array: (H, c) alpha plane or (H, c, 3) RGB.

    Cropping before converting keeps the cost proportional to the columns read, not
    to the image size (a 16 MP image needs a handful of columns for the header).
    """
    strip = image.crop((0, 0, columns, image.height))
    if channel == "alpha":
        if strip.mode != "RGBA":
            strip = strip.convert("RGBA")
        return np.asarray(strip.getchannel("A"))
    if strip.mode not in ("RGB", "RGBA"):
        strip = strip.convert("RGBA")
    return np.asarray(strip)[:, :, :3]


def _read(image: Image.Image, channel: str, nbits: int) -> bytes | None:
    """Return the first ``nbits`` (multiple of 8) stealth bits as bytes, or None if short.

    Bits run column by column (x outer, y inner); in RGB mode R, G, B of each pixel.
    """
    per_column = image.height * (3 if channel == "rgb" else 1)
    columns = -(-nbits // per_column)
    if columns > image.width:
        return None
    plane = _columns(image, columns, channel)
    bits = plane.transpose(1, 0, 2).reshape(-1) if channel == "rgb" else plane.T.reshape(-1)
    return np.packbits(bits[:nbits] & 1).tobytes()


def _gunzip(payload: bytes) -> tuple[bytes, bool]:
    """Inflate at most MAX_TEXT_BYTES; a stream that ends early is corrupt (zlib.error)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(payload, MAX_TEXT_BYTES)
    cut = bool(inflater.unconsumed_tail)
    if not cut and not inflater.eof:
        raise zlib.error("gzip stream ends early")
    return out, cut


def _decode(image: Image.Image, channel: str) -> StealthPayload | None:
    header = _read(image, channel, HEADER_BITS)
    if header is None:
        return None
    magic = MAGICS.get(header[:MAGIC_LEN])
    if magic is None or magic[0] != channel:
        return None
    compressed = magic[1]
    length_bits = int.from_bytes(header[MAGIC_LEN:], "big")
    length_bytes = min(length_bits // 8, MAX_PAYLOAD_BYTES)
    truncated = length_bits // 8 > MAX_PAYLOAD_BYTES
    full = _read(image, channel, HEADER_BITS + length_bytes * 8)
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


#: Modes whose stored pixels can carry an alpha record.
ALPHA_MODES = ("RGBA", "LA", "PA")


def read_stealth(image: Image.Image) -> StealthPayload | None:
    """Return the stealth record in ``image`` (alpha first, then RGB), or None.

    ``image`` must be the decoded original (not flattened onto a background, which
    would rewrite the RGB low bits).
    """
    has_alpha = image.mode in ALPHA_MODES or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        found = _decode(image, "alpha")
        if found is not None:
            return found
    if has_alpha or image.mode in ("RGB", "P"):
        return _decode(image, "rgb")
    return None
