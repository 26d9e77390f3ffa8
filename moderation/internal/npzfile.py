"""Index files written whole or not at all.

Workers read an index file while another process may be saving it; writing to a
temporary file in the same folder, syncing it and renaming it over the old one means a
reader sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def write_npz_atomically(target: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Save ``arrays`` as an uncompressed ``.npz`` at ``target``, replacing it atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
