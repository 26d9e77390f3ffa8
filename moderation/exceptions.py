"""Exceptions raised by Tegaki; configuration errors subclass ``ImproperlyConfigured``."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class ModerationError(Exception):
    """Base class for Tegaki's runtime errors."""


class AlreadyRegistered(ModerationError):
    """The model was already registered with the moderation registry."""


class NotRegistered(ModerationError):
    """The model is not registered with the moderation registry."""


class InvalidDetectorConfig(ImproperlyConfigured):
    """A ``MODERATION["DETECTORS"]`` entry cannot be turned into a detector."""


class DetectorError(ModerationError):
    """A detector failed on this input; the scan records it and carries on."""


class TransientDetectorError(DetectorError):
    """A detector failed for a reason that may pass (e.g. a lock); the task retries."""


class ImageRejected(ModerationError):
    """The upload cannot be decoded safely; ``code`` is a :class:`RejectionReason` value."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
