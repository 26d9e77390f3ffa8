"""Walk a PNG's text chunks (tEXt, zTXt, iTXt) wherever they sit, with hard caps.

Hand-written rather than using ``Image.info`` because Pillow only reports the text
chunks that precede IDAT until the whole image is decoded, and A1111-style tools (and
anyone appending metadata) can place ``parameters`` after the pixel data. Walking
chunk headers needs no pixel decode, and doing it ourselves lets us bound every step:
the number of chunks, the compressed size of one chunk, and the inflated size per
chunk and in total (zlib output is pulled with ``max_length`` so a zTXt bomb never
allocates more than the cap).

CRCs are not checked: a reader of *metadata* must not be stricter than the writers
that produce it, and a forged chunk gains an attacker nothing a valid one would not.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_TYPES = frozenset({b"tEXt", b"zTXt", b"iTXt"})

#: Inflated bytes kept from one text chunk. Real ComfyUI workflows are ~55 KB; 2 MiB
#: leaves room for huge graphs while keeping one upload's cost bounded.
MAX_CHUNK_TEXT = 2 * 1024 * 1024
#: Inflated bytes kept from all text chunks of one file.
MAX_TOTAL_TEXT = 8 * 1024 * 1024
#: Text chunks looked at; a file with thousands of tiny chunks is not a real generator.
MAX_TEXT_CHUNKS = 256
#: Chunks walked in all (IDAT is usually split into many chunks).
MAX_CHUNKS = 100_000


@dataclass(frozen=True)
class TextChunk:
    """One decoded text chunk.

    ``after_idat`` records that the chunk followed the pixel data (Pillow's ``info``
    would have missed it); ``truncated`` that the text was cut at the cap.
    """

    keyword: str
    text: str
    chunk_type: str
    after_idat: bool = False
    truncated: bool = False


@dataclass
class PngText:
    """The text chunks of one file, plus anything odd met on the way."""

    chunks: list[TextChunk] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def get(self, keyword: str) -> TextChunk | None:
        """Return the first chunk with ``keyword`` (PNG keywords are case-sensitive)."""
        for chunk in self.chunks:
            if chunk.keyword == keyword:
                return chunk
        return None

    def as_dict(self) -> dict[str, str]:
        """Keyword -> text of the first chunk with that keyword."""
        out: dict[str, str] = {}
        for chunk in self.chunks:
            out.setdefault(chunk.keyword, chunk.text)
        return out


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_SIGNATURE


def _inflate(payload: bytes, limit: int) -> tuple[bytes, bool]:
    """Inflate zlib ``payload`` to at most ``limit`` bytes; say whether more was left."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(payload, limit)
    more = bool(inflater.unconsumed_tail) or (not inflater.eof and len(out) >= limit)
    return out, more


def _split_keyword(body: bytes) -> tuple[str, bytes] | None:
    """PNG keywords are 1-79 Latin-1 bytes ended by a NUL."""
    nul = body.find(b"\x00", 0, 80)
    if nul < 1:
        return None
    return body[:nul].decode("latin-1"), body[nul + 1 :]


def _latin1_text(raw: bytes) -> str:
    """tEXt/zTXt text is Latin-1 by the PNG spec, but many generators write UTF-8 there
    (prompts in Japanese, emoji): valid UTF-8 with a non-ASCII byte is read as UTF-8,
    which Latin-1 text practically never is; anything else stays Latin-1."""
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _decode_text_chunk(
    ctype: bytes, body: bytes, limit: int
) -> tuple[str, str, bool] | None:
    """Return (keyword, text, truncated) for one text chunk, or None if malformed."""
    split = _split_keyword(body)
    if split is None:
        return None
    keyword, rest = split
    if ctype == b"tEXt":
        raw, cut = rest[:limit], len(rest) > limit
        return keyword, _latin1_text(raw), cut
    if ctype == b"zTXt":
        if not rest or rest[0] != 0:  # 0 = deflate, the only method defined
            return None
        raw, cut = _inflate(rest[1:], limit)
        return keyword, _latin1_text(raw), cut
    # iTXt: flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        return None
    compressed, method = rest[0], rest[1]
    lang_end = rest.find(b"\x00", 2)
    if lang_end < 0:
        return None
    trans_end = rest.find(b"\x00", lang_end + 1)
    if trans_end < 0:
        return None
    payload = rest[trans_end + 1 :]
    if compressed:
        if method != 0:
            return None
        raw, cut = _inflate(payload, limit)
    else:
        raw, cut = payload[:limit], len(payload) > limit
    return keyword, raw.decode("utf-8", errors="replace"), cut


def find_chunk(data: bytes, wanted: bytes, *, max_bytes: int = 4 * 1024 * 1024) -> bytes | None:
    """Return the body of the first ``wanted`` chunk (e.g. ``eXIf``) anywhere in the file.

    Used instead of ``Image.getexif()`` on PNG, which decodes every pixel to look for an
    eXIf chunk after IDAT.
    """
    if not is_png(data):
        return None
    pos, size, walked = 8, len(data), 0
    while pos + 8 <= size and walked < MAX_CHUNKS:
        walked += 1
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length
        if end + 4 > size or ctype == b"IEND":
            return None
        if ctype == wanted:
            return data[pos + 8 : end] if length <= max_bytes else None
        pos = end + 4
    return None


def read_png_text(
    data: bytes,
    *,
    max_chunk_text: int = MAX_CHUNK_TEXT,
    max_total_text: int = MAX_TOTAL_TEXT,
    max_text_chunks: int = MAX_TEXT_CHUNKS,
) -> PngText:
    """Return every text chunk of PNG ``data`` (before and after IDAT), capped.

    Never raises on malformed input: problems are listed in ``errors`` and the walk
    stops at the first structurally broken chunk header.
    """
    result = PngText()
    if not is_png(data):
        return result
    pos, size = 8, len(data)
    seen_idat = False
    total = 0
    walked = 0
    zlib_error = zlib.error
    while pos + 8 <= size:
        walked += 1
        if walked > MAX_CHUNKS:
            result.errors.append("png: too many chunks")
            break
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        start = pos + 8
        end = start + length
        if end + 4 > size:
            result.errors.append(f"png: chunk {ctype!r} runs past the end of the file")
            break
        if ctype == b"IDAT":
            seen_idat = True
        elif ctype in TEXT_TYPES:
            if len(result.chunks) >= max_text_chunks:
                result.errors.append("png: too many text chunks")
                break
            budget = min(max_chunk_text, max_total_text - total)
            if budget <= 0:
                result.errors.append("png: total text limit reached")
                break
            try:
                decoded = _decode_text_chunk(ctype, data[start:end], budget)
            except zlib_error:
                decoded = None
            if decoded is None:
                result.errors.append(f"png: malformed {ctype.decode('latin-1')} chunk")
            else:
                keyword, text, cut = decoded
                total += len(text)
                result.chunks.append(
                    TextChunk(keyword, text, ctype.decode("latin-1"), seen_idat, cut)
                )
        elif ctype == b"IEND":
            break
        pos = end + 4
    return result
