"""Errors of the training sub-app, importable without Django settings or torch."""

from __future__ import annotations


class SiteDataError(ValueError):
    """The site's data or a bundle cannot support the requested training step."""
