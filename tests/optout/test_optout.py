"""Training opt-out: every signal is present exactly when the work is reserved.

Pages and image responses are fetched as AI crawlers (GPTBot, CCBot, ClaudeBot...). The
reservation comes from the work override, else the creator, else the site default.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.template import Context, Template
from PIL import Image, PngImagePlugin

from moderation.constants import Route
from moderation.models import CrawlerHit
from moderation.optout import derivatives
from moderation.optout.policy import (
    SOURCE_CREATOR,
    SOURCE_SITE,
    SOURCE_WORK,
    resolve,
    set_creator_training,
    set_work_training,
)
from moderation.optout.xmp import DMI_ALLOWED, DMI_PROHIBITED_AIML
from tests.factories import make_work
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db

CRAWLERS = {
    "GPTBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; "
              "+https://openai.com/gptbot)",
    "CCBot": "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "ClaudeBot": "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"

# (site default reserves, creator choice, work choice) -> (reserved, decided by)
SCENARIOS = [
    (True, None, None, True, SOURCE_SITE),
    (False, None, None, False, SOURCE_SITE),
    (False, "reserve", None, True, SOURCE_CREATOR),
    (True, "allow", None, False, SOURCE_CREATOR),
    (True, "default", "default", True, SOURCE_SITE),
    (False, "reserve", "allow", False, SOURCE_WORK),
    (True, "allow", "reserve", True, SOURCE_WORK),
]


def configure(settings, user, work, site_default, creator, work_choice):
    settings.MODERATION = {"TRAINING_RESERVED_BY_DEFAULT": site_default}
    if creator:
        set_creator_training(user, creator)
    if work_choice:
        set_work_training(work, work_choice)


def signals(response) -> dict[str, bool]:
    robots = response.headers.get("X-Robots-Tag", "")
    out = {"x-robots-tag": "noai" in robots and "noimageai" in robots,
           "tdm-reservation": response.headers.get("tdm-reservation") == "1"}
    if response["Content-Type"].startswith("text/html"):
        out["meta"] = '<meta name="robots" content="noai, noimageai">' in response.content.decode()
    return out


def xmp_of(data: bytes) -> dict:
    return Image.open(io.BytesIO(data)).getxmp()


def data_mining(data: bytes) -> str | None:
    xmp = xmp_of(data)
    if not xmp:
        return None
    return xmp["xmpmeta"]["RDF"]["Description"]["DataMining"]


@pytest.mark.parametrize(("site_default", "creator", "work_choice", "reserved", "source"),
                         SCENARIOS)
@pytest.mark.parametrize("crawler", sorted(CRAWLERS))
def test_pages_and_images_carry_signals_exactly_when_reserved(
        site, settings, client, user, site_default, creator, work_choice, reserved, source,
        crawler):
    work = make_work(user, Route.MAIN, tool="signal-check")
    configure(settings, user, work, site_default, creator, work_choice)
    assert resolve(work).reserved is reserved and resolve(work).source == source
    ua = CRAWLERS[crawler]
    urls = [f"/works/{work.pk}/", "/?ai=include", f"/thumbs/testapp.artwork/{work.pk}/thumb.jpg",
            f"/thumbs/testapp.artwork/{work.pk}/preview.jpg", f"/media/{work.image.name}"]
    for url in urls:
        response = client.get(url, HTTP_USER_AGENT=ua)
        assert response.status_code == 200, url
        got = signals(response)
        assert got == dict.fromkeys(got, reserved), (url, got)
    thumb = client.get(urls[2], HTTP_USER_AGENT=ua).content
    expected = DMI_PROHIBITED_AIML if reserved else (DMI_ALLOWED if source != SOURCE_SITE
                                                     else None)
    assert data_mining(thumb) == expected
    hits = CrawlerHit.objects.filter(creator=user, crawler=crawler).count()
    assert (hits > 0) is reserved


def test_listing_is_reserved_if_any_shown_work_is(site, settings, client, django_user_model):
    settings.MODERATION = {"TRAINING_RESERVED_BY_DEFAULT": False}
    a = django_user_model.objects.create_user("a")
    b = django_user_model.objects.create_user("b")
    make_work(a, Route.MAIN)
    make_work(b, Route.MAIN)
    assert signals(client.get("/")) == {"x-robots-tag": False, "tdm-reservation": False,
                                        "meta": False}
    set_creator_training(b, "reserve")
    assert all(signals(client.get("/")).values())
    # A page showing no work follows the site default.
    assert not any(signals(client.get("/search/?q=nothing-matches")).values())
    settings.MODERATION = {"TRAINING_RESERVED_BY_DEFAULT": True}
    assert all(signals(client.get("/search/?q=nothing-matches")).values())


def test_existing_x_robots_tag_is_extended(site, settings, client, user):
    from django.http import HttpResponse

    from moderation.optout.headers import apply_headers

    response = HttpResponse()
    response["X-Robots-Tag"] = "noarchive"
    apply_headers(response, True)
    assert response["X-Robots-Tag"] == "noarchive, noai, noimageai"
    settings.MODERATION = {"TDM_POLICY_URL": "https://example.org/tdm-policy.json"}
    response = HttpResponse()
    apply_headers(response, True)
    assert response["tdm-policy"] == "https://example.org/tdm-policy.json"


def test_thumbnail_strips_upload_metadata_and_embeds_rights(site, client, user):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "secret prompt, Steps: 20, Sampler: Euler a")
    buf = io.BytesIO()
    Image.new("RGB", (900, 600), (10, 20, 30)).save(buf, "PNG", pnginfo=info)
    work = make_work(user, Route.MAIN, image=buf.getvalue())
    set_creator_training(user, "reserve")
    data = client.get(f"/thumbs/testapp.artwork/{work.pk}/thumb.jpg").content
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG" and max(im.size) == 320
    assert b"secret prompt" not in data and "exif" not in im.info
    desc = im.getxmp()["xmpmeta"]["RDF"]["Description"]
    assert desc["DataMining"] == DMI_PROHIBITED_AIML
    assert desc["Marked"] == "True"
    assert desc["rights"]["Alt"]["li"]["text"] == "© artist"
    # Changing the reservation produces a new derivative, not a stale cached one.
    set_work_training(work, "allow")
    again = client.get(f"/thumbs/testapp.artwork/{work.pk}/thumb.jpg").content
    assert data_mining(again) == DMI_ALLOWED


def test_robots_ai_txt_and_tdmrep(site, settings, client, user, django_user_model):
    shared = make_work(user, Route.MAIN)
    settings.MODERATION = {"TRAINING_RESERVED_BY_DEFAULT": True,
                           "AI_CRAWLERS": ["GPTBot", "NewBot-2027"]}
    robots = client.get("/robots.txt").content.decode()
    assert "User-agent: GPTBot\nUser-agent: NewBot-2027\nDisallow: /" in robots
    assert robots.rstrip().endswith("User-agent: *\nDisallow:")
    assert client.get("/.well-known/tdmrep.json").json() == [
        {"location": "/*", "tdm-reservation": 1}]
    assert "User-Agent: *\nDisallow: /" in client.get("/ai.txt").content.decode()
    # Site allows; one creator reserves: their public work is named, nothing else.
    settings.MODERATION = {"TRAINING_RESERVED_BY_DEFAULT": False}
    other = django_user_model.objects.create_user("other")
    make_work(other, Route.MAIN)
    set_creator_training(user, "reserve")
    robots = client.get("/robots.txt").content.decode()
    assert f"Disallow: /media/{shared.image.name}" in robots
    assert f"Disallow: /thumbs/testapp.artwork/{shared.pk}/" in robots
    assert "Disallow: /\n" not in robots
    rules = client.get("/.well-known/tdmrep.json").json()
    assert rules[-1] == {"location": "/*", "tdm-reservation": 0}
    assert {"location": f"/thumbs/testapp.artwork/{shared.pk}/*", "tdm-reservation": 1} in rules
    assert len(rules) == 3
    assert f"Disallow: /media/{shared.image.name}" in client.get("/ai.txt").content.decode()


def test_crawler_hits_counted_for_creator_page(site, client, user, settings):
    set_creator_training(user, "reserve")
    work = make_work(user, Route.MAIN)
    client.get(f"/works/{work.pk}/", HTTP_USER_AGENT=CRAWLERS["GPTBot"])
    client.get(f"/thumbs/testapp.artwork/{work.pk}/thumb.jpg", HTTP_USER_AGENT=CRAWLERS["CCBot"])
    client.get(f"/works/{work.pk}/", HTTP_USER_AGENT=BROWSER)
    client.get("/works/999999/", HTTP_USER_AGENT=CRAWLERS["GPTBot"])  # 404: not logged
    tpl = Template("{% load moderation_tags %}{% crawler_hit_count creator %}")
    assert tpl.render(Context({"creator": user})) == "2"
    hit = CrawlerHit.objects.get(crawler="GPTBot")
    assert hit.object_id == str(work.pk) and hit.path == f"/works/{work.pk}/"
    settings.MODERATION = {"LOG_CRAWLER_HITS": False}
    client.get(f"/works/{work.pk}/", HTTP_USER_AGENT=CRAWLERS["GPTBot"])
    assert CrawlerHit.objects.count() == 2


def test_creator_page_data_and_setting_views(site, client, user, django_user_model):
    from moderation.models import Strike
    from moderation.optout.overview import creator_overview

    ai = make_work(user, Route.AI_FEED, generator="NovelAI")
    held = make_work(user, Route.HELD)
    client.force_login(user)
    response = client.post("/creator/training/", {"training": "allow", "next": "/me/"})
    assert response.status_code == 302 and response["Location"] == "/me/"
    response = client.post(f"/creator/training/testapp.artwork/{ai.pk}/", {"training": "reserve"})
    assert response.status_code == 302
    client.get(f"/works/{ai.pk}/", HTTP_USER_AGENT=CRAWLERS["ClaudeBot"])
    Strike.objects.create(user=user, reason="undisclosed_ai")
    overview = creator_overview(user, [ai, held])
    assert overview.training == "allow"
    rows = {r.work.pk: r for r in overview.rows}
    assert rows[ai.pk].label.text == "AI-generated · NovelAI"
    assert [w.code for w in rows[ai.pk].label.why] == ["self_declared"]
    assert (rows[ai.pk].reservation.reserved, rows[ai.pk].reservation.source) == (True, "work")
    assert (rows[held.pk].reservation.reserved, rows[held.pk].reservation.source) == (False,
                                                                                      "creator")
    assert overview.crawler_hits == 1 and overview.crawler_hits_by_crawler == [("ClaudeBot", 1)]
    assert len(overview.strikes) == 1
    # Nobody else may set a work's override; bad input is refused.
    client.force_login(django_user_model.objects.create_user("intruder"))
    assert client.post(f"/creator/training/testapp.artwork/{ai.pk}/",
                       {"training": "allow"}).status_code == 404
    assert client.post("/creator/training/", {"training": "maybe"}).status_code == 400
    client.logout()
    assert client.post("/creator/training/", {"training": "allow"}).status_code == 302
    assert creator_overview(user, []).training == "allow"


def test_creator_optout_panel_tag(site, client, user, rf):
    set_creator_training(user, "reserve")
    work = make_work(user, Route.MAIN)
    client.get(f"/works/{work.pk}/", HTTP_USER_AGENT=CRAWLERS["GPTBot"])
    request = rf.get("/me/")
    request.user = user
    html = Template("{% load moderation_tags %}{% creator_optout_panel user %}").render(
        Context({"request": request, "user": user}))
    assert 'data-count="1"' in html and "fetched your reserved works 1 time." in html
    checked = re.findall(r'<input[^>]*value="(\w+)"[^>]*checked', html)
    assert checked == ["reserve"]
    assert 'action="/creator/training/"' in html and 'name="next" value="/me/"' in html
    anonymous = Template("{% load moderation_tags %}{% creator_optout_panel None %}")
    assert anonymous.render(Context({})) == ""


def test_work_optout_form_only_for_its_creator(site, user, rf, django_user_model):
    work = make_work(user, Route.MAIN)
    set_work_training(work, "allow")
    tpl = Template("{% load moderation_tags %}{% work_optout_form work %}")
    request = rf.get(f"/works/{work.pk}/")
    request.user = user
    html = tpl.render(Context({"request": request, "work": work}))
    assert f'action="/creator/training/testapp.artwork/{work.pk}/"' in html
    assert re.search(r'<option value="allow" selected>', html)
    request.user = django_user_model.objects.create_user("visitor")
    assert tpl.render(Context({"request": request, "work": work})) == ""


def test_meta_tag_ignores_unregistered_objects(site, settings, user):
    settings.MODERATION = {"TRAINING_RESERVED_BY_DEFAULT": False}
    tpl = Template("{% load moderation_tags %}{% training_optout_meta works %}")
    assert tpl.render(Context({"works": [user]})) == ""  # a User is not a work
    set_creator_training(user, "reserve")
    work = make_work(user, Route.MAIN)
    assert "noai" in tpl.render(Context({"works": [user, work]}))


def test_prune_crawler_hits(settings):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    old = CrawlerHit.objects.create(crawler="GPTBot")
    CrawlerHit.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    CrawlerHit.objects.create(crawler="CCBot")
    out = io.StringIO()
    call_command("moderation_prune_crawler_hits", stdout=out)
    assert out.getvalue().strip() == "deleted 1 crawler hit(s)"
    assert list(CrawlerHit.objects.values_list("crawler", flat=True)) == ["CCBot"]
    settings.MODERATION = {"CRAWLER_HIT_RETENTION_DAYS": None}
    call_command("moderation_prune_crawler_hits", stdout=out)
    assert CrawlerHit.objects.count() == 1


def test_deleting_derivatives_on_a_storage_without_listdir_says_so(monkeypatch, caplog):
    """An object store that cannot list folders must not silently keep old thumbnails."""
    def no_listdir(path: str) -> None:
        raise NotImplementedError("subclasses of Storage must provide a listdir() method")

    monkeypatch.setattr(derivatives.default_storage, "listdir", no_listdir)
    with caplog.at_level(logging.WARNING, logger="moderation.optout.derivatives"):
        assert derivatives.delete_all(Artwork, 7) == 0
    assert "were not deleted" in caplog.text


def test_deleting_derivatives_of_a_work_that_never_had_any_is_quiet(caplog, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    assert derivatives.delete_all(Artwork, 123456) == 0
    assert "were not deleted" not in caplog.text
