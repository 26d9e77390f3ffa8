"""The admin's "Classifier versions" page: listing, side-by-side confirmation, promotion.

The install tree is the one ``moderation_train --from-site`` writes (installed.json,
``current``/``shadow`` symlinks), built from tiny real bundles (tests/fixtures/tiny_onnx);
no training runs. BASE_DIR points at a temporary directory, which is how both the
command and the page find ``var/moderation-bundles``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import path, reverse
from PIL import Image

from moderation.constants import Label
from moderation.detectors.onnx import OnnxClassifier
from moderation.evidence import ImageInput
from moderation.models import Evidence, ModerationAction, ModerationCase
from moderation.training import site
from tests.factories import make_user, png_bytes
from tests.fixtures.tiny_onnx import write_bundle
from tests.testapp.models import Artwork

urlpatterns = [path("admin/", admin.site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

OLD, NEW = "1.0+site.20261101000000", "1.0+site.20261128000000"


def _metrics(auroc: float, ap: float, tpr1: float, tpr5: float, fpr: float) -> dict[str, Any]:
    return {"n_ai": 9, "n_human": 11, "auroc": auroc, "ap": ap,
            "tpr_at_fpr": {"0.01": tpr1, "0.05": tpr5}, "threshold": 0.8,
            "fpr_at_threshold": fpr, "tpr_at_threshold": tpr5}


@pytest.fixture
def install(tmp_path: Path, settings: Any) -> Path:
    """OLD is current (promoted earlier), NEW the shadow install fine-tuned from OLD."""
    settings.BASE_DIR = tmp_path
    root = site.default_install_dir()
    write_bundle(root / OLD, version=OLD)
    write_bundle(root / NEW, version=NEW)
    entries = [
        {"version": OLD, "path": OLD, "status": "current", "base": "1.0",
         "installed_at": "2026-11-01T00:00:00+00:00", "train_cases": 30, "heldout_cases": 14,
         "metrics": {"old": _metrics(0.801, 0.702, 0.103, 0.304, 0.021),
                     "new": _metrics(0.845, 0.755, 0.205, 0.406, 0.012)},
         "promoted_at": "2026-11-02T00:00:00+00:00"},
        {"version": NEW, "path": NEW, "status": "shadow", "base": OLD,
         "installed_at": "2026-11-28T00:00:00+00:00", "train_cases": 40, "heldout_cases": 20,
         "metrics": {"old": _metrics(0.845, 0.755, 0.205, 0.406, 0.012),
                     "new": _metrics(0.912, 0.874, 0.333, 0.577, 0.009)}},
    ]
    (root / "installed.json").write_text(json.dumps(entries, indent=2) + "\n")
    (root / "current").symlink_to(OLD)
    (root / "shadow").symlink_to(NEW)
    return root


def _client(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _staff(name: str, *perms: str) -> Any:
    user = make_user(name, staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="moderation",
                                                         codename=codename))
    return user


LIST = "admin:moderation_classifierversion_changelist"


def _confirm_url(version: str) -> str:
    return reverse("admin:moderation_classifierversion_promote", args=[version])


def _current(root: Path) -> str:
    return (root / "current").resolve().name


def test_list_shows_versions_metrics_and_live_confusion(install: Path) -> None:
    moderator = make_user("mod", moderator=True)
    art = Artwork.objects.create(owner=make_user("artist"), image=SimpleUploadedFile(
        "w.png", png_bytes(), content_type="image/png"))
    case = ModerationCase.objects.for_instance(art).get()
    ModerationCase.objects.filter(pk=case.pk).update(label=Label.AI, decided_by=moderator)
    Evidence.objects.create(case=case, detector="classifier-shadow",
                            detector_version=f"1:tiny-test@{NEW}", mode="shadow",
                            content_sha256="e" * 64, label="ai", strength="weak")

    response = _client(make_user("root", superuser=True)).get(reverse(LIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert OLD in html and NEW in html
    for value in ("0.912", "0.874", "0.333", "0.577", "0.009", "0.845", "+0.067"):
        assert value in html
    versions = {v.version: v for v in response.context["versions"]}
    assert versions[OLD].is_current and versions[NEW].is_shadow
    assert not versions[OLD].can_promote and versions[NEW].can_promote
    # The shadow version's evidence, judged by the moderator's decision, sits under it.
    assert [(r["tp"], r["mode"]) for r in versions[NEW].confusion] == [(1, "shadow")]
    assert versions[OLD].confusion == []
    assert html.count(_confirm_url(NEW)) == 1 and _confirm_url(OLD) not in html


def test_without_the_permission_every_view_is_403(install: Path) -> None:
    client = _client(_staff("staffer"))
    assert client.get(reverse(LIST)).status_code == 403
    assert client.get(_confirm_url(NEW)).status_code == 403
    assert client.post(_confirm_url(NEW)).status_code == 403
    assert _current(install) == OLD
    assert not ModerationAction.objects.filter(action="classifier_promoted").exists()

    # View permission alone: the page, but neither the button nor the confirmation.
    viewer = _client(_staff("viewer", "view_classifierversion"))
    response = viewer.get(reverse(LIST))
    assert response.status_code == 200 and _confirm_url(NEW) not in response.content.decode()
    assert viewer.get(_confirm_url(NEW)).status_code == 403
    assert viewer.post(_confirm_url(NEW)).status_code == 403
    assert _current(install) == OLD


def test_confirmation_shows_old_and_new_side_by_side(install: Path) -> None:
    client = _client(_staff("promoter", "promote_classifier"))
    response = client.get(_confirm_url(NEW))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Before: {OLD}" in html and f"After: {NEW}" in html
    rows = {m.key: (m.old, m.new) for m in response.context["metrics"]}
    assert rows["auroc"] == (0.845, 0.912) and rows["tpr_at_fpr_0.01"] == (0.205, 0.333)
    assert rows["fpr_at_threshold"] == (0.012, 0.009) and rows["n_ai"] == (9, 9)
    assert not response.context["stale_comparison"]  # NEW was compared with OLD, enforcing
    assert 'name="csrfmiddlewaretoken"' in html
    assert _current(install) == OLD  # GET changes nothing


def test_post_promotes_and_writes_the_audit_row(install: Path) -> None:
    user = _staff("promoter", "promote_classifier")
    response = _client(user).post(_confirm_url(NEW), {"note": "better on held-out"},
                                  follow=True)
    assert response.status_code == 200
    assert _current(install) == NEW
    statuses = {e["version"]: e["status"] for e in site.read_installed(install)}
    assert statuses == {OLD: "retired", NEW: "current"}
    row = ModerationAction.objects.get(action="classifier_promoted")
    assert row.case_id is None and row.actor_id == user.pk and row.note == "better on held-out"
    assert row.before["current"] == OLD and row.after["current"] == NEW
    assert row.before["metrics"]["auroc"] == 0.845 and row.after["metrics"]["auroc"] == 0.912
    text = " ".join(str(m) for m in response.context["messages"])
    assert NEW in text and "restart" in text

    # Already enforcing: refused, no second row.
    _client(user).post(_confirm_url(NEW))
    assert ModerationAction.objects.filter(action="classifier_promoted").count() == 1


def test_post_needs_the_csrf_token(install: Path) -> None:
    client = _client(make_user("root", superuser=True), enforce_csrf_checks=True)
    assert client.post(_confirm_url(NEW)).status_code == 403
    assert _current(install) == OLD


def test_a_damaged_bundle_is_never_promoted(install: Path) -> None:
    (install / NEW / "model.onnx").write_bytes(b"not the model")
    response = _client(make_user("root", superuser=True)).post(_confirm_url(NEW), follow=True)
    assert _current(install) == OLD
    assert not ModerationAction.objects.filter(action="classifier_promoted").exists()
    assert "cannot be promoted" in " ".join(str(m) for m in response.context["messages"])


def test_cli_and_admin_share_the_promotion_path(install: Path) -> None:
    with mock.patch.object(site, "promote", wraps=site.promote) as promote:
        with pytest.raises(CommandError):  # metrics shown, nothing done without --yes
            call_command("moderation_train", "--promote", NEW)
        assert promote.call_count == 0
        call_command("moderation_train", "--promote", NEW, "--yes")
        assert promote.call_args_list == [mock.call(install, NEW)]
        assert _current(install) == NEW
        _client(make_user("root", superuser=True)).post(_confirm_url(OLD))  # roll back
        assert promote.call_args_list[-1] == mock.call(install, OLD)
    assert _current(install) == OLD
    rows = list(ModerationAction.objects.filter(action="classifier_promoted"))
    assert [(r.actor_id is None, r.after["current"]) for r in rows] == [(True, NEW), (False, OLD)]


def _image(color: tuple[int, int, int]) -> ImageInput:
    im = Image.new("RGB", (80, 60), color)
    return ImageInput(data=b"", sha256="0" * 64, format="PNG", mime="image/png", width=80,
                      height=60, frames=1, mode="RGB", image=im)


def test_detector_follows_a_promotion_without_restart(install: Path) -> None:
    # NEW's review threshold differs, so its evidence differs as well as its version.
    meta_path = install / NEW / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["thresholds"] = {"review": 0.99, "fpr_0.01": 0.995, "fpr_0.05": 0.99}
    meta_path.write_text(json.dumps(meta))
    det = OnnxClassifier("classifier", {"BUNDLE": str(install / "current")})
    before = det.detect(_image((255, 0, 0)))
    assert before.version == f"1:tiny-test@{OLD}" and before.label == "ai"
    call_command("moderation_train", "--promote", NEW, "--yes")
    after = det.detect(_image((255, 0, 0)))
    assert after.version == f"1:tiny-test@{NEW}" and det.get_version() == after.version
    assert after.label == "none" and after.details["threshold"] == 0.99
    assert det.bundle is not None and det.bundle.path == (install / NEW).resolve()


def test_pages_in_japanese(install: Path) -> None:
    import subprocess

    from django.utils import translation

    po = (Path(__file__).resolve().parents[2] / "moderation" / "locale" / "ja"
          / "LC_MESSAGES" / "django.po")
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:  # build output (Makefile)
        subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)
    client = _client(make_user("root", superuser=True))
    with translation.override("ja"):
        listing = client.get(reverse(LIST)).content.decode()
        confirm = client.get(_confirm_url(NEW)).content.decode()
        done = client.post(_confirm_url(NEW), follow=True)
    assert "分類器のバージョン" in listing and "適用に昇格" in listing
    assert f"変更前: {OLD}" in confirm and f"変更後: {NEW}" in confirm
    assert "偽陽性率 0.01 での検出率" in confirm
    assert "再起動" in " ".join(str(m) for m in done.context["messages"])


def test_admin_index_links_the_page(install: Path) -> None:
    html = _client(make_user("root", superuser=True)).get(reverse("admin:index")).content
    assert reverse(LIST).encode() in html and b"Classifier versions" in html
    staff = _client(_staff("staffer")).get(reverse("admin:index")).content
    assert reverse(LIST).encode() not in staff
