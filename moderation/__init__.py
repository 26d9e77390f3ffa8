"""Tegaki: AI-generation provenance, classification and routing for illustration uploads.

Public API (everything else lives in ``moderation.internal`` or in submodules
that host sites import explicitly, such as ``moderation.feeds.queries``):

* :func:`register` / :func:`unregister` / :func:`get_registry` -- tell Tegaki which
  host model holds uploads.
* :func:`scan_async` -- (re)queue a scan of one registered instance.
* :func:`scan_file` -- run the detectors and the policy on raw bytes without a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moderation.registry import ModerationRegistry, registry

__version__ = "0.1.0"

__all__ = ["__version__", "get_registry", "register", "scan_async", "scan_file", "unregister"]

if TYPE_CHECKING:
    from moderation.evidence import ScanResult


def register(model: Any = None, **options: Any) -> Any:
    """Register a host model; usable as ``register(M, ...)`` or ``@register(...)``."""
    return registry.register(model, **options)


def unregister(model: Any) -> None:
    """Stop moderating ``model``; raise ``NotRegistered`` if it was never registered."""
    registry.unregister(model)


def get_registry() -> ModerationRegistry:
    """Return the process-wide :class:`~moderation.registry.ModerationRegistry`."""
    return registry


def scan_async(instance: Any) -> Any:
    """Queue a (re)scan of a registered instance after the current transaction commits."""
    # The package is imported before Django's app registry is ready (it holds apps.py);
    # services imports the models, so it is imported when first called.
    from moderation.services import submit_for_moderation

    return submit_for_moderation(instance, force=True)


def scan_file(data: bytes, *, name: str = "", declaration: str | None = None,
              use_classifier: bool = True) -> ScanResult:
    """Decode ``data`` safely, run every enforcing detector and the policy; touch no database."""
    # Imported on first use: it loads Pillow, numpy and the detectors, which a host's
    # settings module importing ``moderation`` (for the API schema helper) must not pay.
    from moderation.scanning import scan_bytes

    return scan_bytes(data, name=name, declaration=declaration, use_classifier=use_classifier)
