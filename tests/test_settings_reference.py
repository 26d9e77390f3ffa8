"""docs/settings.md is generated from moderation/conf.py's defaults table and stays so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moderation.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "settings_reference.py"


def test_the_committed_reference_is_what_the_defaults_table_generates() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_setting_is_described() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for key in DEFAULTS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{key}` |"))
        assert "(undocumented)" not in row, f"describe {key} in moderation/conf.py"
