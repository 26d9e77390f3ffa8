"""Generator-metadata readers: A1111, ComfyUI, NovelAI, InvokeAI, SwarmUI, Fooocus, ...

Each test builds its file with Pillow (see tests/fixtures/generator_fixtures.py) and
checks label, strength, generator/model names, and that prompts stay in ``private``.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import ExifTags, Image

from moderation.internal.imaging import load_image
from moderation.internal.provenance import a1111, comfyui
from moderation.internal.provenance.exif import decode_user_comment
from moderation.internal.provenance.generator_table import BUNDLED_TABLE, parse_generator_table
from moderation.internal.provenance.generators import (
    load_generator_table,
    read_generator_metadata,
)
from moderation.internal.provenance.novelai import NOVELAI_PUBLIC_KEY
from moderation.internal.provenance.pngchunks import read_png_text
from tests.fixtures import generator_fixtures as gf


@pytest.fixture(scope="module")
def table():
    return load_generator_table()


def read(data, table, *, key=gf.TEST_PUBLIC_KEY_B64, decoded=True):
    image = load_image(data) if decoded else None
    return read_generator_metadata(data, image, table, novelai_public_key=key)


def only(findings, reason=None):
    chosen = [f for f in findings if reason is None or f.reason == reason]
    assert len(chosen) == 1, [(f.source, f.reason) for f in findings]
    return chosen[0]


def assert_no_prompt_in_details(finding, *prompts):
    blob = json.dumps(finding.details)
    for prompt in prompts:
        assert prompt not in blob


# --------------------------------------------------------------------- table


def test_table_is_versioned_and_cached(table):
    assert table.version
    assert load_generator_table() is table
    match = table.match_software("NovelAI")
    assert match is not None and match.generator == "NovelAI"
    for human in ("Adobe Photoshop 25.0 (Windows)", "GIMP 2.10.36", "Krita", "CLIP STUDIO PAINT",
                  "Procreate", "paint.net 5.0"):
        assert table.match_software(human) is None, human


def test_table_rejects_bad_regex():
    with pytest.raises(ValueError, match="software"):
        parse_generator_table({"version": "x", "software": [{"pattern": "(", "generator": "a"}]})
    with pytest.raises(ValueError, match="version"):
        parse_generator_table({})


def test_custom_table_path(tmp_path):
    raw = json.loads(BUNDLED_TABLE.read_text(encoding="utf-8"))
    raw["version"] = "test-1"
    raw["software"].append({"pattern": "^BrandNewGen", "generator": "BrandNewGen"})
    path = tmp_path / "generators.json"
    path.write_text(json.dumps(raw))
    custom = load_generator_table(str(path))
    assert custom.version == "test-1"
    data = gf.png_with_text({"Software": "BrandNewGen 1.0"})
    finding = only(read_generator_metadata(data, None, custom))
    assert (finding.generator, finding.strength, finding.label) == ("BrandNewGen", "weak", "ai")


# --------------------------------------------------------------------- A1111


def test_a1111_parser_fields():
    record = a1111.parse_parameters(gf.A1111_PARAMETERS)
    assert record is not None
    assert record.prompt.startswith("masterpiece")
    assert record.negative_prompt == "lowres, bad hands"
    assert record.settings["Sampler"] == "DPM++ 2M Karras"
    assert record.settings["Lora hashes"] == "detail_tweaker: 4e1b, flat2: 9a0c"
    assert record.model == "anythingV5"
    assert record.loras == [("detail_tweaker", 0.6), ("flat2", None)]
    assert a1111.parse_parameters("just a caption, Steps: not really") is None


@pytest.mark.parametrize("itxt", [False, True])
def test_a1111_png(table, itxt):
    text = gf.A1111_PARAMETERS.replace("1girl", "1girl, 桜") if itxt else gf.A1111_PARAMETERS
    data = gf.png_with_text({"parameters": text}, itxt=itxt, compress=itxt)
    finding = only(read(data, table))
    assert (finding.label, finding.strength, finding.reason) == ("ai", "strong",
                                                                  "a1111_parameters")
    assert finding.source == "png:parameters"
    assert finding.generator == "Stable Diffusion WebUI (A1111)"
    assert finding.model == "anythingV5"
    assert finding.loras == ("detail_tweaker", "flat2")
    assert finding.details["settings"]["Steps"] == "28"
    assert finding.private["prompt"].startswith("masterpiece")
    assert finding.private["negative_prompt"] == "lowres, bad hands"
    assert_no_prompt_in_details(finding, "masterpiece", "lowres, bad hands")


def test_forge_version_names_forge(table):
    finding = only(read(gf.png_with_text({"parameters": gf.FORGE_PARAMETERS}), table))
    assert finding.generator == "Stable Diffusion WebUI Forge"
    assert finding.model == "flux1-dev-bnb-nf4"


def test_parameters_after_idat_is_found(table):
    data = gf.png_text_after_idat("parameters", gf.A1111_PARAMETERS)
    with Image.open(io.BytesIO(data)) as im:
        assert "parameters" not in im.info  # Pillow alone misses it before load()
    finding = only(read(data, table))
    assert finding.reason == "a1111_parameters"
    assert finding.details["after_idat"] is True


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_a1111_jpeg_user_comment(table, encoding):
    data = gf.jpeg_with_exif(comment=gf.user_comment(gf.A1111_PARAMETERS, encoding))
    finding = only(read(data, table))
    assert (finding.source, finding.reason, finding.strength) == (
        "exif:UserComment", "a1111_parameters", "strong")
    assert finding.model == "anythingV5"


def test_a1111_webp_user_comment(table):
    data = gf.webp_with_exif(comment=gf.user_comment(gf.A1111_PARAMETERS))
    assert only(read(data, table)).reason == "a1111_parameters"


def test_user_comment_charsets():
    assert decode_user_comment(gf.user_comment("Steps: 1", "utf-16-be")) == ("Steps: 1",
                                                                              "utf-16-be")
    assert decode_user_comment(gf.user_comment("Steps: 1", "utf-16-le"))[1] == "utf-16-le"
    assert decode_user_comment(gf.user_comment("abc", "ascii")) == ("abc", "ascii")
    assert decode_user_comment(b"JIS\x00\x00\x00\x00\x00" + "絵".encode("shift_jis"))[0] == "絵"
    assert decode_user_comment(b"\x00" * 8 + "ü".encode())[0] == "ü"


def test_extras_record_is_weak_ai_assisted(table):
    finding = only(read(gf.png_with_text({"postprocessing": gf.EXTRAS_TEXT}), table))
    assert (finding.label, finding.strength, finding.reason) == ("ai_assisted", "weak",
                                                                  "a1111_extras")


# --------------------------------------------------------------------- ComfyUI


def test_comfy_graph_walk():
    record = comfyui.parse_api_graph(gf.COMFY_PROMPT)
    assert record.checkpoints == ["animagineXL_v31.safetensors"]
    assert record.loras == [("pastel_style.safetensors", 0.8, 0.7)]
    assert record.samplers[0]["sampler_name"] == "euler_ancestral"
    assert record.samplers[0]["steps"] == 25
    assert "1girl, cherry blossoms" in record.prompts
    assert record.generates


def test_comfy_sampler_custom_takes_helpers():
    graph = {
        "1": {"class_type": "SamplerCustomAdvanced", "inputs": {"sampler": ["2", 0]}},
        "2": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "3": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20}},
        "4": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
    }
    record = comfyui.parse_api_graph(graph)
    assert record.samplers[0]["sampler_name"] == "euler"
    assert record.samplers[0]["scheduler"] == "simple"
    assert record.checkpoints == ["flux1-dev.safetensors"]


def test_comfy_png(table):
    data = gf.png_with_text({"prompt": json.dumps(gf.COMFY_PROMPT),
                             "workflow": json.dumps(gf.COMFY_WORKFLOW)})
    finding = only(read(data, table))
    assert (finding.generator, finding.model, finding.strength) == (
        "ComfyUI", "animagineXL_v31.safetensors", "strong")
    assert finding.loras == ("pastel_style.safetensors",)
    assert finding.details["samplers"][0]["cfg"] == 6.5
    assert "1girl, cherry blossoms" in finding.private["prompts"]
    assert_no_prompt_in_details(finding, "cherry blossoms", "worst quality")


def test_comfy_workflow_only(table):
    finding = only(read(gf.png_with_text({"workflow": json.dumps(gf.COMFY_WORKFLOW)}), table))
    assert (finding.reason, finding.model) == ("comfyui_graph", "animagineXL_v31.safetensors")


def test_comfy_webp_exif(table):
    finding = only(read(gf.comfy_webp(), table))
    assert finding.source.startswith("exif:")
    assert (finding.generator, finding.model, finding.reason) == (
        "ComfyUI", "animagineXL_v31.safetensors", "comfyui_graph")


def test_comfy_upscale_only_is_weak_assisted(table):
    data = gf.png_with_text({"prompt": json.dumps(gf.COMFY_UPSCALE_ONLY)})
    finding = only(read(data, table))
    assert (finding.label, finding.strength, finding.reason) == (
        "ai_assisted", "weak", "comfyui_upscale_only")


# --------------------------------------------------------------------- NovelAI


def test_novelai_signature_verifies_with_injected_key(table):
    finding = only(read(gf.novelai_png(alpha=False), table))
    assert (finding.reason, finding.strength, finding.generator) == (
        "novelai_signature_verified", "proof", "NovelAI")
    assert finding.model == "NovelAI Diffusion V4.5 4BDE2A90"
    assert finding.private["prompt"] == "1girl, silver hair, night sky"
    assert_no_prompt_in_details(finding, "silver hair", "bad anatomy")


def test_novelai_stealth_copy_verifies_without_text(table):
    finding = only(read(gf.novelai_png(text=False), table))
    assert finding.source == "stealth:alpha"
    assert finding.strength == "proof"


def test_novelai_text_and_stealth_both_report(table):
    findings = read(gf.novelai_png(), table)
    assert {f.source for f in findings} == {"png:Comment", "stealth:alpha"}
    assert {f.strength for f in findings} == {"proof"}


def test_novelai_tampered_pixels_are_strong_not_proof(table):
    findings = read(gf.novelai_png(tamper=True), table)
    assert findings and all(f.strength == "strong" for f in findings)
    assert all(f.details["signature"] == "invalid" for f in findings)


def test_novelai_real_key_rejects_test_signature(table):
    """With NovelAI's real public key a signature by any other key is not proof."""
    findings = read(gf.novelai_png(), table, key=NOVELAI_PUBLIC_KEY)
    assert findings and all(f.strength == "strong" for f in findings)
    assert all(f.reason == "novelai_metadata" for f in findings)


def test_novelai_webp_exif(table):
    finding = only(read(gf.novelai_webp(), table))
    assert (finding.source, finding.strength) == ("exif:UserComment", "proof")


def test_novelai_without_decoded_image(table):
    finding = only(read(gf.novelai_png(alpha=False), table, decoded=False))
    assert finding.strength == "proof"


# --------------------------------------------------------------------- other tools


def test_invokeai(table):
    data = gf.png_with_text({"invokeai_metadata": json.dumps(gf.INVOKEAI_METADATA),
                             "invokeai_graph": "{}"})
    findings = read(data, table)
    main = only(findings, "invokeai_metadata")
    assert (main.generator, main.model, main.strength) == ("InvokeAI", "Juggernaut XL v9",
                                                           "strong")
    assert main.loras == ("pixel-art-xl",)
    assert main.private["prompt"] == "a fox in snow"
    assert_no_prompt_in_details(main, "a fox in snow")


def test_swarmui_png_and_jpeg(table):
    text = json.dumps(gf.SWARMUI_PARAMETERS)
    for data in (gf.png_with_text({"parameters": text}),
                 gf.jpeg_with_exif(comment=gf.user_comment(text, "utf-16-le"))):
        finding = only(read(data, table))
        assert (finding.generator, finding.model, finding.reason) == (
            "SwarmUI", "sd_xl_base_1.0", "swarmui_metadata")
        assert finding.loras == ("gardenlora",)
        assert finding.private["prompt"] == "a robot in a garden"


def test_fooocus_png_json_scheme(table):
    data = gf.png_with_text({"parameters": json.dumps(gf.FOOOCUS_PARAMETERS),
                             "fooocus_scheme": "fooocus"})
    findings = read(data, table)
    finding = only(findings, "fooocus_metadata")
    assert (finding.generator, finding.model) == ("Fooocus",
                                                  "juggernautXL_v8Rundiffusion.safetensors")


def test_fooocus_a1111_scheme_names_fooocus(table):
    data = gf.png_with_text({"parameters": gf.A1111_PARAMETERS, "fooocus_scheme": "a1111"})
    assert only(read(data, table), "a1111_parameters").generator == "Fooocus"


def test_fooocus_jpeg_software(table):
    data = gf.jpeg_with_exif(ifd0={ExifTags.Base.Software: "Fooocus v2.5.5"},
                             comment=gf.user_comment(json.dumps(gf.FOOOCUS_PARAMETERS)),
                             maker_note=b"fooocus")
    findings = read(data, table)
    assert only(findings, "fooocus_metadata").strength == "strong"


@pytest.mark.parametrize(("key", "generator"), [("smproj", "Stability Matrix"),
                                                ("generation_data", "Tensor.Art")])
def test_keyed_json_records(table, key, generator):
    data = gf.png_with_text({key: json.dumps({"prompt": "p", "model": "m1", "steps": 20})})
    finding = only(read(data, table))
    assert (finding.generator, finding.model, finding.strength) == (generator, "m1", "strong")


def test_midjourney_description(table):
    data = gf.png_with_text({
        "Description": "a cat astronaut --v 6.1 Job ID: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "Author": "someone"})
    finding = only(read(data, table))
    assert (finding.generator, finding.strength, finding.reason) == (
        "Midjourney", "strong", "midjourney_job")
    assert "cat astronaut" in finding.private["prompt"]


def test_software_string_is_weak(table):
    finding = only(read(gf.png_with_text({"Software": "Made with Google AI"}), table))
    assert (finding.strength, finding.label, finding.generator) == ("weak", "ai", "Google AI")


# --------------------------------------------------------------------- negatives


@pytest.mark.parametrize("data", [
    pytest.param(gf.png_with_text({"Comment": "Created with GIMP", "Software": "GIMP 2.10.36"}),
                 id="gimp-comment"),
    pytest.param(gf.png_with_text({"Software": "Krita", "Title": "my drawing"}), id="krita"),
    pytest.param(gf.jpeg_with_exif(ifd0={ExifTags.Base.Software: "Adobe Photoshop 25.0 (Windows)",
                                         ExifTags.Base.Make: "Canon",
                                         ExifTags.Base.Model: "EOS R5"}), id="photoshop"),
    pytest.param(gf.png_with_text({"Software": "CLIP STUDIO PAINT",
                                   "Description": "commission, Steps: sketch"}), id="csp"),
    pytest.param(gf.png_with_text({"prompt": "draw a cat", "Comment": "{\"a\": 1}"}),
                 id="unrelated-json"),
    pytest.param(gf.png_with_text({}), id="plain"),
])
def test_human_tools_are_not_ai(table, data):
    assert read(data, table) == []


def test_text_bomb_is_capped(table):
    start = time.perf_counter()
    png = read_png_text(gf.ztxt_bomb())
    assert png.chunks[0].truncated and len(png.chunks[0].text) <= 2 * 1024 * 1024
    assert time.perf_counter() - start < 2
    assert read_generator_metadata(gf.ztxt_bomb(), None, table) == []


def test_deep_json_is_refused_without_crash(table):
    deep = "[" * 5000 + "]" * 5000
    assert read(gf.png_with_text({"prompt": deep, "parameters": deep}), table) == []


def test_long_prompt_is_truncated_and_flagged(table, settings):
    settings.MODERATION = {**getattr(settings, "MODERATION", {}), "METADATA_FIELD_LIMIT": 100}
    text = "x" * 5000 + "\n" + gf.A1111_PARAMETERS.split("\n", 2)[2]
    finding = only(read(gf.png_with_text({"parameters": text}), table))
    assert len(finding.private["prompt"]) <= 100
    assert finding.details["truncated"] is True


def test_malformed_png_chunks_do_not_crash(table):
    data = gf.png_with_text({"parameters": gf.A1111_PARAMETERS})
    cut = data[: data.index(b"IDAT") + 20]  # truncated file
    assert isinstance(read_png_text(cut).errors, list)
    read_generator_metadata(cut, None, table)


# --------------------------------------------------------------------- more formats


def test_adetailer_prompt_setting_stays_private(table):
    text = gf.A1111_PARAMETERS + (
        ', ADetailer model: face_yolov8n.pt, ADetailer prompt: "secret face"')
    finding = only(read(gf.png_with_text({"parameters": text}), table))
    assert finding.details["settings"]["ADetailer model"] == "face_yolov8n.pt"
    assert finding.private["settings"]["ADetailer prompt"] == "secret face"
    assert_no_prompt_in_details(finding, "secret face")


def test_civitai_resources_in_a1111_text(table):
    text = gf.A1111_PARAMETERS + ', Civitai resources: [{"type":"checkpoint","modelVersionId":1}]'
    assert only(read(gf.png_with_text({"parameters": text}), table)).generator == "Civitai"


def test_civitai_jpeg_resource_stack(table):
    record = {
        "resource-stack": {"class_type": "CheckpointLoaderSimple",
                           "inputs": {"ckpt_name": "urn:air:sdxl:checkpoint:civitai:1@2"}},
        "3": {"class_type": "KSampler", "inputs": {"steps": 25, "sampler_name": "euler"}},
        "6": {"class_type": "smZ CLIPTextEncode", "inputs": {"text": "a knight"}},
        "extra": {"airs": []}, "extraMetadata": "{}",
    }
    data = gf.jpeg_with_exif(ifd0={ExifTags.Base.Artist: "ai",
                                   ExifTags.Base.Software: "6f1c1f8e-uuid"},
                             comment=gf.user_comment(json.dumps(record)))
    finding = only(read(data, table))
    assert (finding.generator, finding.reason) == ("Civitai", "civitai_metadata")
    assert finding.model == "urn:air:sdxl:checkpoint:civitai:1@2"
    assert finding.private["prompts"] == ["a knight"]
    plain = {"prompt": "p", "resource-stack": {"id": 1}, "steps": 20}
    data = gf.jpeg_with_exif(comment=gf.user_comment(json.dumps(plain)))
    assert only(read(data, table)).reason == "civitai_metadata"


def test_invokeai_v2_and_dream(table):
    v2 = {"model_weights": "stable-diffusion-1.5", "app_version": "2.3.5",
          "image": {"prompt": [{"prompt": "a red barn", "weight": 1}], "steps": 50,
                    "cfg_scale": 7.5, "sampler": "k_lms", "seed": 1}}
    finding = only(read(gf.png_with_text({"sd-metadata": json.dumps(v2)}), table))
    assert (finding.generator, finding.model) == ("InvokeAI", "stable-diffusion-1.5")
    assert finding.private["prompt"] == "a red barn"
    dream = only(read(gf.png_with_text({"Dream": '"a red barn" -s 50 -S 1 -W 512 -H 512'}),
                      table))
    assert (dream.generator, dream.strength) == ("InvokeAI", "strong")


def test_ruined_fooocus_json(table):
    record = {"Prompt": "a ship", "Negative": "", "steps": 30, "cfg": 8,
              "base_model_name": "sdxl.safetensors", "software": "RuinedFooocus"}
    finding = only(read(gf.png_with_text({"parameters": json.dumps(record)}), table))
    assert (finding.generator, finding.model) == ("RuinedFooocus", "sdxl.safetensors")


def test_easy_diffusion_png_keys(table):
    data = gf.png_with_text({"prompt": "a watercolor fox", "negative_prompt": "",
                             "seed": "42", "use_stable_diffusion_model": "sd-v1-4",
                             "num_inference_steps": "25"})
    finding = only(read(data, table))
    assert (finding.generator, finding.model) == ("Easy Diffusion", "sd-v1-4")


def test_description_naming_a_tool_keeps_text_private(table):
    finding = only(read(gf.png_with_text({"Description": "made in Stable Diffusion: a dog"}),
                        table))
    assert finding.strength == "weak"
    assert "a dog" not in json.dumps(finding.details)
    assert finding.private["text"].endswith("a dog")


# --------------------------------------------------------------------- end to end


@pytest.mark.parametrize(("data", "generator", "strength"), [
    (gf.png_with_text({"prompt": json.dumps(gf.COMFY_PROMPT)}), "ComfyUI", "strong"),
    (gf.jpeg_with_exif(comment=gf.user_comment(gf.A1111_PARAMETERS)),
     "Stable Diffusion WebUI (A1111)", "strong"),
    # Signed with a test key: against NovelAI's real key this is a record, not proof.
    (gf.novelai_png(), "NovelAI", "strong"),
])
def test_provenance_detector_end_to_end(data, generator, strength):
    from moderation.detectors.provenance import ProvenanceDetector

    result = ProvenanceDetector("provenance").detect(load_image(data))
    assert (result.label, result.strength, result.generator) == ("ai", strength, generator)
    assert "1girl" not in json.dumps(result.details)


def test_png_exif_chunk_is_read_without_decoding_pixels(table, monkeypatch):
    data = gf.save(Image.new("RGB", (32, 24)), "PNG",
                   exif=gf.exif_bytes(comment=gf.user_comment(gf.A1111_PARAMETERS)))

    def no_decode(*args, **kwargs):
        raise AssertionError("pixels decoded for EXIF")

    monkeypatch.setattr(Image.Image, "getexif", no_decode)
    finding = only(read(data, table, decoded=False))
    assert (finding.source, finding.reason) == ("exif:UserComment", "a1111_parameters")


def test_legacy_swarmui_json_in_exif_model(table):
    data = gf.jpeg_with_exif(ifd0={ExifTags.Base.Model: json.dumps(gf.SWARMUI_PARAMETERS)})
    finding = only(read(data, table))
    assert (finding.source, finding.generator) == ("exif:Model", "SwarmUI")


def test_midjourney_job_id_in_exif_description(table):
    data = gf.jpeg_with_exif(ifd0={ExifTags.Base.ImageDescription:
                                   "a cat --ar 2:3 Job ID: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"})
    finding = only(read(data, table))
    assert (finding.generator, finding.strength) == ("Midjourney", "strong")


def test_novelai_signed_comment_alone_is_recognised(table):
    """Software/Title stripped, the signed Comment kept: still NovelAI, still verifiable."""
    data = gf.novelai_png(alpha=False)
    fields = gf.novelai_fields(gf.novelai_comment(gf.rgba_pixels((128, 96))))
    only_comment = gf.png_with_text({"Comment": fields["Comment"]},
                                    image=Image.open(io.BytesIO(data)))
    finding = only(read(only_comment, table))
    assert (finding.generator, finding.strength) == ("NovelAI", "proof")


def test_sdnext_app_key_names_sdnext(table):
    text = "a harbour\nSteps: 20, Size: 512x512, Sampler: Euler a, Seed: 7, App: SD.Next"
    finding = only(read(gf.png_with_text({"parameters": text}), table))
    assert finding.generator == "SD.Next"
    assert finding.details["settings"]["Size"] == "512x512"
