"""C2PA (Content Credentials) reader: every manifest in the store, offline.

Rules:

* walk **all** manifests, ingredients included (Gemini and Firefly→Photoshop files carry
  the AI term only in the ingredient manifest);
* compare the **exact last path segment** of ``digitalSourceType`` (substring tests
  confuse ``algorithmicMedia`` / ``trainedAlgorithmicMedia`` /
  ``compositeWithTrainedAlgorithmicMedia``);
* ``trainedAlgorithmicMedia`` in a Trusted manifest is proof, in a Valid or Invalid one
  strong (nobody forges an AI label against themselves); the composite terms only ever
  mean AI-assisted; ``algorithmicMedia`` is not AI;
* training-mining assertions are rights information, not evidence;
* a remote manifest is recorded (weak, with its URL) and never fetched.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moderation.constants import EvidenceLabel, Strength
from moderation.internal.provenance.findings import Finding
from moderation.internal.provenance.limits import cap_text, load_json_limited
from moderation.internal.provenance.trust import get_context

SOURCE = "c2pa"

#: JUMBF description-box UUID of a C2PA manifest store ("c2pa" + ISO suffix).
#: Present in every embedding (PNG caBX, JPEG APP11, RIFF C2PA, ISOBMFF uuid box, GIF).
C2PA_STORE_UUID = b"c2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: An uncompressed XMP remote-manifest pointer (``dcterms:provenance``).
REMOTE_HINT = b"provenance"

TRAINED = "trainedAlgorithmicMedia"
COMPOSITE_AI = frozenset({"compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"})
HUMAN_CAPTURE = frozenset({"digitalCapture"})
UNTRUSTED = "signingCredential.untrusted"
TRUSTED_CODE = "signingCredential.trusted"
TRAINING_MINING_LABELS = frozenset({"c2pa.training-mining", "cawg.training-mining"})

_REMOTE_URL = re.compile(r"https?://\S+")
_MAX_WALK_DEPTH = 32

MIME_BY_FORMAT = {
    "JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
    "AVIF": "image/avif", "HEIF": "image/heif", "TIFF": "image/tiff",
}


def dst_term(uri: Any) -> str:
    """Return the last path segment of a ``digitalSourceType`` URI ("" if not a string).

    Exact-segment comparison is the point: ``.../compositeWithTrainedAlgorithmicMedia``
    must never match ``trainedAlgorithmicMedia``.
    """
    if not isinstance(uri, str):
        return ""
    return re.split(r"[/#:]", uri.strip().rstrip("/"))[-1]


def sniff_mime(data: bytes) -> str:
    """Guess the MIME type from magic bytes, for callers without a decoded image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        return "image/heif" if data[8:12] in (b"heic", b"heix", b"mif1") else "image/avif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return "application/octet-stream"


def might_carry_c2pa(data: bytes) -> bool:
    """Cheap pre-filter: is there an embedded store or a remote pointer worth the SDK?"""
    return C2PA_STORE_UUID in data or REMOTE_HINT in data


def read_c2pa(data: bytes, mime: str | None = None, *, trust_dir: Path) -> tuple[
        list[Finding], dict[str, Any]]:
    """Read the C2PA store in ``data``; return findings and a summary for ``details``.

    Never raises for bad input: a malformed store becomes an ``error`` entry in the
    summary (the caller records it) and no finding.
    """
    if not might_carry_c2pa(data):
        return [], {}
    import c2pa

    lists, context = get_context(trust_dir)
    mime = mime or sniff_mime(data)
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=context)
    except c2pa.C2paError as exc:
        message = str(exc)
        url_match = _REMOTE_URL.search(message)
        if message.startswith("Remote") and url_match:
            return [remote_finding(url_match.group(0), SOURCE)], {"remote_url": url_match.group(0)}
        text = cap_text(message, 500)[0]
        return [], {"error": text}
    if reader is None:
        return [], {}
    try:
        store = load_json_limited(reader.json())
    except ValueError as exc:
        return [], {"error": f"manifest store JSON refused: {exc}"}
    finally:
        reader.close()
    return findings_from_store(store, trust_fingerprint=lists.fingerprint)


def remote_finding(url: str, source: str) -> Finding:
    """A remote-manifest pointer: recorded for moderators, never fetched, not AI evidence."""
    url = cap_text(url, 2048)[0]
    return Finding(
        source=source, reason="c2pa_remote_manifest", label=EvidenceLabel.NONE,
        strength=Strength.WEAK,
        kind="remote_manifest", details={"url": url},
    )


def findings_from_store(store: Any, *, trust_fingerprint: str = "") -> tuple[
        list[Finding], dict[str, Any]]:
    """Turn c2pa-python's ``Reader.json()`` dict into findings plus a summary."""
    if not isinstance(store, dict) or not isinstance(store.get("manifests"), dict):
        return [], {"error": "manifest store has no manifests"}
    active = store.get("active_manifest")
    store_state = str(store.get("validation_state") or "Invalid")
    deltas = _ingredient_deltas(store.get("validation_results"))
    recorded = _recorded_ingredient_results(store["manifests"])
    findings: list[Finding] = []
    summaries = []
    for label, manifest in store["manifests"].items():
        if not isinstance(manifest, dict):
            continue
        is_active = label == active
        state = store_state if is_active else _ingredient_state(
            label, store_state, deltas, recorded)
        info = _manifest_info(label, manifest, state, is_active)
        summaries.append(info)
        findings.extend(_manifest_findings(manifest, info))
    status_codes = sorted({
        str(s.get("code")) for s in store.get("validation_status") or [] if isinstance(s, dict)
    })
    summary = {
        "active_manifest": active, "validation_state": store_state,
        "status_codes": status_codes, "manifests": summaries,
        "trust_fingerprint": trust_fingerprint,
    }
    return findings, summary


def _ingredient_deltas(results: Any) -> dict[str, dict[str, list[str]]]:
    """Map manifest label -> {"success": codes, "failure": codes} re-checked at read time."""
    out: dict[str, dict[str, list[str]]] = {}
    if not isinstance(results, dict):
        return out
    for delta in results.get("ingredientDeltas") or []:
        if not isinstance(delta, dict):
            continue
        body = delta.get("validationDeltas") or {}
        for kind in ("success", "failure"):
            for status in body.get(kind) or []:
                label = _manifest_label_from_url(status.get("url", ""))
                if label:
                    out.setdefault(label, {"success": [], "failure": []})[kind].append(
                        str(status.get("code")))
    return out


def _recorded_ingredient_results(manifests: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Status codes each ingredient carried when it was added (the signer's view then)."""
    out: dict[str, dict[str, list[str]]] = {}
    for manifest in manifests.values():
        if not isinstance(manifest, dict):
            continue
        for ingredient in manifest.get("ingredients") or []:
            if not isinstance(ingredient, dict) or not ingredient.get("active_manifest"):
                continue
            results = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
            out[str(ingredient["active_manifest"])] = {
                kind: [str(s.get("code")) for s in results.get(kind) or []
                       if isinstance(s, dict)]
                for kind in ("success", "failure")
            }
    return out


def _manifest_label_from_url(url: str) -> str:
    match = re.search(r"/c2pa/([^/]+)", url or "")
    return match.group(1) if match else ""


def _ingredient_state(label: str, store_state: str,
                      deltas: dict[str, dict[str, list[str]]],
                      recorded: dict[str, dict[str, list[str]]]) -> str:
    """Validation state of an ingredient manifest.

    The store state describes the active manifest. c2pa-rs re-validates ingredient
    manifests at read time against *our* trust lists and reports differences from what
    was recorded as ``ingredientDeltas``; those win. Without a delta, the results
    recorded when the ingredient was added apply: a Trusted active manifest vouches for
    them (that is how Gemini files carry their AI term only in a trusted ingredient).
    An untrusted signer alone still counts as Valid, any other failure as Invalid.
    """
    if store_state == "Invalid":
        return "Invalid"
    empty: dict[str, list[str]] = {"success": [], "failure": []}
    delta = deltas.get(label) or empty
    record = recorded.get(label) or empty
    if any(code != UNTRUSTED for code in delta["failure"]):
        return "Invalid"
    if TRUSTED_CODE in delta["success"]:
        return "Trusted"
    if UNTRUSTED in delta["failure"]:
        return "Valid"
    if any(code != UNTRUSTED for code in record["failure"]):
        return "Invalid"
    if (store_state == "Trusted" and TRUSTED_CODE in record["success"]
            and UNTRUSTED not in record["failure"]):
        return "Trusted"
    return "Valid"


def _agent_name(agent: Any) -> str:
    if isinstance(agent, dict):
        name = " ".join(str(agent.get(k, "")) for k in ("name", "version")).strip()
        return cap_text(name, 200)[0]
    return cap_text(str(agent), 200)[0] if agent else ""


def _manifest_info(label: str, manifest: dict[str, Any], state: str,
                   is_active: bool) -> dict[str, Any]:
    signature = manifest.get("signature_info") or {}
    generator_info = manifest.get("claim_generator_info") or []
    if isinstance(generator_info, dict):
        generator_info = [generator_info]
    names = [_agent_name(g) for g in generator_info if isinstance(g, dict)]
    claim_generator = manifest.get("claim_generator") or (names[0] if names else "")
    return {
        "label": cap_text(str(label), 200)[0],
        "active": is_active,
        "validation_state": state,
        "signer": cap_text(str(signature.get("common_name") or ""), 200)[0],
        "issuer": cap_text(str(signature.get("issuer") or ""), 200)[0],
        "claim_generator": cap_text(str(claim_generator), 200)[0],
        "claim_generator_info": names[:8],
    }


def _iter_dst(data: Any, depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (digitalSourceType value, enclosing dict) anywhere in assertion data.

    Covers ``c2pa.actions`` entries and ``stds.iptc`` (``Iptc4xmpExt:DigitalSourceType``).
    Bounded depth: the JSON is already depth-limited, this is belt and braces.
    """
    if depth > _MAX_WALK_DEPTH:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower().endswith("digitalsourcetype") and isinstance(value, str):
                yield value, data
            else:
                yield from _iter_dst(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from _iter_dst(item, depth + 1)


def _rights_entries(data: Any) -> dict[str, str]:
    """Flatten training-mining entries to ``{"c2pa.ai_training": "notAllowed", ...}``."""
    entries = data.get("entries") if isinstance(data, dict) else None
    out: dict[str, str] = {}
    if isinstance(entries, dict):
        for key, value in list(entries.items())[:32]:
            use = value.get("use") if isinstance(value, dict) else value
            out[cap_text(str(key), 100)[0]] = cap_text(str(use), 200)[0]
    return out


def _manifest_findings(manifest: dict[str, Any], info: dict[str, Any]) -> list[Finding]:
    state = info["validation_state"]
    trusted = state == "Trusted"
    base = {
        "manifest": info["label"], "validation_state": state, "signer": info["signer"],
        "issuer": info["issuer"], "claim_generator": info["claim_generator"],
    }
    generator = info["claim_generator_info"][0] if info["claim_generator_info"] else ""
    findings = []
    seen: set[str] = set()
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        label = str(assertion.get("label", ""))
        data = assertion.get("data")
        if label.split(".v")[0] in TRAINING_MINING_LABELS or label in TRAINING_MINING_LABELS:
            findings.append(Finding(
                source=SOURCE, reason="c2pa_training_mining", label=EvidenceLabel.NONE,
                strength=Strength.WEAK, kind="rights",
                details={**base, "assertion": label, "entries": _rights_entries(data)},
            ))
            continue
        for value, holder in _iter_dst(data):
            term = dst_term(value)
            agent = _agent_name(holder.get("softwareAgent"))
            action = str(holder.get("action", ""))
            key = f"{term}|{agent}|{action}"
            if key in seen:
                continue
            seen.add(key)
            details = {**base, "assertion": label, "action": action,
                       "digital_source_type": cap_text(value, 300)[0],
                       "software_agent": agent}
            name = agent or generator
            if term == TRAINED:
                findings.append(Finding(
                    source=SOURCE, reason="c2pa_trusted_ai" if trusted else "c2pa_ai",
                    label=EvidenceLabel.AI,
                    strength=Strength.PROOF if trusted else Strength.STRONG,
                    generator=name, details=details,
                ))
            elif term in COMPOSITE_AI:
                findings.append(Finding(
                    source=SOURCE, reason="c2pa_ai_composite", label=EvidenceLabel.AI_ASSISTED,
                    strength=Strength.STRONG if trusted else Strength.WEAK,
                    generator=name, details=details, params={"term": term},
                ))
            elif term in HUMAN_CAPTURE and trusted:
                findings.append(Finding(
                    source=SOURCE, reason="c2pa_trusted_capture", label=EvidenceLabel.HUMAN,
                    strength=Strength.PROOF,
                    details=details,
                ))
    return findings
