"""Detector runs and decisions on raw bytes, shared by the Celery pipeline and the CLI."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from moderation.conf import moderation_settings
from moderation.constants import DetectorMode, EvidenceLabel, Strength
from moderation.detectors import detectors as detector_handler
from moderation.detectors.base import ANY_REDUCTION, BaseDetector
from moderation.evidence import EvidenceResult, ImageInput, ScanResult
from moderation.exceptions import DetectorError, ImageRejected, TransientDetectorError
from moderation.internal.imaging import Reduction, load_image
from moderation.policy import get_policy
from moderation.reasons import CLASSIFIER_SKIPPED, DETECTOR_FAILED

#: Evidence this strong that a work is AI-generated makes a classifier's weak score moot.
_PROVING = frozenset({Strength.PROOF.value, Strength.STRONG.value})

logger = logging.getLogger(__name__)


def run_detector(detector: BaseDetector, image: ImageInput) -> EvidenceResult:
    """Run one detector, timing it; a ``DetectorError`` becomes evidence with ``error`` set.

    Transient errors propagate so the task can retry; anything else a detector raises
    is a bug in it or an input it cannot handle, and must not sink the whole scan.
    """
    started = time.perf_counter()
    try:
        result = detector.detect(image)
    except TransientDetectorError:
        raise
    except (DetectorError, Exception) as exc:
        logger.warning("detector %s failed on %s: %s", detector.alias, image.sha256[:12], exc,
                       exc_info=not isinstance(exc, DetectorError))
        result = EvidenceResult(
            detector=detector.alias, version=detector.get_version(),
            label=EvidenceLabel.NONE, strength=Strength.WEAK,
            message=DETECTOR_FAILED.code, message_params={"detector": detector.alias},
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
    elapsed = (time.perf_counter() - started) * 1000
    return result.with_meta(detector=detector.alias, version=detector.get_version(),
                            mode=detector.mode, elapsed_ms=round(elapsed, 2))


def allowed_reduction(detectors: Sequence[BaseDetector],
                      also: Sequence[Callable[[int, int], int]] = ()) -> Reduction:
    """The ``reduction`` callback for :func:`load_image`: the factor every detector in
    ``detectors`` accepts for an image of a given size, so one reduced decode serves
    them all. ``also`` adds the limits of other steps that read the same pixels
    (fingerprints).

    That is the largest power of two within every limit (the minimum of their
    :meth:`~BaseDetector.max_reduction`, rounded down): the decoder scales JPEGs by
    powers of two that divide the factor it is given, and a classifier's limit is the
    power-of-two part of its own reduction, which any smaller power of two divides. The
    bare minimum lost that: a 12 MP JPEG, classifier 4 and fingerprints 3 (a 1024 px
    long side), was decoded at full size when 1/2 suits both (a full decode is twice
    the CPU time, and the classifier and PDQ then reduce 12 MP themselves).
    """
    def reduction(fmt: str, width: int, height: int) -> int:
        limits = [d.max_reduction(width, height) for d in detectors if d.enabled]
        limits += [limit(width, height) for limit in also]
        lowest = max(1, min(limits, default=ANY_REDUCTION))
        return 1 << (lowest.bit_length() - 1)
    return reduction


def proven_ai(evidence: Iterable[EvidenceResult]) -> EvidenceResult | None:
    """The first enforced, error-free evidence that the work is AI-generated at strong or
    proof strength; the default policy labels such a work AI whatever a classifier says."""
    return next((e for e in evidence if e.label == EvidenceLabel.AI and not e.error
                 and e.mode == DetectorMode.ENFORCE and e.strength in _PROVING), None)


def skipped_classifier(detector: BaseDetector, proof: EvidenceResult) -> EvidenceResult:
    """The evidence a classifier leaves when it did not run because ``proof`` exists:
    label ``none`` and no score, so the policy and the accuracy figures ignore it, and
    a reason saying which detector made it unnecessary."""
    return EvidenceResult(
        detector=detector.alias, version=detector.get_version(), label=EvidenceLabel.NONE,
        strength=Strength.WEAK, message=CLASSIFIER_SKIPPED.code,
        message_params={"detector": proof.detector},
        details={"kind": "classifier", "skipped": True, "proven_by": proof.detector},
        mode=detector.mode,
    )


def run_detectors(image: ImageInput, detectors: Iterable[BaseDetector],
                  skip: frozenset[tuple[str, str]] = frozenset(),
                  prior: Iterable[EvidenceResult] = ()) -> list[EvidenceResult]:
    """Run each enabled detector whose (alias, version) is not in ``skip``.

    Metadata readers and mark decoders run first; when one of them (or ``prior``, the
    evidence already stored for this content) proves the work AI and
    ``SKIP_CLASSIFIER_WHEN_PROVEN`` is on, the classifiers are not run and leave
    :func:`skipped_classifier` evidence instead. Results come back in configured order.
    """
    todo = [d for d in detectors if d.enabled and (d.alias, d.get_version()) not in skip]
    done: dict[int, EvidenceResult] = {}
    known = list(prior)
    for index, detector in sorted(enumerate(todo), key=lambda item: item[1].is_classifier()):
        proof = (proven_ai(known) if detector.is_classifier()
                 and moderation_settings.SKIP_CLASSIFIER_WHEN_PROVEN else None)
        result = (skipped_classifier(detector, proof) if proof is not None
                  else run_detector(detector, image))
        done[index] = result
        known.append(result)
    return [done[i] for i in range(len(todo))]


def configured_detectors(*, use_classifier: bool = True) -> list[BaseDetector]:
    """Return the enabled detectors; ``use_classifier=False`` leaves out the classifiers
    (:meth:`BaseDetector.is_classifier`) and keeps metadata readers and mark decoders."""
    found = detector_handler.enabled()
    if not use_classifier:
        found = [d for d in found if not d.is_classifier()]
    return found


def scan_bytes(data: bytes, *, name: str = "", declaration: str | None = None,
               use_classifier: bool = True) -> ScanResult:
    """Decode, detect and decide without a database (CLI and ``moderation.scan_file``)."""
    sha = hashlib.sha256(data).hexdigest()
    detectors = configured_detectors(use_classifier=use_classifier)
    try:
        image = load_image(data, name=name, reduction=allowed_reduction(detectors))
    except ImageRejected as exc:
        return ScanResult(decision=None, error=exc.code, error_message=exc.message, sha256=sha)
    evidence = run_detectors(image, detectors)
    decision = get_policy().decide(declaration, evidence, moderation_settings)
    return ScanResult(decision=decision, evidence=tuple(evidence), sha256=sha)
