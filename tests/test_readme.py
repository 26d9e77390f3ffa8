"""README.md stays true: two commands first, and every MODERATION setting documented."""

from __future__ import annotations

from pathlib import Path

from moderation.conf import DEFAULTS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_opens_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```")[1]
    assert [line.strip() for line in first_block.splitlines() if line.strip()] == [
        "sh", "make demo", "make test"]


def test_every_moderation_setting_has_a_row_in_the_settings_table():
    text = README.read_text(encoding="utf-8")
    missing = [key for key in DEFAULTS if f"| `{key}` |" not in text]
    assert not missing, f"document these MODERATION keys in README.md: {missing}"
