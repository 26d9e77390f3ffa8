"""The worker side of a scan: count the attempt, decode once, run what is missing, decide.

Every committed case ends in exactly one terminal state (done, rejected with a reason,
or quarantined). The attempt counter is committed *before* the heavy work so that a
worker killed by ``kill -9`` or the hard time limit still leaves a trace, and the
redelivered message (acks_late + reject_on_worker_lost) quarantines the case after
``MAX_ATTEMPTS`` instead of looping forever.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import Error as DatabaseFailure
from django.db import connection, transaction
from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.constants import TERMINAL_STATES, ProcessingState, RejectionReason
from moderation.deepfake.detector import FaceDetector
from moderation.deepfake.signals import FACES, host_evidence
from moderation.evidence import Decision, EvidenceResult
from moderation.exceptions import ImageRejected
from moderation.fingerprints import matching as fingerprints
from moderation.internal.imaging import load_image
from moderation.models import Evidence, ModerationAction, ModerationCase
from moderation.policy import get_policy
from moderation.registry import registry
from moderation.scanning import (
    allowed_reduction,
    configured_detectors,
    run_detector,
    run_detectors,
)
from moderation.signals import case_scanned, verdict_changed
from moderation.similarity.signals import case_signals
from moderation.strikes import standing

logger = logging.getLogger(__name__)


#: Audit note of an attempt that started and never reported back.
LOST_ATTEMPT = "previous attempt did not finish (worker killed, hard time limit or lost connection)"


def begin_attempt(case_id: int) -> ModerationCase | None:
    """Lock the case, count the attempt and commit; return None if there is nothing to do.

    A case found ``running`` means the attempt before this one never reported back (a
    worker killed by ``kill -9`` or the hard time limit, a connection lost while it
    recorded its failure): that attempt is written to the audit log here, so the log has
    one row for every attempt ``attempts`` counts.
    """
    with transaction.atomic():
        case = ModerationCase.objects.select_for_update().filter(pk=case_id).first()
        if case is None or case.state in TERMINAL_STATES:
            return None  # deleted, or a duplicate delivery of finished work
        if case.state == ProcessingState.RUNNING:
            _record_lost_attempt(case)
        if case.attempts >= moderation_settings.MAX_ATTEMPTS:
            reason = case.last_error or LOST_ATTEMPT
            case.last_error = reason[:2000]
            _finish_failed(case, ProcessingState.QUARANTINED,
                           note=f"quarantined after {case.attempts} attempts: {reason}"[:2000])
            return None
        case.attempts += 1
        case.state = ProcessingState.RUNNING
        case.save(update_fields=["attempts", "state", "last_error", "updated_at"])
    return case


def _record_lost_attempt(case: ModerationCase) -> None:
    """Audit an attempt that left the case ``running`` (call holding the case's lock)."""
    before = case.snapshot()
    case.last_error = LOST_ATTEMPT
    ModerationAction.objects.create(case=case, action="attempt_lost", before=before,
                                    after=case.snapshot(),
                                    note=f"attempt {case.attempts}: {LOST_ATTEMPT}")


def read_case_bytes(case: ModerationCase) -> bytes:
    """Read the original upload; raise ImageRejected(missing_file) if it is gone."""
    instance = case.host_instance()
    if instance is None:
        raise ImageRejected(RejectionReason.MISSING_FILE, "the uploaded object no longer exists")
    file = registry.get_options(type(instance)).get_file(instance)
    if not file:
        raise ImageRejected(RejectionReason.MISSING_FILE, "the object has no file")
    limit = moderation_settings.MAX_UPLOAD_BYTES
    try:
        with file.open("rb") as fh:
            data = fh.read(limit + 1)
    except (FileNotFoundError, OSError) as exc:
        raise ImageRejected(RejectionReason.MISSING_FILE, str(exc)) from exc
    if len(data) > limit:
        raise ImageRejected(RejectionReason.FILE_TOO_BIG, f"larger than {limit} bytes")
    return data


#: First key of the PostgreSQL advisory locks that mark a case's attempt as alive.
ATTEMPT_LOCK_CLASS = 0x7E6A


@contextmanager
def live_attempt(case_id: int) -> Iterator[bool]:
    """Hold a session advisory lock on ``case_id`` for one attempt (PostgreSQL).

    Why: a case found ``running`` is taken for an attempt that died (``begin_attempt``
    audits it as lost and starts over), but with two workers and a duplicate delivery it
    may be alive on the other worker. The lock tells them apart: a live attempt holds it,
    and a killed worker's connection releases it with the process. Yields False when
    another attempt holds it. Other databases (the demo's SQLite) run one worker and
    always get True.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ATTEMPT_LOCK_CLASS, case_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)",
                                   [ATTEMPT_LOCK_CLASS, case_id])
            except DatabaseFailure:
                # The connection died during the attempt; the lock went with it.
                logger.info("attempt lock of case %s was released with its connection",
                            case_id)


def scan(case_id: int) -> str:
    """Run one attempt of the scan of ``case_id``; return the state it ended in."""
    with live_attempt(case_id) as mine:
        if not mine:
            return "skipped"  # a duplicate delivery while another worker scans it
        case = begin_attempt(case_id)
        if case is None:
            return "skipped"
        return run_attempt(case)


def run_attempt(case: ModerationCase) -> str:
    """The work of one counted attempt: read, decode once, run what is missing, decide."""
    detectors = configured_detectors()
    try:
        data = read_case_bytes(case)
        image = load_image(data, name=case.file_name, reduction=allowed_reduction(
            detectors, also=[fingerprints.max_reduction]))
    except ImageRejected as exc:
        sha = hashlib.sha256(data).hexdigest() if "data" in locals() else ""
        reject(case.pk, exc.code, exc.message, sha256=sha)
        return ProcessingState.REJECTED
    stored = [to_result(e) for e in
              Evidence.objects.filter(case_id=case.pk, content_sha256=image.sha256)]
    done = frozenset((e.detector, e.version) for e in stored)
    results = run_detectors(image, detectors, skip=done, prior=stored)
    results += fingerprints.scan_step(case, image, skip=done)
    face_check = face_detector()
    if (host_is_adult(case) and not any(d.alias == FACES for d in detectors)
            and (FACES, face_check.get_version()) not in done):
        # The face check matters only for the deepfake-risk escalation, which needs
        # the host's adult flag: other works are spared its cost.
        results.append(run_detector(face_check, image))
    return finish(case.pk, image.sha256, results)


_FACE_DETECTOR: FaceDetector | None = None


def face_detector() -> FaceDetector:
    """The face check the pipeline runs on adult-flagged works (built once per process)."""
    global _FACE_DETECTOR
    if _FACE_DETECTOR is None:
        _FACE_DETECTOR = FaceDetector(FACES)
    return _FACE_DETECTOR


def host_is_adult(case: ModerationCase) -> bool:
    """The host's adult flag on the case's work (False when it has none or is gone).

    Hosts registered without ``adult_field`` are answered without reading the work, so
    the scan pays for this only where the flag exists.
    """
    model = case.content_type.model_class()
    if model is None or not registry.is_registered(model):
        return False
    options = registry.get_options(model)
    if not options.adult_field:
        return False
    instance = case.host_instance()
    return instance is not None and options.get_adult(instance)


def finish(case_id: int, sha256: str, results: list[EvidenceResult]) -> str:
    """Store new evidence, run the policy on all of it and apply the decision."""
    with transaction.atomic():
        case = ModerationCase.objects.select_for_update().get(pk=case_id)
        for result in results:
            store_evidence(case, sha256, result)
        for result in case_signals(case, sha256, results):
            store_evidence(case, sha256, result)
        evidence = [to_result(e) for e in case.evidence.filter(content_sha256=sha256)]
        evidence.append(host_evidence(host_is_adult(case)))
        decision = get_policy().decide(case.declaration or None, evidence, moderation_settings,
                                       declared_tool=case.declared_tool,
                                       standing=standing(case.owner))
        before = case.snapshot()
        if case.content_sha256 != sha256:
            case.decided_by, case.decided_at = None, None
        case.content_sha256 = sha256
        case.state = ProcessingState.DONE
        case.scanned_at = timezone.now()
        case.ai_score = decision.ai_score
        case.last_error = ""
        if case.decided_at is None:  # a moderator's verdict on this content stands
            apply_decision(case, decision)
        case.save()
        fingerprints.after_scan(case, sha256)
        after = case.snapshot()
        ModerationAction.objects.create(case=case, action="scan", before=before, after=after,
                                        note=", ".join(decision.reasons)[:2000])
        _send_after_commit(case, decision, before, after)
    logger.info("case %s scanned: %s/%s %s", case_id, case.label, case.route,
                ",".join(f"{r.detector}={r.elapsed_ms:.0f}ms" for r in results))
    return ProcessingState.DONE


def apply_decision(case: ModerationCase, decision: Decision) -> None:
    case.label = decision.label
    case.route = decision.route
    case.reasons = list(decision.reasons)
    case.generator = decision.generator[:200]
    case.model_name = decision.model[:300]
    case.loras = list(decision.loras)
    case.needs_review = decision.needs_review
    case.review_priority = decision.review_priority
    case.undisclosed_ai = decision.undisclosed_ai


def store_evidence(case: ModerationCase, sha256: str, result: EvidenceResult) -> Evidence:
    """Insert one evidence row unless a concurrent delivery already did (idempotent)."""
    obj, _ = Evidence.objects.get_or_create(
        case=case, detector=result.detector, detector_version=result.version,
        content_sha256=sha256,
        defaults={
            "mode": result.mode, "label": result.label, "score": result.score,
            "strength": result.strength, "message": result.message[:64],
            "message_params": result.message_params,
            "generator": result.generator[:200], "model_name": result.model[:300],
            "loras": list(result.loras), "reasons": list(result.reasons),
            "details": result.details, "private": result.private,
            "error": result.error[:500], "elapsed_ms": result.elapsed_ms,
        },
    )
    return obj


def to_result(e: Evidence) -> EvidenceResult:
    """Rebuild the policy's view of a stored evidence row."""
    return EvidenceResult(
        detector=e.detector, version=e.detector_version, label=e.label, strength=e.strength,
        message=e.message, message_params=e.message_params, score=e.score, details=e.details,
        generator=e.generator,
        model=e.model_name, loras=tuple(e.loras), reasons=tuple(e.reasons),
        elapsed_ms=e.elapsed_ms, mode=e.mode, error=e.error,
    )


def reject(case_id: int, code: str, message: str = "", *, sha256: str = "") -> None:
    """End the case as rejected with a stable reason code; it is not retried."""
    with transaction.atomic():
        case = ModerationCase.objects.select_for_update().get(pk=case_id)
        if sha256:
            case.content_sha256 = sha256
        case.rejection_reason = code
        case.last_error = message[:2000]
        _finish_failed(case, ProcessingState.REJECTED, note=f"{code}: {message}"[:2000])


def backoff_seconds(failures: int) -> int:
    """Delay before the next attempt after ``failures`` failed ones: 2, 4, 8 … seconds."""
    return int(min(2 ** max(1, failures), moderation_settings.RETRY_BACKOFF_MAX))


def record_failure(case_id: int, error: str, *, transient: bool = False,
                   counted: bool = True) -> int | None:
    """Note a failed attempt in the case and the audit log.

    Returns the seconds to wait before retrying, or None when the case is finished
    (quarantined, or it ended some other way meanwhile). A ``transient`` failure (the
    database or broker connection lost, a detector's service unavailable) gives the
    attempt back (``counted``: whether :func:`begin_attempt` had committed it) and counts
    in ``transient_failures`` instead, so a short outage never quarantines a healthy
    upload; the delay grows with both counts.
    """
    with transaction.atomic():
        case = ModerationCase.objects.select_for_update().filter(pk=case_id).first()
        if case is None or case.state in TERMINAL_STATES:
            return None
        before = case.snapshot()
        case.last_error = error[:2000]
        if transient:
            if counted and case.attempts:
                case.attempts -= 1
            case.transient_failures += 1
            exhausted = case.transient_failures > moderation_settings.MAX_TRANSIENT_FAILURES
            tally = f"{case.transient_failures} transient failures"
        else:
            exhausted = case.attempts >= moderation_settings.MAX_ATTEMPTS
            tally = f"{case.attempts} attempts"
        if exhausted:
            _finish_failed(case, ProcessingState.QUARANTINED,
                           note=f"quarantined after {tally}: {error}"[:2000])
            return None
        case.state = ProcessingState.PENDING
        case.publish_due_at = timezone.now()  # the retry is in the outbox until published
        case.save(update_fields=["last_error", "state", "attempts", "transient_failures",
                                 "publish_due_at", "updated_at"])
        ModerationAction.objects.create(
            case=case, action="scan_failed", before=before, after=case.snapshot(),
            note=(f"{'transient, not counted' if transient else f'attempt {case.attempts}'}"
                  f": {error}")[:2000])
        return backoff_seconds(case.attempts + case.transient_failures)


def _finish_failed(case: ModerationCase, state: str, note: str) -> None:
    """Move ``case`` to rejected/quarantined (call inside a transaction holding its lock)."""
    before = case.snapshot()
    case.state = state
    case.scanned_at = timezone.now()
    routing = get_policy().scan_failed(state, moderation_settings)
    case.route = routing.route
    case.needs_review = routing.needs_review
    case.review_priority = routing.review_priority
    case.save()
    after = case.snapshot()
    ModerationAction.objects.create(case=case, action=str(state), before=before, after=after,
                                    note=note)
    _send_after_commit(case, None, before, after)


def _send_after_commit(case: ModerationCase, decision: Decision | None,
                       before: dict[str, Any], after: dict[str, Any]) -> None:
    case_id = case.pk

    def send() -> None:
        fresh = ModerationCase.objects.filter(pk=case_id).first()
        if fresh is None:
            return
        case_scanned.send(sender=ModerationCase, case=fresh, decision=decision,
                          evidence=list(fresh.evidence.all()))
        if (before["label"], before["route"]) != (after["label"], after["route"]):
            verdict_changed.send(sender=ModerationCase, case=fresh, before=before, after=after,
                                 actor=None)

    transaction.on_commit(send)

