"""What a good upload decodes to: 8-bit RGB frame 0, rendered orientation, original bytes.

Golden checks for every colour mode compare the normalised mean with a
reference computed independently in numpy, and guard against the all-white/all-black
outputs of Pillow's clipping converters; orientation checks demand identical
pixels for all eight EXIF orientations.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageFile

from moderation.internal.imaging import allowed_formats, load_image, probe_image
from tests.fixtures import bad_images as bad


def pixels(im: Image.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.float64)


def assert_not_blank(im: Image.Image) -> None:
    arr = np.asarray(im)
    assert arr.min() < 250, "all white: a clipping conversion"
    assert arr.max() > 5, "all black: a clipping conversion"


# --- the value object -----------------------------------------------------------------------

def test_rgb_png_fields() -> None:
    data = bad.png((64, 48))
    image = load_image(data, name="a.png")
    assert image.data is data, "metadata readers need the original bytes, never a re-encode"
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert (image.format, image.mime, image.mode) == ("PNG", "image/png", "RGB")
    assert (image.width, image.height, image.frames, image.name) == (64, 48, 1, "a.png")
    assert image.image.mode == "RGB" and image.image.size == (64, 48)
    assert image.alpha is None
    assert np.array_equal(pixels(image.image), pixels(bad.noise_rgb((64, 48))))


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp"),
                                           ("GIF", "image/gif")])
def test_mime_comes_from_detected_format_not_the_name(fmt: str, mime: str) -> None:
    image = load_image(bad.encode(bad.noise_rgb((32, 32)), fmt), name="upload.png")
    assert (image.format, image.mime, image.image.mode) == (fmt, mime, "RGB")


def test_probe_is_header_only_and_matches_load() -> None:
    data = bad.jpeg((120, 80))
    assert probe_image(data) == ("JPEG", 120, 80, 1)


def test_default_allowlist_is_the_safe_image_formats() -> None:
    formats = allowed_formats()
    assert {"JPEG", "PNG", "WEBP", "GIF"} <= set(formats)
    assert not {"EPS", "PSD", "TIFF", "PDF", "BMP"} & set(formats)


def test_truncated_loading_switched_on_is_a_configuration_error(monkeypatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImproperlyConfigured):
        load_image(bad.png())


# --- colour modes ---------------------------------------------------------------------------

def test_cmyk_jpeg_including_adobe_inverted() -> None:
    """Pillow writes CMYK JPEGs with the Adobe marker (inverted); colours must survive."""
    source = bad.noise_rgb((64, 48), seed=5)
    data = bad.encode(source.convert("CMYK"), "JPEG", quality=95)
    assert b"Adobe" in data
    image = load_image(data)
    assert image.mode == "CMYK" and image.image.mode == "RGB"
    diff = np.abs(pixels(image.image) - pixels(source)).mean()
    assert diff < 6, f"mean abs difference {diff:.1f}: inverted or wrong CMYK handling"


def test_16_bit_grey_is_rescaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    data = bad.encode(Image.fromarray(ramp), "PNG")
    image = load_image(data)
    assert image.mode.startswith("I")
    got = pixels(image.image)[..., 0]
    assert abs(got.mean() - ramp.mean() / 257) < 1.0
    assert got.min() == 0 and got.max() == 255
    assert_not_blank(image.image)


def test_palette_with_transparency_becomes_rgba_then_flattened() -> None:
    pal = Image.new("P", (20, 10), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (10, 0, 20, 10))
    data = bad.encode(pal, "PNG", transparency=0)
    image = load_image(data)
    assert image.mode == "P"
    arr = np.asarray(image.image)
    assert tuple(arr[0, 0]) == (255, 255, 255), "transparent red must flatten to background"
    assert tuple(arr[0, 15]) == (0, 0, 255)
    assert image.alpha is not None
    assert np.asarray(image.alpha)[0, 0] == 0 and np.asarray(image.alpha)[0, 15] == 255


def test_flatten_background_setting(settings) -> None:
    settings.MODERATION = {"FLATTEN_BACKGROUND": [0, 128, 0]}
    data = bad.encode(Image.new("RGBA", (8, 8), (255, 0, 0, 0)), "PNG")
    assert tuple(np.asarray(load_image(data).image)[0, 0]) == (0, 128, 0)


def test_la_keeps_original_alpha_and_flattens() -> None:
    grey = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (8, 1))
    alpha = np.full((8, 32), 255, np.uint8)
    alpha[:, :4] = 0
    alpha[0, 5] = 254  # a stealth-metadata style LSB change must survive untouched
    la = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)])
    image = load_image(bad.encode(la, "PNG"))
    assert image.mode == "LA"
    assert image.alpha is not None and np.array_equal(np.asarray(image.alpha), alpha)
    out = pixels(image.image)
    assert (out[:, :4] == 255).all()
    assert abs(out[:, 4:, 0].mean() - grey[:, 4:].mean()) < 1.5
    assert_not_blank(image.image)


def test_rgba_alpha_is_kept_bit_exact() -> None:
    rng = np.random.default_rng(7)
    rgba = rng.integers(0, 256, size=(16, 24, 4), dtype=np.uint8)
    image = load_image(bad.encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert image.alpha is not None
    assert np.array_equal(np.asarray(image.alpha), rgba[..., 3])
    assert image.raw is not None and image.raw.mode == "RGBA"


def test_one_bit_image() -> None:
    checker = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.uint8)
    data = bad.encode(Image.fromarray(checker).convert("1"), "PNG")
    image = load_image(data)
    assert image.mode == "1"
    assert abs(pixels(image.image).mean() - 127.5) < 1
    assert_not_blank(image.image)


def test_grey_jpeg() -> None:
    grey = bad.noise_rgb((40, 30)).convert("L")
    image = load_image(bad.encode(grey, "JPEG", quality=95))
    assert image.mode == "L" and image.image.mode == "RGB"
    assert abs(pixels(image.image)[..., 1].mean() - pixels(grey).mean()) < 2


def test_animated_gif_uses_frame_zero() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    data = bad.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    image = load_image(data)
    assert image.frames == 3
    r, g, b = np.asarray(image.image).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 30 and b < 30


# --- EXIF orientation -----------------------------------------------------------------------

# The stored pixels for orientation N are the displayed picture under the inverse of the
# transform exif_transpose applies for N.
_STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_render_the_same_pixels(orientation: int) -> None:
    shown = bad.noise_rgb((40, 24), seed=11)
    method = _STORE_AS[orientation]
    stored = shown if method is None else shown.transpose(method)
    image = load_image(bad.png_with_exif_orientation(stored, orientation))
    assert (image.width, image.height) == (40, 24), "width/height are as rendered"
    assert np.array_equal(np.asarray(image.image), np.asarray(shown))
    assert image.warnings == ()


@pytest.mark.parametrize("orientation", range(5, 9))
def test_orientation_applies_after_mode_normalisation(orientation: int) -> None:
    shown = Image.merge("RGBA", [*bad.noise_rgb((20, 12), seed=2).split(),
                                 Image.new("L", (20, 12), 255)])
    method = _STORE_AS[orientation]
    assert method is not None
    stored = shown.transpose(method)
    image = load_image(bad.png_with_exif_orientation(stored, orientation))
    assert np.array_equal(np.asarray(image.image), np.asarray(shown.convert("RGB")))
    assert image.alpha is not None and image.alpha.size == stored.size, "alpha as stored"


def test_jpeg_orientation_six_swaps_width_and_height() -> None:
    y, x = np.mgrid[0:32, 0:48]
    shown = Image.fromarray(np.stack([x * 5, y * 7, 255 - x * 5], -1).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = bad.encode(shown.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95,
                      subsampling=0, exif=exif.tobytes())
    image = load_image(data)
    assert (image.width, image.height) == (48, 32)
    assert np.abs(pixels(image.image) - pixels(shown)).mean() < 3
    upside_down = shown.transpose(Image.Transpose.ROTATE_180)
    assert np.abs(pixels(image.image) - pixels(upside_down)).mean() > 30


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_invalid_orientation_is_ignored(orientation: int) -> None:
    stored = bad.noise_rgb((30, 20), seed=4)
    image = load_image(bad.png_with_exif_orientation(stored, orientation))
    assert np.array_equal(np.asarray(image.image), np.asarray(stored))
    assert image.warnings == (f"orientation_ignored:{orientation}",)


def test_garbage_exif_does_not_reject_the_image() -> None:
    data = bad.encode(bad.noise_rgb((30, 20)), "PNG", exif=b"Exif\x00\x00MM\x00*garbage")
    image = load_image(data)
    assert (image.width, image.height) == (30, 20)


def test_load_does_not_touch_the_callers_buffer() -> None:
    data = bad.jpeg((32, 32))
    copy = bytes(data)
    load_image(data)
    assert data == copy
    assert Image.open(io.BytesIO(data)).format == "JPEG"


# --- modes the allowed formats rarely produce, tested on the normaliser directly -------------

@pytest.mark.parametrize(("values", "expected"), [
    (np.array([[0, 32896, 65535]], np.int32), [0, 128, 255]),  # 16-bit data: /257
    (np.array([[0, 100, 255]], np.int32), [0, 100, 255]),  # 8-bit data kept
    (np.array([[-5, 70000, 255]], np.int32), [0, 255, 1]),  # clipped to 16-bit, then /257
])
def test_32_bit_integer_grey(values: np.ndarray, expected: list[int]) -> None:
    from moderation.internal.imaging import _normalise

    rgb, alpha = _normalise(Image.fromarray(values, "I"), (255, 255, 255))
    assert alpha is None and rgb.mode == "RGB"
    assert np.asarray(rgb)[0, :, 0].tolist() == expected


@pytest.mark.parametrize(("values", "expected"), [
    (np.array([[0.0, 0.5, 1.0]], np.float32), [0, 128, 255]),  # unit range scaled
    (np.array([[0.0, 127.6, 300.0]], np.float32), [0, 128, 255]),  # byte range clipped
    (np.array([[np.nan, np.inf, 2.0]], np.float32), [0, 255, 2]),
])
def test_float_grey(values: np.ndarray, expected: list[int]) -> None:
    from moderation.internal.imaging import _normalise

    rgb, _ = _normalise(Image.fromarray(values, "F"), (255, 255, 255))
    assert np.asarray(rgb)[0, :, 0].tolist() == expected


def test_allowlist_with_nothing_decodable_is_a_configuration_error(settings) -> None:
    settings.MODERATION = {"ALLOWED_FORMATS": ["EPS"]}
    with pytest.raises(ImproperlyConfigured):
        load_image(bad.png())
