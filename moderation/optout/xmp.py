"""The XMP rights packet embedded into derivatives: PLUS ``DataMining`` + XMP rights.

``plus:DataMining`` (IPTC Photo Metadata Standard 2023.1, PLUS vocabulary) only exists as
XMP -- there is no IPTC-IIM dataset for it -- so XMP is the carrier. The packet is built
with ElementTree so values are escaped by the XML library, not by hand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # writing only; nothing untrusted is parsed here

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
DMI_VOCAB = "http://ns.useplus.org/ldf/vocab/"
#: "Prohibited for AI/ML training" -- what ``noai`` means.
DMI_PROHIBITED_AIML = DMI_VOCAB + "DMI-PROHIBITED-AIMLTRAINING"
DMI_ALLOWED = DMI_VOCAB + "DMI-ALLOWED"

# Embedded metadata is read by machines and by people of any language; it stays English.
RESERVED_TERMS = ("Text and data mining and AI/ML training are reserved by the rights "
                  "holder (TDMRep tdm-reservation: 1; noai, noimageai).")
ALLOWED_TERMS = "The rights holder allows text and data mining and AI/ML training."

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _lang_alt(parent: ET.Element, tag: str, text: str) -> None:
    alt = ET.SubElement(ET.SubElement(parent, tag), _q("rdf", "Alt"))
    li = ET.SubElement(alt, _q("rdf", "li"))
    li.set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")
    li.text = text


def rights_packet(*, reserved: bool, creator: str = "", web_statement: str | None = None
                  ) -> bytes:
    """Return an ``x:xmpmeta`` packet stating the work's data-mining permission."""
    root = ET.Element(_q("x", "xmpmeta"))
    rdf = ET.SubElement(root, _q("rdf", "RDF"))
    desc = ET.SubElement(rdf, _q("rdf", "Description"))
    desc.set(_q("rdf", "about"), "")
    ET.SubElement(desc, _q("plus", "DataMining")).text = (
        DMI_PROHIBITED_AIML if reserved else DMI_ALLOWED)
    ET.SubElement(desc, _q("xmpRights", "Marked")).text = "True"
    _lang_alt(desc, _q("xmpRights", "UsageTerms"), RESERVED_TERMS if reserved else ALLOWED_TERMS)
    if creator:
        _lang_alt(desc, _q("dc", "rights"), f"© {creator}")
    if web_statement:
        ET.SubElement(desc, _q("xmpRights", "WebStatement")).text = web_statement
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)
