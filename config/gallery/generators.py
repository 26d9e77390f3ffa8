"""Names offered in the upload form's "tool or model" suggestions.

They come from the generator-pattern table shipped with the app
(``moderation/data/generators.json``) when it is there; its exact layout belongs to the
provenance code, so we only collect display names from the keys that usually hold them
and fall back to a short built-in list if the file is missing or unreadable. The field
stays free text either way: suggestions, never a closed list.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import moderation

logger = logging.getLogger(__name__)

TABLE = Path(moderation.__file__).resolve().parent / "data" / "generators.json"
NAME_KEYS = ("display_name", "name", "generator", "title")
FALLBACK = (
    "Adobe Firefly", "ComfyUI", "DALL·E", "Fooocus", "Forge", "GPT Image", "Imagen",
    "InvokeAI", "Midjourney", "NovelAI", "SD.Next", "Stable Diffusion WebUI (AUTOMATIC1111)",
    "Stability Matrix", "SwarmUI",
)
MAX_NAMES = 300


def _collect(node: Any, found: set[str], depth: int = 0) -> None:
    """Gather short strings stored under name-like keys, a few levels deep."""
    if depth > 4 or len(found) >= MAX_NAMES:
        return
    if isinstance(node, dict):
        for key in NAME_KEYS:
            value = node.get(key)
            if isinstance(value, str) and 0 < len(value.strip()) <= 80:
                found.add(value.strip())
                break
        for value in node.values():
            _collect(value, found, depth + 1)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str) and depth == 0 and len(item) <= 80:
                found.add(item.strip())
            else:
                _collect(item, found, depth + 1)


@lru_cache(maxsize=1)
def known_generators(path: Path = TABLE) -> tuple[str, ...]:
    """Return sorted generator names for the datalist (cached for the process)."""
    found: set[str] = set()
    try:
        _collect(json.loads(path.read_text(encoding="utf-8")), found)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        logger.warning("could not read generator names from %s: %s", path, exc)
    return tuple(sorted(found or set(FALLBACK), key=str.casefold))
