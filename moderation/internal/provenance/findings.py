"""The value every provenance reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One signal found in a file.

    ``label`` is an :class:`~moderation.constants.EvidenceLabel` value ("ai",
    "ai_assisted", "human", "none"); ``strength`` a :class:`Strength` value. Rights
    information (PLUS DataMining, C2PA training-mining) is a finding with label "none"
    and ``kind`` "rights": kept and shown, never counted as AI evidence.

    ``source`` names the reader and place ("c2pa", "xmp", "png:parameters",
    "exif:UserComment", "stealth:alpha"...); ``reason`` is a stable code used in
    decisions ("c2pa_trusted_ai", "a1111_parameters"...). ``details`` is shown to
    moderators; ``private`` (prompts) only to moderators with the permission.
    ``params`` fill the reason's sentence (:func:`moderation.reasons.describe`) when a
    page shows it: a finding stores no sentence, so every reader gets their language.
    """

    source: str
    reason: str
    label: str
    strength: str
    params: dict[str, str] = field(default_factory=dict)
    kind: str = "ai_signal"
    generator: str = ""
    model: str = ""
    loras: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    private: dict[str, Any] = field(default_factory=dict)
