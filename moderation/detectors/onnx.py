"""ONNX image-classifier backend (being written)."""

from __future__ import annotations

from moderation.detectors.base import BaseDetector


class OnnxClassifier(BaseDetector):
    name = "onnx"
    version = "0"
    default_options = {"BUNDLE": None, "INTRA_OP_NUM_THREADS": 1}

    @property
    def enabled(self) -> bool:
        return False
