"""Frozen value objects passed between imaging, detectors, the policy and the pipeline.

They carry no database state, which is what lets the CLI run the exact same detectors
and policy as the Celery worker without touching a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from moderation.constants import StandingLevel

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class ImageInput:
    """One upload decoded once and shared by every detector.

    ``data`` holds the original bytes: provenance reads metadata from them, never from a
    re-encoded copy. ``image`` is frame 0, EXIF-transposed and normalised to 8-bit RGB;
    ``alpha`` keeps the original alpha channel (stealth metadata lives there).

    ``reduced`` is the factor by which ``image`` was shrunk while decoding (JPEG DCT
    scaling, only as far as every configured detector allows): ``image`` is then about
    ``width / reduced`` x ``height / reduced``, while ``width`` and ``height`` stay the
    upload's rendered size, and ``raw`` is None (stored pixels at native size are gone).
    """

    data: bytes
    sha256: str
    format: str
    mime: str
    width: int
    height: int
    frames: int
    mode: str
    image: Image.Image
    alpha: Image.Image | None = None
    raw: Image.Image | None = None
    name: str = ""
    warnings: tuple[str, ...] = ()
    reduced: int = 1


@dataclass(frozen=True)
class EvidenceResult:
    """What one detector found in one image.

    ``message`` is a reason code and ``message_params`` its parameters: the one-line
    summary a page shows is rendered from them in the reader's language
    (:func:`moderation.reasons.describe`), never stored as a sentence. ``details`` is
    shown to moderators (generator, signer, sampler...). ``private`` holds what only
    moderators may read, such as the prompt; it is stored separately so no serializer
    can leak it by accident. ``artifacts`` carries what the pipeline keeps elsewhere and
    never in the evidence row (the classifier's pooled embedding, for the similarity
    index); it is not stored with the evidence and a cached result has none.
    """

    detector: str
    version: str
    label: str
    strength: str
    message: str = ""
    message_params: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    private: dict[str, Any] = field(default_factory=dict)
    generator: str = ""
    model: str = ""
    loras: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    elapsed_ms: float = 0.0
    mode: str = "enforce"
    error: str = ""
    artifacts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def with_meta(self, **changes: Any) -> EvidenceResult:
        """Return a copy with pipeline bookkeeping fields (alias, mode, timing) replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Standing:
    """An account's standing: how many active strikes and what follows from them.

    The pipeline computes it from the database and hands it to the policy as a value,
    so the policy stays a pure function (the CLI passes :data:`CLEAN_STANDING`).
    """

    strikes: int
    level: str  # a StandingLevel value
    held_until: datetime | None = None

    @property
    def label(self) -> str:
        return str(StandingLevel(self.level).label) if self.level in StandingLevel.values \
            else self.level

    @property
    def suspended(self) -> bool:
        return self.level == StandingLevel.SUSPEND

    @property
    def held(self) -> bool:
        return self.level == StandingLevel.HOLD and self.held_until is not None \
            and self.held_until > timezone.now()


CLEAN_STANDING = Standing(0, StandingLevel.CLEAN)


@dataclass(frozen=True)
class Decision:
    """The policy's verdict for one case."""

    label: str
    route: str
    review_priority: int = 0
    reasons: tuple[str, ...] = ()
    undisclosed_ai: bool = False
    needs_review: bool = False
    generator: str = ""
    model: str = ""
    loras: tuple[str, ...] = ()
    ai_score: float | None = None


@dataclass(frozen=True)
class Routing:
    """Where a case goes when there is no verdict to give (upload pending, scan failed)."""

    route: str
    needs_review: bool = False
    review_priority: int = 0


@dataclass(frozen=True)
class ScanResult:
    """Result of scanning raw bytes outside the database (CLI, ``scan_file``)."""

    decision: Decision | None
    evidence: tuple[EvidenceResult, ...] = ()
    error: str | None = None
    error_message: str = ""
    sha256: str = ""
