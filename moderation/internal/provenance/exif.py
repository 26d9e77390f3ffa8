"""EXIF text fields that generators misuse, read with Pillow from JPEG, WebP, PNG and TIFF.

Generators put their records in odd places: A1111/Fooocus/SwarmUI
write the parameters into ``UserComment`` behind an 8-byte charset prefix, ComfyUI's
WebP savers put the API graph in ``Model``/``Make``/``ImageDescription`` and NovelAI
maps its PNG text keys onto ``DocumentName``/``ImageDescription``/``Software``.
Windows' ``XPComment``/``XPTitle``/``XPSubject``/``XPKeywords`` (UTF-16LE) and the file's
comment segments (JPEG ``COM``, the GIF comment extension) are read too: savers that
find no better place put generation records there.
Only the header is parsed (``Image.open`` without ``load``), so no pixels are decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import ExifTags, Image

from moderation.internal.provenance.pngchunks import find_chunk, is_png

#: Bytes of one EXIF value we keep; a ComfyUI graph in ``Make`` is tens of KB.
MAX_VALUE_BYTES = 2 * 1024 * 1024

#: IFD0 tags read as text: tag -> field name.
IFD0_TEXT_TAGS = {
    ExifTags.Base.ImageDescription: "ImageDescription",
    ExifTags.Base.Make: "Make",
    ExifTags.Base.Model: "Model",
    ExifTags.Base.Software: "Software",
    ExifTags.Base.Artist: "Artist",
    ExifTags.Base.DocumentName: "DocumentName",
    ExifTags.Base.Copyright: "Copyright",
}
#: Windows Explorer's tags (type BYTE, UTF-16LE text): tag -> field name.
XP_FIELDS = {
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
}
#: Comment segments kept from one file (JPEG allows any number of COM segments).
MAX_COMMENTS = 16


@dataclass
class ExifText:
    """EXIF text fields found in one file; ``user_comment`` already decoded."""

    fields: dict[str, str] = field(default_factory=dict)
    user_comment: str | None = None
    user_comment_charset: str = ""
    maker_note: str | None = None
    #: JPEG ``COM`` segments / the GIF comment, decoded as UTF-8 (Latin-1 fallback).
    comments: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _as_text(value: object) -> str | None:
    """An ASCII-typed tag as text. Writers put UTF-8 there (prompts in Japanese) and
    Pillow hands it back decoded as Latin-1; such text is re-read as UTF-8."""
    if isinstance(value, str):
        text = value[:MAX_VALUE_BYTES].rstrip("\x00")
        if not text.isascii():
            try:
                return text.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return text
        return text
    if isinstance(value, bytes):
        return value[:MAX_VALUE_BYTES].decode("utf-8", errors="replace").rstrip("\x00")
    return None


def decode_xp(value: object) -> str | None:
    """Decode a Windows ``XP*`` tag: UTF-16LE bytes (Pillow may give a tuple of ints)."""
    if isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
        value = bytes(v & 0xFF for v in value)
    if isinstance(value, str):
        return value[:MAX_VALUE_BYTES].rstrip("\x00") or None
    if not isinstance(value, bytes):
        return None
    raw = value[:MAX_VALUE_BYTES]
    raw = raw[: len(raw) - (len(raw) % 2)]
    return raw.decode("utf-16-le", errors="replace").rstrip("\x00") or None


def decode_comment(raw: bytes) -> str:
    """A comment segment: UTF-8 as modern writers use, else Latin-1 (never fails)."""
    raw = raw[:MAX_VALUE_BYTES]
    try:
        return raw.decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        return raw.decode("latin-1").rstrip("\x00")


def decode_user_comment(raw: bytes) -> tuple[str, str]:
    """Decode an EXIF ``UserComment`` (8-byte charset prefix + payload).

    ``UNICODE\\0`` means UTF-16 without a stated byte order: A1111 writes big-endian
    and SwarmUI little-endian, so the order is guessed from where the NUL bytes of
    ASCII characters fall. ``ASCII\\0\\0\\0`` is ASCII, ``JIS\\0\\0\\0\\0\\0`` is
    Shift-JIS family, eight NULs (undefined) are treated as UTF-8. Returns
    (text, charset name).
    """
    raw = raw[:MAX_VALUE_BYTES]
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\x00":
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            order = "utf-16-be" if body[:2] == b"\xfe\xff" else "utf-16-le"
            body = body[2:]
        else:
            sample = body[:512]
            even_nuls = sample[0::2].count(0)
            odd_nuls = sample[1::2].count(0)
            order = "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        body = body[: len(body) - (len(body) % 2)]
        return body.decode(order, errors="replace").rstrip("\x00"), order
    if prefix == b"ASCII\x00\x00\x00":
        return body.decode("ascii", errors="replace").rstrip("\x00"), "ascii"
    if prefix == b"JIS\x00\x00\x00\x00\x00":
        return body.decode("shift_jis", errors="replace").rstrip("\x00"), "jis"
    if prefix == b"\x00" * 8:
        return body.decode("utf-8", errors="replace").rstrip("\x00"), "undefined"
    # No (or an unknown) prefix: some savers write the text bare.
    return raw.decode("utf-8", errors="replace").rstrip("\x00"), "none"


def read_exif_text(data: bytes) -> ExifText:
    """Return the generator-relevant EXIF text of ``data``; never raises."""
    result = ExifText()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if is_png(data):
                # Pillow's PNG getexif() decodes all pixels to look past IDAT; walk instead.
                exif = Image.Exif()
                chunk = find_chunk(data, b"eXIf")
                if chunk:
                    exif.load(chunk)
            else:
                with Image.open(io.BytesIO(data)) as im:
                    exif = im.getexif()
                    result.comments = _comments(im)
            exif_ifd = exif.get_ifd(ExifTags.IFD.Exif) if exif else {}
    except Exception as exc:  # a broken header is not our finding to make
        result.errors.append(f"exif: {type(exc).__name__}")
        return result
    for tag, name in IFD0_TEXT_TAGS.items():
        text = _as_text(exif.get(tag))
        if text:
            result.fields[name] = text
    for xp_tag, xp_name in XP_FIELDS.items():
        text = decode_xp(exif.get(xp_tag))
        if text and text.strip():
            result.fields[xp_name] = text
    comment = exif_ifd.get(ExifTags.Base.UserComment)
    if isinstance(comment, bytes) and comment:
        text, charset = decode_user_comment(comment)
        if text.strip():
            result.user_comment, result.user_comment_charset = text, charset
    elif isinstance(comment, str) and comment.strip():
        result.user_comment, result.user_comment_charset = comment[:MAX_VALUE_BYTES], "text"
    note = _as_text(exif_ifd.get(ExifTags.Base.MakerNote))
    if note and note.isprintable():
        result.maker_note = note
    return result


def _comments(im: Image.Image) -> list[str]:
    """Every JPEG ``COM`` segment (Pillow keeps only the last in ``info``), or the GIF one."""
    raw: list[bytes] = [v for k, v in getattr(im, "applist", []) if k == "COM"]
    if not raw and isinstance(im.info.get("comment"), bytes):
        raw = [im.info["comment"]]
    texts = [decode_comment(r) for r in raw[:MAX_COMMENTS]]
    return [t for t in texts if t.strip()]
