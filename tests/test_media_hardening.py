"""Originals and previews under bad input: media fails closed, previews use the safe decoder.

Regression tests of the hardening issue's defects 1 (originals of deleted works and
replaced files served to anyone), 2 (the moderator preview decoded anything with a bare
``Image.open``) and the serving half of 8 (originals served inline without a CSP).
"""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from moderation.constants import ProcessingState, RejectionReason, Route
from moderation.models import ModerationCase
from moderation.optout import derivatives
from tests.factories import make_case, make_work, png_bytes

pytest_plugins = ["tests.moderators_fixtures"]
pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def image_bytes(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, fmt)
    return buf.getvalue()


# --- defect 1: the media view fails closed ---------------------------------------------


@pytest.mark.parametrize("route", [Route.HELD, Route.HIDDEN, Route.MAIN])
def test_original_of_a_deleted_work_is_not_served(site, settings, client, user, route):
    settings.MODERATION = {"DELETE_REPLACED_FILES": False}  # the view alone must refuse
    work = make_work(user, route)
    name = str(work.image.name)
    work.delete()
    assert default_storage.exists(name)
    assert client.get(f"/media/{name}").status_code == 404
    assert logged_in(user).get(f"/media/{name}").status_code == 404


def test_replaced_file_is_not_served_and_is_deleted(site, client, user,
                                                    django_capture_on_commit_callbacks):
    work = make_work(user, Route.MAIN)
    old = str(work.image.name)
    with django_capture_on_commit_callbacks(execute=True):
        work.image.save("replacement.png", ContentFile(png_bytes(color=(1, 2, 3))))
    assert work.image.name != old
    assert client.get(f"/media/{old}").status_code == 404
    assert not default_storage.exists(old), "the replaced original was left in storage"


def test_deleting_a_work_deletes_its_original(site, client, user,
                                              django_capture_on_commit_callbacks):
    work = make_work(user, Route.HIDDEN)
    name = str(work.image.name)
    with django_capture_on_commit_callbacks(execute=True):
        work.delete()
    assert not default_storage.exists(name)


def test_a_file_no_work_refers_to_is_not_served(site, client, moderator):
    name = default_storage.save("art/stray.png", ContentFile(png_bytes()))
    assert client.get(f"/media/{name}").status_code == 404
    assert logged_in(moderator).get(f"/media/{name}").status_code == 404


def test_held_original_is_served_to_its_uploader_only(site, client, user, django_user_model):
    work = make_work(user, Route.HELD)
    url = f"/media/{work.image.name}"
    assert client.get(url).status_code == 404
    assert logged_in(django_user_model.objects.create_user("x")).get(url).status_code == 404
    assert logged_in(user).get(url).status_code == 200


def test_originals_are_attachments_with_a_sandboxing_csp(site, client, user):
    # An HTML tail after IEND: opened as a page it must not run on this origin.
    polyglot = png_bytes() + b"<html><script>alert(document.cookie)</script></html>"
    work = make_work(user, Route.MAIN, image=polyglot)
    res = client.get(f"/media/{work.image.name}")
    assert res.status_code == 200
    assert res["Content-Type"] == "image/png"
    assert res["Content-Disposition"].startswith("attachment")
    assert res["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert res["X-Content-Type-Options"] == "nosniff"


# --- defect 2: the moderator preview goes through the safe decoder ----------------------


def _case_with_file(uploader, data: bytes, name: str = "w.png", **kwargs) -> ModerationCase:
    case = make_case(uploader, **kwargs)
    work = case.host_instance()
    work.image.save(name, ContentFile(data), save=False)
    type(work).objects.filter(pk=work.pk).update(image=work.image.name)
    return case


def test_preview_refuses_a_pixel_bomb(settings, uploader, moderator):
    settings.MODERATION = {"MAX_IMAGE_PIXELS": 1000}
    case = _case_with_file(uploader, png_bytes((64, 48)))
    assert logged_in(moderator).get(f"/moderation/case/{case.pk}/image/preview/"
                                    ).status_code == 404


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "TGA", "PPM"])
def test_preview_refuses_formats_the_worker_refuses(uploader, moderator, fmt):
    case = _case_with_file(uploader, image_bytes(fmt), name=f"w.{fmt.lower()}")
    c = logged_in(moderator)
    assert c.get(f"/moderation/case/{case.pk}/image/preview/").status_code == 404
    original = c.get(f"/moderation/case/{case.pk}/image/original/")
    assert original.status_code == 200
    assert original["Content-Type"] == "application/octet-stream"
    assert original["Content-Disposition"].startswith("attachment")


def test_preview_of_garbage_is_404_not_500(uploader, moderator):
    case = _case_with_file(uploader, b"8BPS\x00\x01" + b"\x00" * 200, name="w.psd")
    assert logged_in(moderator).get(f"/moderation/case/{case.pk}/image/preview/"
                                    ).status_code == 404


@pytest.mark.parametrize("state", [ProcessingState.REJECTED, ProcessingState.QUARANTINED])
def test_rejected_and_quarantined_cases_are_never_previewed(uploader, moderator, state):
    case = make_case(uploader, state=state)
    ModerationCase.objects.filter(pk=case.pk).update(
        rejection_reason=RejectionReason.TOO_LARGE if state == ProcessingState.REJECTED else "")
    c = logged_in(moderator)
    assert c.get(f"/moderation/case/{case.pk}/image/preview/").status_code == 404
    page = c.get(f"/moderation/case/{case.pk}/").content.decode()
    assert 'id="no-preview"' in page and "/image/preview/" not in page
    original = c.get(f"/moderation/case/{case.pk}/image/original/")
    assert original["Content-Type"] == "application/octet-stream"
    assert original["Content-Disposition"].startswith("attachment")


def test_preview_of_a_good_file_is_a_small_jpeg(uploader, moderator):
    case = _case_with_file(uploader, png_bytes((3000, 200)))
    res = logged_in(moderator).get(f"/moderation/case/{case.pk}/image/preview/")
    assert res.status_code == 200 and res["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(res.content)).size) == 1024


@pytest.mark.parametrize("change", ["delete", "replace"])
def test_cached_thumbnails_go_with_the_original(site, client, user, change,
                                                django_capture_on_commit_callbacks):
    work = make_work(user, Route.MAIN)
    assert client.get(f"/thumbs/testapp.artwork/{work.pk}/thumb.jpg").status_code == 200
    folder = derivatives.folder(type(work), work.pk)
    assert default_storage.listdir(folder)[1], "the thumbnail was cached"
    with django_capture_on_commit_callbacks(execute=True):
        if change == "delete":
            work.delete()
        else:
            work.image.save("new.png", ContentFile(png_bytes(color=(9, 9, 9))))
    assert default_storage.listdir(folder)[1] == []
