"""The built wheel works as a host installs it: base dependencies only, README settings.

A green suite in the development venv proves little about ``pip install django-tegaki``:
the venv also holds the dev, train and demo extras, so a module that imports one of them
at the top would pass here and break on a host. This test builds the wheel, installs it
into a fresh venv with nothing but its declared base dependencies (pinned by
``constraints.txt``; pip's cache keeps repeat runs short), configures Django with the
README's quick-start settings and imports every module of the package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Modules that need the ``train`` extra (torch, scikit-learn, matplotlib) by design.
TRAIN_ONLY = {
    "moderation.training.backbone", "moderation.training.export",
    "moderation.training.features", "moderation.training.heads",
    "moderation.training.train", "moderation.training.trainable",
}

#: Run by the fresh venv's interpreter: the README's settings, then every module.
PROBE = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    import django
    from django.conf import settings
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
            "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
            "rest_framework", "moderation", "moderation.training",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        MODERATION={"QUEUE": "moderation"},
        ROOT_URLCONF=__name__,
        SECRET_KEY="wheel-probe",
        USE_TZ=True,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True,
                    "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages"]}}],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
    )
    django.setup()
    from django.urls import include, path
    urlpatterns = [path("moderation/", include("moderation.urls")),
                   path("api/", include("moderation.api.urls"))]
    import moderation
    failed = {}
    names = sorted(m.name for m in pkgutil.walk_packages(moderation.__path__, "moderation."))
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    from django.core.management import call_command
    call_command("check")
    print(json.dumps({"file": moderation.__file__, "modules": names, "failed": failed}))
""")


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd,
                          check=False)
    assert done.returncode == 0, f"{cmd[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the tracked files: setuptools writes build/ and *.egg-info
    # next to the sources, and a stale build/ in the checkout would leak into the wheel.
    src = tmp_path_factory.mktemp("src") / "tree"
    tracked = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                   cwd=ROOT).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    for catalogue in ROOT.glob("moderation/locale/*/LC_MESSAGES/*.mo"):
        shutil.copy2(catalogue, src / catalogue.relative_to(ROOT))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "-w", str(out), str(src)])
    (found,) = out.glob("django_tegaki-*.whl")
    return found


def test_wheel_carries_data_and_templates_but_not_tests(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "moderation/data/classifier/model.onnx" in names
    assert "moderation/templates/moderation/queue.html" in names
    assert any(n.startswith("moderation/training/templates/admin/") for n in names)
    assert "moderation/locale/ja/LC_MESSAGES/django.po" in names
    assert "moderation/locale/ja/LC_MESSAGES/django.mo" in names
    assert not any(n.startswith(("tests/", "config/")) for n in names)


def test_fresh_venv_with_base_dependencies_imports_every_module(
        wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
          str(wheel)])
    installed = _run([str(python), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    # The extras stay out: proof that nothing below leaned on them.
    for extra_only in ("torch==", "pytest==", "dj-database-url==", "psycopg=="):
        assert extra_only not in installed
    probe = _run([str(python), "-c", PROBE], cwd=tmp_path)
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(venv))
    assert len(result["modules"]) > 60
    unexpected = {m: e for m, e in result["failed"].items() if m not in TRAIN_ONLY}
    assert not unexpected, unexpected
    for name in TRAIN_ONLY:
        assert "torch" in result["failed"].get(name, "torch"), result["failed"][name]
