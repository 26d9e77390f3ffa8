"""The ZIP a creator or moderator downloads, and the audit entry every export writes.

Layout (one folder, so unpacking never scatters files)::

    tegaki-case-<id>/
        case.json          the case, versioned (case.schema.json)
        case.schema.json   its JSON Schema
        report.html        the same, as a printable document
        preview.jpg        the picture without its metadata (when it can be decoded)
        verify.py          checks SHA256SUMS and the audit hashes (Python 3, stdlib only)
        SHA256SUMS         "<sha256>  <name>" for every other file (``sha256sum -c``)

The export's audit entry records the SHA-256 of ``case.json``, of ``SHA256SUMS`` and of
the ZIP itself, so the site can later confirm that a bundle someone hands in is one it
produced, unchanged.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from moderation.conf import moderation_settings
from moderation.constants import ProcessingState
from moderation.evidence_export.document import (
    EXPORT_ACTION,
    FileFacts,
    Viewer,
    build_document,
)
from moderation.evidence_export.hashes import pdq_available, pdq_of, preview_jpeg, sha256_hex
from moderation.evidence_export.report import render_report
from moderation.evidence_export.schema import CASE_SCHEMA, SCHEMA_VERSION
from moderation.evidence_export.timeline import verify_segment
from moderation.exceptions import ImageRejected
from moderation.internal.imaging import load_image
from moderation.models import ModerationAction, ModerationCase
from moderation.registry import registry

#: States whose file the worker refused or that crashed it: hashed, never decoded.
NOT_DECODED = frozenset({ProcessingState.REJECTED, ProcessingState.QUARANTINED})

PREVIEW_NAME = "preview.jpg"
VERIFY_SCRIPT = Path(__file__).with_name("verify_bundle.py")


@dataclass(frozen=True)
class Bundle:
    """One export: the ZIP's bytes, its file name and the digests the audit records."""

    filename: str
    data: bytes
    document: dict[str, Any]
    digests: dict[str, str]


def _read_file(case: ModerationCase) -> tuple[bytes | None, str, str]:
    """(bytes, storage name, problem) of the case's stored file."""
    instance = case.host_instance()
    if instance is None:
        return None, "", "work_deleted"
    file = registry.get_options(type(instance)).get_file(instance)
    if not file:
        return None, "", "no_file"
    try:
        with file.open("rb") as fh:
            data = fh.read(moderation_settings.MAX_UPLOAD_BYTES + 1)
    except (FileNotFoundError, OSError):
        return None, str(file.name), "file_missing"
    if len(data) > moderation_settings.MAX_UPLOAD_BYTES:
        return None, str(file.name), "file_too_big"
    return data, str(file.name), ""


def file_facts(case: ModerationCase) -> tuple[FileFacts, bytes | None]:
    """Hashes and metadata-free preview of the stored file (the preview's bytes too).

    The file is decoded only through the worker's safe decoder, and never when the
    worker refused it or it crashed the worker.
    """
    data, name, problem = _read_file(case)
    if data is None:
        return FileFacts(available=False, problem=problem), None
    facts = FileFacts(available=True, size=len(data), sha256=sha256_hex(data),
                      pdq_status="not_decoded")
    if case.state in NOT_DECODED:
        return facts, None
    try:
        decoded = load_image(data, name=name)
    except ImageRejected as exc:
        facts.problem = str(exc.code or "rejected")
        return facts, None
    facts.format, facts.width, facts.height = decoded.format, decoded.width, decoded.height
    if pdq_available():
        facts.pdq, facts.pdq_status = pdq_of(decoded), "computed"
    else:
        facts.pdq_status = "unavailable"
    preview = preview_jpeg(decoded)
    facts.preview = PREVIEW_NAME
    return facts, preview


def _zip_entry(name: str, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build_bundle(case: ModerationCase, viewer: Viewer, *, language: str,
                 work_url: str = "", site: str = "") -> Bundle:
    """Build the bundle of ``case`` for ``viewer`` in ``language`` (no audit entry)."""
    with translation.override(language):
        facts, preview = file_facts(case)
        first_row = case.actions.order_by("id").values_list("id", flat=True).first()
        document = build_document(case, facts, viewer, work_url=work_url, site=site,
                                  segment=verify_segment(first_row))
        case_json = json.dumps(document, ensure_ascii=False, indent=2,
                               sort_keys=False).encode("utf-8") + b"\n"
        files: dict[str, bytes] = {
            "case.json": case_json,
            "case.schema.json": json.dumps(CASE_SCHEMA, indent=2).encode("utf-8") + b"\n",
        }
        if preview is not None:
            files[PREVIEW_NAME] = preview
        files["verify.py"] = VERIFY_SCRIPT.read_bytes()
        names = ["report.html", *files]
        files["report.html"] = render_report(document, preview=preview,
                                             files=names).encode("utf-8")
    sums = "".join(f"{sha256_hex(files[n])}  {n}\n" for n in sorted(files)).encode("ascii")
    folder = f"tegaki-case-{case.pk}"
    now = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    when = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(files):
            archive.writestr(_zip_entry(f"{folder}/{name}", when), files[name])
        archive.writestr(_zip_entry(f"{folder}/SHA256SUMS", when), sums)
    data = out.getvalue()
    digests = {"case_json_sha256": sha256_hex(case_json),
               "sha256sums_sha256": sha256_hex(sums), "zip_sha256": sha256_hex(data)}
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return Bundle(f"{folder}-{stamp}.zip", data, document, digests)


def export_case(case: ModerationCase, viewer: Viewer, *, language: str, work_url: str = "",
                site: str = "", via: str = "") -> Bundle:
    """Build the bundle and write the export's audit entry; the entry is committed
    before the bundle is handed out, so no export goes unrecorded."""
    bundle = build_bundle(case, viewer, language=language, work_url=work_url, site=site)
    actor = viewer.user if getattr(viewer.user, "pk", None) else None
    with transaction.atomic():
        ModerationAction.objects.create(
            case=case, actor=actor, action=EXPORT_ACTION, before={},
            after={"audience": viewer.audience, "language": language,
                   "schema_version": SCHEMA_VERSION, "private": bool(
                       viewer.include_private and viewer.full),
                   "via": via, **bundle.digests},
            note="")
    return bundle
