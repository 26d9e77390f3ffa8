"""Embeddings as stored: L2-normalised float16, little-endian."""

from __future__ import annotations

import numpy as np

from moderation.internal.embedding import normalise

DTYPE = np.dtype("<f2")


def pack(vector: np.ndarray) -> bytes:
    """The bytes stored for ``vector`` (normalised first, so a dot product is a cosine)."""
    return normalise(vector).astype(DTYPE).tobytes()


def unpack(data: bytes | memoryview) -> np.ndarray:
    """The float32 unit vector stored in ``data`` (renormalised after float16 rounding)."""
    return normalise(np.frombuffer(bytes(data), dtype=DTYPE).astype(np.float32))


def unpack_many(rows: list[bytes | memoryview], dims: int) -> np.ndarray:
    """Stored vectors as a (rows, dims) float32 matrix of unit rows."""
    if not rows:
        return np.zeros((0, dims), dtype=np.float32)
    matrix = np.frombuffer(b"".join(bytes(r) for r in rows), dtype=DTYPE)
    matrix = matrix.reshape(len(rows), dims).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = matrix / norms
    return out
