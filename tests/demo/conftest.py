"""Tests of the demo site (``config/``), selected by the ``demo_site`` marker.

They import the demo project's models, which exist only under
``--ds=tests.demo_settings``: without those settings the modules here are not collected
at all (rather than skipped), and ``make test`` runs them in a second pass with
``--ds=tests.demo_settings -m demo_site``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

HERE = Path(__file__).resolve().parent

collect_ignore_glob = [] if "config.gallery" in settings.INSTALLED_APPS else ["test_*.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.demo_site)
