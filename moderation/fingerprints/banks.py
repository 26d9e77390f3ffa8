"""Who is in which bank: published works, works moderators removed, protected works.

* **site**: a case's current content is in it while the work is published (routed to
  new arrivals or the AI feed); held, hidden or deleted works are not, so a repost held
  for review never becomes "@reposter's work" for the next match.
* **banned**: a moderator hiding a work (the hide action, or routing it to hidden) puts
  its hash here; restoring it takes it out. The entry outlives the work.
* **protected**: a creator's own registered works, uploaded on their protected-works
  page, including works published elsewhere; matches notify them.

Every change goes through :func:`add` and :func:`remove`, which keep the rows immutable
(see :class:`~moderation.models.BankEntry`) so the index follows them incrementally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.constants import ProcessingState, Route
from moderation.fingerprints import pdq, store
from moderation.fingerprints.pdq import Fingerprint
from moderation.models import BankEntry, FingerprintBank, ModerationCase, WorkFingerprint

#: Routes on which a work counts as published (in the site bank).
PUBLISHED_ROUTES = frozenset({Route.MAIN, Route.AI_FEED})


def current_fingerprint(case: ModerationCase) -> WorkFingerprint | None:
    """The fingerprint of the case's current content, if it was hashed."""
    if not case.content_sha256:
        return None
    return case.fingerprints.filter(content_sha256=case.content_sha256).first()


def add(bank: str, fingerprint: Fingerprint | WorkFingerprint, *, owner: Any = None,
        case: ModerationCase | None = None, added_by: Any = None, title: str = "",
        source_url: str = "", source: str = "") -> BankEntry:
    """Write one entry; the index picks it up on its next sync."""
    return BankEntry.objects.create(
        bank=bank, pdq=fingerprint.pdq, quality=fingerprint.quality,
        crops=list(fingerprint.crops), owner=owner, case=case,
        added_by=added_by if getattr(added_by, "pk", None) else None, title=title[:200],
        source_url=source_url[:500], source=source[:200])


def remove(entries: QuerySet[BankEntry]) -> int:
    """Take live ``entries`` out of their bank; return how many."""
    ids = list(entries.filter(removed_at__isnull=True).values_list("pk", flat=True))
    if ids:
        BankEntry.objects.filter(pk__in=ids).update(removed_at=timezone.now())
        store.forget(ids)
    return len(ids)


def live(bank: str) -> QuerySet[BankEntry]:
    return BankEntry.objects.filter(bank=bank, removed_at__isnull=True)


def sync_site_entry(case: ModerationCase) -> None:
    """Make the site bank hold the case's current content exactly while it is published."""
    entries = live(FingerprintBank.SITE).filter(case=case)
    fingerprint = current_fingerprint(case)
    published = case.state == ProcessingState.DONE and case.route in PUBLISHED_ROUTES
    if not published or fingerprint is None:
        remove(entries)
        return
    remove(entries.exclude(pdq=fingerprint.pdq))
    if not entries.filter(pdq=fingerprint.pdq).exists():
        add(FingerprintBank.SITE, fingerprint, owner=case.owner, case=case)


def ban(case: ModerationCase, actor: Any) -> BankEntry | None:
    """Put the case's current content in the removed-works bank (once)."""
    fingerprint = current_fingerprint(case)
    if fingerprint is None:
        return None
    known = live(FingerprintBank.BANNED).filter(case=case, pdq=fingerprint.pdq).first()
    return known or add(FingerprintBank.BANNED, fingerprint, owner=case.owner, case=case,
                        added_by=actor)


def unban(case: ModerationCase) -> int:
    return remove(live(FingerprintBank.BANNED).filter(case=case))


def on_moderator_verdict(case: ModerationCase, before: dict[str, Any],
                         after: dict[str, Any], actor: Any) -> None:
    """A moderator's verdict moved the case: hiding bans its hash, un-hiding lifts the
    ban, and the site bank follows whether it is published now."""
    if after["route"] == Route.HIDDEN and before["route"] != Route.HIDDEN:
        ban(case, actor)
    elif before["route"] == Route.HIDDEN and after["route"] != Route.HIDDEN:
        unban(case)
    sync_site_entry(case)


def on_case_deleted(sender: Any, instance: ModerationCase, **kwargs: Any) -> None:
    """A deleted work leaves the site bank (a removed work's ban stays)."""
    remove(live(FingerprintBank.SITE).filter(case=instance))


def protect(user: Any, fingerprint: Fingerprint, *, title: str,
            source_url: str = "") -> BankEntry:
    """Register a work its creator protects."""
    return add(FingerprintBank.PROTECTED, fingerprint, owner=user, added_by=user,
               title=title, source_url=source_url)


def protected_by(user: Any) -> QuerySet[BankEntry]:
    return live(FingerprintBank.PROTECTED).filter(owner=user).order_by("-created_at", "-pk")


def protected_room(user: Any) -> int:
    """How many more works ``user`` may protect."""
    return max(0, int(moderation_settings.FINGERPRINT_PROTECTED_MAX)
               - protected_by(user).count())


def pdq_distances(case_ids: Sequence[int]) -> Callable[[int, int], int | None]:
    """PDQ distances between the given cases' current fingerprints, for variation sets.

    One query loads every case's hash of its current content; the returned function
    gives the Hamming distance of two cases, or None when either has no hash or a hash
    below ``FINGERPRINT_MIN_QUALITY`` (a flat picture, whose hash means nothing).
    """
    floor = int(moderation_settings.FINGERPRINT_MIN_QUALITY)
    rows = (WorkFingerprint.objects.filter(case_id__in=list(case_ids),
                                           content_sha256=F("case__content_sha256"),
                                           quality__gte=floor)
            .values_list("case_id", "pdq"))
    hashes = dict(rows)

    def distance(a: int, b: int) -> int | None:
        if a not in hashes or b not in hashes:
            return None
        return pdq.distance(hashes[a], hashes[b])

    return distance
