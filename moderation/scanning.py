"""Detector runs and decisions on raw bytes, shared by the Celery pipeline and the CLI."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable

from moderation.conf import moderation_settings
from moderation.constants import EvidenceLabel, Strength
from moderation.detectors import detectors as detector_handler
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput, ScanResult
from moderation.exceptions import DetectorError, ImageRejected, TransientDetectorError
from moderation.internal.imaging import load_image
from moderation.policy import get_policy
from moderation.reasons import DETECTOR_FAILED

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


def run_detectors(image: ImageInput, detectors: Iterable[BaseDetector],
                  skip: frozenset[tuple[str, str]] = frozenset()) -> list[EvidenceResult]:
    """Run each enabled detector whose (alias, version) is not in ``skip``."""
    return [run_detector(d, image) for d in detectors
            if d.enabled and (d.alias, d.get_version()) not in skip]


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
    try:
        image = load_image(data, name=name)
    except ImageRejected as exc:
        return ScanResult(decision=None, error=exc.code, error_message=exc.message, sha256=sha)
    evidence = run_detectors(image, configured_detectors(use_classifier=use_classifier))
    decision = get_policy().decide(declaration, evidence, moderation_settings)
    return ScanResult(decision=decision, evidence=tuple(evidence), sha256=sha)
