"""The reason vocabulary: every code a decision can carry, with what each reader is told.

A case's ``reasons`` are codes; this table turns each code into the moderator's text,
the viewer's "why" (a family of signals: C2PA, NovelAI signature, generation data in the
file...) and the review-queue category it files the case under. The policy's own codes
are defined here; detectors declare theirs (``BaseDetector.reasons``) and the detector
handler registers them, so a new detector's codes read with their own text everywhere
(work page, case page, queue, API) without touching any of those. Nothing reads meaning
out of a code's spelling.

This module imports nothing from the app: models, detectors and the policy all use it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

Text = str | Promise


class Priority(IntEnum):
    """Review priority: higher is shown first in the moderators' queue.

    Spaced by a hundred so a new kind of case slots in between without renumbering.
    A classifier-held case adds up to 99 for its score, so it stays inside its band.
    """

    NONE = 0
    APPEAL = 100
    WEAK_HINT = 300
    #: A large set of near-identical uploads from one account; adds up to 49 for its size.
    VARIATION_SET = 330
    CLASSIFIER = 400
    REPOST = 500
    ACCOUNT_HOLD = 600
    #: Viewers' weighted reports passed the threshold; the score adds up to 99.
    REPORTS = 700
    UNDISCLOSED = 800
    DEEPFAKE = 900


@dataclass(frozen=True)
class WhyGroup:
    """One family of signals as a viewer reads it ("declared by the uploader")."""

    code: str
    text: Text


@dataclass(frozen=True)
class QueueCategory:
    """A heading of the review queue; cases are filed under the first one that applies."""

    key: str
    title: Text


@dataclass(frozen=True)
class Reason:
    """One reason code.

    ``text`` is the moderator's sentence; ``why`` the viewer's family (None: viewers are
    not told, e.g. an account hold); ``category`` the queue category key ("" for none).
    ``detail`` is an optional longer sentence with ``{name}`` placeholders filled from a
    finding's parameters (``{app}``, ``{field}``...) when it is displayed; detectors
    store the code and the parameters, never a sentence, so each reader gets their own
    language (see :func:`describe`). ``source`` names where the evidence comes from when
    it is not a detector (``"reports"``: viewers' reports), so readers can group it.
    """

    code: str
    text: Text
    why: WhyGroup | None = None
    category: str = ""
    detail: Text | None = None
    source: str = ""


# -- viewer "why" families ------------------------------------------------------------
WHY_SELF_DECLARED = WhyGroup("self_declared", _("declared by the uploader"))
WHY_FILE_METADATA = WhyGroup("file_metadata", _("generation data in the file"))
WHY_C2PA = WhyGroup("c2pa", _("C2PA Content Credentials"))
WHY_NOVELAI_SIGNATURE = WhyGroup("novelai_signature", _("NovelAI's signature in the file"))
WHY_IPTC = WhyGroup("iptc", _("AI marking in the file's XMP/IPTC metadata"))
WHY_STEALTH = WhyGroup("stealth_metadata",
                       _("generation data hidden in the image's transparency"))
WHY_MODERATOR = WhyGroup("moderator", _("moderator"))
WHY_CLASSIFIER = WhyGroup("classifier", _("image classifier"))
WHY_UNDISCLOSED = WhyGroup("undisclosed_ai", _("AI evidence in a work declared hand-made"))
WHY_NO_AI = WhyGroup("no_ai_evidence", _("no AI signal found in the file"))
WHY_SIGNED_CAPTURE = WhyGroup("signed_capture",
                              _("signed provenance (C2PA) says it was not AI-generated"))

# -- review-queue categories, in the order a case is filed ------------------------------
DEEPFAKE = QueueCategory("deepfake", _("Deepfake risk"))
UNDISCLOSED = QueueCategory("undisclosed", _("Declared hand-made, looks AI"))
ACCOUNT = QueueCategory("account", _("Account on hold"))
REPOST = QueueCategory("repost", _("Possible repost"))
UNCERTAIN = QueueCategory("uncertain", _("Classifier uncertain"))
FLOOD = QueueCategory("flood", _("Series of near-identical uploads"))
REPORTED = QueueCategory("reported", _("Reported by viewers"))
QUEUE_CATEGORIES: tuple[QueueCategory, ...] = (DEEPFAKE, UNDISCLOSED, ACCOUNT, REPOST,
                                               REPORTED, UNCERTAIN, FLOOD)
APPEAL = QueueCategory("appeal", _("Appeal"))
OTHER = QueueCategory("other", _("Other"))

# -- the policy's and the moderators' own codes ----------------------------------------
SELF_DECLARED_AI = Reason("self_declared_ai", _("The uploader declared it AI-generated."),
                          WHY_SELF_DECLARED)
SELF_DECLARED_AI_ASSISTED = Reason("self_declared_ai_assisted",
                                   _("The uploader declared AI assistance."), WHY_SELF_DECLARED)
UNDISCLOSED_AI = Reason("undisclosed_ai", _("Declared hand-made, but the file says AI."),
                        WHY_UNDISCLOSED, UNDISCLOSED.key)
# How firm the decisive evidence is, whichever detector found it; the detector codes
# that follow say which signal it was, so viewers read those instead.
PROVENANCE_PROOF = Reason("provenance_proof", _("Verifiable proof says AI-generated."))
PROVENANCE_STRONG = Reason("provenance_strong", _("Strong evidence says AI-generated."))
WEAK_AI_SIGNAL = Reason("weak_ai_signal",
                        _("A weak signal (such as the classifier) suggests AI."),
                        category=UNCERTAIN.key)
NO_AI_EVIDENCE = Reason("no_ai_evidence", _("No sign of AI was found."), WHY_NO_AI)
DETECTOR_SIGNAL = Reason("detector_signal",
                         _("A detector reported AI without a reason code; see its evidence."))
PROVENANCE_NOT_AI = Reason("provenance_not_ai",
                           _("Signed provenance from a trusted signer says it is not "
                             "AI-generated."), WHY_SIGNED_CAPTURE)
DETECTOR_FAILED = Reason("detector_failed", _("A detector could not examine the file."),
                         detail=_("The detector “{detector}” could not examine the file."))
CLASSIFIER_SKIPPED = Reason(
    "classifier_skipped",
    _("The classifier did not run: the file's provenance already shows it is AI-generated."),
    detail=_("The classifier was not run because “{detector}” already shows the work is "
             "AI-generated; its score could not change the verdict."))
MODERATOR = Reason("moderator", _("A moderator decided."), WHY_MODERATOR)
APPEAL_OVERTURNED = Reason("appeal_overturned", _("An appeal was accepted."), WHY_MODERATOR)
ACCOUNT_ON_HOLD = Reason("account_on_hold",
                         _("New uploads from this account are held for review."),
                         category=ACCOUNT.key)
ACCOUNT_SUSPENDED = Reason("account_suspended", _("Uploads from this account are suspended."),
                           category=ACCOUNT.key)
# -- similar works, variation sets, deepfake risk ----------------------------------------
# Viewers are told none of these: they send a work to moderators, never label it.
SIMILAR_WORK = Reason(
    "similar_to_other_account",
    _("Very close to another account's work (a possible trace or image-to-image copy)."),
    category=REPOST.key,
    detail=_("Its picture is {similarity} similar to @{other}'s work (case {other_case}); "
             "works at or above {threshold} are sent for review."))
VARIATION_SET = Reason(
    "variation_set",
    _("One of a large series of near-identical uploads from this account (a weak sign of "
      "an AI flood)."),
    category=FLOOD.key,
    detail=_("One of {size} near-identical uploads from this account in {days} days; "
             "a series of {flood_size} or more is a weak sign of an AI flood."))
IN_VARIATION_SET = Reason(
    "in_variation_set", _("One of a small series of near-identical uploads."),
    detail=_("One of {size} near-identical uploads from this account in {days} days "
             "(shown as one tile in feeds)."))
DEEPFAKE_RISK = Reason(
    "deepfake_risk",
    _("Deepfake risk: an AI-made photographic picture of a person's face, on a work "
      "flagged adult. Hidden until a moderator reviews it."),
    category=DEEPFAKE.key)
FACE_FOUND = Reason(
    "face_found", _("A human face was found."),
    detail=_("{count} face(s) found; the largest spans {share} of the picture's shorter "
             "side."))
NO_FACE = Reason("no_face", _("No human face was found."))


# -- viewers' reports (source "reports") -------------------------------------------------
#: The source of every report reason: evidence from people, not from a detector.
REPORTS_SOURCE = "reports"
REPORT_UNDISCLOSED_AI = Reason("report_undisclosed_ai",
                               _("A viewer reports undisclosed AI generation."),
                               category=REPORTED.key, source=REPORTS_SOURCE)
REPORT_WRONG_LABEL = Reason("report_wrong_label", _("A viewer reports a wrong AI label."),
                            category=REPORTED.key, source=REPORTS_SOURCE)
REPORT_REPOST = Reason("report_repost",
                       _("A viewer reports a repost of their own work."),
                       category=REPOST.key, source=REPORTS_SOURCE)
REPORT_IMPERSONATION = Reason("report_impersonation",
                              _("A viewer reports impersonation of an artist."),
                              category=REPORTED.key, source=REPORTS_SOURCE)
REPORT_REAL_PERSON = Reason("report_real_person",
                            _("A viewer reports a real person or a sexual deepfake."),
                            category=DEEPFAKE.key, source=REPORTS_SOURCE)
REPORT_OTHER = Reason("report_other", _("A viewer reports another problem."),
                      category=REPORTED.key, source=REPORTS_SOURCE)
#: What a viewer may report, in the order the report form offers it.
REPORT_REASONS: tuple[Reason, ...] = (REPORT_UNDISCLOSED_AI, REPORT_WRONG_LABEL,
                                      REPORT_REPOST, REPORT_IMPERSONATION,
                                      REPORT_REAL_PERSON, REPORT_OTHER)
#: The case-level reason once weighted reports passed the hold threshold.
REPORTS_THRESHOLD = Reason("reports_threshold",
                           _("Viewers' weighted reports passed the review threshold."),
                           category=REPORTED.key, source=REPORTS_SOURCE,
                           detail=_("Viewers' weighted reports ({score}) passed the review "
                                    "threshold ({threshold})."))

# Fingerprint matches (moderation.fingerprints): the upload's PDQ hash is close to a hash
# in one of the banks. Parameters: ``artist`` (the published work's account),
# ``distance`` (PDQ bits of 256), ``source`` (the site a shared list came from). The
# sentences reach the uploader too, so a removed work's uploader and a protecting
# creator are never named in them (moderators see them in the similar-works panel).
POSSIBLE_REPOST = Reason("possible_repost",
                         _("Looks like a repost of another account's work."),
                         category=REPOST.key,
                         detail=_("Possible repost of @{artist}'s work (PDQ distance "
                                  "{distance})."))
BANNED_REUPLOAD = Reason("banned_reupload", _("Matches a work moderators removed."),
                         category=REPOST.key,
                         detail=_("Matches a work moderators removed (PDQ distance "
                                  "{distance})."))
PROTECTED_WORK_MATCH = Reason("protected_work_match",
                              _("Matches a work its creator protects."),
                              category=REPOST.key,
                              detail=_("Matches a work its creator protects (PDQ "
                                       "distance {distance})."))
SHARED_BAN_MATCH = Reason("shared_ban_match",
                          _("Matches a hash another site shared as a known repost."),
                          category=REPOST.key,
                          detail=_("Matches a hash shared by {source} (PDQ distance "
                                   "{distance})."))

BUILTIN_REASONS: tuple[Reason, ...] = (
    SELF_DECLARED_AI, SELF_DECLARED_AI_ASSISTED, UNDISCLOSED_AI, PROVENANCE_PROOF,
    PROVENANCE_STRONG, WEAK_AI_SIGNAL, NO_AI_EVIDENCE, PROVENANCE_NOT_AI, DETECTOR_SIGNAL,
    DETECTOR_FAILED, CLASSIFIER_SKIPPED, MODERATOR,
    APPEAL_OVERTURNED, ACCOUNT_ON_HOLD, ACCOUNT_SUSPENDED,
    SIMILAR_WORK, VARIATION_SET, IN_VARIATION_SET, DEEPFAKE_RISK,
    FACE_FOUND, NO_FACE,
    *REPORT_REASONS, REPORTS_THRESHOLD,
    POSSIBLE_REPOST, BANNED_REUPLOAD, PROTECTED_WORK_MATCH, SHARED_BAN_MATCH,
)


class ReasonConflict(ValueError):
    """Two declarations give one code different meanings."""


class ReasonTable:
    """Code -> :class:`Reason`; codes nobody declared read as :meth:`unknown`."""

    def __init__(self, reasons: Iterable[Reason] = ()) -> None:
        self._reasons: dict[str, Reason] = {}
        self._lock = threading.Lock()
        self.register(*reasons)

    def register(self, *reasons: Reason) -> None:
        """Add ``reasons``; declaring the same reason twice is harmless, a different
        meaning for a known code raises :class:`ReasonConflict`."""
        with self._lock:
            for reason in reasons:
                known = self._reasons.get(reason.code)
                if known is not None and known != reason:
                    raise ReasonConflict(
                        f"reason code {reason.code!r} is declared twice with different "
                        f"texts, why or category")
                self._reasons[reason.code] = reason

    def get(self, code: str) -> Reason:
        return self._reasons.get(code) or self.unknown(code)

    def __contains__(self, code: object) -> bool:
        return code in self._reasons

    def __iter__(self) -> Iterator[Reason]:
        return iter(list(self._reasons.values()))

    def codes_from(self, source: str) -> tuple[str, ...]:
        """Every known code whose evidence comes from ``source`` (e.g. ``"reports"``)."""
        return tuple(r.code for r in list(self._reasons.values()) if r.source == source)

    def codes_in(self, category: str) -> tuple[str, ...]:
        """Every known code that files a case under ``category``."""
        return tuple(r.code for r in list(self._reasons.values()) if r.category == category)

    @staticmethod
    def unknown(code: str) -> Reason:
        """A code no detector declared (e.g. stored by a detector since removed): shown
        to moderators as such, never guessed into a family for viewers."""
        return Reason(code, format_lazy(_("Undeclared reason code: {code}"), code=code))


reason_table = ReasonTable(BUILTIN_REASONS)


def get_reason(code: str) -> Reason:
    return reason_table.get(str(code))


def describe(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The sentence for a stored evidence message or finding, in the active language.

    ``params`` fill the reason's ``detail`` template; without them (or when one is
    missing) the reason's short ``text`` is used, so a row stored before a template
    gained a placeholder still reads as a sentence. Parameter values are plain data
    from the file (a tool's name, a field name): they are inserted, never interpreted.
    """
    if not code:
        return ""
    reason = get_reason(str(code))
    if reason.detail is not None and params:
        try:
            return str(reason.detail).format_map(
                {str(k): "" if v is None else str(v) for k, v in params.items()})
        except (KeyError, IndexError, ValueError):
            pass
    return str(reason.text)


def register_reasons(*reasons: Reason) -> None:
    reason_table.register(*reasons)


def category_for(codes: Iterable[str]) -> QueueCategory:
    """The first queue category (in :data:`QUEUE_CATEGORIES` order) any code files under."""
    keys = {get_reason(code).category for code in codes}
    return next((c for c in QUEUE_CATEGORIES if c.key in keys), OTHER)


def category_by_key(key: str) -> QueueCategory | None:
    return next((c for c in (*QUEUE_CATEGORIES, APPEAL) if c.key == key), None)
