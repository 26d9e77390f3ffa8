"""XMP reader: IPTC DigitalSourceType, the IPTC 2025 AI fields, TC260 AIGC, PLUS rights.

Why not ``Image.getxmp()``: it flattens namespaces (a ``DigitalSourceType`` key from any
namespace looks the same), needs a decode, misses extended XMP in JPEG and GIF/AVIF
packets. We find the packets in the original bytes ourselves and parse them with
defusedxml using namespace URIs; DTDs and entities are refused (billion laughs, XXE)
and recorded as an error, never raised.

All three RDF spellings are accepted: attribute (``<rdf:Description ns:Prop="v"/>``),
element (``<ns:Prop>v</ns:Prop>``) and resource/nested (``rdf:resource``, ``rdf:value``,
``rdf:Bag``/``Seq``/``Alt`` of ``rdf:li``).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from moderation.constants import EvidenceLabel, Strength
from moderation.internal.provenance.c2pa_reader import COMPOSITE_AI, TRAINED, dst_term
from moderation.internal.provenance.c2pa_reader import remote_finding as _remote_finding
from moderation.internal.provenance.findings import Finding
from moderation.internal.provenance.generator_table import GeneratorTable
from moderation.internal.provenance.limits import cap_text, field_limit, load_json_limited

SOURCE = "xmp"

NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_X = "adobe:ns:meta/"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
NS_TC260 = "http://www.tc260.org.cn/ns/AIGC/1.0/"
NS_PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
NS_DCTERMS = "http://purl.org/dc/terms/"
NS_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_STEVT = "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"

JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_EXT_XMP = b"http://ns.adobe.com/xmp/extension/\x00"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"

#: Most XMP bytes we assemble from one file (extended XMP can claim gigabytes).
MAX_XMP_BYTES = 4 * 1024 * 1024
#: Most packets parsed per file.
MAX_PACKETS = 8

#: Free-text AI strings in ``photoshop:Credit``/``xmp:CreatorTool``/``stEvt:softwareAgent``,
#: matched case-insensitively as whole phrases. Weak: anyone can edit these fields. Human
#: tools (Photoshop, GIMP, Krita, Clip Studio, Procreate) are never here.
AI_TOOL_STRINGS: dict[str, str] = {
    "made with google ai": EvidenceLabel.AI,
    "edited with google ai": EvidenceLabel.AI_ASSISTED,
    "adobe firefly": EvidenceLabel.AI,
    "draw things": EvidenceLabel.AI,
    "image creator from designer": EvidenceLabel.AI,
    "microsoft responsible ai": EvidenceLabel.AI,
    "midjourney": EvidenceLabel.AI,
    "novelai": EvidenceLabel.AI,
    "stable diffusion": EvidenceLabel.AI,
    "dall-e": EvidenceLabel.AI,
}
_FREE_TEXT_PROPS = {
    (NS_PHOTOSHOP, "Credit"), (NS_XMP, "CreatorTool"), (NS_STEVT, "softwareAgent"),
}
TC260_LABELS = {"1": Strength.STRONG, "2": Strength.WEAK, "3": Strength.WEAK}


class XmpRefused(ValueError):
    """An XMP packet that must not be parsed (DTD, entities, malformed, too big)."""


# --------------------------------------------------------------------------- packets


def find_packets(data: bytes) -> list[bytes]:
    """Return the XMP packets in ``data`` (PNG, JPEG, WebP; packet scan for the rest).

    Container walkers are hand-written because Pillow only exposes XMP after a decode,
    drops extended XMP and keeps no namespaces; each is a few lines over a documented,
    length-prefixed layout, and every length is bounds-checked.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        packets = list(_png_packets(data))
    elif data.startswith(b"\xff\xd8"):
        packets = list(_jpeg_packets(data))
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        packets = list(_riff_packets(data))
    else:  # GIF application extension, AVIF/HEIF mime item: packets are stored raw.
        packets = list(_scan_packets(data))
    return packets[:MAX_PACKETS]


def _png_packets(data: bytes) -> Iterator[bytes]:
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"iTXt" and body.startswith(PNG_XMP_KEYWORD + b"\x00"):
            rest = body[len(PNG_XMP_KEYWORD) + 1:]
            if len(rest) < 2:
                continue
            compressed = rest[0] == 1
            # skip language tag and translated keyword (two NUL-terminated strings)
            parts = rest[2:].split(b"\x00", 2)
            if len(parts) < 3:
                continue
            text = parts[2]
            yield _inflate(text) if compressed else text
        elif ctype == b"tEXt" and body.startswith(PNG_XMP_KEYWORD + b"\x00"):
            yield body[len(PNG_XMP_KEYWORD) + 1:]
        elif ctype == b"IEND":
            break


def _inflate(blob: bytes) -> bytes:
    """Decompress with an output cap (a zlib bomb must not blow up memory)."""
    decomp = zlib.decompressobj()
    try:
        out = decomp.decompress(blob, MAX_XMP_BYTES)
    except zlib.error as exc:
        raise XmpRefused(f"corrupt compressed XMP: {exc}") from exc
    if decomp.unconsumed_tail:
        raise XmpRefused("compressed XMP expands beyond the size limit")
    return out


def _jpeg_packets(data: bytes) -> Iterator[bytes]:
    extended: dict[bytes, dict[int, bytes]] = {}
    total = 0
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end: no metadata after this
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        body = data[pos + 4:pos + 2 + length]
        pos += 2 + length
        if marker != 0xE1:
            continue
        if body.startswith(JPEG_XMP):
            yield body[len(JPEG_XMP):]
        elif body.startswith(JPEG_EXT_XMP) and len(body) >= len(JPEG_EXT_XMP) + 40:
            head = len(JPEG_EXT_XMP)
            guid = body[head:head + 32]
            (offset,) = struct.unpack(">I", body[head + 36:head + 40])
            chunk = body[head + 40:]
            total += len(chunk)
            if total > MAX_XMP_BYTES:
                raise XmpRefused("extended XMP exceeds the size limit")
            extended.setdefault(guid, {})[offset] = chunk
    for parts in extended.values():
        yield b"".join(parts[k] for k in sorted(parts))


def _riff_packets(data: bytes) -> Iterator[bytes]:
    pos = 12
    while pos + 8 <= len(data):
        ctype = data[pos:pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        if ctype == b"XMP ":
            yield data[pos + 8:pos + 8 + length]
        pos += 8 + length + (length & 1)


_PACKET_MARKUP = ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>"))


def _scan_packets(data: bytes) -> Iterator[bytes]:
    """XMP's own recommendation for unknown containers: scan for the packet markup.

    Plain ``find`` calls with a bounded window and at most :data:`MAX_PACKETS` tries,
    so a file full of unterminated start tags costs linear time, not quadratic.
    """
    for start_tag, end_tag in _PACKET_MARKUP:
        pos = 0
        found = False
        for _attempt in range(MAX_PACKETS):
            start = data.find(start_tag, pos)
            if start < 0:
                break
            end = data.find(end_tag, start, start + MAX_XMP_BYTES)
            if end < 0:
                pos = start + len(start_tag)
                continue
            found = True
            pos = end + len(end_tag)
            yield data[start:pos]
        if found:
            return


# --------------------------------------------------------------------------- parsing


@dataclass
class XmpProperties:
    """Namespaced property values from one or more packets: ``(ns, name) -> [values]``."""

    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, ns: str, name: str, value: str) -> None:
        value = value.strip()
        if value:
            bucket = self.values.setdefault((ns, name), [])
            if value not in bucket and len(bucket) < 64:
                bucket.append(value)

    def get(self, ns: str, name: str) -> list[str]:
        return self.values.get((ns, name), [])


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _sep, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def parse_packet(packet: bytes, props: XmpProperties | None = None) -> XmpProperties:
    """Parse one packet into ``props``; raise :class:`XmpRefused` on hostile XML."""
    if len(packet) > MAX_XMP_BYTES:
        raise XmpRefused("XMP packet exceeds the size limit")
    # The xpacket processing instructions are fine XML; strip a stray BOM/NULs only.
    packet = packet.strip(b"\x00 \r\n\t").lstrip(b"\xef\xbb\xbf")
    try:
        root = fromstring(packet, forbid_dtd=True, forbid_entities=True,
                          forbid_external=True)
    except DefusedXmlException as exc:
        raise XmpRefused(f"XMP refused: {type(exc).__name__}") from exc
    except (ParseError, ValueError) as exc:
        raise XmpRefused(f"malformed XMP: {exc}") from exc
    props = props or XmpProperties()
    _collect(root, props)
    return props


def _collect(root: Element, props: XmpProperties) -> None:
    """Record every property element and property attribute in the tree."""
    for element in root.iter():
        ns, name = _split(element.tag)
        for attr, value in element.attrib.items():
            a_ns, a_name = _split(attr)
            if a_ns and a_ns not in (NS_RDF, NS_X, NS_XML):
                props.add(a_ns, a_name, value)
        if not ns or ns in (NS_RDF, NS_X):
            continue
        for value in _element_values(element):
            props.add(ns, name, value)


def _element_values(element: Element) -> list[str]:
    """Values of a property element in any of the RDF spellings."""
    values = []
    resource = element.get(f"{{{NS_RDF}}}resource")
    if resource:
        values.append(resource)
    if element.text and element.text.strip():
        values.append(element.text)
    for child in element:
        c_ns, c_name = _split(child.tag)
        if c_ns != NS_RDF:
            continue
        if c_name == "value" and child.text:
            values.append(child.text)
        elif c_name in ("Bag", "Seq", "Alt"):
            for item in child:
                if item.text and item.text.strip():
                    values.append(item.text)
                res = item.get(f"{{{NS_RDF}}}resource")
                if res:
                    values.append(res)
                for sub in item:
                    if _split(sub.tag) == (NS_RDF, "value") and sub.text:
                        values.append(sub.text)
        elif c_name == "Description":
            inner = child.find(f"{{{NS_RDF}}}value")
            if inner is not None and inner.text:
                values.append(inner.text)
    return values


# --------------------------------------------------------------------------- findings


def read_xmp(data: bytes, table: GeneratorTable | None = None) -> tuple[
        list[Finding], dict[str, Any]]:
    """Return XMP findings and a summary (``error`` when a packet was refused).

    ``table`` is the generator-pattern table used for free-text tool strings.
    """
    summary: dict[str, Any] = {}
    try:
        packets = find_packets(data)
    except XmpRefused as exc:
        return [], {"error": str(exc)}
    if not packets:
        return [], summary
    props = XmpProperties()
    errors = []
    for packet in packets:
        try:
            parse_packet(packet, props)
        except XmpRefused as exc:
            errors.append(str(exc))
    if errors:
        summary["error"] = "; ".join(errors)[:500]
    summary["packets"] = len(packets)
    return findings_from_properties(props, table), summary


def _cap(value: str) -> str:
    return cap_text(value, min(field_limit(), 4096))[0]


def findings_from_properties(props: XmpProperties,
                             table: GeneratorTable | None = None) -> list[Finding]:
    """Map namespaced XMP properties to findings.

    Covers the IPTC AI fields, PLUS DataMining, the TC260 label and free-text tool strings.
    """
    findings: list[Finding] = []
    ai_system = " ".join(props.get(NS_IPTC_EXT, "AISystemUsed"))
    ai_version = " ".join(props.get(NS_IPTC_EXT, "AISystemVersionUsed"))
    generator = _cap(f"{ai_system} {ai_version}".strip())

    for value in props.get(NS_IPTC_EXT, "DigitalSourceType"):
        term = dst_term(value)
        dst_details = {"digital_source_type": _cap(value)}
        if term == TRAINED:
            findings.append(Finding(
                source=SOURCE, reason="xmp_digital_source_type_ai", label=EvidenceLabel.AI,
                strength=Strength.STRONG, generator=generator, details=dst_details))
        elif term in COMPOSITE_AI:
            findings.append(Finding(
                source=SOURCE, reason="xmp_digital_source_type_composite",
                label=EvidenceLabel.AI_ASSISTED, strength=Strength.WEAK, generator=generator,
                details=dst_details, params={"term": _cap(term)}))

    if ai_system:
        details: dict[str, Any] = {"ai_system": _cap(ai_system)}
        if ai_version:
            details["ai_system_version"] = _cap(ai_version)
        writers = props.get(NS_IPTC_EXT, "AIPromptWriterName")
        if writers:
            details["prompt_writer"] = _cap(", ".join(writers))
        private = {}
        prompt = "\n".join(props.get(NS_IPTC_EXT, "AIPromptInformation"))
        if prompt:
            private["prompt"] = cap_text(prompt)[0]
        findings.append(Finding(
            source=SOURCE, reason="xmp_ai_system_used", label=EvidenceLabel.AI,
            strength=Strength.STRONG, generator=generator, details=details, private=private))
    elif props.get(NS_IPTC_EXT, "AIPromptInformation"):
        prompt = "\n".join(props.get(NS_IPTC_EXT, "AIPromptInformation"))
        findings.append(Finding(
            source=SOURCE, reason="xmp_ai_prompt", label=EvidenceLabel.AI,
            strength=Strength.STRONG, private={"prompt": cap_text(prompt)[0]}))

    for raw in props.get(NS_TC260, "AIGC"):
        findings.extend(_tc260_findings(raw))

    for value in props.get(NS_PLUS, "DataMining"):
        constraints = props.get(NS_PLUS, "OtherConstraints")
        findings.append(Finding(
            source=SOURCE, reason="xmp_plus_data_mining", label=EvidenceLabel.NONE,
            strength=Strength.WEAK, kind="rights",
            details={"data_mining": _cap(dst_term(value) or value),
                     "other_constraints": [_cap(c) for c in constraints[:4]]}))

    for url in props.get(NS_DCTERMS, "provenance"):
        findings.append(_remote_finding(url, SOURCE))

    findings.extend(_free_text_findings(props, table))
    return findings


def _tc260_findings(raw: str) -> list[Finding]:
    """China GB 45438-2025 implicit label: JSON whose Label is "1" (AI), "2" or "3" (suspected)."""
    try:
        record = load_json_limited(raw)
    except ValueError:
        return [Finding(source=SOURCE, reason="xmp_tc260_unreadable", label=EvidenceLabel.NONE,
                        strength=Strength.WEAK, kind="error",
                        details={"raw": _cap(raw)})]
    if not isinstance(record, dict):
        return []
    label = str(record.get("Label", "")).strip()
    strength = TC260_LABELS.get(label)
    if strength is None:
        return []
    details = {key: _cap(str(record[key])) for key in (
        "Label", "ContentProducer", "ProduceID", "ContentPropagator", "PropagateID")
        if key in record}
    return [Finding(source=SOURCE, reason="xmp_tc260_aigc", label=EvidenceLabel.AI,
                    strength=strength, details=details)]


def _free_text_findings(props: XmpProperties, table: GeneratorTable | None) -> list[Finding]:
    """Weak hints from Credit/CreatorTool/softwareAgent strings.

    The generator-pattern table (data, updatable) decides when the detector passes it;
    :data:`AI_TOOL_STRINGS` is the fallback for callers without one.
    """
    findings = []
    for (ns, name) in sorted(_FREE_TEXT_PROPS):
        for value in props.get(ns, name):
            hit = _match_tool(value, table)
            if hit is None:
                continue
            generator, label = hit
            findings.append(Finding(
                source=f"{SOURCE}:{name}", reason="xmp_ai_tool_string", label=label,
                strength=Strength.WEAK, generator=generator,
                details={"field": name, "value": _cap(value)}, params={"field": name}))
    return findings


def _match_tool(value: str, table: GeneratorTable | None) -> tuple[str, str] | None:
    """Return (generator, label) when ``value`` names an AI tool, else None."""
    if table is not None:
        pattern = table.match_software(value)
        return (pattern.generator, pattern.label) if pattern else None
    lowered = value.lower()
    for phrase, label in AI_TOOL_STRINGS.items():
        if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", lowered):
            return cap_text(value, 200)[0], label
    return None
