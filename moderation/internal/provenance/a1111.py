"""Parse the A1111 ``parameters`` text (also Forge, reForge, SD.Next, Fooocus' a1111 scheme).

Format: the prompt, an optional ``Negative prompt: ...`` block,
then one settings line ``Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size:
512x512, Model hash: ..., Model: ..., Lora hashes: "a: 1, b: 2", Version: f2.0.1``.
No library parses this reliably (sd-parsers and sd-prompt-reader miss records and mislabel
others), so the small grammar is written here. The extras tab writes a ``postprocessing``/``extras``
record with only upscale settings; that is also written for human images, so it is
reported separately and weakly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: The settings line that makes a text an A1111 record rather than prose.
SETTINGS_RE = re.compile(r"(?:^|\n)Steps: \d+, .*\b(?:Sampler|Seed): ")
#: ``key: value`` pairs of the settings line; values may be double-quoted with commas.
PAIR_RE = re.compile(r'\s*([\w][\w \-/()\[\].]*?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
LORA_TAG_RE = re.compile(r"<(lora|lyco):([^:>]+)(?::([-+]?\d*\.?\d+))?[^>]*>", re.IGNORECASE)
#: Keys an extras/postprocessing record carries (A1111 ``postprocessing`` info text).
EXTRAS_RE = re.compile(r"\b(Postprocess upscale(?:r| by)|Postprocess upscaler|Extras)\b")

MAX_PAIRS = 200


@dataclass
class A1111Record:
    """What a ``parameters`` text says. Prompts are kept apart so they stay private."""

    prompt: str = ""
    negative_prompt: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    loras: list[tuple[str, float | None]] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.settings.get("Model", "")

    @property
    def version(self) -> str:
        return self.settings.get("Version", "")

    @property
    def app(self) -> str:
        """Which A1111-family tool wrote it: SD.Next says ``App:``, Forge a ``f`` version."""
        app = self.settings.get("App", "")
        if app:
            return app
        version = self.version
        if version.startswith("f") and version[1:2].isdigit():
            return "Stable Diffusion WebUI Forge"
        if "classic" in version.lower() or "reforge" in version.lower():
            return "Stable Diffusion WebUI reForge"
        return "Stable Diffusion WebUI (A1111)"


def looks_like_parameters(text: str) -> bool:
    return bool(SETTINGS_RE.search(text))


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def parse_settings_line(line: str) -> dict[str, str]:
    """Split ``Steps: 20, Sampler: Euler a, ...`` into an ordered dict."""
    settings: dict[str, str] = {}
    for match in PAIR_RE.finditer(line):
        if len(settings) >= MAX_PAIRS:
            break
        key, value = match.group(1).strip(), _unquote(match.group(2))
        if key:
            settings.setdefault(key, value)
    return settings


def _parse_hash_list(value: str) -> list[str]:
    """``"name: hash, name2: hash2"`` -> names (Lora hashes / TI hashes)."""
    names = []
    for part in value.split(","):
        name = part.split(":", 1)[0].strip()
        if name:
            names.append(name)
    return names


def parse_parameters(text: str) -> A1111Record | None:
    """Parse an A1111 ``parameters`` text; None if it has no settings line."""
    if not looks_like_parameters(text):
        return None
    lines = text.strip("\n").split("\n")
    settings_index = max(i for i, line in enumerate(lines) if line.startswith("Steps: "))
    record = A1111Record(settings=parse_settings_line(lines[settings_index]))
    head = lines[:settings_index]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in head:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:") :].lstrip()
        target.append(line)
    record.prompt = "\n".join(prompt_lines).strip()
    record.negative_prompt = "\n".join(negative_lines).strip()
    seen: set[str] = set()
    for match in LORA_TAG_RE.finditer(record.prompt):
        name = match.group(2).strip()
        weight = float(match.group(3)) if match.group(3) else None
        if name not in seen:
            seen.add(name)
            record.loras.append((name, weight))
    for key in ("Lora hashes", "LyCORIS hashes"):
        for name in _parse_hash_list(record.settings.get(key, "")):
            if name not in seen:
                seen.add(name)
                record.loras.append((name, None))
    return record


def parse_extras(text: str) -> dict[str, str] | None:
    """Parse an extras/postprocessing record (upscale only); None if it is not one."""
    if not EXTRAS_RE.search(text):
        return None
    return parse_settings_line(text.replace("\n", ", "))
