"""Where browser tests put their screenshots.

By default a temporary folder, so a test run leaves the checkout clean. To refresh
the committed pictures in ``docs/screenshots/``, run the browser tests with
``TEGAKI_SCREENSHOT_DIR=docs/screenshots``.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page

_DEFAULT = Path(tempfile.gettempdir()) / "tegaki-screenshots"


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("TEGAKI_SCREENSHOT_DIR") or _DEFAULT)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a 256-colour PNG of the page: small enough to commit, sharp enough to read."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=full_page))).convert("RGB")
    target = screenshot_dir() / name
    shot.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(target, optimize=True)
    return target
