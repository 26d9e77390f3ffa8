"""The template tags' widgets render from overridable templates, with the same HTML as
before they moved out of Python strings; the feeds' routes and the moved modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, RequestContext, Template
from django.urls import URLPattern

import moderation
from moderation import labels, visibility
from moderation.constants import Route
from moderation.feeds.urls import PREFERENCE_URL_NAME, feed_urls
from moderation.optout.policy import set_work_training
from moderation.permissions import is_moderator
from tests.factories import make_work
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="\w{64}">')


def render(source: str, context: Context) -> str:
    return Template("{% load moderation_tags %}" + source).render(context)


def test_label_html_is_unchanged(user, settings):
    art = make_work(user, Route.AI_FEED, generator="NovelAI")
    html = render("{% moderation_label work %}", Context({"work": art, "user": None}))
    assert html == ('<span class="tegaki-label tegaki-label--ai" data-label="ai">'
                    'AI-generated · NovelAI</span> <small class="tegaki-why">'
                    "(declared by the uploader)</small>")
    settings.MODERATION = {"SHOW_EVIDENCE_TO_VIEWERS": False}
    html = render("{% moderation_label work %}", Context({"work": art, "user": None}))
    assert html == ('<span class="tegaki-label tegaki-label--ai" data-label="ai">'
                    "AI-generated · NovelAI</span>")
    hand_made = make_work(user, Route.MAIN)
    assert render("{% moderation_label work %}", Context({"work": hand_made})) == ""


def test_ai_filter_links_html_is_unchanged(rf):
    request = rf.get("/?ai=only")
    html = render("{% ai_filter_choices %}", Context({"request": request}))
    assert html == (
        '<a href="?ai=exclude" class="tegaki-ai-filter" data-ai="exclude">Hide AI works</a> '
        '<a href="?ai=include" class="tegaki-ai-filter" data-ai="include">Show all works</a> '
        '<a href="?ai=only" class="tegaki-ai-filter" data-ai="only" aria-current="page">'
        "AI works only</a>")
    html = render('{% ai_filter_choices "include" %}', Context({"request": request}))
    assert 'data-ai="include" aria-current="page"' in html and html.count("aria-current") == 1


def test_robots_meta_html_is_unchanged(site, user):
    work = make_work(user, Route.MAIN)
    html = render("{% training_optout_meta work %}", Context({"work": work}))
    assert html == '<meta name="robots" content="noai, noimageai">'


@pytest.mark.parametrize("context_class", [Context, RequestContext])
def test_optout_forms_carry_a_csrf_token(site, user, rf, context_class):
    """A page rendered with a RequestContext passes its token on; a plain Context with a
    request in it gets one too, as the format_html widgets did."""
    work = make_work(user, Route.MAIN)
    set_work_training(work, "reserve")
    request = rf.get(f"/works/{work.pk}/")
    request.user = user
    values = {"work": work, "user": user}
    context = (RequestContext(request, values) if context_class is RequestContext
               else Context({**values, "request": request}))
    panel = render("{% creator_optout_panel user %}", context)
    assert panel.startswith('<section class="tegaki-optout"><p class="tegaki-crawler-hits" '
                            'data-count="0">')
    assert re.search(r'<form method="post" action="/creator/training/">'
                     + CSRF_INPUT.pattern + f'<input type="hidden" name="next" value="/works/'
                     rf'{work.pk}/"><label>AI training of my works:</label>', panel)
    assert panel.endswith('<button type="submit">Save</button></form></section>')
    form = render("{% work_optout_form work %}", context)
    assert re.match(rf'<form class="tegaki-work-optout" method="post" '
                    rf'action="/creator/training/testapp.artwork/{work.pk}/">'
                    + CSRF_INPUT.pattern, form)
    assert '<option value="reserve" selected>' in form
    assert form.endswith('</select> <button type="submit">Save</button></form>')


def test_panel_without_creator_urls_shows_the_count_only(user, rf, settings):
    settings.ROOT_URLCONF = "tests.urls"  # mounts no moderation.optout.creator_urls
    request = rf.get("/me/")
    request.user = user
    html = render("{% creator_optout_panel user %}", Context({"request": request,
                                                               "user": user}))
    assert html == ('<section class="tegaki-optout"><p class="tegaki-crawler-hits" '
                    'data-count="0">AI crawlers fetched your reserved works 0 times.</p>'
                    "</section>")


def test_a_host_template_overrides_a_widget(user, settings, tmp_path: Path):
    includes = tmp_path / "moderation" / "includes"
    includes.mkdir(parents=True)
    (includes / "label.html").write_text(
        '<em class="host-label">{{ label.text }}{% for why in label.why %}'
        " / {{ why.code }}{% endfor %}</em>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    art = make_work(user, Route.AI_FEED, generator="NovelAI")
    html = render("{% moderation_label work %}", Context({"work": art, "user": None}))
    assert html == '<em class="host-label">AI-generated · NovelAI / self_declared</em>'


def test_feed_urls_mount_the_preference_and_a_models_feeds():
    alone = feed_urls()
    assert [(str(p.pattern), p.name) for p in alone] == [("feed-preference/",
                                                           PREFERENCE_URL_NAME)]
    patterns = feed_urls(Artwork, prefix="f/", preference=None)
    assert all(isinstance(p, URLPattern) for p in patterns)
    assert [(str(p.pattern), p.name) for p in patterns] == [
        ("f/", "moderation_feed_index"), ("f/new.rss", "moderation_feed_new_rss"),
        ("f/new.atom", "moderation_feed_new_atom"),
        ("f/ai.rss", "moderation_feed_ai_rss"), ("f/ai.atom", "moderation_feed_ai_atom")]


@pytest.mark.parametrize("old", ["flood", "syndication", "sitemaps", "viewer_views", "creator"])
def test_moved_modules_leave_nothing_behind(old):
    """No alias modules at the old paths: importers use ``moderation.feeds.*`` and
    ``moderation.optout.*``."""
    package = Path(moderation.__file__).parent
    assert not (package / f"{old}.py").exists() and not (package / old).exists()


def test_one_moderator_test():
    """Labels and the visibility rule ask the same is_moderator as pages and the API."""
    assert labels.is_moderator is is_moderator
    assert visibility.is_moderator is is_moderator
