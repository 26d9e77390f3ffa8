"""NovelAI records and their Ed25519 ``signed_hash`` (the only offline-verifiable local tool).

NovelAI writes PNG text ``Title``/``Description``/
``Software`` = "NovelAI"/``Source``/``Comment`` (JSON with sampler, seed, ``uc`` and
``signed_hash``); WebP EXIF with the same values mapped onto ``DocumentName``/
``ImageDescription``/``Software`` (= Source)/``UserComment``; and a gzip JSON copy in
the alpha LSBs.

What is signed (NovelAI/novelai-image-metadata ``nai_sig.py``, MIT): the RGB pixel
bytes (H x W x 3, uint8, row-major, alpha dropped) followed by ``json.dumps`` of the
decoded Comment object *without* its ``signed_hash`` key, with the standard library's
default separators and ASCII escaping, keys in their original order. The signature is
base64. A verifying signature is proof; one that is present but fails (pixels
re-encoded, or forged) leaves an ordinary strong NovelAI record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from moderation.internal.provenance.limits import load_json_limited

#: NovelAI's published verify key (nai_sig.py).
NOVELAI_PUBLIC_KEY = "Y2JcQAOhLwzwSDUJPNgL04nS0Tbqm7cSRc4xk0vRMic="
TITLES = ("NovelAI generated image", "AI generated image")


@dataclass
class NovelAIRecord:
    """One NovelAI metadata copy (text chunks, WebP EXIF or stealth alpha)."""

    fields: dict[str, str] = field(default_factory=dict)
    comment: dict[str, Any] | None = None

    @property
    def source(self) -> str:
        return self.fields.get("Source", "")

    @property
    def prompt(self) -> str:
        if self.comment and isinstance(self.comment.get("prompt"), str):
            return str(self.comment["prompt"])
        return self.fields.get("Description", "")

    @property
    def negative_prompt(self) -> str:
        uc = self.comment.get("uc") if self.comment else None
        return uc if isinstance(uc, str) else ""

    @property
    def signed_hash(self) -> str | None:
        value = self.comment.get("signed_hash") if self.comment else None
        return value if isinstance(value, str) else None


def parse_comment(text: str) -> dict[str, Any] | None:
    """Decode the ``Comment`` JSON (nai_sig.py unwraps one nested ``Comment`` level)."""
    try:
        decoded = load_json_limited(text)
        if isinstance(decoded, dict) and isinstance(decoded.get("Comment"), str):
            decoded = load_json_limited(decoded["Comment"])
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def looks_like_novelai(fields: Mapping[str, str]) -> bool:
    """NovelAI's own markers: Software "NovelAI", its Title plus a Comment or Source, or a
    Comment carrying ``signed_hash`` (only NovelAI signs its records)."""
    if fields.get("Software", "").strip() == "NovelAI":
        return True
    comment = fields.get("Comment", "")
    if '"signed_hash"' in comment:  # other keys stripped, the signed Comment kept
        parsed = parse_comment(comment)
        if parsed is not None and isinstance(parsed.get("signed_hash"), str):
            return True
    return fields.get("Title", "").strip() in TITLES and bool(
        fields.get("Comment") or fields.get("Source")
    )


def record_from_fields(fields: Mapping[str, str]) -> NovelAIRecord:
    keep = ("Title", "Description", "Software", "Source", "Generation time", "Comment")
    record = NovelAIRecord({k: fields[k] for k in keep if isinstance(fields.get(k), str)})
    if "Comment" in record.fields:
        record.comment = parse_comment(record.fields["Comment"])
    return record


def record_from_stealth_json(obj: Any) -> NovelAIRecord | None:
    """The alpha copy is JSON ``{Description, Software, Source, Generation time, Comment}``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("Comment"), str):
        return None
    fields = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, str)}
    return record_from_fields(fields)


def signed_message(rgb_bytes: bytes, comment: Mapping[str, Any]) -> bytes:
    """The exact bytes NovelAI signs: pixels + ``json.dumps(comment - signed_hash)``."""
    unsigned = {k: v for k, v in comment.items() if k != "signed_hash"}
    return rgb_bytes + json.dumps(unsigned).encode("utf-8")


def verify_signature(
    rgb_bytes: bytes, comment: Mapping[str, Any], public_key_b64: str = NOVELAI_PUBLIC_KEY
) -> bool:
    """True only if ``comment['signed_hash']`` is a valid Ed25519 signature by the key."""
    signature_b64 = comment.get("signed_hash")
    if not isinstance(signature_b64, str):
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key = VerifyKey(base64.b64decode(public_key_b64))
        key.verify(signed_message(rgb_bytes, comment), signature)
    except (BadSignatureError, CryptoError, binascii.Error, ValueError, TypeError):
        return False
    return True
