"""Size caps shared by every provenance reader.

Metadata is attacker-controlled: a PNG text chunk can hold megabytes of JSON nested
ten thousand levels deep, and a prompt can be a novel. Every reader runs what it
parses through these helpers so one upload cannot exhaust a worker's memory or stack,
or bloat the evidence row.
"""

from __future__ import annotations

import json
from typing import Any

from moderation.conf import moderation_settings

#: Appended to text cut by :func:`cap_text` so moderators can see it was cut.
TRUNCATION_MARK = "…[truncated]"


def _setting(name: str, fallback: int) -> int:
    """Read an integer cap from ``MODERATION``, falling back outside a Django project."""
    try:
        return int(getattr(moderation_settings, name))
    except Exception:  # settings not configured (e.g. a bare script importing a reader)
        return fallback


def field_limit() -> int:
    """Maximum characters kept from one metadata field (``METADATA_FIELD_LIMIT``)."""
    return _setting("METADATA_FIELD_LIMIT", 64 * 1024)


def total_limit() -> int:
    """Maximum serialized size of one evidence record (``METADATA_TOTAL_LIMIT``)."""
    return _setting("METADATA_TOTAL_LIMIT", 256 * 1024)


def json_max_depth() -> int:
    """Maximum nesting depth accepted by :func:`load_json_limited` (``JSON_MAX_DEPTH``)."""
    return _setting("JSON_MAX_DEPTH", 64)


def json_max_bytes() -> int:
    """Maximum size accepted by :func:`load_json_limited` (``JSON_MAX_BYTES``)."""
    return _setting("JSON_MAX_BYTES", 2 * 1024 * 1024)


def cap_text(s: str, limit: int | None = None) -> tuple[str, bool]:
    """Return ``s`` cut to ``limit`` characters (default ``METADATA_FIELD_LIMIT``).

    The second value says whether anything was cut, so callers can set the evidence
    ``truncated`` flag instead of silently losing text.
    """
    if limit is None:
        limit = field_limit()
    if len(s) <= limit:
        return s, False
    keep = max(0, limit - len(TRUNCATION_MARK))
    return s[:keep] + TRUNCATION_MARK, True


def json_depth(text: str) -> int:
    """Return the maximum bracket nesting depth of JSON ``text`` without parsing it.

    Hand-written because the standard library offers no depth limit: ``json.loads``
    recurses once per level and would raise ``RecursionError`` (or worse, use a lot of
    stack) on hostile input before any hook could stop it. This linear scan skips
    string contents, including escaped quotes, so brackets inside strings don't count.
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


def load_json_limited(
    text: str | bytes, *, max_depth: int | None = None, max_bytes: int | None = None
) -> Any:
    """Parse JSON ``text``, refusing input that is too large or too deeply nested.

    Raises :class:`ValueError` (``json.JSONDecodeError`` is a subclass) for invalid
    JSON, for input over ``JSON_MAX_BYTES`` and for nesting over ``JSON_MAX_DEPTH``.
    Non-finite numbers (``NaN``, ``Infinity``) are refused too: they are not JSON and
    cannot be stored in a ``JSONField``.
    """
    limit_bytes = json_max_bytes() if max_bytes is None else max_bytes
    limit_depth = json_max_depth() if max_depth is None else max_depth
    if isinstance(text, bytes | bytearray):
        if len(text) > limit_bytes:
            raise ValueError(f"JSON is {len(text)} bytes, over the {limit_bytes}-byte limit")
        text = bytes(text).decode("utf-8", errors="replace")
    elif len(text) > limit_bytes:
        raise ValueError(f"JSON is {len(text)} characters, over the {limit_bytes} limit")
    depth = json_depth(text)
    if depth > limit_depth:
        raise ValueError(f"JSON nests {depth} levels, over the {limit_depth}-level limit")

    def _refuse_constant(name: str) -> Any:
        raise ValueError(f"JSON constant {name} is not allowed")

    return json.loads(text, parse_constant=_refuse_constant)
