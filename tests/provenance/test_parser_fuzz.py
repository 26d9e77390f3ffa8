"""Hypothesis fuzzing of every metadata parser: hostile bytes and text never escape.

Each reader documents that it never raises for bad metadata (problems become an
``errors`` entry or a refused summary); these properties hold it to that with arbitrary
input and with real files mutated. A reader raising would fail the whole scan and, on a
redelivered message, count an attempt against a file whose pixels are fine.
"""

from __future__ import annotations

import contextlib
import json
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.internal.provenance import a1111, comfyui, exif, novelai, pngchunks, xmp
from moderation.internal.provenance.generator_table import load_generator_table
from moderation.internal.provenance.generators import read_generator_metadata
from moderation.internal.provenance.limits import load_json_limited
from tests.fixtures import bad_images as bad
from tests.fixtures.generator_fixtures import png_with_text

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TABLE = load_generator_table()
PNG = bad.png((16, 16))
JPEG = bad.jpeg((16, 16))
PREFIXES = [b"", pngchunks.PNG_SIGNATURE,
            b"\xff\xd8\xff\xe1", b"RIFF\x00\x00\x00\x00WEBP",
            b"<?xpacket begin=", b"<x:xmpmeta"]


@FUZZ
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=4096))
def test_byte_readers_never_raise_on_arbitrary_bytes(prefix: bytes, body: bytes) -> None:
    data = prefix + body
    pngchunks.read_png_text(data)
    exif.read_exif_text(data)
    findings, summary = xmp.read_xmp(data, TABLE)
    assert isinstance(findings, list) and isinstance(summary, dict)
    assert isinstance(read_generator_metadata(data, None, TABLE), list)


@FUZZ
@given(ctype=st.sampled_from([b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"caBX", b"iCCP"]),
       payload=st.binary(max_size=2048), compress=st.booleans())
def test_png_metadata_chunks_never_escape(ctype: bytes, payload: bytes, compress: bool) -> None:
    if compress:
        payload = payload[:8] + b"\x00\x00" + zlib.compress(payload)
    data = bad.png_with_chunk_before_idat(PNG, ctype, payload)
    pngchunks.read_png_text(data)
    xmp.read_xmp(data, TABLE)
    assert isinstance(read_generator_metadata(data, None, TABLE), list)


@FUZZ
@given(key=st.sampled_from(["parameters", "prompt", "workflow", "Comment", "Software",
                            "Description", "XML:com.adobe.xmp", "generation_data"]),
       value=st.text(max_size=2048))
def test_generator_text_fields_never_escape(key: str, value: str) -> None:
    data = png_with_text({key: value})
    assert isinstance(read_generator_metadata(data, None, TABLE), list)


@FUZZ
@given(text=st.text(max_size=4096))
def test_text_parsers_never_raise(text: str) -> None:
    a1111.looks_like_parameters(text)
    a1111.parse_settings_line(text)
    a1111.parse_parameters(text)
    a1111.parse_extras(text)
    novelai.parse_comment(text)
    exif.decode_user_comment(b"UNICODE\x00" + text.encode("utf-16-be", "surrogatepass"))
    exif.decode_user_comment(b"ASCII\x00\x00\x00" + text.encode("utf-8", "surrogatepass"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=60)


@FUZZ
@given(obj=JSON)
def test_comfyui_graph_parsers_never_raise(obj: object) -> None:
    if comfyui.is_api_graph(obj):
        comfyui.parse_api_graph(obj)  # type: ignore[arg-type]
    if comfyui.is_ui_workflow(obj):
        comfyui.parse_ui_workflow(obj)  # type: ignore[arg-type]
    novelai.record_from_stealth_json(obj)
    text = json.dumps(obj)
    for key in ("prompt", "workflow"):
        assert isinstance(read_generator_metadata(png_with_text({key: text}), None, TABLE), list)


@FUZZ
@given(text=st.text(max_size=2048))
def test_limited_json_loader_refuses_or_loads(text: str) -> None:
    with contextlib.suppress(ValueError):  # the documented refusal: bad, deep or big
        load_json_limited(text)


@FUZZ
@given(packet=st.binary(max_size=3000))
def test_xmp_packet_parser_only_refuses(packet: bytes) -> None:
    with contextlib.suppress(xmp.XmpRefused):
        xmp.parse_packet(packet)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=400),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=8))
def test_mutated_files_with_metadata_never_escape(cut: int, flips: list[tuple[int, int]]) -> None:
    seed = png_with_text({"parameters": "1girl\nSteps: 20, Sampler: Euler a, Model: x",
                          "prompt": '{"3": {"class_type": "KSampler", "inputs": {}}}'})
    data = bytearray(seed[: len(seed) - cut] if cut < len(seed) else seed)
    for at, mask in flips:
        if data:
            data[at % len(data)] ^= mask
    assert isinstance(read_generator_metadata(bytes(data), None, TABLE), list)
    xmp.read_xmp(bytes(data), TABLE)
    exif.read_exif_text(bytes(JPEG[: len(JPEG) - cut % len(JPEG)]))
