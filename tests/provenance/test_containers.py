"""Generation data in any container: every (container, format, payload) file is read.

The files come from tests/fixtures/container_fixtures.py (Pillow, written in the run).
Hand-made look-alikes in the same fields (captions, alt texts, a prompt without any
sampler settings) must stay unflagged; hypothesis fuzzes the JSON paths.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags

from moderation.internal.imaging import load_image
from moderation.internal.provenance import generation_json
from moderation.internal.provenance.exif import decode_xp
from moderation.internal.provenance.generators import (
    load_generator_table,
    read_generator_metadata,
)
from tests.fixtures import container_fixtures as cf
from tests.fixtures import generator_fixtures as gf

CASES = cf.matrix()


@pytest.fixture(scope="module")
def table():
    return load_generator_table()


def read(data: bytes, table):
    return read_generator_metadata(data, load_image(data), table)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_container_and_format_is_read(case: cf.Case, table):
    findings = read(case.data, table)
    hits = [f for f in findings if f.reason == case.payload.reason]
    assert hits, (case.name, [(f.source, f.reason) for f in findings])
    finding = hits[0]
    assert finding.label == "ai" and finding.strength == "strong"
    assert finding.model == case.payload.model
    assert case.payload.lora in finding.loras
    # The prompt is private; moderators without the permission never see it.
    public = json.dumps(finding.details, ensure_ascii=False)
    assert "桜" not in public and "cherry blossoms" not in public
    private = json.dumps(finding.private, ensure_ascii=False)
    if case.payload.name == "comfy_wrapped" or case.payload.name == "comfy_wrapped_strings":
        assert "cherry blossoms" in private
    elif "ascii" not in case.name:
        assert "桜の木の下" in private


def test_matrix_covers_every_container_and_format():
    names = {c.name.rsplit("_", 2)[0] for c in CASES}
    for needle in ("png_tEXt", "png_zTXt", "png_iTXt", "jpg_exif_usercomment_unicode_be",
                   "webp_exif_usercomment_unicode_le", "png_exif_usercomment_jis",
                   "jpg_exif_imagedescription", "webp_exif_xpcomment", "jpg_com",
                   "gif_comment", "jpg_xmp_description", "webp_xmp_description",
                   "png_xmp_description"):
        assert any(n.startswith(needle) for n in names), needle


def test_generic_json_names_tool_settings_and_groups(table):
    record = {**cf.GRADIO_JSON, "app": "Kawaii Gradio Studio 1.2"}
    data = gf.png_with_text({"parameters": json.dumps(record)})
    finding = next(f for f in read(data, table) if f.source == "png:parameters")
    assert finding.reason == "generation_json"
    assert finding.generator == "Kawaii Gradio Studio 1.2"
    assert finding.details["settings"]["sampler"] == "DPM++ 2M Karras"
    assert set(finding.details["groups"]) == {"sampler", "steps", "seed", "cfg", "model"}
    unnamed = next(f for f in read(gf.png_with_text({"parameters": json.dumps(cf.GRADIO_JSON)}),
                                   table) if f.source == "png:parameters")
    # No tool named: the checkpoint's family names the generator, the model stays.
    assert unnamed.reason == "generation_json"
    assert unnamed.generator == "Pony Diffusion (SDXL)"
    assert unnamed.model == "ponyDiffusionV6XL"
    assert unnamed.details["model_family"] == "Pony Diffusion (SDXL)"


@pytest.mark.parametrize("model,generator", [
    ("sdxl_base", "Stable Diffusion XL"),
    ("models/Stable-diffusion/sd_xl_base_1.0.safetensors [31e35c80fc]", "Stable Diffusion XL"),
    ("v1-5-pruned-emaonly.ckpt", "Stable Diffusion 1.x"),
    ("flux1-dev-fp8.safetensors", "FLUX.1"),
    ("noobaiXLNAIXL_vPred10", "Illustrious XL (SDXL)"),
    ("dreamshaper_8.safetensors", "dreamshaper_8"),  # no family: the checkpoint itself
])
def test_generic_json_without_a_tool_is_named_by_its_checkpoint(table, model, generator):
    record = {"prompt": "a fox in the snow", "sampler": "Euler a", "seed": 4, "Model": model}
    data = gf.png_with_text({"parameters": json.dumps(record)})
    finding = next(f for f in read(data, table) if f.source == "png:parameters")
    assert finding.reason == "generation_json" and finding.label == "ai"
    assert finding.generator == generator
    assert finding.model == model


def test_generic_json_without_tool_or_model_stays_unnamed(table):
    record = {"prompt": "a fox in the snow", "sampler": "Euler a", "seed": 4}
    data = gf.png_with_text({"parameters": json.dumps(record)})
    finding = next(f for f in read(data, table) if f.source == "png:parameters")
    assert finding.reason == "generation_json" and finding.generator == ""


def test_nested_generic_record(table):
    obj = {"meta": {"Prompt": "a fox", "Sampler": "Euler", "Steps": 20}, "id": 5}
    data = gf.png_with_text({"gen_info": json.dumps(obj)})
    finding = next(f for f in read(data, table) if f.reason == "generation_json")
    assert finding.source == "png:gen_info"
    assert finding.private["prompt"] == "a fox"


HUMAN_TEXTS = (
    "A watercolour of cherry trees, drawn by hand in Procreate",
    "桜の木の下で。手描きです。",
    json.dumps({"prompt": "draw a fox every day", "seed": 3}),  # one group only
    json.dumps({"title": "fox", "steps": 20, "sampler": "pencil"}),  # no prompt
    json.dumps({"prompt": "", "steps": 20, "seed": 1, "sampler": "x"}),  # empty prompt
    json.dumps({"prompt": {"not": "a graph"}, "workflow": []}),
    "Steps: 1, 2, 3 of my drawing process",
)


@pytest.mark.parametrize("text", HUMAN_TEXTS)
def test_hand_made_texts_in_every_container_are_not_ai(text: str, table):
    packet = cf.xmp_description(text)
    files = [
        gf.png_with_text({"Description": text}, itxt=True),
        gf.png_with_text({"parameters-note": text}, itxt=True),
        cf._exif("JPEG", ifd0={ExifTags.Base.ImageDescription: text}),
        cf._exif("WEBP", ifd0={0x9C9C: text.encode("utf-16-le")}),
        cf._exif("JPEG", comment=cf.user_comment(text, "unicode_le")),
        cf._save("JPEG", comment=text.encode("utf-8")),
        cf._save("JPEG", xmp=packet.encode()),
    ]
    for data in files:
        findings = read(data, table)
        assert not [f for f in findings if f.label in ("ai", "ai_assisted")], \
            [(f.source, f.reason) for f in findings]


def test_xp_tags_decode_bytes_and_int_tuples():
    raw = "桜 prompt".encode("utf-16-le") + b"\x00\x00"
    assert decode_xp(raw) == "桜 prompt"
    assert decode_xp(tuple(raw)) == "桜 prompt"
    assert decode_xp(b"\x00") is None
    assert decode_xp(12) is None


def test_every_jpeg_com_segment_is_read(table):
    data = cf._save("JPEG", comment=b"drawn by hand")
    extra = b"\xff\xfe" + (len(cf.A1111_ASCII) + 2).to_bytes(2, "big") + cf.A1111_ASCII.encode()
    data = data[:2] + extra + data[2:]  # a second COM before Pillow's own
    assert any(f.source == "jpeg:COM" and f.reason == "a1111_parameters"
               for f in read(data, table))


# --------------------------------------------------------------------- fuzzing

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
    st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.text(max_size=12), children, max_size=6),
    max_leaves=40)
KEYS = st.sampled_from(["prompt", "Prompt", "negative_prompt", "sampler", "Sampler name",
                        "steps", "seed", "cfg_scale", "CFG scale", "model", "Model", "loras",
                        "workflow", "class_type", "inputs", "nodes", "links", "meta"])
KEYED_DICTS = st.dictionaries(KEYS | st.text(max_size=8), JSON_VALUES, max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=JSON_VALUES | KEYED_DICTS)
def test_json_paths_never_crash(obj):
    generation_json.unwrap_comfy(obj)
    record = generation_json.find_generation_record(obj)
    if record is not None:
        assert generation_json.record_prompt(record).strip()
        assert len(generation_json.generation_groups(record)) >= generation_json.MIN_GROUPS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=KEYED_DICTS, where=st.sampled_from(["parameters", "UserComment", "COM"]))
def test_json_in_containers_never_crashes(obj, where):
    text = json.dumps(obj)
    if where == "parameters":
        data = gf.png_with_text({"parameters": text})
    elif where == "UserComment":
        data = cf._exif("JPEG", comment=cf.user_comment(text, "unicode_be"))
    else:
        data = cf._save("JPEG", comment=text.encode())
    for finding in read_generator_metadata(data, None, load_generator_table()):
        assert finding.label in ("ai", "ai_assisted", "none")


NODE_IDS = st.integers(min_value=1, max_value=999).map(str)
SAMPLERS = st.sampled_from(["KSampler", "KSamplerAdvanced", "SamplerCustomAdvanced",
                            "KSampler (Efficient)"])
OTHER_NODES = st.sampled_from(["VAEDecode", "SaveImage", "EmptyLatentImage", "CLIPTextEncode",
                               "CheckpointLoaderSimple", "LoraLoader"])


@st.composite
def comfy_graphs(draw):
    ids = draw(st.lists(NODE_IDS, min_size=2, max_size=12, unique=True))
    graph = {ids[0]: {"class_type": draw(SAMPLERS),
                      "inputs": {"seed": draw(st.integers(0, 2**32)), "steps": 20,
                                 "sampler_name": "euler", "cfg": 7.0}}}
    for node_id in ids[1:]:
        graph[node_id] = {"class_type": draw(OTHER_NODES),
                          "inputs": {"text": draw(st.text(max_size=20))}}
    return graph


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=comfy_graphs(), wrap=st.sampled_from(["bare", "object", "string", "Prompt"]),
       extra=st.dictionaries(st.sampled_from(["extra", "client_id", "id"]), JSON_SCALARS,
                             max_size=2))
def test_comfy_graphs_with_or_without_wrapper_are_found(graph, wrap, extra):
    if wrap == "bare":
        obj = graph
    elif wrap == "object":
        obj = {"prompt": graph, **extra}
    elif wrap == "string":
        obj = {"prompt": json.dumps(graph), **extra}
    else:
        obj = {"Prompt": graph, **extra}
    assert generation_json.unwrap_comfy(obj) is not None
    data = cf._exif("WEBP", comment=cf.user_comment(json.dumps(obj), "unicode_le"))
    findings = read_generator_metadata(data, None, load_generator_table())
    assert [f for f in findings if f.reason == "comfyui_graph" and f.label == "ai"]


@settings(max_examples=100, deadline=None)
@given(prompt=st.text(min_size=1, max_size=40).filter(str.strip),
       groups=st.lists(st.sampled_from(sorted(generation_json.SETTING_GROUPS)), unique=True,
                       max_size=5))
def test_generic_record_needs_a_prompt_and_two_groups(prompt, groups):
    obj = {"prompt": prompt}
    for name in groups:
        obj[sorted(generation_json.SETTING_GROUPS[name])[0]] = 7
    found = generation_json.find_generation_record(obj)
    assert (found is not None) == (len(groups) >= generation_json.MIN_GROUPS)


# --------------------------------------------------------------------- acceptance


def test_moderation_scan_labels_every_matrix_file_ai(tmp_path: Path):
    paths = cf.write_matrix(tmp_path / "matrix")
    out = io.StringIO()
    call_command("moderation_scan", str(tmp_path / "matrix"), "--json", "--no-classifier",
                 stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    assert len(rows) == len(paths) == len(CASES)
    wrong = [(Path(r["path"]).name, r["label"], r["error"]) for r in rows if r["label"] != "ai"]
    assert not wrong


@settings(max_examples=200, deadline=None)
@given(model=st.text(max_size=60))
def test_checkpoint_naming_never_crashes(model):
    name = generation_json.checkpoint_name(model)
    assert len(name) <= 200 and "/" not in name
    family = generation_json.model_family(model)
    assert family in {f for _p, f in generation_json.MODEL_FAMILIES} | {""}
    generator = generation_json.generator_of(model)
    assert (generator == "") == (not model.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.text(min_size=1, max_size=40).filter(str.strip),
       where=st.sampled_from(["parameters", "UserComment"]))
def test_generic_record_names_a_generator_from_any_model(model, where):
    text = json.dumps({"prompt": "a fox", "steps": 20, "seed": 1, "model": model})
    if where == "parameters":
        data = gf.png_with_text({"parameters": text})
    else:
        data = cf._exif("JPEG", comment=cf.user_comment(text, "unicode_be"))
    findings = [f for f in read_generator_metadata(data, None, load_generator_table())
                if f.reason == "generation_json"]
    assert findings and all(f.generator for f in findings)
