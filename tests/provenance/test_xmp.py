"""XMP/IPTC reader: packets in every container, all RDF spellings, hostile XML refused."""

from __future__ import annotations

import tracemalloc

import pytest

from moderation.internal.provenance import xmp
from moderation.internal.provenance.xmp import find_packets, read_xmp
from tests.factories import png_bytes
from tests.fixtures import xmp_fixtures as fx

SPELLINGS = [fx.dst_attribute, fx.dst_element, fx.dst_resource, fx.dst_nested]
CONTAINERS = {
    "png": fx.png_with,
    "png-compressed": lambda p: fx.png_with(p, compressed=True),
    "png-after-idat": lambda p: fx.png_with(p, after_idat=True),
    "jpeg": fx.jpeg_with,
    "webp": fx.webp_with,
    "gif": fx.gif_with,
    "avif": fx.avif_with,
}


def reasons(data: bytes) -> list[str]:
    return [f.reason for f in read_xmp(data)[0]]


@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("container", CONTAINERS)
def test_trained_dst_found_in_every_spelling_and_container(spelling, container):
    findings, summary = read_xmp(CONTAINERS[container](spelling("trainedAlgorithmicMedia")))
    assert "error" not in summary
    [finding] = findings
    assert finding.reason == "xmp_digital_source_type_ai"
    assert (finding.label, finding.strength) == ("ai", "strong")


@pytest.mark.parametrize("term", ["compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"])
def test_composite_terms_are_only_ai_assisted(term):
    [finding] = read_xmp(fx.png_with(fx.dst_element(term)))[0]
    assert finding.label == "ai_assisted"
    assert finding.reason == "xmp_digital_source_type_composite"


@pytest.mark.parametrize("term", ["algorithmicMedia", "digitalCapture", "humanEdits",
                                  "digitalCreation", "trainedAlgorithmicMediaX"])
def test_non_ai_terms_and_lookalikes_are_not_ai(term):
    assert read_xmp(fx.jpeg_with(fx.dst_attribute(term)))[0] == []


def test_photoshop_gimp_style_metadata_is_not_ai():
    findings, summary = read_xmp(fx.png_with(fx.photoshop_human()))
    assert findings == []
    assert summary == {"packets": 1}


def test_ai_fields_2025_name_the_system_and_keep_prompt_private():
    [finding] = read_xmp(fx.webp_with(fx.ai_fields()))[0]
    assert finding.reason == "xmp_ai_system_used"
    assert finding.label == "ai" and finding.strength == "strong"
    assert finding.generator == "ExampleDiffusion 3.1"
    assert finding.private == {"prompt": "a fox in the snow"}
    assert "a fox" not in str(finding.details)
    assert finding.details["prompt_writer"] == "Aki"


def test_dst_and_ai_system_together_name_generator_on_both():
    xml = fx.packet(
        attributes=f'Iptc4xmpExt:DigitalSourceType="{fx.DST}trainedAlgorithmicMedia"',
        body="<Iptc4xmpExt:AISystemUsed>Imagen</Iptc4xmpExt:AISystemUsed>")
    found = read_xmp(fx.jpeg_with(xml))[0]
    assert {f.reason for f in found} == {"xmp_digital_source_type_ai", "xmp_ai_system_used"}
    assert {f.generator for f in found} == {"Imagen"}


@pytest.mark.parametrize(("label", "strength"), [("1", "strong"), ("2", "weak"), ("3", "weak")])
def test_tc260_aigc_label(label, strength):
    [finding] = read_xmp(fx.png_with(fx.tc260(label)))[0]
    assert finding.reason == "xmp_tc260_aigc"
    assert (finding.label, finding.strength) == ("ai", strength)
    assert finding.details["ContentProducer"] == "001191110000802100433B"


def test_tc260_without_ai_label_and_broken_json():
    assert read_xmp(fx.png_with(fx.tc260("0")))[0] == []
    broken = fx.packet(body="<TC260:AIGC>{not json</TC260:AIGC>")
    [finding] = read_xmp(fx.png_with(broken))[0]
    assert finding.label == "none" and finding.kind == "error"


def test_data_mining_is_rights_not_ai():
    [finding] = read_xmp(fx.jpeg_with(fx.data_mining()))[0]
    assert finding.kind == "rights" and finding.label == "none"
    assert finding.details["data_mining"] == "DMI-PROHIBITED-AIMLTRAINING"


def test_google_credit_is_a_weak_hint_and_photoshop_never():
    [finding] = read_xmp(fx.png_with(fx.google_credit()))[0]
    assert (finding.label, finding.strength, finding.reason) == ("ai", "weak",
                                                                 "xmp_ai_tool_string")
    edited = fx.packet(attributes='photoshop:Credit="Edited with Google AI"')
    [finding] = read_xmp(fx.png_with(edited))[0]
    assert finding.label == "ai_assisted"
    for tool in ("Adobe Photoshop 25.0", "GIMP 2.10", "Krita 5.2", "CLIP STUDIO PAINT"):
        assert reasons(fx.png_with(fx.packet(attributes=f'xmp:CreatorTool="{tool}"'))) == []


def test_remote_provenance_pointer_is_recorded_not_ai():
    [finding] = read_xmp(fx.jpeg_with(fx.remote_provenance("https://example.test/m.c2pa")))[0]
    assert finding.reason == "c2pa_remote_manifest" and finding.label == "none"
    assert finding.details["url"] == "https://example.test/m.c2pa"


def test_extended_xmp_in_jpeg_is_reassembled():
    main = fx.packet(attributes='xmp:CreatorTool="Some Tool"')
    extended = fx.dst_element("trainedAlgorithmicMedia") + " " * 3000
    data = fx.jpeg_with_extended(main, extended)
    assert len(find_packets(data)) == 2
    assert reasons(data) == ["xmp_digital_source_type_ai"]


def test_billion_laughs_is_refused_with_flat_memory():
    tracemalloc.start()
    findings, summary = read_xmp(fx.png_with(fx.BILLION_LAUGHS))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert findings == []
    assert "DTDForbidden" in summary["error"]
    assert peak < 5 * 1024 * 1024


def test_external_entity_is_refused():
    xxe = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           '<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>')
    findings, summary = read_xmp(fx.jpeg_with(xxe))
    assert findings == [] and "refused" in summary["error"]


def test_malformed_xml_recorded_and_other_packets_still_read():
    data = fx.jpeg_with_extended("<x:xmpmeta><unclosed>",
                                 fx.dst_element("trainedAlgorithmicMedia"))
    findings, summary = read_xmp(data)
    assert "malformed" in summary["error"]
    assert [f.reason for f in findings] == ["xmp_digital_source_type_ai"]


def test_compressed_bomb_refused(monkeypatch):
    monkeypatch.setattr(xmp, "MAX_XMP_BYTES", 10_000)
    data = fx.png_with(fx.dst_element("trainedAlgorithmicMedia") + " " * 50_000, compressed=True)
    findings, summary = read_xmp(data)
    assert findings == [] and "size limit" in summary["error"]


def test_truncated_containers_do_not_crash():
    for build in CONTAINERS.values():
        data = build(fx.dst_element("trainedAlgorithmicMedia"))
        for cut in (10, len(data) // 3, len(data) - 7):
            read_xmp(data[:cut])  # must not raise


def test_no_xmp_at_all():
    assert read_xmp(png_bytes()) == ([], {})
    assert read_xmp(b"") == ([], {})


def test_packet_scan_is_bounded_on_unterminated_markup():
    import time

    data = b"GIF89a" + b"<x:xmpmeta " * 200_000 + fx.dst_element("trainedAlgorithmicMedia").encode()
    start = time.perf_counter()
    read_xmp(data)
    assert time.perf_counter() - start < 1.0
