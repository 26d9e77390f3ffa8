"""The API's front door: a root that says what is where, the schema readable in a
browser, and Swagger UI served from the app's own static files (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.checks import run_checks
from django.test import Client

pytestmark = pytest.mark.django_db


def test_api_root_lists_every_endpoint_and_the_docs():
    res = Client().get("/api/", HTTP_ACCEPT="application/json")
    assert res.status_code == 200
    assert res.json() == {
        "moderation": "http://testserver/api/moderation/",
        "queue": "http://testserver/api/queue/",
        "appeals": "http://testserver/api/appeals/",
        "reports": "http://testserver/api/reports/",
        "schema": "http://testserver/api/schema/",
        "docs": "http://testserver/api/docs/",
    }


def test_schema_shows_in_a_browser_and_still_speaks_yaml():
    browser = Client().get("/api/schema/", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert browser.status_code == 200
    assert browser["Content-Type"].startswith("application/json")
    assert "attachment" not in browser.get("Content-Disposition", "")
    assert browser.json()["info"]["title"] == "Tegaki moderation API"
    yaml = Client().get("/api/schema/", HTTP_ACCEPT="application/yaml")
    assert yaml["Content-Type"].startswith("application/yaml")
    assert yaml.content.decode().startswith("openapi:")


def test_docs_page_loads_its_assets_from_this_site():
    asset = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    res = Client().get("/api/docs/")
    assert res.status_code == 200
    html = res.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(s.endswith(asset) for s in sources), sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert finders.find(asset) is not None  # the file ships with the sidecar package
    assert "/api/schema/" in html


def test_a_missing_sidecar_app_is_reported(settings):
    def ids() -> set[str]:
        return {str(m.id) for m in run_checks() if str(m.id) == "moderation.W034"}

    assert ids() == set()
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS
                               if a != "drf_spectacular_sidecar"]
    assert ids() == {"moderation.W034"}
