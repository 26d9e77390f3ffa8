"""The public API is importable before Django is configured (as DRF tests for itself)."""

from __future__ import annotations

import subprocess
import sys


def test_import_before_setup():
    code = ("import moderation; assert callable(moderation.register); "
            "assert moderation.__version__; print('ok')")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_all_names_exist():
    import moderation

    for name in moderation.__all__:
        assert hasattr(moderation, name)
