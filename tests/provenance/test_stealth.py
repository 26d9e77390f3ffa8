"""Stealth metadata in pixel low bits: all four signatures, bounds, and what destroys it."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import struct
import time

import numpy as np
import pytest
from PIL import Image

from moderation.internal.imaging import load_image
from moderation.internal.provenance.generators import (
    load_generator_table,
    read_generator_metadata,
)
from moderation.internal.provenance.stealth import read_stealth
from tests.fixtures import generator_fixtures as gf


@pytest.fixture(scope="module")
def table():
    return load_generator_table()


@pytest.mark.parametrize("channel", ["alpha", "rgb"])
@pytest.mark.parametrize("compressed", [True, False])
def test_all_four_signatures_round_trip(channel, compressed):
    pixels = gf.embed_stealth(gf.rgba_pixels((96, 64)), gf.A1111_PARAMETERS, channel=channel,
                              compressed=compressed)
    payload = read_stealth(Image.fromarray(pixels, "RGBA"))
    assert payload is not None
    assert (payload.channel, payload.compressed) == (channel, compressed)
    assert payload.text == gf.A1111_PARAMETERS


def test_rgb_signature_in_rgb_image():
    pixels = gf.embed_stealth(gf.rgba_pixels((96, 64)), "hello", channel="rgb")
    payload = read_stealth(Image.fromarray(pixels[:, :, :3], "RGB"))
    assert payload is not None and payload.text == "hello"


def test_a1111_in_stealth_alpha_is_a_strong_finding(table):
    pixels = gf.embed_stealth(gf.rgba_pixels((96, 64)), gf.A1111_PARAMETERS)
    data = gf.save(Image.fromarray(pixels, "RGBA"), "PNG")
    findings = read_generator_metadata(data, load_image(data), table)
    assert [(f.source, f.reason, f.strength) for f in findings] == [
        ("stealth:alpha", "a1111_parameters", "strong")]
    assert findings[0].model == "anythingV5"


def test_unknown_stealth_text_is_kept_privately(table):
    pixels = gf.embed_stealth(gf.rgba_pixels((96, 64)), "some hidden note", compressed=False)
    data = gf.save(Image.fromarray(pixels, "RGBA"), "PNG")
    (finding,) = read_generator_metadata(data, load_image(data), table)
    assert (finding.reason, finding.strength) == ("stealth_metadata", "strong")
    assert finding.private["text"] == "some hidden note"
    assert "some hidden note" not in json.dumps(finding.details)


def test_plain_images_have_no_stealth():
    assert read_stealth(Image.fromarray(gf.rgba_pixels((96, 64)), "RGBA")) is None
    assert read_stealth(Image.new("RGB", (10, 10))) is None
    assert read_stealth(Image.new("L", (10, 10))) is None
    assert read_stealth(Image.new("RGBA", (1, 1))) is None  # too small for the header


def test_rgba_to_rgb_conversion_destroys_alpha_copy(table):
    data = gf.novelai_png(text=False)
    flattened = gf.save(Image.open(io.BytesIO(data)).convert("RGB"), "PNG")
    assert read_generator_metadata(flattened, load_image(flattened), table) == []


def test_lossy_webp_keeps_alpha_but_breaks_signature(table):
    """Lossy WebP keeps alpha exact (so the record survives) but changes RGB: strong."""
    data = gf.novelai_png(text=False)
    webp = gf.save(Image.open(io.BytesIO(data)), "WEBP", quality=90)
    findings = read_generator_metadata(webp, load_image(webp), table,
                                       novelai_public_key=gf.TEST_PUBLIC_KEY_B64)
    assert [(f.source, f.strength, f.details.get("signature")) for f in findings] == [
        ("stealth:alpha", "strong", "invalid")]


def test_alpha_only_input_still_reads_stealth(table):
    """Huge images keep no ``raw`` copy; the alpha plane alone still carries the record."""
    data = gf.novelai_png(text=False)
    image = dataclasses.replace(load_image(data), raw=None)
    findings = read_generator_metadata(data, image, table,
                                       novelai_public_key=gf.TEST_PUBLIC_KEY_B64)
    assert [(f.source, f.strength, f.details.get("signature")) for f in findings] == [
        ("stealth:alpha", "strong", "unverifiable")]


def test_huge_declared_length_is_bounded():
    """A header claiming 4 Gbit must not make us read or allocate that much."""
    record = b"stealth_pnginfo" + struct.pack(">I", 0xFFFFFFFF)
    pixels = gf.write_alpha_record(gf.rgba_pixels((64, 64)), record)
    assert read_stealth(Image.fromarray(pixels, "RGBA")) is None  # not enough pixels


def test_corrupt_gzip_is_ignored():
    junk = b"\x1f\x8b\x08\x00broken!!!!"
    record = b"stealth_pngcomp" + struct.pack(">I", len(junk) * 8) + junk
    pixels = gf.write_alpha_record(gf.rgba_pixels((96, 64)), record)
    assert read_stealth(Image.fromarray(pixels, "RGBA")) is None


def test_gzip_bomb_in_stealth_is_capped():
    bomb = gzip.compress(b"a" * (8 * 1024 * 1024))
    side = int(np.ceil(np.sqrt((len(bomb) + 19) * 8))) + 1
    record = b"stealth_pngcomp" + struct.pack(">I", len(bomb) * 8) + bomb
    pixels = gf.write_alpha_record(gf.rgba_pixels((side, side)), record)
    payload = read_stealth(Image.fromarray(pixels, "RGBA"))
    assert payload is not None and payload.truncated
    assert len(payload.text) <= 2 * 1024 * 1024


def test_big_image_check_is_cheap():
    """Only the first columns are read when there is no magic: a 16 MP image is fast."""
    image = Image.new("RGBA", (4000, 4000), (10, 20, 30, 255))
    start = time.perf_counter()
    for _ in range(5):
        assert read_stealth(image) is None
    assert (time.perf_counter() - start) / 5 < 0.5
