"""The original a "repost of my work" report points to: a link, or an upload of it.

An uploaded original is kept in private storage (moderators download it from the case
page) with its SHA-256, and its PDQ hash is compared with the reported work's (every
dihedral variant and central crop of the reported work, as the repost banks match): the
distance is kept with the report so the moderator sees whether the reporter's file is
the same picture.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from moderation.conf import moderation_settings
from moderation.exceptions import ImageRejected
from moderation.fingerprints import pdq
from moderation.fingerprints.banks import current_fingerprint
from moderation.internal.imaging import load_image
from moderation.models import Report

logger = logging.getLogger(__name__)


def _file_name(upload: UploadedFile) -> str:
    return str(upload.name or "").replace("\x00", "")[:255]


def check_original_against_fingerprint_bank(report: Report, upload: UploadedFile) -> None:
    """Store the reporter's upload of their original with ``report`` and compare its PDQ
    hash with the reported work's fingerprint.

    The comparison lands in ``report.weight_parts["original_match"]``: ``distance`` (PDQ
    bits of 256, the closest pair of both pictures' variants and crops), ``threshold``
    and ``matched``; or ``unchecked`` with the reason (no fingerprint yet, a flat image,
    an unreadable file, fingerprints off). It never changes the report's weight: a match
    proves the two pictures are alike, not who drew first.
    """
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    report.original_file.save(_file_name(upload) or "original", upload, save=False)
    report.original_name = _file_name(upload)
    report.original_sha256 = digest.hexdigest()
    report.weight_parts = {**(report.weight_parts or {}),
                           "original_match": compare_original(report, data)}
    report.save(update_fields=["original_file", "original_name", "original_sha256",
                               "weight_parts"])


def compare_original(report: Report, data: bytes) -> dict[str, Any]:
    """PDQ distance between the reporter's original and the reported work."""
    if not moderation_settings.FINGERPRINTS or not pdq.available():
        return {"unchecked": "fingerprints_off"}
    reported = current_fingerprint(report.case)
    if reported is None:
        return {"unchecked": "no_fingerprint"}
    try:
        original = pdq.compute(load_image(data, name=report.original_name).image)
    except ImageRejected as exc:
        return {"unchecked": "unreadable", "code": str(exc.code)}
    except Exception:  # a broken file must never lose the report itself
        logger.exception("could not hash the original of report %s", report.pk)
        return {"unchecked": "unreadable"}
    if original.quality < int(moderation_settings.FINGERPRINT_MIN_QUALITY):
        return {"unchecked": "low_quality", "quality": original.quality}
    # Either side may be the trimmed one: every variant and central crop of each.
    theirs = [h for h in (reported.pdq, *reported.dihedral, *reported.crops) if h]
    mine = [h for h in (original.pdq, *original.dihedral, *original.crops) if h]
    distance = min(pdq.distance(a, b) for a in mine for b in theirs)
    threshold = int(moderation_settings.FINGERPRINT_MATCH_DISTANCE)
    return {"distance": distance, "threshold": threshold, "matched": distance <= threshold,
            "quality": original.quality}
