"""Fetch Pillow's own test images (``Tests/images``) once and cache them outside the repo.

``make reliability`` replays this corpus through the real worker. The images ship only
in Pillow's source distribution, so this downloads that sdist from PyPI with pip (the
version installed here unless ``--version`` says otherwise) and unpacks ``Tests/images``
into ``<cache>/<version>/images``. Both steps are cached and resumable: a finished
extraction is marked with a ``.complete`` file, an interrupted one is redone, and the
sdist is not downloaded again while it is in the cache. Prints the images directory.

Usage: python scripts/fetch_pillow_corpus.py [--cache-dir DIR] [--version X.Y.Z]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import PIL

DEFAULT_CACHE = Path(os.environ.get("TEGAKI_CACHE_DIR",
                                    Path.home() / ".cache" / "tegaki")) / "pillow-corpus"
IMAGES_PREFIX = "Tests/images/"


def sdist_path(cache: Path, version: str) -> Path:
    """Download (once) ``pillow-<version>.tar.gz`` into ``cache/sdist``; return its path."""
    target = cache / "sdist"
    target.mkdir(parents=True, exist_ok=True)
    found = sorted(target.glob(f"pillow-{version}.tar.gz"))
    if found:
        return found[0]
    print(f"downloading the Pillow {version} sdist from PyPI into {target} …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "--progress-bar", "on", f"pillow=={version}", "-d", str(target)],
                   check=True, stdout=sys.stderr)
    found = sorted(target.glob(f"pillow-{version}.tar.gz"))
    if not found:
        raise SystemExit(f"pip did not leave pillow-{version}.tar.gz in {target}")
    return found[0]


def extract_images(archive: Path, out: Path) -> int:
    """Unpack the regular files under ``Tests/images/`` into ``out``; return how many."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    count = 0
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()
                   and IMAGES_PREFIX in m.name and ".." not in Path(m.name).parts]
        for index, member in enumerate(members, 1):
            relative = member.name.split(IMAGES_PREFIX, 1)[1]
            destination = partial / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                continue
            with source, destination.open("wb") as fh:
                shutil.copyfileobj(source, fh)
            count += 1
            if index % 100 == 0 or index == len(members):
                print(f"\rextracting Tests/images: {index}/{len(members)}", end="",
                      file=sys.stderr)
    print(file=sys.stderr)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return count


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--version", default=PIL.__version__)
    args = parser.parse_args(argv)
    base = args.cache_dir.expanduser() / args.version
    images = base / "images"
    done = base / ".complete"
    if not done.exists():
        count = extract_images(sdist_path(args.cache_dir.expanduser(), args.version), images)
        done.write_text(f"{count}\n")
    print(images)
    return images


if __name__ == "__main__":
    main()
