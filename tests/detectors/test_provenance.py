"""The provenance detector: all readers merged into one evidence result."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from moderation.detectors.provenance import ProvenanceDetector, enforce_total_limit
from moderation.exceptions import InvalidDetectorConfig
from moderation.internal.imaging import load_image
from moderation.internal.provenance import trust
from moderation.internal.provenance.findings import Finding
from tests.factories import png_bytes
from tests.fixtures import c2pa_fixtures as cfx
from tests.fixtures import xmp_fixtures as xfx

A1111 = ("masterpiece, a fox in the snow\nNegative prompt: blurry\n"
         "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 64x48, "
         "Model hash: abcdef1234, Model: fancyMix_v3")


@pytest.fixture(scope="session")
def c2pa_files(tmp_path_factory) -> dict[str, bytes]:
    return cfx.build_fixture_set(tmp_path_factory.mktemp("c2pa-detector"))


@pytest.fixture
def detector() -> ProvenanceDetector:
    return ProvenanceDetector("provenance")


def detect(det: ProvenanceDetector, data: bytes):
    return det.detect(load_image(data))


def a1111_png(extra_xmp: str | None = None) -> bytes:
    info = PngInfo()
    info.add_text("parameters", A1111)
    if extra_xmp:
        info.add_itxt("XML:com.adobe.xmp", extra_xmp)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def test_plain_png_finds_nothing(detector):
    result = detect(detector, png_bytes())
    assert (result.label, result.strength, result.reasons) == ("none", "weak", ())
    assert result.details == {"findings": [], "rights": {}, "c2pa": {}, "truncated": False}
    assert result.private == {}


@pytest.mark.parametrize("name", ["tam.png", "tam.jpg", "tam.webp"])
def test_untrusted_c2pa_ai_is_strong(detector, c2pa_files, name):
    result = detect(detector, c2pa_files[name])
    assert (result.label, result.strength) == ("ai", "strong")
    assert result.generator == "TestGen 1.0"
    assert result.reasons == ("c2pa_ai",)
    assert result.details["c2pa"]["validation_state"] == "Valid"
    assert result.details["findings"][0]["details"]["signer"] == "C2PA Signer"


def test_trusted_c2pa_ai_is_proof_via_trust_dir_option(c2pa_files, tmp_path):
    directory = cfx.trust_dir_with_test_ca(trust.BUNDLED_TRUST_DIR, tmp_path / "trust")
    try:
        det = ProvenanceDetector("provenance", {"TRUST_DIR": str(directory)})
        result = detect(det, c2pa_files["tam.png"])
        assert (result.label, result.strength, result.reasons) == ("ai", "proof",
                                                                   ("c2pa_trusted_ai",))
        human = detect(det, c2pa_files["capture.jpg"])
        assert (human.label, human.strength) == ("human", "proof")
    finally:
        trust.clear_cache()


def test_composite_is_ai_assisted_and_a_weak_hint_does_not_outrank_it(detector, c2pa_files):
    result = detect(detector, c2pa_files["composite.png"])
    assert result.label == "ai_assisted"
    hint = xfx.png_with(xfx.packet(
        attributes='photoshop:Credit="Made with Google AI" '
                   f'Iptc4xmpExt:DigitalSourceType="{xfx.DST}compositeWithTrainedAlgorithmicMedia"'))
    result = detect(detector, hint)
    assert result.label == "ai_assisted"
    assert set(result.reasons) == {"xmp_digital_source_type_composite", "xmp_ai_tool_string"}


def test_algorithmic_media_and_photoshop_metadata_are_not_ai(detector, c2pa_files):
    assert detect(detector, c2pa_files["algorithmic.png"]).label == "none"
    assert detect(detector, xfx.jpeg_with(xfx.photoshop_human())).label == "none"


def test_weak_hint_alone_is_weak_ai_named_by_the_table(detector):
    result = detect(detector, xfx.png_with(xfx.google_credit()))
    assert (result.label, result.strength, result.generator) == ("ai", "weak", "Google AI")


def test_xmp_ai_fields_prompt_is_private(detector):
    result = detect(detector, xfx.jpeg_with(xfx.ai_fields(prompt="secret fox prompt")))
    assert (result.label, result.strength, result.generator) == ("ai", "strong",
                                                                 "ExampleDiffusion 3.1")
    assert "secret fox prompt" not in json.dumps(result.details)
    assert "secret fox prompt" in json.dumps(result.private)


def test_rights_are_kept_apart_and_never_ai(detector, c2pa_files):
    result = detect(detector, c2pa_files["mining.png"])
    assert result.label == "none"
    [entries] = result.details["rights"]["c2pa_training_mining"]
    assert entries["entries"]["c2pa.ai_generative_training"] == "notAllowed"
    result = detect(detector, xfx.png_with(xfx.data_mining()))
    assert result.label == "none" and "xmp_plus_data_mining" in result.details["rights"]


def test_generator_metadata_is_merged_with_model_and_private_prompt(detector):
    result = detect(detector, a1111_png(xfx.dst_element("trainedAlgorithmicMedia")))
    assert (result.label, result.strength) == ("ai", "strong")
    assert result.model.startswith("fancyMix_v3")
    assert "xmp_digital_source_type_ai" in result.reasons
    assert "a fox in the snow" not in json.dumps(result.details)
    assert "a fox in the snow" in json.dumps(result.private)


def test_a_crashing_reader_keeps_the_other_findings(detector, c2pa_files, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("reader exploded")

    monkeypatch.setattr("moderation.detectors.provenance.read_xmp", boom)
    result = detect(detector, c2pa_files["tam.png"])
    assert result.label == "ai" and result.reasons == ("c2pa_ai",)
    assert result.details["errors"] == [{"reader": "xmp",
                                         "error": "RuntimeError: reader exploded"}]


def test_hostile_xmp_recorded_as_error(detector):
    result = detect(detector, xfx.png_with(xfx.BILLION_LAUGHS))
    assert result.label == "none"
    assert result.details["errors"][0]["reader"] == "xmp"


def test_total_limit_truncates_with_flag(detector, settings):
    settings.MODERATION = {"METADATA_TOTAL_LIMIT": 3000}
    big_prompt = "fox " * 20_000
    result = detect(detector, xfx.png_with(xfx.ai_fields(prompt=big_prompt), compressed=True))
    assert result.label == "ai"
    assert result.details["truncated"] is True
    size = len(json.dumps(result.details, ensure_ascii=False)) + len(
        json.dumps(result.private, ensure_ascii=False))
    assert size <= 3000


def test_enforce_total_limit_drops_weakest_findings_last():
    findings = [{"reason": f"r{i}", "details": {"x": "y" * 5000}} for i in range(30)]
    details, private = enforce_total_limit(
        {"findings": findings, "rights": {}, "c2pa": {}, "truncated": False},
        {"p": "q" * 50_000}, 400)
    assert details["truncated"] is True and private == {}
    assert details["findings"] and details["findings"][0]["reason"] == "r0"
    assert len(json.dumps(details)) <= 400


def test_merge_takes_names_from_strongest_naming_finding(detector):
    weak = Finding("a", "weak_hint", "ai", "weak", generator="Hint Gen")
    strong = Finding("b", "tool_record", "ai", "strong", generator="ComfyUI",
                     model="sdxl.safetensors", loras=("style.safetensors",))
    proof = Finding("c", "c2pa_trusted_ai", "ai", "proof", generator="Signed Gen")
    result = detector.merge([weak, strong, proof])
    assert (result.label, result.strength) == ("ai", "proof")
    assert (result.generator, result.model, result.loras) == (
        "Signed Gen", "sdxl.safetensors", ("style.safetensors",))
    assert result.reasons == ("c2pa_trusted_ai", "tool_record", "weak_hint")


def test_version_includes_table_and_trust_fingerprint(tmp_path):
    base = ProvenanceDetector("provenance")
    version = base.get_version()
    assert len(version) <= 64 and version.startswith(f"{ProvenanceDetector.version}:g")
    directory = cfx.trust_dir_with_test_ca(trust.BUNDLED_TRUST_DIR, tmp_path / "trust")
    other = ProvenanceDetector("provenance", {"TRUST_DIR": str(directory)})
    assert other.get_version() != version
    table = json.loads(Path("moderation/data/generators.json").read_text())
    table["version"] = "test-9"
    path = tmp_path / "generators.json"
    path.write_text(json.dumps(table))
    bumped = ProvenanceDetector("provenance", {"GENERATOR_PATTERNS": str(path)})
    assert "test-9" in bumped.get_version()


def test_settings_choose_trust_dir_and_patterns(settings, tmp_path):
    settings.MODERATION = {"C2PA_TRUST_DIR": str(tmp_path), "GENERATOR_PATTERNS": None}
    assert ProvenanceDetector("provenance").trust_dir == tmp_path


def test_checks(tmp_path):
    assert ProvenanceDetector("provenance").check() == []
    missing = ProvenanceDetector("provenance", {"TRUST_DIR": str(tmp_path / "nope"),
                                                "GENERATOR_PATTERNS": str(tmp_path / "x.json")})
    assert [e.id for e in missing.check()] == ["moderation.E030", "moderation.E031"]
    assert all(e.hint for e in missing.check())
    bad = tmp_path / "bad.json"
    bad.write_text('{"no_version": 1}')
    assert [e.id for e in ProvenanceDetector(
        "provenance", {"GENERATOR_PATTERNS": str(bad)}).check()] == ["moderation.E032"]


def test_check_reports_trust_lists_c2pa_cannot_parse(tmp_path):
    directory = cfx.trust_dir_with_test_ca(trust.BUNDLED_TRUST_DIR, tmp_path / "trust")
    for name in ("interim-anchors.pem", "official-C2PA-TRUST-LIST.pem", "tegaki-tests.anchor.pem"):
        (directory / name).write_text("an HTML error page instead of certificates")
    try:
        errors = ProvenanceDetector("provenance", {"TRUST_DIR": str(directory)}).check()
        assert [e.id for e in errors] == ["moderation.E033"]
    finally:
        trust.clear_cache()


def test_options_are_validated():
    with pytest.raises(InvalidDetectorConfig):
        ProvenanceDetector("provenance", {"TRUST_DIR": 42})
    with pytest.raises(InvalidDetectorConfig):
        ProvenanceDetector("provenance", {"TRUSTDIR": "/x"})


def test_detect_makes_no_outbound_connections(detector, monkeypatch):
    import socket

    def refuse(self, address):
        pytest.fail(f"outbound connection attempted to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    remote = cfx.remote_reference("http://127.0.0.1:9/m.c2pa")
    result = detect(detector, remote)
    assert result.label == "none"
    assert result.reasons == ("c2pa_remote_manifest",)
    assert len(result.details["findings"]) == 1  # SDK and XMP copies deduplicated


def test_speed_on_signed_and_large_files(detector, c2pa_files):
    """Budget: all the metadata readers take ~20-60 ms per file; the bound is generous for CI."""
    big = png_bytes((1000, 1000))
    for data in (c2pa_files["tam.jpg"], big):
        image = load_image(data)
        detector.detect(image)
        start = time.perf_counter()
        detector.detect(image)
        assert time.perf_counter() - start < 1.0
