"""Bad-input matrix for the decoder: every hostile or broken file ends in a stable rejection code.

Every fixture is built in code (tests/fixtures/bad_images.py); none relies on Pillow's
test images. The tests assert the *code*, because the code is what the upload API, the
worker and the CLI report.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from moderation.constants import RejectionReason
from moderation.evidence import ImageInput
from moderation.exceptions import ImageRejected
from moderation.internal.imaging import load_image, probe_image
from tests.fixtures import bad_images as bad


def rejected(data: bytes) -> str:
    """Decode ``data``; return the rejection code or fail if it decoded."""
    with pytest.raises(ImageRejected) as info:
        load_image(data)
    return info.value.code


@pytest.fixture(scope="module")
def png_1mp() -> bytes:
    return bad.png((1000, 1000), seed=1)


@pytest.fixture(scope="module")
def jpeg_1mp() -> bytes:
    return bad.jpeg((1000, 1000), seed=2)


# --- pixel bombs and impossible sizes -----------------------------------------------------

def test_pillow_warning_band_is_an_error_not_a_warning(settings) -> None:
    """100 MP sits in Pillow's warning band (89-179 MP); it must raise, not just warn.

    The site limit is raised above it so only the warning-turned-error can stop it.
    """
    settings.MODERATION = {"MAX_IMAGE_PIXELS": 150_000_000}
    assert rejected(bad.png_with_header_size(10_000, 10_000)) == RejectionReason.TOO_LARGE


def test_explicit_limit_rejects_below_pillows_default() -> None:
    # 70 MP: under Pillow's process-wide 89 MP, over MODERATION MAX_IMAGE_PIXELS (64 MP).
    before = Image.MAX_IMAGE_PIXELS
    assert rejected(bad.png_with_header_size(10_000, 7_000)) == RejectionReason.TOO_LARGE
    assert before == Image.MAX_IMAGE_PIXELS, "the process-wide Pillow limit must not change"


def test_pixel_limit_follows_settings(settings) -> None:
    data = bad.png((100, 100))
    settings.MODERATION = {"MAX_IMAGE_PIXELS": 9_999}
    assert rejected(data) == RejectionReason.TOO_LARGE
    settings.MODERATION = {"MAX_IMAGE_PIXELS": 10_000}
    assert load_image(data).width == 100


def test_pillow_error_band_rejected_at_open() -> None:
    assert rejected(bad.png_with_header_size(20_000, 20_000)) == RejectionReason.TOO_LARGE


@pytest.mark.parametrize(("width", "height", "code"), [
    (0, 10, RejectionReason.CORRUPT),
    (10, 0, RejectionReason.CORRUPT),
    (1, 2**31 - 1, RejectionReason.TOO_LARGE),
    (2**31 - 1, 1, RejectionReason.TOO_LARGE),
])
def test_zero_or_huge_single_dimension_rejected(width: int, height: int, code: str) -> None:
    assert rejected(bad.png_with_header_size(width, height)) == code


def test_bombs_rejected_by_probe_too() -> None:
    """The upload view's header-only check gives the same code before enqueueing."""
    for data in (bad.png_with_header_size(10_000, 10_000),
                 bad.png_with_header_size(20_000, 20_000)):
        with pytest.raises(ImageRejected) as info:
            probe_image(data)
        assert info.value.code == RejectionReason.TOO_LARGE


# --- GIF frame extents --------------------------------------------------------------------

@pytest.mark.parametrize("side", [9_000, 20_000])
def test_gif_extent_bomb(side: int) -> None:
    """Frame 0 is 1x1; frame 1 grows the canvas (our limit at 81 MP, Pillow's at 400 MP)."""
    data = bad.gif_extent_bomb(side, side)
    assert probe_image(data)[1:3] == (1, 1), "the header alone looks harmless"
    assert rejected(data) == RejectionReason.TOO_LARGE


def test_small_animated_gif_still_decodes() -> None:
    frames = [bad.noise_rgb((40, 30), seed) for seed in range(4)]
    data = bad.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    image = load_image(data)
    assert (image.format, image.frames, image.width, image.height) == ("GIF", 4, 40, 30)


# --- PNG text bombs -----------------------------------------------------------------------

@pytest.mark.parametrize("build", [bad.ztxt_bomb, bad.itxt_bomb, bad.text_total_bomb],
                         ids=["zTXt", "iTXt", "total-text-memory"])
def test_png_text_bombs_rejected_as_metadata(build) -> None:
    assert rejected(build(bad.png((32, 32)))) == RejectionReason.METADATA


def test_text_chunk_of_real_comfyui_size_is_fine() -> None:
    """55 KB workflows are normal; the 1 MiB text-chunk cap must not reject them."""
    import zlib

    payload = b"workflow\x00\x00" + zlib.compress(b'{"nodes": []}' * 4200)
    data = bad.png_with_chunk_before_idat(bad.png((32, 32)), b"zTXt", payload)
    assert load_image(data).format == "PNG"


# --- truncated and corrupt -----------------------------------------------------------------

def test_truncation_flag_is_off() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_png(fraction: float, png_1mp: bytes) -> None:
    assert rejected(png_1mp[: int(len(png_1mp) * fraction)]) == RejectionReason.CORRUPT


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_jpeg(fraction: float, jpeg_1mp: bytes) -> None:
    assert rejected(jpeg_1mp[: int(len(jpeg_1mp) * fraction)]) == RejectionReason.CORRUPT


def test_truncated_file_passes_header_probe_but_not_decode(png_1mp: bytes) -> None:
    """Why the worker must decode fully: the header check (like Django's verify) passes."""
    cut = png_1mp[: len(png_1mp) // 2]
    assert probe_image(cut) == ("PNG", 1000, 1000, 1)
    assert rejected(cut) == RejectionReason.CORRUPT


def test_png_missing_iend_is_corrupt(png_1mp: bytes) -> None:
    assert rejected(bad.png_without_iend(png_1mp)) == RejectionReason.CORRUPT


def test_flipped_header_crc_is_corrupt(png_1mp: bytes) -> None:
    assert rejected(bad.png_flip_crc(png_1mp, b"IHDR")) == RejectionReason.CORRUPT


def test_corrupt_compressed_data_is_corrupt(png_1mp: bytes) -> None:
    chunks = bad.png_chunks(png_1mp)
    at = next(i for i, (t, _) in enumerate(chunks) if t == b"IDAT")
    payload = chunks[at][1]
    chunks[at] = (b"IDAT", payload[:10] + bytes(b ^ 0xFF for b in payload[10:200])
                  + payload[200:])
    assert rejected(bad.png_from_chunks(chunks)) == RejectionReason.CORRUPT


def test_empty_file_rejected_as_empty() -> None:
    assert rejected(b"") == RejectionReason.EMPTY


def test_file_over_upload_limit(settings) -> None:
    settings.MODERATION = {"MAX_UPLOAD_BYTES": 1000}
    assert rejected(bad.png((64, 64), seed=3)) == RejectionReason.FILE_TOO_BIG


# --- format confusion (magic bytes, not the name, pick the parser; SVG has none) -----------

@pytest.fixture
def no_subprocesses(monkeypatch):
    """Any child process (Ghostscript for EPS) fails the test."""
    spawned: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        spawned.append(args)
        raise AssertionError(f"subprocess spawned: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    return spawned


@pytest.mark.parametrize("fmt", ["PSD", "EPS", "TIFF", "BMP", "PDF", "ICO", "SVG"])
def test_foreign_formats_renamed_png_are_refused(fmt: str, no_subprocesses: list) -> None:
    data = bad.other_format_bytes()[fmt]
    with pytest.raises(ImageRejected) as info:
        load_image(data, name="x.png")
    assert info.value.code == RejectionReason.UNSUPPORTED_FORMAT
    assert no_subprocesses == []


def test_unsafe_format_in_settings_is_ignored(settings, no_subprocesses: list) -> None:
    """Even a host that lists EPS/PSD/TIFF never gets those parsers."""
    settings.MODERATION = {"ALLOWED_FORMATS": ["PNG", "EPS", "PSD", "TIFF"]}
    for fmt in ("EPS", "PSD", "TIFF"):
        assert rejected(bad.other_format_bytes()[fmt]) == RejectionReason.UNSUPPORTED_FORMAT
    assert load_image(bad.png()).format == "PNG"
    assert no_subprocesses == []


def test_format_outside_site_allowlist(settings) -> None:
    settings.MODERATION = {"ALLOWED_FORMATS": ["PNG"]}
    assert rejected(bad.jpeg()) == RejectionReason.UNSUPPORTED_FORMAT


# --- polyglots still decode, and the original bytes are kept as they were ------------------

def test_polyglot_after_iend_decodes_and_keeps_bytes() -> None:
    data = bad.png((40, 30)) + b"<html><script>alert(1)</script></html>PK\x03\x04"
    image = load_image(data)
    assert (image.format, image.width, image.height) == ("PNG", 40, 30)
    assert image.data is data


# --- animations ----------------------------------------------------------------------------

def test_ten_thousand_frame_gif_rejected_quickly() -> None:
    data = bad.gif_many_frames(10_000)
    started = time.perf_counter()
    assert rejected(data) == RejectionReason.TOO_MANY_FRAMES
    assert time.perf_counter() - started < 2.0


def test_apng_claiming_a_million_frames() -> None:
    assert rejected(bad.apng_claiming_frames(1_000_000)) == RejectionReason.TOO_MANY_FRAMES


def test_apng_with_honest_frame_count_decodes_frame_zero() -> None:
    image = load_image(bad.apng_claiming_frames(2))
    assert (image.format, image.frames, image.width) == ("PNG", 2, 16)


def test_animation_pixel_budget_before_decoding() -> None:
    """6000x6000 x min(3 frames) = 108 MP > 90 MP; each frame alone is within limits."""
    data = bad.gif((6000, 6000), [(0, 0, 1, 1)] * 3)
    assert rejected(data) == RejectionReason.TOO_LARGE
    assert load_image(bad.gif((6000, 6000), [(0, 0, 1, 1)])).frames == 1


def test_frame_limit_follows_settings(settings) -> None:
    settings.MODERATION = {"MAX_FRAMES": 5}
    assert load_image(bad.gif_many_frames(5)).frames == 5
    assert rejected(bad.gif_many_frames(6)) == RejectionReason.TOO_MANY_FRAMES


# --- AVIF ----------------------------------------------------------------------------------

def test_avif_decoder_uses_one_thread() -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow build has no AVIF support")
    from PIL import AvifImagePlugin

    assert AvifImagePlugin.DEFAULT_MAX_THREADS == 1


def test_avif_bomb_header_rejected() -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow build has no AVIF support")
    good = bad.encode(bad.noise_rgb((64, 48)), "AVIF")
    image = load_image(good)
    assert (image.format, image.mime, image.width) == ("AVIF", "image/avif", 64)
    assert rejected(good[: len(good) // 2]) == RejectionReason.CORRUPT


# --- property: nothing but ImageInput or ImageRejected ------------------------------------

_PREFIXES = [b"", bad.PNG_SIGNATURE, b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP",
             b"\x00\x00\x00\x1cftypavif"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(_PREFIXES), body=st.binary(max_size=2048))
def test_arbitrary_bytes_never_escape(prefix: bytes, body: bytes) -> None:
    try:
        result = load_image(prefix + body)
    except ImageRejected as exc:
        assert exc.code in RejectionReason.values
    else:
        assert isinstance(result, ImageInput)
        assert result.image.mode == "RGB"


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=4000), flips=st.lists(
    st.tuples(st.integers(min_value=0, max_value=4000), st.integers(1, 255)), max_size=4))
def test_mutated_real_files_never_escape(cut: int, flips: list[tuple[int, int]]) -> None:
    """Bit-flipped and cut real PNG/GIF/JPEG files reach deeper parser states than noise."""
    for original in _SEEDS:
        data = bytearray(original[: max(1, len(original) - cut)])
        for pos, mask in flips:
            if pos < len(data):
                data[pos] ^= mask
        try:
            result = load_image(bytes(data))
        except ImageRejected as exc:
            assert exc.code in RejectionReason.values
        else:
            assert result.image.mode == "RGB"


_SEEDS = [bad.png((40, 30)), bad.jpeg((40, 30)),
          bad.encode(bad.noise_rgb((8, 8)), "GIF", save_all=True,
                     append_images=[bad.noise_rgb((8, 8), 1)]),
          bad.encode(bad.noise_rgb((40, 30)), "WEBP")]


def test_frame_count_stops_at_the_limit() -> None:
    """A million 1x1 frames (15 MB): Pillow's n_frames walks them all (~3 s); we stop early."""
    data = bad.gif_many_frames(1_000_000)
    started = time.perf_counter()
    assert rejected(data) == RejectionReason.TOO_MANY_FRAMES
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("count", [1, 2, 999, 1000, 1001])
def test_capped_gif_count_is_exact_up_to_the_limit(count: int) -> None:
    data = bad.gif_many_frames(count)
    if count <= 1000:
        assert load_image(data).frames == count
        assert probe_image(data)[3] == count
    else:
        assert rejected(data) == RejectionReason.TOO_MANY_FRAMES


# --- process-wide state -------------------------------------------------------------------

def test_warning_filters_are_restored_after_a_bomb() -> None:
    import warnings

    before = list(warnings.filters)
    rejected(bad.png_with_header_size(10_000, 10_000))
    assert warnings.filters == before


def test_heif_refused_when_libheif_limits_are_off(monkeypatch) -> None:
    import sys
    import types

    from moderation.internal import imaging

    registered: list[bool] = []
    fake = types.ModuleType("pillow_heif")
    fake.register_heif_opener = lambda: registered.append(True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pillow_heif", fake)
    monkeypatch.setenv("LIBHEIF_SECURITY_LIMITS", "OFF")
    assert imaging._heif_available() is False
    assert registered == []
    monkeypatch.delenv("LIBHEIF_SECURITY_LIMITS")
    assert "HEIF" not in Image.OPEN
    assert imaging._heif_available() is True
    assert registered == [True]
