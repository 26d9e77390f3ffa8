"""Progress bars for the index-rebuilding commands.

tqdm comes with the ``match`` extra, which the fingerprint and similarity indexes need
anyway; a site that installed the indexes some other way still gets its rebuild, only
without a bar.
"""

from __future__ import annotations

import importlib
from typing import Any


def progress_bar_class(*, disabled: bool) -> Any:
    """tqdm's bar class, or None when bars are off (``--no-progress``) or tqdm is absent."""
    if disabled:
        return None
    try:
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None
