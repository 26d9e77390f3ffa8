"""README.md stays true: two commands first, and every MODERATION setting documented."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_opens_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```")[1]
    assert [line.strip() for line in first_block.splitlines() if line.strip()] == [
        "sh", "make demo", "make test"]


def test_readme_points_to_the_settings_reference():
    assert "docs/settings.md" in README.read_text(encoding="utf-8")
