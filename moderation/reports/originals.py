"""The original a "repost of my work" report points to: a link, or an upload of it.

An uploaded original is kept in private storage (moderators download it from the case
page) with its SHA-256. :func:`check_original_against_fingerprint_bank` is the one place
that compares it with the reported work: today it only stores the file; the PDQ
fingerprint bank hooks its match in there.
"""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import UploadedFile

from moderation.models import Report


def _file_name(upload: UploadedFile) -> str:
    return str(upload.name or "").replace("\x00", "")[:255]


def check_original_against_fingerprint_bank(report: Report, upload: UploadedFile) -> None:
    """Store the reporter's upload of their original with ``report`` for the bank's check.

    Computes nothing beyond storing the file and its SHA-256: the fingerprint bank
    (PDQ hashes of known works) is where a match against the reported work is decided.
    """
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    report.original_file.save(_file_name(upload) or "original", upload, save=False)
    report.original_name = _file_name(upload)
    report.original_sha256 = digest.hexdigest()
    report.save(update_fields=["original_file", "original_name", "original_sha256"])
