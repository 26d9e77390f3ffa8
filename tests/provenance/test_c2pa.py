"""C2PA reader on files the suite signs itself, plus the zero-outbound-connections proof."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from moderation.internal.provenance import trust
from moderation.internal.provenance.c2pa_reader import (
    dst_term,
    findings_from_store,
    might_carry_c2pa,
    read_c2pa,
)
from moderation.internal.provenance.xmp import read_xmp
from tests.fixtures import c2pa_fixtures as cfx
from tests.fixtures import xmp_fixtures as xfx

BUNDLED = trust.BUNDLED_TRUST_DIR


@pytest.fixture(scope="session")
def c2pa_files(tmp_path_factory) -> dict[str, bytes]:
    return cfx.build_fixture_set(tmp_path_factory.mktemp("c2pa"))


@pytest.fixture
def trusted_dir(tmp_path) -> Iterator[Path]:
    path = cfx.trust_dir_with_test_ca(BUNDLED, tmp_path / "trust")
    yield path
    trust.clear_cache()


def by_reason(findings, reason):
    return [f for f in findings if f.reason == reason]


@pytest.mark.parametrize("name", ["tam.png", "tam.jpg", "tam.webp"])
def test_untrusted_ai_claim_is_strong_in_every_format(c2pa_files, name):
    findings, summary = read_c2pa(c2pa_files[name], trust_dir=BUNDLED)
    [ai] = findings
    assert ai.reason == "c2pa_ai"
    assert (ai.label, ai.strength) == ("ai", "strong")
    assert ai.generator == "TestGen 1.0"
    assert ai.details["validation_state"] == "Valid"
    assert ai.details["signer"] == "C2PA Signer"
    assert ai.details["issuer"] == "C2PA Test Signing Cert"
    assert summary["validation_state"] == "Valid"
    assert "signingCredential.untrusted" in summary["status_codes"]
    assert summary["trust_fingerprint"]


def test_trusted_ai_claim_is_proof(c2pa_files, trusted_dir):
    [ai] = read_c2pa(c2pa_files["tam.png"], trust_dir=trusted_dir)[0]
    assert (ai.reason, ai.label, ai.strength) == ("c2pa_trusted_ai", "ai", "proof")
    assert ai.details["validation_state"] == "Trusted"


def test_ai_term_only_in_ingredient_is_found(c2pa_files, trusted_dir):
    findings, summary = read_c2pa(c2pa_files["ingredient.jpg"], trust_dir=BUNDLED)
    [ai] = by_reason(findings, "c2pa_ai")
    assert ai.details["manifest"] != summary["active_manifest"]
    assert len(summary["manifests"]) == 2
    # With the test CA trusted, c2pa-rs re-validates the ingredient: proof.
    findings, _ = read_c2pa(c2pa_files["ingredient.jpg"], trust_dir=trusted_dir)
    assert [f.strength for f in by_reason(findings, "c2pa_trusted_ai")] == ["proof"]


def test_composite_is_ai_assisted_never_ai(c2pa_files):
    findings, _ = read_c2pa(c2pa_files["composite.png"], trust_dir=BUNDLED)
    assert [f.label for f in findings] == ["ai_assisted"]
    assert findings[0].generator == "Photo Editor 26"


def test_algorithmic_media_is_not_ai(c2pa_files):
    findings, summary = read_c2pa(c2pa_files["algorithmic.png"], trust_dir=BUNDLED)
    assert findings == []
    assert summary["validation_state"] == "Valid"


def test_capture_is_human_only_when_trusted(c2pa_files, trusted_dir):
    assert read_c2pa(c2pa_files["capture.jpg"], trust_dir=BUNDLED)[0] == []
    [human] = read_c2pa(c2pa_files["capture.jpg"], trust_dir=trusted_dir)[0]
    assert (human.label, human.reason) == ("human", "c2pa_trusted_capture")


def test_training_mining_is_rights(c2pa_files):
    [rights] = read_c2pa(c2pa_files["mining.png"], trust_dir=BUNDLED)[0]
    assert rights.kind == "rights" and rights.label == "none"
    assert rights.details["entries"]["c2pa.ai_training"] == "notAllowed"
    assert rights.details["entries"]["c2pa.data_mining"] == "constrained"


def test_tampered_file_keeps_ai_claim_as_strong(c2pa_files):
    data = bytearray(c2pa_files["tam.png"])
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # change pixels after signing
    findings, summary = read_c2pa(bytes(data), trust_dir=BUNDLED)
    assert summary["validation_state"] == "Invalid"
    [ai] = findings
    assert (ai.label, ai.strength) == ("ai", "strong")


def test_malformed_jumbf_recorded_not_raised(c2pa_files):
    data = c2pa_files["tam.png"]
    start = data.index(b"caBX") + 60
    broken = data[:start] + b"\x00" * 200 + data[start + 200:]
    findings, summary = read_c2pa(broken, trust_dir=BUNDLED)
    assert findings == []
    assert summary["error"]


def test_cawg_training_mining_label_is_rights_too():
    store = {"active_manifest": "a", "validation_state": "Valid", "manifests": {"a": {
        "assertions": [{"label": "cawg.training-mining", "data": {"entries": {
            "cawg.ai_generative_training": {"use": "notAllowed"}}}}]}}}
    [rights] = findings_from_store(store)[0]
    assert (rights.kind, rights.label) == ("rights", "none")
    assert rights.details["entries"] == {"cawg.ai_generative_training": "notAllowed"}


def test_prefilter_skips_plain_files():
    assert not might_carry_c2pa(cfx.plain_image("PNG"))
    assert read_c2pa(cfx.plain_image("JPEG"), trust_dir=BUNDLED) == ([], {})


def test_trusted_ai_anywhere_and_manifest_shapes():
    store = {"active_manifest": "a", "validation_state": "Trusted", "manifests": {
        "a": {"assertions": [{"label": "stds.iptc", "data": {
            "Iptc4xmpExt:DigitalSourceType": cfx.IPTC_DST + "trainedAlgorithmicMedia"}}]},
        "b": "not a manifest"}}
    [ai] = findings_from_store(store)[0]
    assert ai.strength == "proof"
    assert findings_from_store({"nothing": 1}) == ([], {"error": "manifest store has no manifests"})


def _store_with_ingredient(store_state, recorded, delta=None):
    ai = {"assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
        {"action": "c2pa.created", "digitalSourceType": cfx.IPTC_DST + "trainedAlgorithmicMedia"}
    ]}}]}
    active = {"assertions": [], "ingredients": [{"active_manifest": "ing", "validation_results": {
        "activeManifest": {k: [{"code": c} for c in v] for k, v in recorded.items()}}}]}
    results = {}
    if delta:
        results["ingredientDeltas"] = [{"validationDeltas": {
            k: [{"code": c, "url": "self#jumbf=/c2pa/ing/c2pa.signature"} for c in v]
            for k, v in delta.items()}}]
    return {"active_manifest": "act", "validation_state": store_state,
            "validation_results": results, "manifests": {"act": active, "ing": ai}}


@pytest.mark.parametrize(("store_state", "recorded", "delta", "expected"), [
    # Gemini-like: trusted active manifest vouches for a trusted-at-ingest ingredient.
    ("Trusted", {"success": ["signingCredential.trusted"]}, None, "Trusted"),
    ("Trusted", {"failure": ["signingCredential.untrusted"]},
     {"success": ["signingCredential.trusted"]}, "Trusted"),
    ("Trusted", {"success": ["signingCredential.trusted"]},
     {"failure": ["signingCredential.untrusted"]}, "Valid"),
    ("Trusted", {"success": []}, {"failure": ["assertion.dataHash.mismatch"]}, "Invalid"),
    ("Valid", {"success": ["signingCredential.trusted"]}, None, "Valid"),
    ("Trusted", {"failure": ["claimSignature.mismatch"]}, None, "Invalid"),
    ("Invalid", {"success": ["signingCredential.trusted"]}, None, "Invalid"),
])
def test_ingredient_validation_state(store_state, recorded, delta, expected):
    [ai] = findings_from_store(_store_with_ingredient(store_state, recorded, delta))[0]
    assert ai.details["validation_state"] == expected
    assert ai.strength == ("proof" if expected == "Trusted" else "strong")


@pytest.mark.parametrize(("uri", "term"), [
    ("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
     "trainedAlgorithmicMedia"),
    ("http://c2pa.org/digitalsourcetype/trainedAlgorithmicData", "trainedAlgorithmicData"),
    ("http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia/",
     "compositeWithTrainedAlgorithmicMedia"),
    ("algorithmicMedia", "algorithmicMedia"),
    (None, ""),
])
def test_dst_term_is_exact_last_segment(uri, term):
    assert dst_term(uri) == term


# ------------------------------------------------------------ zero outbound connections


class Listener:
    """A local HTTP-ish server counting the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def no_python_connects(monkeypatch):
    def refuse(self, address):
        pytest.fail(f"outbound connection attempted to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def test_listener_detects_the_sdk_default_fetch(listener):
    """Canary: with SDK defaults c2pa-python *does* fetch, so the harness can see it."""
    import c2pa

    data = cfx.remote_reference(f"http://127.0.0.1:{listener.port}/m.c2pa")
    with pytest.raises(c2pa.C2paError):
        c2pa.Reader("image/jpeg", io.BytesIO(data))
    assert listener.accepted == 1


def test_zero_outbound_connections(listener, no_python_connects, c2pa_files):
    url = f"http://127.0.0.1:{listener.port}/m.c2pa"
    remote = cfx.remote_reference(url)
    xmp_only = xfx.jpeg_with(xfx.remote_provenance(url))
    png_pointer = xfx.png_with(xfx.remote_provenance(url), compressed=True)

    for data in (remote, xmp_only, png_pointer):
        c2pa_findings, _ = read_c2pa(data, trust_dir=BUNDLED)
        xmp_findings, _ = read_xmp(data)
        urls = {f.details.get("url") for f in c2pa_findings + xmp_findings}
        assert urls == {url}
    [finding] = read_c2pa(remote, trust_dir=BUNDLED)[0]
    assert (finding.reason, finding.label, finding.strength) == (
        "c2pa_remote_manifest", "none", "weak")
    read_c2pa(c2pa_files["tam.png"], trust_dir=BUNDLED)
    assert listener.accepted == 0
