"""Detector handler: ``detectors["alias"]`` gives a cached backend instance per process.

Mirrors Django's ``STORAGES``/``TASKS`` handlers: configuration comes from
``MODERATION["DETECTORS"]`` as ``{"alias": {"BACKEND", "OPTIONS", "MODE"}}``; instances
are built lazily (after a Celery fork, never in the parent) and cached per alias.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from moderation.conf import moderation_settings
from moderation.constants import DetectorMode
from moderation.detectors.base import BaseDetector
from moderation.exceptions import InvalidDetectorConfig
from moderation.reasons import register_reasons

__all__ = ["BaseDetector", "DetectorHandler", "detectors"]


class DetectorHandler:
    """Lazy, per-process registry of configured detector instances."""

    def __init__(self) -> None:
        self._instances: dict[str, BaseDetector] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        return dict(moderation_settings.DETECTORS or {})

    def create(self, alias: str, params: dict[str, Any]) -> BaseDetector:
        """Build one detector from its settings entry; raise InvalidDetectorConfig."""
        if not isinstance(params, dict) or "BACKEND" not in params:
            raise InvalidDetectorConfig(
                f'MODERATION["DETECTORS"][{alias!r}] must be a dict with a "BACKEND" key'
            )
        extra = set(params) - {"BACKEND", "OPTIONS", "MODE"}
        if extra:
            raise InvalidDetectorConfig(
                f'MODERATION["DETECTORS"][{alias!r}] has unknown keys {sorted(extra)}; '
                'allowed: BACKEND, OPTIONS, MODE'
            )
        mode = params.get("MODE", DetectorMode.ENFORCE)
        if mode not in DetectorMode.values:
            raise InvalidDetectorConfig(
                f'MODERATION["DETECTORS"][{alias!r}]["MODE"] is {mode!r}; '
                f"use one of {DetectorMode.values}"
            )
        cls = self.backend(alias, params)
        register_reasons(*cls.declared_reasons(params.get("OPTIONS") or {}))
        return cls(alias, params.get("OPTIONS") or {}, mode)

    @staticmethod
    def backend(alias: str, params: dict[str, Any]) -> type[BaseDetector]:
        """Import the ``BACKEND`` class of one settings entry; raise InvalidDetectorConfig."""
        try:
            cls = import_string(params["BACKEND"])
        except ImportError as exc:
            raise InvalidDetectorConfig(
                f"Could not import detector backend {params['BACKEND']!r} "
                f"for alias {alias!r}: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, BaseDetector)):
            raise InvalidDetectorConfig(
                f"{params['BACKEND']!r} (alias {alias!r}) is not a BaseDetector subclass"
            )
        return cls

    def load_reasons(self) -> None:
        """Register the reasons every configured backend declares, without building the
        detectors: pages and the API need the texts, only workers run the detectors.

        A configuration that cannot be read or imported is skipped here; the system
        checks report it.
        """
        try:
            config = self.settings
        except (TypeError, ValueError):
            return
        for alias, params in config.items():
            if not isinstance(params, dict) or "BACKEND" not in params:
                continue
            try:
                cls = self.backend(alias, params)
            except InvalidDetectorConfig:
                continue
            register_reasons(*cls.declared_reasons(params.get("OPTIONS") or {}))

    def __getitem__(self, alias: str) -> BaseDetector:
        with self._lock:
            if alias not in self._instances:
                config = self.settings
                if alias not in config:
                    raise InvalidDetectorConfig(
                        f'No detector alias {alias!r} in MODERATION["DETECTORS"]'
                    )
                self._instances[alias] = self.create(alias, config[alias])
            return self._instances[alias]

    def aliases(self) -> list[str]:
        return list(self.settings)

    def all(self) -> list[BaseDetector]:
        """Return every configured detector, enabled or not, in settings order."""
        return [self[alias] for alias in self.aliases()]

    def enabled(self) -> list[BaseDetector]:
        return [d for d in self.all() if d.enabled]

    def reset(self) -> None:
        """Drop cached instances and register the reasons of the (new) configuration
        (settings changed, or a test wants fresh ones)."""
        with self._lock:
            self._instances.clear()
        self.load_reasons()


detectors = DetectorHandler()


def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    """A changed ``MODERATION`` (``override_settings`` in tests) means other detectors."""
    if setting == "MODERATION":
        detectors.reset()


setting_changed.connect(_reset_on_change, dispatch_uid="moderation.detectors.reset")
