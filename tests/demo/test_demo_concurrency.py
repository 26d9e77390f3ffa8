"""The demo on SQLite under simultaneous uploads (hardening issue, defect 8).

Eight uploads at once used to raise ``database is locked`` inside the post_save receiver
after the host's row had committed: HTTP 500 for the uploader and a work with no case,
"Checking…" forever. The demo's SQLite now runs IMMEDIATE transactions in WAL mode, and
a receiver that fails anyway no longer fails the upload (the sweeper opens the case).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_simultaneous_uploads_on_sqlite_all_get_a_case(tmp_path: Path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "TEGAKI_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": "memory://",
           "DJANGO_DEBUG": "1"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "tests.demo.concurrent_uploads", "8", "4"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["works"] == 32 and result["with_case"] == 32
    assert result["journal"] == "wal"
