"""Shared banks: export and import hash lists as Hasher-Matcher-Actioner exchanges them.

The file is the CSV that ThreatExchange's tools print for a collaboration: a header
``collab,signal_type,signal_str,category,tags`` and one row per hash, ``signal_type``
``pdq``, ``signal_str`` the 64-digit PDQ hex, ``category`` ``POSITIVE_CLASS`` for a
known bad hash and ``tags`` space-separated. Imports also read the plain one-per-line
form (``pdq <hex>``, or bare hex). Only PDQ rows in the positive class are taken.

A work's variant hashes (its crops, :data:`~moderation.fingerprints.pdq.CROPS`) travel
as further rows of the same work, so a trimmed copy of a shared work is matched too:
every row of one work carries the tag ``item:<n>`` (``n`` numbers the works of this file
only), and a crop's row also ``crop:<name>``. Any reader of the format takes them as
more hashes; an import here files the rows of one item as one entry (the row without a
``crop:`` tag as its hash, the others as its crops). ``variants=False`` exports one row
per work, as before.

An export carries hashes only: no account, work id or title leaves the site. It is
signed with Ed25519; the signature (base64 of the 64 signature bytes over the exact
file bytes) travels next to it as ``<file>.sig``. An import checks it against the
sender's public key before reading a row.

Imports never overwrite a local decision: a hash this site's moderators already ban,
or lifted a ban on, or whose work a moderator decided to keep published, is skipped
and counted; everything else enters the ``shared`` bank under the list's source name,
once (importing the same list again adds nothing).
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import transaction

from moderation.constants import Route
from moderation.fingerprints import banks
from moderation.fingerprints.pdq import CROP_NAMES, Fingerprint, hex_to_bytes
from moderation.models import BankEntry, FingerprintBank, WorkFingerprint

HEADER = ("collab", "signal_type", "signal_str", "category", "tags")
SIGNAL_TYPE = "pdq"
POSITIVE = "POSITIVE_CLASS"
#: Quality recorded for imported hashes: the sender only shares hashes it matched on, and
#: PDQ's exchange rows carry no quality.
IMPORTED_QUALITY = 100


class ExchangeError(ValueError):
    """The file or its signature cannot be used."""


# -- keys and signatures ---------------------------------------------------------------
def generate_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private, public_pem(key)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ExchangeError("the signing key is not an Ed25519 private key")
    return key


def load_public(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ExchangeError("the public key is not an Ed25519 key")
    return key


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The ``.sig`` file's content for ``data``."""
    return base64.b64encode(key.sign(data)) + b"\n"


def verify(data: bytes, signature: bytes, key: Ed25519PublicKey) -> None:
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), data)
    except (InvalidSignature, ValueError) as exc:
        raise ExchangeError("the signature does not match the file and key") from exc


# -- export ------------------------------------------------------------------------------
def export_csv(bank: str = FingerprintBank.BANNED, *, collab: str,
               tags: tuple[str, ...] = ("tegaki", "repost"), variants: bool = True) -> bytes:
    """The live hashes of ``bank`` as an exchange CSV (hashes only, each work once)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    works: dict[str, list[str]] = {}
    for value, crops in banks.live(bank).order_by("pk").values_list("pdq", "crops"):
        works.setdefault(value, [c for c in (crops if isinstance(crops, list) else []) if c])
    for n, (value, crops) in enumerate(works.items(), start=1):
        if not variants or not crops:
            writer.writerow((collab, SIGNAL_TYPE, value, POSITIVE, " ".join(tags)))
            continue
        item = (*tags, f"item:{n}")
        writer.writerow((collab, SIGNAL_TYPE, value, POSITIVE, " ".join(item)))
        for name, crop in zip(CROP_NAMES, crops, strict=False):
            writer.writerow((collab, SIGNAL_TYPE, crop, POSITIVE,
                             " ".join((*item, f"crop:{name}"))))
    return buf.getvalue().encode()


# -- import ------------------------------------------------------------------------------
@dataclass
class ImportReport:
    added: int = 0
    #: Crop hashes that came with the works added.
    variants: int = 0
    already: int = 0
    kept_local: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Item:
    """One shared work: its hash and the hashes of its crops."""

    pdq: str
    crops: list[str] = field(default_factory=list)


def parse(data: bytes) -> tuple[list[Item], int, list[str]]:
    """(works in the positive class, rows of other types or classes, row errors).

    Rows tagged with one ``item:`` tag form one work; every other row is a work of its own.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExchangeError("the file is not UTF-8 text") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], 0, []
    items: list[Item] = []
    grouped: dict[str, Item] = {}
    skipped = 0
    errors: list[str] = []
    first = next(csv.reader([lines[0]]))
    if "signal_str" in first:
        for n, row in enumerate(csv.DictReader(io.StringIO("\n".join(lines))), start=2):
            if (row.get("signal_type") or "").strip() != SIGNAL_TYPE or \
                    (row.get("category") or POSITIVE).strip() != POSITIVE:
                skipped += 1
                continue
            value = _take((row.get("signal_str") or ""), n, errors)
            if value is None:
                continue
            row_tags = (row.get("tags") or "").split()
            key = next((t for t in row_tags if t.startswith("item:")), None)
            is_crop = any(t.startswith("crop:") for t in row_tags)
            if key is None:
                items.append(Item(value))
            elif key not in grouped:
                grouped[key] = Item("" if is_crop else value, [value] if is_crop else [])
                items.append(grouped[key])
            elif is_crop or grouped[key].pdq:
                grouped[key].crops.append(value)
            else:
                grouped[key].pdq = value
        for item in items:
            if not item.pdq:  # only crop rows came: the first stands for the work
                item.pdq = item.crops.pop(0)
        return items, skipped, errors
    for n, line in enumerate(lines, start=1):
        kind, _, value = line.strip().partition(" ")
        if not value:
            kind, value = SIGNAL_TYPE, kind
        if kind != SIGNAL_TYPE:
            skipped += 1
            continue
        taken = _take(value, n, errors)
        if taken is not None:
            items.append(Item(taken))
    return items, skipped, errors


def _take(value: str, line: int, errors: list[str]) -> str | None:
    try:
        return hex_to_bytes(value).hex()
    except ValueError as exc:
        errors.append(f"line {line}: {exc}")
        return None


def decided_locally(value: str) -> bool:
    """A moderator of this site already decided about this exact hash."""
    if BankEntry.objects.filter(bank=FingerprintBank.BANNED, pdq=value).exists():
        return True  # banned here (live) or a ban a moderator lifted (removed)
    return WorkFingerprint.objects.filter(
        pdq=value, case__decided_at__isnull=False).exclude(
        case__route=Route.HIDDEN).exists()


def import_csv(data: bytes, *, source: str, signature: bytes | None = None,
               public_key: Ed25519PublicKey | None = None) -> ImportReport:
    """Verify (when a key is given) and import a list into the shared bank."""
    if public_key is not None:
        if signature is None:
            raise ExchangeError("no signature to check")
        verify(data, signature, public_key)
    if not source.strip():
        raise ExchangeError("name the list's source")
    items, skipped, errors = parse(data)
    report = ImportReport(skipped=skipped, errors=errors)
    works: dict[str, list[str]] = {}
    for item in items:
        crops = works.setdefault(item.pdq, [])
        crops += [c for c in item.crops if c not in crops and c != item.pdq]
    with transaction.atomic():
        for value, crops in works.items():
            if decided_locally(value):
                report.kept_local += 1
            elif banks.live(FingerprintBank.SHARED).filter(pdq=value,
                                                           source=source).exists():
                report.already += 1
            else:
                banks.add(FingerprintBank.SHARED,
                          Fingerprint(pdq=value, quality=IMPORTED_QUALITY, dihedral=(value,),
                                      crops=tuple(crops)),
                          source=source)
                report.added += 1
                report.variants += len(crops)
    return report
