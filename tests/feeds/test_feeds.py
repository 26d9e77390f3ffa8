"""Feeds, viewer preference, ?ai= filters, labels and the declaration form."""

from __future__ import annotations

import uuid

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.template import Context, Template
from django.test import RequestFactory

from moderation.constants import AIFilter, Label, Route
from moderation.feeds.queries import (
    ai_feed,
    annotate_moderation,
    for_viewer,
    human_feed,
    viewer_ai_filter,
)
from moderation.filters import AIFilterSet
from moderation.forms import AIDeclarationFormMixin, generator_suggestions
from moderation.labels import label_for
from moderation.models import Evidence, ModerationCase, ViewerPreference
from moderation.visibility import public, visible_to
from tests.factories import make_work, png_bytes
from tests.testapp.models import Artwork, UUIDArtwork

pytestmark = pytest.mark.django_db


@pytest.fixture
def works(user):
    return {route: make_work(user, route, tool=route) for route in Route.values}


def pks(qs):
    return {w.pk for w in qs}


def api_rows(response):
    data = response.json()
    return data["results"] if isinstance(data, dict) else data


def test_feeds_split_by_route(works):
    qs = Artwork.objects.all()
    assert pks(human_feed(qs)) == {works["main"].pk}
    assert pks(ai_feed(qs)) == {works["ai_feed"].pk}
    assert pks(public(qs)) == {works["main"].pk, works["ai_feed"].pk}


def test_work_without_case_is_never_public(user):
    Artwork.objects.bulk_create([Artwork(owner=user, image="x.png")])  # no signal, no case
    assert not public(Artwork.objects.all()).exists()
    assert visible_to(Artwork.objects.all(), user).count() == 0


def test_uuid_primary_keys_join_their_cases(user):
    arts = []
    for route in (Route.MAIN, Route.AI_FEED, Route.HELD):
        art = UUIDArtwork(owner=user)
        art.picture.save("u.png", ContentFile(png_bytes()), save=True)
        ModerationCase.objects.for_instance(art).update(route=route)
        arts.append(art)
    assert isinstance(arts[0].pk, uuid.UUID)
    qs = UUIDArtwork.objects.all()
    assert pks(human_feed(qs)) == {arts[0].pk}
    assert pks(ai_feed(qs)) == {arts[1].pk}
    annotated = {w.pk: w.moderation_route for w in annotate_moderation(qs)}
    assert annotated == {arts[0].pk: "main", arts[1].pk: "ai_feed", arts[2].pk: "held"}


def test_for_viewer_uses_preference_then_site_default(works, django_user_model, settings):
    viewer = django_user_model.objects.create_user("viewer")
    qs = Artwork.objects.all()
    assert pks(for_viewer(qs, None)) == {works["main"].pk}  # anonymous: exclude
    ViewerPreference.objects.create(user=viewer, ai_filter=AIFilter.ONLY)
    assert pks(for_viewer(qs, viewer)) == {works["ai_feed"].pk}
    assert pks(for_viewer(qs, viewer, ai="include")) == {works["main"].pk, works["ai_feed"].pk}
    settings.MODERATION = {"VIEWER_DEFAULT_AI": "include"}
    assert pks(for_viewer(qs, None)) == {works["main"].pk, works["ai_feed"].pk}
    with pytest.raises(ValueError, match="unknown ai filter"):
        for_viewer(qs, None, ai="everything")


def test_visible_to_owner_and_moderator(works, django_user_model):
    stranger = django_user_model.objects.create_user("stranger")
    mod = django_user_model.objects.create_superuser("mod")
    owner = works["main"].owner
    qs = Artwork.objects.all()
    assert pks(visible_to(qs, stranger)) == {works["main"].pk, works["ai_feed"].pk}
    assert pks(visible_to(qs, owner)) == {w.pk for w in works.values()}
    assert pks(visible_to(qs, mod)) == {w.pk for w in works.values()}


def test_filterset_applies_ai_and_preference(works):
    class ArtFilter(AIFilterSet):
        class Meta:
            model = Artwork
            fields = ["tool"]

    rf = RequestFactory()
    request = rf.get("/")
    request.user = None  # type: ignore[assignment]  # a request without auth middleware
    only = ArtFilter({"ai": "only"}, queryset=Artwork.objects.all(), request=request)
    assert pks(only.qs) == {works["ai_feed"].pk}
    default = ArtFilter({}, queryset=Artwork.objects.all(), request=request)
    assert pks(default.qs) == {works["main"].pk}
    bad = ArtFilter({"ai": "nope"}, queryset=Artwork.objects.all(), request=request)
    assert not bad.is_valid()


def test_api_list_filter_and_label_field(site, works, client):
    works_ai = works["ai_feed"]
    ModerationCase.objects.for_instance(works_ai).update(
        generator="ComfyUI", model_name="SDXL", loras=["detail-tweaker", {"name": "anime"}])
    data = api_rows(client.get("/api/works/?ai=only"))
    assert [row["id"] for row in data] == [works_ai.pk]
    assert data[0]["label"]["text"] == (
        "AI-generated · ComfyUI · checkpoint: SDXL · LoRA: detail-tweaker, anime")
    assert data[0]["label"]["why"] == [{"code": "self_declared",
                                       "text": "declared by the uploader"}]
    assert [row["id"] for row in api_rows(client.get("/api/works/"))] == [works["main"].pk]
    assert client.get("/api/works/?ai=bogus").status_code == 400


def test_label_text_and_why(user, django_user_model):
    art = make_work(user, Route.AI_FEED, generator="ComfyUI", model_name="SDXL",
                    loras=["a", "b"], reasons=["provenance_proof", "c2pa_trusted_ai"],
                    declaration="")
    case = ModerationCase.objects.for_instance(art).get()
    Evidence.objects.create(case=case, detector="provenance", detector_version="1",
                            content_sha256="0" * 64, label="ai", strength="proof",
                            details={"findings": [{"signer": "OpenAI"}]})
    info = label_for(art)
    assert info.text == "AI-generated · ComfyUI · checkpoint: SDXL · LoRA: a, b"
    assert [w.text for w in info.why] == ["C2PA signed by OpenAI"]
    assisted = make_work(user, Route.MAIN, label=Label.AI_ASSISTED, declaration="ai_assisted")
    assert label_for(assisted).text == "AI-assisted"
    assert [w.code for w in label_for(assisted).why] == ["self_declared"]
    assert not label_for(make_work(user, Route.MAIN))  # hand-made: no label at all
    mod = django_user_model.objects.create_user("m")
    meta = make_work(user, Route.AI_FEED, reasons=["provenance_strong", "a1111_parameters"],
                     declaration="", decided_by=mod)
    assert [w.code for w in label_for(meta).why] == ["moderator", "file_metadata"]


def test_feed_tiles_need_no_case_column_beyond_the_ones_loaded(user, django_user_model):
    """A feed page loads its works' cases with ``TILE_CASE_FIELDS`` only; the label line,
    its "why" and the tiles' status and report links read nothing else (a deferred column
    read later would cost a query per tile)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from moderation.feeds.bursts import collapse_page

    mod = django_user_model.objects.create_user("decider")
    art = make_work(user, Route.AI_FEED, generator="ComfyUI", model_name="SDXL",
                    loras=["a"], reasons=["provenance_proof", "c2pa_trusted_ai"],
                    declaration="")
    Evidence.objects.create(case=ModerationCase.objects.for_instance(art).get(),
                            detector="provenance", detector_version="1",
                            content_sha256="0" * 64, label="ai", strength="proof",
                            details={"findings": [{"signer": "OpenAI"}]})
    other = django_user_model.objects.create_user("other-artist")
    make_work(other, Route.MAIN, label=Label.AI_ASSISTED, declaration="ai_assisted")
    make_work(other, Route.MAIN, label=Label.HUMAN, reasons=["provenance_not_ai"],
              decided_by=mod)
    page = collapse_page(Artwork.objects.all().order_by("-pk").filter(
        pk__in=public(Artwork.objects.all()).values("pk")), page_size=10, window_seconds=0)
    assert len(page.tiles) == 3
    tags = Template("{% load moderation_tags %}{% moderation_label work %}"
                    "{% moderation_status_url work %}{% moderation_report_url work %}")
    with CaptureQueriesContext(connection) as queries:
        texts = [label_for(tile.work).text for tile in page.tiles]
        for tile in page.tiles:
            tags.render(Context({"work": tile.work, "user": user}))
    assert queries.captured_queries == []
    assert "AI-generated · ComfyUI · checkpoint: SDXL · LoRA: a" in texts
    assert [w.text for w in label_for(art).why] == ["C2PA signed by OpenAI"]


def test_label_tag_respects_evidence_setting(user, settings, django_user_model):
    art = make_work(user, Route.AI_FEED, generator="NovelAI")
    tpl = Template("{% load moderation_tags %}{% moderation_label work %}")
    html = tpl.render(Context({"work": art, "user": None}))
    assert "AI-generated · NovelAI" in html and "declared by the uploader" in html
    settings.MODERATION = {"SHOW_EVIDENCE_TO_VIEWERS": False}
    assert "declared by the uploader" not in tpl.render(Context({"work": art, "user": None}))
    mod = django_user_model.objects.create_superuser("boss")
    assert "declared by the uploader" in tpl.render(Context({"work": art, "user": mod}))
    human = make_work(user, Route.MAIN)
    assert tpl.render(Context({"work": human})).strip() == ""


class UploadForm(AIDeclarationFormMixin, forms.ModelForm):
    declaration_field_name = "declaration"
    tool_field_name = "tool"

    class Meta:
        model = Artwork
        fields = ["declaration", "tool"]


def test_declaration_form(user, settings):
    assert "ComfyUI" in generator_suggestions()
    form = UploadForm({"declaration": "ai", "tool": ""}, uploader=user)
    assert not form.is_valid() and "tool" in form.errors
    form = UploadForm({"declaration": "none", "tool": "ComfyUI"}, uploader=user)
    assert form.is_valid() and form.cleaned_data["tool"] == ""
    html = str(UploadForm(uploader=user)["tool"])
    assert '<datalist id="tegaki-generators">' in html and 'value="ComfyUI"' in html
    settings.MODERATION = {"AI_DAILY_QUOTA": 1}
    make_work(user, Route.AI_FEED, declaration="ai")
    form = UploadForm({"declaration": "ai", "tool": "NovelAI"}, uploader=user)
    assert not form.is_valid() and "limit of 1" in str(form.errors["declaration"])
    assert UploadForm({"declaration": "none"}, uploader=user).is_valid()


def test_preference_view(site, client, user):
    client.force_login(user)
    response = client.post("/feed-preference/", {"ai": "only", "next": "/"})
    assert response.status_code == 302
    assert ViewerPreference.objects.get(user=user).ai_filter == "only"
    assert client.post("/feed-preference/", {"ai": "x"}).status_code == 400
    client.logout()
    response = client.post("/feed-preference/", {"ai": "include", "next": "https://evil.example/"})
    assert response["Location"] == "/"  # never off-site
    # An anonymous viewer's choice is kept in their session and holds on the next page.
    assert client.session["moderation_ai_filter"] == "include"
    assert viewer_ai_filter(None, client.session) == "include"
    assert viewer_ai_filter(None, {"moderation_ai_filter": "bogus"}) == "exclude"


def test_label_in_japanese(user):
    from django.utils import translation

    art = make_work(user, Route.AI_FEED, generator="ComfyUI", model_name="SDXL", loras=["x"])
    with translation.override("ja"):
        info = label_for(art)
    assert info.text.startswith("AI生成 · ComfyUI · checkpoint: SDXL")
    assert info.why[0].text == "投稿者の申告"


def test_openapi_schema_documents_ai_parameter(site):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(urlconf="tests.viewers_urls").get_schema(request=None, public=True)
    params = schema["paths"]["/api/works/"]["get"]["parameters"]
    ai = next(p for p in params if p["name"] == "ai")
    assert ai["schema"]["enum"] == ["exclude", "include", "only"]
    label = schema["components"]["schemas"]["Artwork"]["properties"]["label"]
    assert label["readOnly"] is True and label["type"] == "object"
    assert set(label["properties"]) == {"label", "text", "generator", "model", "loras", "why"}


def test_rss_and_atom_feeds(site, client, user):
    ai = make_work(user, Route.AI_FEED, generator="ComfyUI", model_name="SDXL")
    human = make_work(user, Route.MAIN)
    rss = client.get("/feeds/ai.rss")
    assert rss["Content-Type"].startswith("application/rss+xml")
    body = rss.content.decode()
    # Items link to the work's own page (the URL the model was registered with).
    assert f"<link>http://testserver/works/{ai.pk}/</link>" in body
    assert "AI-generated · ComfyUI · checkpoint: SDXL" in body
    assert f"/works/{human.pk}/" not in body
    atom = client.get("/feeds/new.atom")
    assert atom["Content-Type"].startswith("application/atom+xml")
    assert f'href="http://testserver/works/{human.pk}/"' in atom.content.decode()
    assert f"/works/{ai.pk}/" not in atom.content.decode()
    assert "#work-" not in body


def test_c2pa_why_in_japanese(user):
    from django.utils import translation

    art = make_work(user, Route.AI_FEED, reasons=["provenance_proof", "c2pa_trusted_ai"],
                    declaration="")
    case = ModerationCase.objects.for_instance(art).get()
    Evidence.objects.create(case=case, detector="provenance", detector_version="1",
                            content_sha256="1" * 64, label="ai", strength="proof",
                            details={"signer": "Adobe"})
    with translation.override("ja"):
        assert [w.text for w in label_for(art).why] == ["AdobeによるC2PA署名"]
