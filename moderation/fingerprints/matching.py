"""The scan's fingerprint step: hash the decoded upload, look it up in the banks.

:func:`scan_step` runs in the worker on the same decoded :class:`ImageInput` as the
detectors (no second decode). It stores the case's :class:`WorkFingerprint` and, when
the content matches a bank, returns one evidence result (source ``fingerprints``) whose
reason codes make the policy hold the work: another account's published work
(``possible_repost``), a work moderators removed (``banned_reupload``) or a work a
creator protects (``protected_work_match``). The same account's own works never count
as a repost of themselves. :func:`after_scan` then writes one
:class:`FingerprintMatch` row per matched entry (the case page's "similar works"), keeps
the site bank in step with the verdict and notifies protecting creators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction

from moderation import notify
from moderation.conf import moderation_settings
from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import ANY_REDUCTION
from moderation.evidence import EvidenceResult, ImageInput
from moderation.fingerprints import banks, index, pdq, store
from moderation.models import (
    BankEntry,
    FingerprintBank,
    FingerprintMatch,
    ModerationCase,
    NotificationKind,
    WorkFingerprint,
)
from moderation.reasons import (
    BANNED_REUPLOAD,
    POSSIBLE_REPOST,
    PROTECTED_WORK_MATCH,
    SHARED_BAN_MATCH,
)

logger = logging.getLogger(__name__)

#: The evidence source of fingerprint matches.
SOURCE = "fingerprints"
#: Part of the evidence key: bump when matches may change for the same content.
VERSION = "pdq-2"
#: The reason each bank's match carries, most serious first.
BANK_REASONS = {FingerprintBank.BANNED: BANNED_REUPLOAD,
                FingerprintBank.SHARED: SHARED_BAN_MATCH,
                FingerprintBank.PROTECTED: PROTECTED_WORK_MATCH,
                FingerprintBank.SITE: POSSIBLE_REPOST}
_ORDER = {bank: n for n, bank in enumerate(BANK_REASONS)}
#: Banks of someone's own works: that account re-uploading them is no repost.
OWNED_BANKS = frozenset({FingerprintBank.SITE, FingerprintBank.PROTECTED})


@dataclass(frozen=True)
class Match:
    entry: BankEntry
    distance: int
    variant: str
    #: Which of the entry's hashes matched: "whole" or a crop's name (pdq.CROP_NAMES).
    crop: str = "whole"


def enabled() -> bool:
    """Fingerprinting is on and its packages are installed."""
    return bool(moderation_settings.FINGERPRINTS) and pdq.available() and index.available()


def fingerprint(case: ModerationCase, image: ImageInput) -> WorkFingerprint:
    """The stored fingerprint of this content, hashing it the first time."""
    known = WorkFingerprint.objects.filter(case=case, content_sha256=image.sha256).first()
    if known is not None:
        return known
    found = pdq.compute(image.image)
    obj, _ = WorkFingerprint.objects.get_or_create(
        case=case, content_sha256=image.sha256,
        defaults={"pdq": found.pdq, "quality": found.quality,
                  "dihedral": list(found.dihedral), "crops": list(found.crops)})
    return obj


def find_matches(hashes: list[str], quality: int, *, owner_id: int | None,
                 case_id: int | None = None) -> list[Match]:
    """Bank entries within ``FINGERPRINT_MATCH_DISTANCE`` of any of ``hashes`` (the
    original and its dihedral variants), closest variant per entry; most serious first.

    A low-quality query matches nothing. Entries of the case itself and the uploader's
    own published or protected works are left out (re-uploading one's own work is no
    repost); a removed work matches whoever uploads it again.
    """
    if quality < moderation_settings.FINGERPRINT_MIN_QUALITY or not hashes:
        return []
    threshold = int(moderation_settings.FINGERPRINT_MATCH_DISTANCE)
    hits = store.get_index().search(pdq.hex_to_array(hashes), threshold)
    if not hits:
        return []
    entries = {e.pk: e for e in BankEntry.objects.filter(
        pk__in={h.id for h in hits}, removed_at__isnull=True)
        .select_related("owner", "case", "case__content_type")}
    best: dict[int, Match] = {}
    for hit in hits:
        entry = entries.get(hit.id)
        if entry is None or (case_id is not None and entry.case_id == case_id):
            continue
        if entry.bank in OWNED_BANKS and owner_id is not None \
                and entry.owner_id == owner_id:
            continue
        if entry.bank == FingerprintBank.SITE and entry.case_id is None:
            continue  # the work was deleted
        # The table, not the cache, decides the distance.
        dist, at = min((pdq.distance(hashes[hit.query], h), n)
                       for n, h in enumerate(store.hashes_of(entry.pdq, entry.crops)))
        if dist > threshold:
            continue
        if entry.pk not in best or dist < best[entry.pk].distance:
            best[entry.pk] = Match(entry, dist, pdq.VARIANTS[hit.query],
                                   _crop_name(entry, at))
    return sorted(best.values(), key=lambda m: (_ORDER[FingerprintBank(m.entry.bank)],
                                                m.distance, m.entry.pk))


def _crop_name(entry: BankEntry, at: int) -> str:
    if at == 0:
        return "whole"
    if entry.bank == FingerprintBank.SHARED or at > len(pdq.CROP_NAMES):
        return "crop"  # another site's list: its crops' order is its own
    return pdq.CROP_NAMES[at - 1]


def artist(entry: BankEntry) -> str:
    owner = entry.owner
    return owner.get_username() if owner is not None else "?"


def _params(match: Match) -> dict[str, Any]:
    """The sentence's parameters: the published work's account (it is public), the
    distance and a shared list's source; never a removed work's uploader or a
    protecting creator, because the uploader reads this sentence too."""
    params: dict[str, Any] = {"distance": match.distance}
    if match.entry.bank == FingerprintBank.SITE:
        params["artist"] = artist(match.entry)
    if match.entry.bank == FingerprintBank.SHARED:
        params["source"] = match.entry.source
    return params


def evidence_for(fp: WorkFingerprint, matches: list[Match]) -> EvidenceResult:
    """One evidence result naming every match; its message is the most serious one."""
    top = matches[0]
    reason = BANK_REASONS[FingerprintBank(top.entry.bank)]
    codes = tuple(dict.fromkeys(BANK_REASONS[FingerprintBank(m.entry.bank)].code
                                for m in matches))
    return EvidenceResult(
        detector=SOURCE, version=VERSION, label=EvidenceLabel.NONE, strength=Strength.WEAK,
        message=reason.code,
        message_params=_params(top),
        reasons=codes,
        details={"pdq": fp.pdq, "quality": fp.quality, "matched": len(matches)},
        # Who owns the other works and what creators protect: moderators only.
        private={"matches": [
            {"entry": m.entry.pk, "bank": m.entry.bank, "distance": m.distance,
             "variant": m.variant, "crop": m.crop,
             "reason": BANK_REASONS[FingerprintBank(m.entry.bank)].code,
             "artist": artist(m.entry), "case": m.entry.case_id,
             "object_id": m.entry.case.object_id if m.entry.case else "",
             "title": m.entry.title, "source": m.entry.source,
             "added_at": m.entry.created_at.isoformat()}
            for m in matches]})


#: The long side a reduced decode must keep for PDQ: it hashes a 512 px reduction, and a
#: DCT-scaled decode left at twice that gives the same hash as full pixels within a few bits.
MIN_DECODED_SIDE = 1024


def max_reduction(width: int, height: int) -> int:
    """The decode reduction fingerprinting accepts for a ``width`` x ``height`` image."""
    if not enabled():
        return ANY_REDUCTION
    return max(1, max(width, height) // MIN_DECODED_SIDE)


def scan_step(case: ModerationCase, image: ImageInput,
              skip: frozenset[tuple[str, str]] = frozenset()) -> list[EvidenceResult]:
    """Hash ``image`` for ``case`` and match it; the evidence to add (none if no match).

    A failure here is logged and costs the scan nothing but the fingerprint: a missing
    match never blocks an upload's other decisions.
    """
    if not enabled() or (SOURCE, VERSION) in skip:
        return []
    try:
        fp = fingerprint(case, image)
        matches = find_matches(list(fp.dihedral) or [fp.pdq], fp.quality,
                               owner_id=case.owner_id, case_id=case.pk)
    except Exception:
        logger.exception("fingerprint step failed for case %s", case.pk)
        return []
    return [evidence_for(fp, matches)] if matches else []


def after_scan(case: ModerationCase, sha256: str) -> None:
    """Record the matches of this content, sync the site bank and, after commit, notify
    the creators whose protected works it matched (call inside the scan's transaction)."""
    if not enabled():
        return
    evidence = case.evidence.filter(detector=SOURCE, detector_version=VERSION,
                                    content_sha256=sha256).first()
    notices: list[tuple[Any, int]] = []
    for found in (evidence.private.get("matches", []) if evidence is not None else []):
        entry = BankEntry.objects.filter(pk=found.get("entry")).first()
        if entry is None:
            continue
        _, created = FingerprintMatch.objects.get_or_create(
            case=case, entry=entry, content_sha256=sha256,
            defaults={"distance": int(found["distance"]),
                      "variant": str(found.get("variant", "original"))[:16]})
        if created and entry.bank == FingerprintBank.PROTECTED and entry.owner_id:
            notices.append((entry.owner, case.pk))
    banks.sync_site_entry(case)
    for owner, case_id in notices:
        transaction.on_commit(partial(_notify, owner, case_id))


def _notify(owner: Any, case_id: int) -> None:
    case = ModerationCase.objects.filter(pk=case_id).first()
    notify.record(owner, case, NotificationKind.PROTECTED_MATCH)
