"""Choice enumerations shared by models, policy, detectors and the API."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

#: Longest note, appeal message or decision note the app accepts.
NOTE_MAX = 5000


class ProcessingState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")
    QUARANTINED = "quarantined", _("Quarantined")


TERMINAL_STATES = frozenset(
    {ProcessingState.DONE, ProcessingState.REJECTED, ProcessingState.QUARANTINED}
)


class Label(models.TextChoices):
    HUMAN = "human", _("Hand-made")
    AI_ASSISTED = "ai_assisted", _("AI-assisted")
    AI = "ai", _("AI-generated")
    UNCERTAIN = "uncertain", _("Uncertain")


class Route(models.TextChoices):
    MAIN = "main", _("New arrivals")
    AI_FEED = "ai_feed", _("AI feed")
    HELD = "held", _("Held for review")
    HIDDEN = "hidden", _("Hidden")


class Declaration(models.TextChoices):
    """What the uploader said about AI use. ``NONE`` means "made by hand, no AI"."""

    NONE = "none", _("No AI (hand-made)")
    AI_ASSISTED = "ai_assisted", _("AI-assisted")
    AI = "ai", _("AI-generated")


class EvidenceLabel(models.TextChoices):
    """What one detector concluded; ``NONE`` means it found nothing either way."""

    AI = "ai", _("AI")
    AI_ASSISTED = "ai_assisted", _("AI-assisted")
    HUMAN = "human", _("Human")
    NONE = "none", _("Nothing found")


class Strength(models.TextChoices):
    """How much a piece of evidence can bear: proof (cryptographically bound and checked
    offline) > strong (a structured tool record) > weak (editable free text)."""

    PROOF = "proof", _("Proof")
    STRONG = "strong", _("Strong")
    WEAK = "weak", _("Weak")


STRENGTH_RANK = {Strength.WEAK: 1, Strength.STRONG: 2, Strength.PROOF: 3}


class DetectorMode(models.TextChoices):
    ENFORCE = "enforce", _("Enforce")
    SHADOW = "shadow", _("Shadow")


class RejectionReason(models.TextChoices):
    """Stable codes for uploads that cannot be scanned; shown to users and used by the CLI."""

    EMPTY = "empty", _("The file is empty.")
    FILE_TOO_BIG = "file_too_big", _("The file is larger than this site accepts.")
    TOO_LARGE = "too_large", _("The image has more pixels than this site accepts.")
    UNSUPPORTED_FORMAT = "unsupported_format", _("This file type is not an accepted image format.")
    CORRUPT = "corrupt", _("The image is truncated or corrupt.")
    TOO_MANY_FRAMES = "too_many_frames", _("The animation has too many frames.")
    METADATA = "metadata", _("The image carries oversized or malicious metadata.")
    MISSING_FILE = "missing_file", _("The uploaded file could not be found.")


class TrainingChoice(models.TextChoices):
    """A creator's or a work's AI-training reservation; ``DEFAULT`` defers to the next level
    up (work -> creator -> site default)."""

    DEFAULT = "default", _("Use the default")
    RESERVE = "reserve", _("Do not allow AI training")
    ALLOW = "allow", _("Allow AI training")


class AIFilter(models.TextChoices):
    """A viewer's feed preference, also the values of the ``?ai=`` query parameter."""

    EXCLUDE = "exclude", _("Hide AI works")
    INCLUDE = "include", _("Show all works")
    ONLY = "only", _("AI works only")


class StandingLevel(models.TextChoices):
    """What an account's active strikes do to its new uploads; ``CLEAN`` is none."""

    CLEAN = "", _("In good standing")
    WARN = "warn", _("Warned")
    HOLD = "hold", _("New uploads held for review")
    SUSPEND = "suspend", _("Uploads suspended until a moderator lifts it")
