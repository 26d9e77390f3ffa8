"""Safe image decoding: the one choke point every upload's pixels go through.

Why this module exists: Pillow's parsers are attack surface (crafted files have crashed,
hung or exhausted them), so an upload is only ever opened with

* a format allowlist passed to ``Image.open(formats=...)``, so the magic bytes of a PSD,
  EPS, PDF or TIFF renamed ``.png`` never reach their parser (and ``gs`` is never run);
* an explicit pixel limit (``MAX_IMAGE_PIXELS``) checked on the header before anything is
  decoded, with Pillow's ``DecompressionBombWarning`` turned into an error as a second net;
* a frame-count limit and an animation pixel budget checked before any frame is decoded;
* a full ``load()`` of frame 0 with ``ImageFile.LOAD_TRUNCATED_IMAGES`` off, so truncated
  files are rejected here rather than half-decoded.

The pixel limit is ours, not Pillow's: ``Image.MAX_IMAGE_PIXELS`` is a process-wide
global that other code in the host shares, so it is left untouched (and must never be
None). Pillow's own check still runs inside ``Image.open``/``seek`` with its warning
turned into an error, so the effective limit is the lower of ``MAX_IMAGE_PIXELS`` and
Pillow's (89.5 MP by default); a host wanting more than that must raise Pillow's too.

Every failure becomes :class:`~moderation.exceptions.ImageRejected` with a stable
:class:`~moderation.constants.RejectionReason` code; nothing else escapes (a property
test feeds arbitrary bytes). The original bytes are kept untouched in
``ImageInput.data`` because provenance reads metadata from them; nothing is re-encoded.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

import numpy as np
from django.core.exceptions import ImproperlyConfigured
from PIL import (
    ExifTags,
    GifImagePlugin,
    Image,
    ImageFile,
    ImageOps,
    UnidentifiedImageError,
    features,
)

from moderation.conf import moderation_settings
from moderation.constants import RejectionReason
from moderation.evidence import ImageInput
from moderation.exceptions import ImageRejected

logger = logging.getLogger(__name__)

#: Formats whose Pillow parsers are fuzzed and that an illustration site needs. Anything
#: else in ``ALLOWED_FORMATS`` (EPS, PSD, TIFF, PDF, FITS, JPEG 2000...) is dropped: those
#: parsers are where Pillow's recent CVEs sit, and EPS shells out to Ghostscript.
SAFE_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "AVIF", "HEIF"})

#: Pillow opens a JPEG carrying a Multi-Picture index as "MPO"; it is still a JPEG file.
_FORMAT_ALIASES = {"MPO": "JPEG"}

#: Frames at most this many pixels keep their un-normalised copy in ``ImageInput.raw``
#: even when that costs memory; above it ``raw`` is only kept when it is free.
RAW_KEEP_PIXELS = 16_000_000

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_I16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_VALID_ORIENTATIONS = range(2, 9)

# Pillow's text-chunk guards raise ValueError with these phrases (PngImagePlugin
# MAX_TEXT_CHUNK / MAX_TEXT_MEMORY); they mean a metadata bomb, not a broken picture.
_TEXT_BOMB_MARKERS = ("MAX_TEXT_CHUNK", "MAX_TEXT_MEMORY")

# Length 0, type IEND, CRC-32 of b"IEND": the only valid encoding of the PNG end chunk.
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _gif_seek_takes_update_image() -> bool:
    """Whether Pillow's GIF reader still offers the header-only frame walk we rely on."""
    seek = getattr(GifImagePlugin.GifImageFile, "_seek", None)
    try:
        return seek is not None and "update_image" in inspect.signature(seek).parameters
    except (TypeError, ValueError):
        return False


_GIF_CAPPED_COUNT = _gif_seek_takes_update_image()


def _configure_process() -> None:
    """Apply the process-wide decoder settings that Pillow only offers as globals.

    AVIF defaults to one decoder thread per CPU, which oversubscribes a 2-core worker;
    Pillow reads the value from a module global on every open, so it cannot be
    passed per call. A host that chose a value keeps it.
    """
    if features.check("avif"):
        from PIL import AvifImagePlugin

        if not AvifImagePlugin.DEFAULT_MAX_THREADS:
            AvifImagePlugin.DEFAULT_MAX_THREADS = 1


_configure_process()


def _heif_available() -> bool:
    """Register pillow-heif's opener when it is installed and safe; report whether it is.

    libheif's own limits are far above ours, but ``LIBHEIF_SECURITY_LIMITS=off`` in the
    environment disables them entirely; HEIF is then refused rather than trusted.
    """
    if os.environ.get("LIBHEIF_SECURITY_LIMITS", "").strip().lower() == "off":
        logger.error("HEIF disabled: LIBHEIF_SECURITY_LIMITS=off removes libheif's limits")
        return False
    try:
        import pillow_heif
    except ImportError:
        return False
    if "HEIF" not in Image.OPEN:
        pillow_heif.register_heif_opener()
    return True


def allowed_formats() -> tuple[str, ...]:
    """Return the Pillow format ids an upload may be opened as.

    ``MODERATION["ALLOWED_FORMATS"]`` intersected with :data:`SAFE_FORMATS` and with
    what this Pillow build can decode (AVIF needs libavif in the wheel, HEIF needs
    pillow-heif). MPO rides along with JPEG because Pillow's JPEG opener may return it.
    """
    wanted = [str(f).upper() for f in moderation_settings.ALLOWED_FORMATS]
    result: list[str] = []
    for fmt in wanted:
        if fmt not in SAFE_FORMATS:
            logger.warning("ALLOWED_FORMATS entry %r is not a safe format; ignored", fmt)
            continue
        if fmt == "AVIF" and not features.check("avif"):
            continue
        if fmt == "HEIF" and not _heif_available():
            continue
        result.append(fmt)
    return tuple(result)


def _limits() -> tuple[int, int, int, int]:
    settings = moderation_settings
    return (int(settings.MAX_UPLOAD_BYTES), int(settings.MAX_IMAGE_PIXELS),
            int(settings.MAX_FRAMES), int(settings.MAX_ANIMATION_PIXELS))


def _reject(code: RejectionReason, detail: str = "") -> ImageRejected:
    """Build the exception: the message is the translated reason plus a technical detail."""
    message = str(code.label)
    return ImageRejected(code.value, f"{message} ({detail})" if detail else message)


@contextmanager
def _decoding_guard() -> Iterator[None]:
    """Turn bomb warnings into errors and every decoder failure into ``ImageRejected``.

    ``warnings.catch_warnings`` swaps the filter list for the duration of the block; on
    Python < 3.14 that list is process-global, which is safe in Celery's prefork pool
    (one task per process) but not under a threaded pool -- the explicit pixel check
    below does not depend on it, so the warning filter is only a second net.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A host that flips this would have truncated uploads half-decoded and scanned.
        raise ImproperlyConfigured(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False in moderation workers"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (ImageRejected, ImproperlyConfigured):
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _reject(RejectionReason.TOO_LARGE, str(exc)) from exc
        except UnidentifiedImageError as exc:
            raise _reject(RejectionReason.UNSUPPORTED_FORMAT) from exc
        except MemoryError as exc:
            raise _reject(RejectionReason.TOO_LARGE, "out of memory") from exc
        except ValueError as exc:
            if any(marker in str(exc) for marker in _TEXT_BOMB_MARKERS):
                raise _reject(RejectionReason.METADATA, str(exc)) from exc
            raise _reject(RejectionReason.CORRUPT, f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            # OSError("image file is truncated"), SyntaxError (bad PNG chunk), EOFError,
            # struct.error, zlib.error...: a parser refusing the file means the file is bad.
            logger.debug("decoder rejected an upload", exc_info=True)
            raise _reject(RejectionReason.CORRUPT, f"{type(exc).__name__}: {exc}") from exc


def _check_bytes(data: bytes, max_bytes: int) -> None:
    if not data:
        raise _reject(RejectionReason.EMPTY)
    if len(data) > max_bytes:
        raise _reject(RejectionReason.FILE_TOO_BIG, f"{len(data)} > {max_bytes} bytes")


def _open(data: bytes) -> ImageFile.ImageFile:
    """Open the header with the allowlist; Pillow runs its bomb check on the size here."""
    formats = allowed_formats()
    if not formats:
        raise ImproperlyConfigured('MODERATION["ALLOWED_FORMATS"] allows no decodable format')
    try:
        return cast(ImageFile.ImageFile, Image.open(io.BytesIO(data), formats=list(formats)))
    except UnidentifiedImageError as exc:
        # Pillow says "unidentified" both for foreign formats and for an allowed format
        # whose header is broken (zero width, bad IHDR CRC); the signature tells them apart.
        if _has_allowed_signature(data, formats):
            raise _reject(RejectionReason.CORRUPT, "broken header") from exc
        raise


def _has_allowed_signature(data: bytes, formats: tuple[str, ...]) -> bool:
    """Whether one of the allowed formats' own ``accept`` functions claims the prefix."""
    prefix = data[:16]
    for fmt in formats:
        accept = Image.OPEN.get(fmt, (None, None))[1]
        if accept is not None and accept(prefix) is True:
            return True
    return False


def _check_complete(fmt: str, data: bytes) -> None:
    """Reject a PNG that stops before its IEND chunk.

    Pillow accepts a PNG whose pixel data is complete but whose end marker is missing;
    such a file was cut off in transit, so it is rejected as truncated. The IEND chunk is
    fixed bytes (empty payload, constant CRC), so a byte search is an exact test.
    """
    if fmt == "PNG" and data.rfind(_PNG_IEND) < 0:  # from the end: IEND is last
        raise _reject(RejectionReason.CORRUPT, "PNG ends before IEND")


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _reject(RejectionReason.CORRUPT, f"invalid size {width}x{height}")
    if width * height > max_pixels:
        raise _reject(RejectionReason.TOO_LARGE,
                      f"{width}x{height} is over {max_pixels} pixels")


def _check_frames(im: Image.Image, max_frames: int, max_animation_pixels: int) -> int:
    """Count frames without decoding them and apply the frame and animation budgets.

    GIF has no frame count in its header, so ``n_frames`` walks the block structure
    (no pixel decoding); APNG, WebP and AVIF report the count their container declares.
    """
    if isinstance(im, GifImagePlugin.GifImageFile) and _GIF_CAPPED_COUNT:
        frames = _count_gif_frames(im, max_frames)
    else:
        frames = int(getattr(im, "n_frames", 1) or 1)
    if frames > max_frames:
        raise _reject(RejectionReason.TOO_MANY_FRAMES, f"{frames} > {max_frames}")
    budget = im.width * im.height * min(frames, 3)
    if frames > 1 and budget > max_animation_pixels:
        raise _reject(RejectionReason.TOO_LARGE,
                      f"animation budget {budget} > {max_animation_pixels} pixels")
    return frames


def _count_gif_frames(im: GifImagePlugin.GifImageFile, cap: int) -> int:
    """Count GIF frames, stopping one past ``cap``.

    ``n_frames`` walks the whole file: a 50 MB GIF of 1x1 frames holds over three million
    of them and takes about ten seconds to count before the limit could apply. This is
    the walk ``n_frames`` itself performs (``_seek(n, update_image=False)``: block
    headers only, no pixel decoding), stopped early. It uses a private Pillow method,
    so :data:`_GIF_CAPPED_COUNT` checks its signature and falls back to ``n_frames``.
    """
    try:
        while im.tell() < cap:
            im._seek(im.tell() + 1, False)
        count = cap + 1  # frame index ``cap`` exists: more than ``cap`` frames
    except EOFError:
        count = im.tell() + 1
    im.seek(0)  # as n_frames does: rewind so frame 0 decodes from its own header
    return count


def _check_gif_extents(data: bytes, frames: int, max_pixels: int,
                       max_animation_pixels: int) -> None:
    """Seek through the frames the animation budget covers, under the same limits.

    A GIF frame may lie outside the logical screen, and Pillow then grows the canvas at
    ``seek`` time (CVE-2022-45198): a header check alone misses it. Pillow's
    bomb check runs inside ``seek``; ours runs on the grown canvas before the next frame
    is decoded. Only frames 1-2 are visited, so the cost stays within the budget. A fresh
    handle is used so the caller's frame 0 keeps the original canvas.
    """
    im = _open(data)
    for index in range(1, min(frames, 3)):
        im.seek(index)
        _check_pixels(im.size, max_pixels)
        budget = im.width * im.height * min(frames, 3)
        if budget > max_animation_pixels:
            raise _reject(RejectionReason.TOO_LARGE,
                          f"GIF frame {index} grows the canvas to {im.width}x{im.height}")


def _format_of(im: Image.Image) -> str:
    fmt = im.format or ""
    return _FORMAT_ALIASES.get(fmt, fmt)


def probe_image(data: bytes) -> tuple[str, int, int, int]:
    """Header-only check for upload views: ``(format, width, height, frames)``.

    Cheap (no pixel decoding), and raises :class:`ImageRejected` with the same codes as
    :func:`load_image` for everything a header can reveal: empty, too big, wrong format,
    pixel bomb, too many frames. Width and height are as stored, before EXIF orientation.
    It is not enough on its own (truncation, GIF extents and text bombs show up only
    when decoding), which is why the worker always runs :func:`load_image` too.
    """
    max_bytes, max_pixels, max_frames, max_anim = _limits()
    _check_bytes(data, max_bytes)
    with _decoding_guard(), _open(data) as im:
        _check_pixels(im.size, max_pixels)
        frames = _check_frames(im, max_frames, max_anim)
        return _format_of(im), im.width, im.height, frames


def _orientation(im: Image.Image) -> int | None:
    """Read the EXIF/XMP orientation; a malformed EXIF block counts as no orientation."""
    try:
        value = im.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # broken EXIF must not reject an otherwise good image
        return None
    return value if isinstance(value, int) else None


def _i16_to_l(im: Image.Image) -> Image.Image:
    """Rescale 16-bit grey to 8 bits by 65535/255 = 257 (Pillow's own convert clips)."""
    arr = np.asarray(im).astype(np.uint32)
    return Image.fromarray(((arr + 128) // 257).astype(np.uint8), "L")


def _i_to_l(im: Image.Image) -> Image.Image:
    """32-bit integer grey: 16-bit data (any value > 255) is rescaled, 8-bit kept as is."""
    arr = np.clip(np.asarray(im).astype(np.int64), 0, 65535)
    if arr.size and int(arr.max()) > 255:
        arr = (arr + 128) // 257
    return Image.fromarray(arr.astype(np.uint8), "L")


def _f_to_l(im: Image.Image) -> Image.Image:
    """Float grey: data in [0, 1] is scaled to [0, 255], anything else is clipped."""
    arr = np.nan_to_num(np.asarray(im).astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
    if arr.size and float(arr.max()) <= 1.0:
        arr = arr * 255.0
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def _flatten(rgba: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Composite RGBA onto the configured background so transparent pixels are defined."""
    out = Image.new("RGB", rgba.size, background)
    out.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return out


def _normalise(frame: Image.Image,
               background: tuple[int, int, int]) -> tuple[Image.Image, Image.Image | None]:
    """Return ``(rgb, alpha)``: frame 0 as 8-bit RGB and its original alpha channel.

    Deterministic for every mode Pillow yields from the allowed formats, so the same
    picture saved in different modes gives (nearly) the same pixels:
    palette or grey/RGB with a tRNS colour key -> RGBA; alpha flattened on
    ``background``; 16-bit and 32-bit grey rescaled, never clipped; CMYK (Adobe-inverted
    JPEGs are un-inverted by Pillow's JPEG reader) and 1-bit via Pillow's converters.
    """
    mode = frame.mode
    if mode in _I16_MODES:
        return _i16_to_l(frame).convert("RGB"), None
    if mode == "I":
        return _i_to_l(frame).convert("RGB"), None
    if mode == "F":
        return _f_to_l(frame).convert("RGB"), None
    if mode in _ALPHA_MODES or (mode in {"P", "L", "RGB"} and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        alpha = rgba.getchannel("A")
        return _flatten(rgba, background), alpha
    if mode == "RGB":
        return frame, None
    return frame.convert("RGB"), None


def _background() -> tuple[int, int, int]:
    r, g, b = (int(v) for v in moderation_settings.FLATTEN_BACKGROUND)
    return r, g, b


#: DCT scalings libjpeg offers (1/2, 1/4, 1/8), largest first.
_DCT_SCALES = (8, 4, 2)

#: ``reduction(format, width, height)`` -> the factor the detectors allow (see load_image).
Reduction = Callable[[str, int, int], int]


def _dct_scale(fmt: str, allowed: int) -> int:
    """The JPEG DCT scale to decode with: the largest of 8, 4, 2 dividing ``allowed``.

    Dividing, not merely below: a consumer that reduces further by an integer factor
    (the classifier's box reduction) must land on the same total factor.
    """
    if fmt != "JPEG" or allowed < 2:
        return 1
    return next((s for s in _DCT_SCALES if allowed % s == 0), 1)


def load_image(data: bytes, *, name: str = "", reduction: Reduction | None = None) -> ImageInput:
    """Decode ``data`` once, safely, into the :class:`ImageInput` every detector shares.

    Order matters: byte size, then the header (format allowlist, pixel limit, frame
    budget), then GIF extents, and only then the full decode of frame 0. ``image`` is
    EXIF-transposed (width/height are as rendered) and 8-bit RGB; ``alpha`` and ``raw``
    are the frame as stored (not transposed), because stealth metadata is read from the
    stored pixel order. Raises :class:`ImageRejected`; never anything else for bad input.

    ``reduction`` (the scan passes the configured detectors' minimum, see
    ``moderation.scanning.allowed_reduction``) is asked, with the format and the rendered
    size, by what factor the pixels may be reduced; a JPEG is then decoded with libjpeg's
    DCT scaling (``Image.draft``), which skips most of the inverse DCT and colour work
    but still entropy-decodes every block of every scan, so a truncated or corrupt file
    is rejected exactly as by a full decode. Other formats always decode at full size.
    """
    max_bytes, max_pixels, max_frames, max_anim = _limits()
    _check_bytes(data, max_bytes)
    background = _background()
    notes: list[str] = []
    with _decoding_guard():
        im = _open(data)
        _check_pixels(im.size, max_pixels)
        frames = _check_frames(im, max_frames, max_anim)
        fmt = _format_of(im)
        if fmt == "GIF" and frames > 1:
            _check_gif_extents(data, frames, max_pixels, max_anim)
        # JPEG carries EXIF in its header; other readers (PNG) may decode to find it, and
        # a decoder failure must surface from load() below, so they are asked after it.
        orientation = _orientation(im) if fmt == "JPEG" else None
        swapped = orientation in (5, 6, 7, 8)
        width, height = (im.height, im.width) if swapped else im.size
        scale = _dct_scale(fmt, reduction(fmt, width, height)) if reduction else 1
        if scale > 1 and im.draft(im.mode, (max(1, im.width // scale),
                                            max(1, im.height // scale))) is None:
            scale = 1  # Pillow declined (not a single-tile baseline/progressive JPEG)
        im.load()
        if fmt != "JPEG":
            orientation = _orientation(im)
        _check_pixels(im.size, max_pixels)
        _check_complete(fmt, data)
        stored_mode = im.mode
        rgb, alpha = _normalise(im, background)
        if orientation in _VALID_ORIENTATIONS:
            if rgb is not im:
                # Converted copies lose EXIF/XMP; exif_transpose reads the tag from info.
                rgb.info = dict(im.info)
            rgb = ImageOps.exif_transpose(rgb)
        elif orientation not in (None, 1):
            notes.append(f"orientation_ignored:{orientation}")
    raw: Image.Image | None = im
    if scale > 1 or (rgb is not im and im.width * im.height > RAW_KEEP_PIXELS):
        raw = None
    if scale == 1:
        width, height = rgb.width, rgb.height
    mime = Image.MIME.get(fmt, "")
    return ImageInput(
        data=data, sha256=hashlib.sha256(data).hexdigest(), format=fmt, mime=mime,
        width=width, height=height, frames=frames, mode=stored_mode, image=rgb,
        alpha=alpha, raw=raw, name=name, warnings=tuple(notes), reduced=scale,
    )
