"""Viewer filters keep their word: "hide AI" hides AI-assisted works too (unless the site
lets them through), intros say what is shown, a burst tile's works can be reached, and
feeds are advertised and indexed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from moderation.constants import AIFilter, Label, Route
from moderation.feeds.bursts import burst_of
from moderation.feeds.queries import apply_ai_filter, feed_scope
from tests.factories import make_work, make_works_fast
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db


def pks(qs) -> set[int]:
    return {w.pk for w in qs}


@pytest.fixture
def mixed(user):
    return {
        "human": make_work(user, Route.MAIN, label=Label.HUMAN),
        "assisted": make_work(user, Route.MAIN, label=Label.AI_ASSISTED),
        "ai": make_work(user, Route.AI_FEED, label=Label.AI),
        "held": make_work(user, Route.HELD, label=Label.AI),
    }


def test_hide_ai_hides_ai_assisted_works_by_default(mixed):
    qs = Artwork.objects.all()
    assert pks(apply_ai_filter(qs, AIFilter.EXCLUDE)) == {mixed["human"].pk}
    assert pks(apply_ai_filter(qs, AIFilter.INCLUDE)) == {
        mixed["human"].pk, mixed["assisted"].pk, mixed["ai"].pk}
    assert pks(apply_ai_filter(qs, AIFilter.ONLY)) == {mixed["ai"].pk}


def test_a_site_setting_lets_ai_assisted_works_through(mixed, settings):
    settings.MODERATION = {"HIDE_AI_SHOWS_AI_ASSISTED": True}
    assert pks(apply_ai_filter(Artwork.objects.all(), AIFilter.EXCLUDE)) == {
        mixed["human"].pk, mixed["assisted"].pk}
    with translation.override("en"):
        assert "AI-assisted works are shown with their label" in str(
            feed_scope(AIFilter.EXCLUDE))


def test_the_new_arrivals_feed_document_hides_them_too(site, client, mixed):
    body = client.get("/feeds/new.rss").content.decode()
    assert f"/works/{mixed['human'].pk}/" in body
    assert f"/works/{mixed['assisted'].pk}/" not in body
    assert "AI-generated and AI-assisted works are hidden" in body  # the description


@pytest.mark.parametrize(("ai", "says"), [
    (AIFilter.EXCLUDE, "AI-generated and AI-assisted works are hidden"),
    (AIFilter.INCLUDE, "Every published work"),
    (AIFilter.ONLY, "Only works labelled AI-generated"),
])
def test_every_filter_says_what_it_shows(ai, says):
    with translation.override("en"):
        assert says in str(feed_scope(ai))
    with translation.override("ja"):
        assert says not in str(feed_scope(ai))  # translated, not the English text


def test_anonymous_preference_holds_on_the_next_page(site, mixed):
    client = Client()
    assert client.post("/feed-preference/", {"ai": "only", "next": "/"}).status_code == 302
    html = client.get("/").content.decode()
    assert f'data-pk="{mixed["ai"].pk}"' in html
    assert f'data-pk="{mixed["human"].pk}"' not in html
    assert 'data-ai="only" aria-current="page"' in html


def test_burst_of_returns_the_works_a_tile_stands_for(user, django_user_model):
    other = django_user_model.objects.create_user("other-burst")
    now = timezone.now()
    burst = make_works_fast(user, 5, Route.MAIN, start=now - timedelta(minutes=10),
                            step=timedelta(minutes=1))
    later = make_works_fast(user, 1, Route.MAIN, start=now + timedelta(hours=5),
                            step=timedelta(minutes=1))
    theirs = make_works_fast(other, 1, Route.MAIN, start=now - timedelta(minutes=5),
                             step=timedelta(minutes=1))
    got = pks(burst_of(Artwork.objects.all(), burst[-1]))
    assert got == {w.pk for w in burst}
    assert later[0].pk not in got and theirs[0].pk not in got
