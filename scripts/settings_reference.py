"""Write docs/settings.md, the MODERATION settings reference, from moderation/conf.py.

The defaults table in ``moderation/conf.py`` is the one source: each key's description
is the comment block directly above it, and ``# --- name ---`` lines start sections. The
reference is generated so it cannot drift; ``tests/test_settings_reference.py`` fails
when the committed file differs from what this script writes.

    python scripts/settings_reference.py          # rewrite docs/settings.md
    python scripts/settings_reference.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.conf import DEFAULTS  # noqa: E402  (the repository root is on the path now)

CONF = ROOT / "moderation" / "conf.py"
OUT = ROOT / "docs" / "settings.md"

HEADER = """# `MODERATION` settings

Every key is optional: a site sets only what it changes, in one dict:

```python
MODERATION = {"QUEUE": "moderation", "AI_DAILY_QUOTA": 20}
```

`python manage.py check` reports misconfigurations with an id and a hint. This page is
generated from the defaults table in `moderation/conf.py` by
`python scripts/settings_reference.py`; edit the comments there, not this file.
"""


def _render(value: Any) -> str:
    """A default as a reader wants to see it: JSON-like, long lists shortened."""
    if value is None:
        return "`None`"
    if isinstance(value, list) and len(json.dumps(value)) > 60:
        head = ", ".join(json.dumps(v) for v in value[:4])
        return f"`[{head}, …]` ({len(value)} entries)"
    if isinstance(value, dict) and len(json.dumps(value)) > 60:
        return "`{" + ", ".join(json.dumps(k) for k in value) + "}` (keys)"
    if isinstance(value, bool) or value is None:
        return f"`{value!r}`"
    if isinstance(value, int) and value >= 1024 * 1024 and value % (1024 * 1024) == 0:
        return f"`{value}` ({value // (1024 * 1024)} MiB)"
    return f"`{json.dumps(value)}`"


def entries(source: str) -> list[tuple[str, str, Any, str]]:
    """(section, key, default, description) for each key, in the file's order."""
    tree = ast.parse(source)
    lines = source.splitlines()
    table = next(node.value for node in ast.walk(tree)
                 if isinstance(node, ast.AnnAssign | ast.Assign)
                 and getattr(getattr(node, "target", None), "id", None) == "DEFAULTS"
                 and isinstance(node.value, ast.Dict))
    assert isinstance(table, ast.Dict)
    out = []
    section = "General"
    previous_end = table.lineno
    for key_node, value_node in zip(table.keys, table.values, strict=True):
        assert isinstance(key_node, ast.Constant)
        comments: list[str] = []
        for text in lines[previous_end:key_node.lineno - 1]:
            stripped = text.strip()
            if stripped.startswith("# ---"):
                section = stripped.strip("# -").strip()
                comments = []
            elif stripped.startswith("#"):
                comments.append(stripped.lstrip("#").strip())
        previous_end = value_node.end_lineno or key_node.lineno
        key = str(key_node.value)
        out.append((section, key, DEFAULTS[key], " ".join(comments)))
    return out


def render(source: str) -> str:
    parts = [HEADER]
    current = None
    for section, key, value, text in entries(source):
        if section != current:
            parts.append(f"\n## {section[0].upper() + section[1:]}\n\n| key | default | meaning |\n"
                         "| --- | --- | --- |")
            current = section
        meaning = text.replace("|", "\\|") or "(undocumented)"
        parts.append(f"| `{key}` | {_render(value)} | {meaning} |")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/settings.md differs")
    args = parser.parse_args()
    text = render(CONF.read_text(encoding="utf-8"))
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print("docs/settings.md is out of date: run python scripts/settings_reference.py")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
