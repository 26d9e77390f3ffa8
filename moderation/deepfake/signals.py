"""The four deepfake-risk signals of one case, read from its evidence and decision.

The policy (escalation) and the case page (display) read them through
:func:`deepfake_signals`, so the page shows exactly what the decision used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from moderation.constants import DetectorMode, EvidenceLabel, Label, Strength
from moderation.evidence import EvidenceResult
from moderation.reasons import WEAK_AI_SIGNAL

#: Alias of the evidence that carries the host's flags into the policy (never stored).
HOST = "host"
#: Alias the pipeline gives its face check.
FACES = "faces"

AI_LABELS = (Label.AI, Label.AI_ASSISTED)


@dataclass(frozen=True)
class DeepfakeSignals:
    """Each signal is True, False, or None when it was not measured (no classifier photo
    head, no face check run)."""

    ai: bool
    photographic: bool | None
    photo_probability: float | None
    face: bool | None
    faces: int
    adult: bool

    @property
    def escalate(self) -> bool:
        return bool(self.ai and self.photographic and self.face and self.adult)


def host_evidence(adult: bool) -> EvidenceResult:
    """The host's adult flag as the policy reads it (built fresh for every decision)."""
    return EvidenceResult(detector=HOST, version="1", label=EvidenceLabel.NONE,
                          strength=Strength.WEAK, details={"kind": "host", "adult": adult})


def _usable(evidence: Iterable[EvidenceResult]) -> list[EvidenceResult]:
    return [e for e in evidence if e.mode == DetectorMode.ENFORCE and not e.error]


def photo_probability(evidence: Iterable[EvidenceResult]) -> float | None:
    """The highest P(photo) any classifier reported, or None."""
    values = [float(e.details["photo_probability"]) for e in _usable(evidence)
              if isinstance(e.details, dict)
              and isinstance(e.details.get("photo_probability"), int | float)]
    return max(values) if values else None


def deepfake_signals(evidence: Iterable[EvidenceResult], *, label: str,
                     reasons: Iterable[str], settings: Any,
                     adult: bool | None = None) -> DeepfakeSignals:
    """The signals of a case whose decision gave ``label`` and ``reasons``.

    ``adult`` overrides the host evidence (the case page reads the host's flag live).
    """
    usable = _usable(evidence)
    ai = label in AI_LABELS or WEAK_AI_SIGNAL.code in set(reasons)
    photo = photo_probability(usable)
    photographic = None if photo is None else photo >= float(settings.DEEPFAKE_PHOTO_THRESHOLD)
    face_rows = [e for e in usable if isinstance(e.details, dict)
                 and e.details.get("kind") == "faces"]
    faces = max((int(e.details.get("count", 0)) for e in face_rows), default=0)
    face = (faces > 0) if face_rows else None
    if adult is None:
        adult = any(e.detector == HOST and e.details.get("adult") is True for e in usable)
    return DeepfakeSignals(ai=ai, photographic=photographic, photo_probability=photo,
                           face=face, faces=faces, adult=bool(adult))
