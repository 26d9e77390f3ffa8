"""The generator-pattern table: which strings and keys name which AI tool.

It is data (``moderation/data/generators.json``), versioned and replaceable through
the ``GENERATOR_PATTERNS`` setting, so a new tool's signature can ship without a code
release; its ``version`` is part of the provenance detector's version, so updating it
rescans nothing silently.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moderation.constants import EvidenceLabel, Strength

BUNDLED_TABLE = Path(__file__).resolve().parents[2] / "data" / "generators.json"
_LABELS = {EvidenceLabel.AI.value, EvidenceLabel.AI_ASSISTED.value}
_STRENGTHS = {Strength.WEAK.value, Strength.STRONG.value}


@dataclass(frozen=True)
class TextPattern:
    """A regex over a free-text field naming a generator."""

    regex: re.Pattern[str]
    generator: str
    label: str = EvidenceLabel.AI.value
    strength: str = Strength.WEAK.value
    reason: str = "generator_software_string"


@dataclass(frozen=True)
class KeySpec:
    """A PNG text keyword that only one tool writes, and how to read its value."""

    parser: str
    generator: str


@dataclass(frozen=True)
class JsonMarker:
    """A key inside a JSON record that identifies the tool that wrote it."""

    key: str
    generator: str
    reason: str


@dataclass(frozen=True)
class GeneratorTable:
    """Compiled patterns. Build with :func:`load_generator_table`."""

    version: str
    human_tools: tuple[re.Pattern[str], ...]
    software: tuple[TextPattern, ...]
    software_fields: frozenset[str]
    descriptions: tuple[TextPattern, ...]
    keys: dict[str, KeySpec]
    json_markers: tuple[JsonMarker, ...]
    fooocus_keys: frozenset[str]

    def is_human_tool(self, value: str) -> bool:
        """True for strings naming a drawing/photo tool (Photoshop, GIMP, Krita, ...)."""
        return any(p.search(value) for p in self.human_tools)

    def match_software(self, value: str) -> TextPattern | None:
        """The first software pattern matching ``value``; never for a human tool."""
        value = value.strip()
        if not value or self.is_human_tool(value):
            return None
        for pattern in self.software:
            if pattern.regex.search(value):
                return pattern
        return None

    def match_description(self, value: str) -> TextPattern | None:
        for pattern in self.descriptions:
            if pattern.regex.search(value):
                return pattern
        return None

    def json_marker(self, obj: dict[str, Any]) -> JsonMarker | None:
        for marker in self.json_markers:
            if marker.key in obj:
                return marker
        return None


def _compile(pattern: Any, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ValueError(f"{where}: pattern must be a string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: bad regex {pattern!r}: {exc}") from exc


def _text_pattern(entry: Any, where: str, default_strength: str) -> TextPattern:
    if not isinstance(entry, dict) or not isinstance(entry.get("generator"), str):
        raise ValueError(f"{where}: needs 'pattern' and 'generator'")
    label = entry.get("label", EvidenceLabel.AI.value)
    strength = entry.get("strength", default_strength)
    if label not in _LABELS or strength not in _STRENGTHS:
        raise ValueError(f"{where}: label must be ai/ai_assisted, strength weak/strong")
    return TextPattern(
        _compile(entry.get("pattern"), where), entry["generator"], label, strength,
        str(entry.get("reason", "generator_software_string")),
    )


def parse_generator_table(raw: dict[str, Any]) -> GeneratorTable:
    """Validate and compile a decoded table; raises ValueError naming the bad entry."""
    if not isinstance(raw, dict) or not isinstance(raw.get("version"), str):
        raise ValueError("generator table: needs a string 'version'")
    keys: dict[str, KeySpec] = {}
    for key, spec in (raw.get("keys") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("generator"), str):
            raise ValueError(f"keys.{key}: needs 'parser' and 'generator'")
        keys[key] = KeySpec(str(spec.get("parser", "marker")), spec["generator"])
    markers = []
    for i, entry in enumerate(raw.get("json_markers") or []):
        if not isinstance(entry, dict) or not {"key", "generator"} <= entry.keys():
            raise ValueError(f"json_markers[{i}]: needs 'key' and 'generator'")
        markers.append(JsonMarker(str(entry["key"]), str(entry["generator"]),
                                  str(entry.get("reason", "generator_metadata"))))
    return GeneratorTable(
        version=raw["version"],
        human_tools=tuple(
            _compile(p, f"human_tools[{i}]") for i, p in enumerate(raw.get("human_tools") or [])
        ),
        software=tuple(
            _text_pattern(e, f"software[{i}]", Strength.WEAK.value)
            for i, e in enumerate(raw.get("software") or [])
        ),
        software_fields=frozenset(str(f) for f in raw.get("software_fields") or []),
        descriptions=tuple(
            _text_pattern(e, f"descriptions[{i}]", Strength.STRONG.value)
            for i, e in enumerate(raw.get("descriptions") or [])
        ),
        keys=keys,
        json_markers=tuple(markers),
        fooocus_keys=frozenset(str(k) for k in raw.get("fooocus_keys") or []),
    )


@functools.lru_cache(maxsize=8)
def _load(path: str) -> GeneratorTable:
    with open(path, encoding="utf-8") as fh:
        return parse_generator_table(json.load(fh))


def load_generator_table(path: str | None = None) -> GeneratorTable:
    """Load (once per path per process) the table at ``path``, default the bundled one.

    Raises OSError if the file cannot be read and ValueError if it is malformed; the
    system check reports both at start-up.
    """
    return _load(str(Path(path).resolve()) if path else str(BUNDLED_TABLE))
