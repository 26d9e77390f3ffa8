"""Base class every detector backend subclasses (cf. Django's task and storage backends)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from moderation.exceptions import InvalidDetectorConfig
from moderation.reasons import Reason

if TYPE_CHECKING:
    from django.core.checks import CheckMessage

    from moderation.evidence import EvidenceResult, ImageInput

#: What :meth:`BaseDetector.max_reduction` returns for a detector that reads no pixels.
ANY_REDUCTION = 1 << 16


class BaseDetector(ABC):
    """A detector turns one :class:`ImageInput` into one :class:`EvidenceResult`.

    Subclasses set ``version`` (the version is part of the evidence
    idempotency key, so bump it whenever results may change), list their options in
    ``default_options`` (unknown options are rejected, as django-storages does) and
    implement :meth:`detect`.

    Every reason code a detector puts on its evidence is declared in ``reasons``: the
    detector handler registers them in :mod:`moderation.reasons`, which is how the work
    page, the case page, the queue and the API know what the code means.
    """

    version: ClassVar[str] = "0"
    default_options: ClassVar[dict[str, Any]] = {}
    #: Whether the detector reads decoded pixels.
    needs_pixels: ClassVar[bool] = True
    #: Whether the detector is a learned classifier (a score from a model), the kind
    #: ``moderation_scan --no-classifier`` and ``scan_file(use_classifier=False)`` leave
    #: out. None (the default, for backends written before this attribute) means "the
    #: same as ``needs_pixels``"; a pixel-reading decoder of a known mark, such as the
    #: invisible-watermark detector, sets False so it runs there too.
    classifier: ClassVar[bool | None] = None
    #: The reason codes :meth:`detect` may put on its evidence, with their texts.
    reasons: ClassVar[tuple[Reason, ...]] = ()

    @classmethod
    def declared_reasons(cls, options: dict[str, Any]) -> tuple[Reason, ...]:
        """The reasons this backend may emit with ``options``; read from the class,
        without building an instance (the web process never runs detectors)."""
        return cls.reasons

    def __init__(self, alias: str, options: dict[str, Any] | None = None,
                 mode: str = "enforce") -> None:
        self.alias = alias
        self.mode = mode
        unknown = set(options or {}) - set(self.default_options)
        if unknown:
            raise InvalidDetectorConfig(
                f"Invalid OPTIONS {sorted(unknown)} for detector {alias!r} "
                f"({type(self).__name__}); valid options: {sorted(self.default_options)}"
            )
        self.options = {**self.default_options, **(options or {})}
        self.validate()

    def validate(self) -> None:
        """Raise :class:`InvalidDetectorConfig` if the options cannot work."""
        return None  # optional hook: detectors without options accept anything

    @classmethod
    def is_classifier(cls) -> bool:
        """:attr:`classifier`, or :attr:`needs_pixels` where a backend leaves it unset."""
        return cls.needs_pixels if cls.classifier is None else cls.classifier

    def max_reduction(self, width: int, height: int) -> int:
        """The largest integer factor by which this detector may receive reduced pixels
        of a ``width`` x ``height`` image (as rendered); 1 means native pixels.

        The worker decodes once for every detector, so it reduces only as far as the
        detector needing the most pixels allows (a JPEG decoded with DCT scaling costs a
        fraction of a full decode). A detector that reads no pixels allows any factor; a
        pixel reader keeps 1 unless it knows it works on reduced pixels anyway.
        """
        return 1 if self.needs_pixels else ANY_REDUCTION

    @property
    def enabled(self) -> bool:
        """Return False when the detector is configured off (e.g. no model bundle)."""
        return True

    def get_version(self) -> str:
        """Return the version recorded with evidence (may include data versions)."""
        return self.version

    def check(self) -> list[CheckMessage]:
        """Return system-check messages about this detector's configuration."""
        return []

    @abstractmethod
    def detect(self, image: ImageInput) -> EvidenceResult:
        """Examine ``image`` and return what was found."""
