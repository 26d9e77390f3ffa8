"""``manage.py moderation_scan``: the JSON-lines contract, the table, exit codes, no database.

These tests carry no ``django_db`` mark, so pytest-django fails any query the command
might make; the subprocess tests additionally point the database at a path that cannot
exist and check that no database file appears.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from tests.fixtures import bad_images as bad

REPO = Path(__file__).resolve().parent.parent
ROW_KEYS = {"path", "label", "route", "ai_score", "generator", "model", "loras", "evidence",
            "error"}
EVIDENCE_KEYS = {"detector", "version", "label", "score", "strength", "summary"}


class FakeComfyDetector(BaseDetector):
    """Claims strong AI evidence for images wider than 100 px, nothing otherwise."""

    version = "7"
    needs_pixels = False

    def detect(self, image: ImageInput) -> EvidenceResult:
        if image.width <= 100:
            return EvidenceResult(self.alias, self.version, EvidenceLabel.NONE, Strength.WEAK)
        return EvidenceResult(self.alias, self.version, EvidenceLabel.AI, Strength.STRONG,
                              "comfyui_graph", {"app": "ComfyUI"}, generator="ComfyUI",
                              model="sdxl.safetensors",
                              loras=("ink.safetensors",))


FAKE_DETECTORS = {"comfy": {"BACKEND": "tests.test_cli_scan.FakeComfyDetector"}}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder of uploads: good, AI-ish, broken, foreign, empty, hidden, dangling."""
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "a_plain.png").write_bytes(bad.png((64, 48)))
    (tmp_path / "sub" / "b_wide.jpg").write_bytes(bad.jpeg((160, 90)))
    big = bad.png((300, 200))
    (tmp_path / "sub" / "deeper" / "c_truncated.png").write_bytes(big[: len(big) // 2])
    (tmp_path / "d_notes.txt").write_bytes(b"not an image")
    (tmp_path / "e_empty.png").write_bytes(b"")
    (tmp_path / ".hidden.png").write_bytes(bad.png())
    (tmp_path / "f_dangling.png").symlink_to(tmp_path / "gone.png")
    return tmp_path


def run_json(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("moderation_scan", "--json", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in rows}


def test_json_lines_contract_over_a_folder(tree: Path, settings) -> None:
    settings.MODERATION = {"DETECTORS": FAKE_DETECTORS}
    rows = run_json(str(tree))
    assert all(set(r) == ROW_KEYS for r in rows)
    names = by_name(rows)
    assert sorted(names) == ["a_plain.png", "b_wide.jpg", "c_truncated.png", "d_notes.txt",
                             "e_empty.png", "f_dangling.png"], "recursive, hidden skipped"

    plain = names["a_plain.png"]
    assert (plain["label"], plain["route"], plain["error"]) == ("human", "main", None)
    assert [set(e) for e in plain["evidence"]] == [EVIDENCE_KEYS]
    assert plain["evidence"][0]["detector"] == "comfy"

    wide = names["b_wide.jpg"]
    assert (wide["label"], wide["route"]) == ("ai", "ai_feed")
    assert (wide["generator"], wide["model"], wide["loras"]) == (
        "ComfyUI", "sdxl.safetensors", ["ink.safetensors"])
    assert wide["evidence"] == [{"detector": "comfy", "version": "7", "label": "ai",
                                 "score": None, "strength": "strong",
                                 "summary": "A generation graph from ComfyUI."}]

    assert names["c_truncated.png"]["error"] == "corrupt"
    assert names["d_notes.txt"]["error"] == "unsupported_format"
    assert names["e_empty.png"]["error"] == "empty"
    assert names["f_dangling.png"]["error"] == "missing_file"
    for name in ("c_truncated.png", "d_notes.txt", "e_empty.png", "f_dangling.png"):
        row = names[name]
        assert (row["label"], row["route"], row["ai_score"], row["evidence"]) == (
            None, None, None, [])


def test_files_and_folders_mixed_in_argument_order(tree: Path) -> None:
    rows = run_json(str(tree / "a_plain.png"), str(tree / "sub"))
    assert [Path(r["path"]).name for r in rows] == ["a_plain.png", "b_wide.jpg",
                                                    "c_truncated.png"]


def test_file_over_upload_limit_is_not_read(tree: Path, settings) -> None:
    settings.MODERATION = {"MAX_UPLOAD_BYTES": 100}
    assert run_json(str(tree / "a_plain.png"))[0]["error"] == "file_too_big"


def test_no_classifier_flag_reaches_the_scanner(tree: Path, monkeypatch) -> None:
    from moderation.management.commands import moderation_scan

    seen: list[bool] = []
    real = moderation_scan.scan_bytes

    def spy(data: bytes, **kwargs):
        seen.append(kwargs["use_classifier"])
        return real(data, **kwargs)

    monkeypatch.setattr(moderation_scan, "scan_bytes", spy)
    run_json("--no-classifier", str(tree / "a_plain.png"))
    run_json(str(tree / "a_plain.png"))
    assert seen == [False, True]


def test_table_output_is_aligned(tree: Path, settings) -> None:
    settings.MODERATION = {"DETECTORS": FAKE_DETECTORS}
    out = io.StringIO()
    call_command("moderation_scan", str(tree), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["Path", "Label", "Route", "AI", "score", "Generator", "Model",
                                "Error"]
    assert len(lines) == 7
    label_col = lines[0].index("Label")
    error_col = lines[0].index("Error")
    for line in lines[1:]:
        assert line[label_col - 2:label_col] == "  " and line[label_col] != " "
        assert line[error_col:].split()[0] in {"-", "corrupt", "unsupported_format", "empty",
                                               "missing_file"}
    wide = next(line for line in lines if "b_wide.jpg" in line)
    assert "ComfyUI" in wide and "ai_feed" in wide


def test_nonexistent_argument_is_a_usage_error(tree: Path) -> None:
    with pytest.raises(CommandError) as info:
        call_command("moderation_scan", str(tree / "a_plain.png"), str(tree / "typo.png"))
    assert info.value.returncode == 2
    assert "typo.png" in str(info.value)


def test_no_paths_is_a_usage_error() -> None:
    with pytest.raises(CommandError):
        call_command("moderation_scan", "--json")


# --- as a real process: exit codes, and no database anywhere ---------------------------------

def manage(*args: str, settings_module: str = "tests.settings",
           extra_env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a child process; ``None`` in ``extra_env`` unsets a variable."""
    merged = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(REPO),
              **(extra_env or {})}
    env = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run([sys.executable, str(REPO / "manage.py"), "moderation_scan", *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
                          check=False)


def test_process_exit_codes_and_no_database(tree: Path, tmp_path_factory) -> None:
    nowhere = tmp_path_factory.mktemp("nodb") / "missing-dir" / "db.sqlite3"
    env: dict[str, str | None] = {"DATABASE_URL": f"sqlite:///{nowhere}"}
    ok = manage("--json", str(tree), extra_env=env)
    assert ok.returncode == 0, ok.stderr
    rows = [json.loads(line) for line in ok.stdout.splitlines()]
    assert len(rows) == 6 and {r["error"] for r in rows} >= {None, "corrupt"}
    assert not nowhere.parent.exists(), "the scan must not create or open a database"

    assert manage(extra_env=env).returncode == 2
    missing = manage("--json", str(tree / "nope.png"), extra_env=env)
    assert missing.returncode == 2 and "nope.png" in missing.stderr
    assert manage("--bogus", str(tree), extra_env=env).returncode == 2


def test_runs_with_the_demo_settings_and_no_database_file(tree: Path, tmp_path_factory) -> None:
    var = tmp_path_factory.mktemp("demo-var")
    done = manage(str(tree / "a_plain.png"), settings_module="config.settings",
                  extra_env={"TEGAKI_VAR_DIR": str(var), "DATABASE_URL": None})
    assert done.returncode == 0, done.stderr
    assert "a_plain.png" in done.stdout and "human" in done.stdout
    assert not (var / "demo.sqlite3").exists()


def test_help_renders() -> None:
    """argparse cannot format lazy translations; --help must not crash."""
    done = manage("--help")
    assert done.returncode == 0, done.stderr
    assert "--no-classifier" in done.stdout and "PATH" in done.stdout
