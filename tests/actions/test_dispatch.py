"""Every registered action runs from the case page and from the API through the one
dispatcher, with the same parameters; the registry is the list, so a new action
without a recipe here fails the first test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from moderation import actions
from moderation.constants import Label, Route
from moderation.models import Appeal, AppealStatus, ModerationAction, ModerationCase, Strike
from tests.factories import make_case

Setup = Callable[[ModerationCase, dict[str, Any]], dict[str, Any]]


def nothing(case: ModerationCase, people: dict[str, Any]) -> dict[str, Any]:
    return {}


def claimed(case: ModerationCase, people: dict[str, Any]) -> dict[str, Any]:
    actions.Claim(people["moderator"], case).run()
    return {}


def hidden(case: ModerationCase, people: dict[str, Any]) -> dict[str, Any]:
    actions.Hide(people["moderator"], case).run()
    return {}


def suspended(case: ModerationCase, people: dict[str, Any]) -> dict[str, Any]:
    for _ in range(3):
        Strike.objects.create(user=people["uploader"], case=case, reason="other",
                              created_by=people["moderator"])
    return {}


def appealed(case: ModerationCase, people: dict[str, Any]) -> dict[str, Any]:
    appeal = actions.SubmitAppeal(people["uploader"], case, message="I drew it").run()
    return {"appeal": appeal.extra["appeal"].pk}


def proof(name: str = "layers.psd") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"8BPS layered", content_type="application/octet-stream")


@dataclass
class Recipe:
    """Who runs the action, what state the case needs, what is posted, what must follow."""

    actor: str
    params: Callable[[dict[str, Any]], dict[str, Any]]
    check: Callable[[ModerationCase], bool]
    setup: Setup = nothing
    note: str = field(default="")


RECIPES: dict[str, Recipe] = {
    "claim": Recipe("moderator", lambda s: {"note": "taking it"},
                    lambda c: c.claimed_by_id is not None, note="taking it"),
    "release": Recipe("moderator", lambda s: {"note": "not mine"},
                      lambda c: c.claimed_by_id is None, claimed, note="not mine"),
    "mark_human": Recipe("moderator", lambda s: {"note": "layers seen"},
                         lambda c: (c.label, c.route) == (Label.HUMAN, Route.MAIN),
                         note="layers seen"),
    "mark_ai_assisted": Recipe("moderator", lambda s: {"tool": "Firefly"},
                               lambda c: (c.label, c.generator) == (Label.AI_ASSISTED,
                                                                    "Firefly")),
    "mark_ai": Recipe("moderator", lambda s: {"tool": "NovelAI", "strike": "0"},
                      lambda c: c.label == Label.AI and c.route == Route.AI_FEED
                      and not Strike.objects.filter(case=c).exists()),
    "route": Recipe("moderator", lambda s: {"route": Route.AI_FEED},
                    lambda c: c.route == Route.AI_FEED),
    "hide": Recipe("moderator", lambda s: {}, lambda c: c.route == Route.HIDDEN),
    "restore": Recipe("moderator", lambda s: {}, lambda c: c.route == Route.HELD, hidden),
    "rescan": Recipe("moderator", lambda s: {"note": "new patterns"},
                     lambda c: c.decided_at is None, note="new patterns"),
    "note": Recipe("moderator", lambda s: {"note": "asked for the PSD"},
                   lambda c: True, note="asked for the PSD"),
    "strike": Recipe("moderator", lambda s: {"note": "repost", "reason": "repost"},
                     lambda c: Strike.objects.get(case=c, reason="repost").note == "repost",
                     note="repost"),
    "lift_suspension": Recipe(
        "moderator", lambda s: {},
        lambda c: Strike.objects.filter(case=c, lifted_at__isnull=False).count() == 1,
        suspended),
    "appeal": Recipe(
        "uploader", lambda s: {"message": "I drew it", "kind": "layered", "proof": proof()},
        lambda c: Appeal.objects.get(case=c).files.count() == 1),
    "appeal_file": Recipe(
        "uploader", lambda s: {"appeal": s["appeal"], "kind": "wip", "file": proof("wip.png")},
        lambda c: Appeal.objects.get(case=c).files.get().kind == "wip", appealed),
    "decide_appeal": Recipe(
        "moderator",
        lambda s: {"appeal": s["appeal"], "outcome": "upheld", "note": "the label stands"},
        lambda c: Appeal.objects.get(case=c).status == AppealStatus.UPHELD, appealed,
        note="the label stands"),
}


@pytest.fixture
def people(uploader, moderator) -> dict[str, Any]:
    return {"uploader": uploader, "moderator": moderator}


def test_every_registered_action_has_a_recipe():
    assert set(RECIPES) == set(actions.registry)


def post_page(user: Any, case: ModerationCase, name: str, params: dict[str, Any]) -> None:
    client = Client()
    client.force_login(user)
    res = client.post(f"/moderation/case/{case.pk}/actions/{name}/", params)
    assert res.status_code == 302
    errors = [str(m) for m in get_messages(res.wsgi_request) if m.level_tag == "error"]
    assert errors == []


def post_api(user: Any, case: ModerationCase, name: str, params: dict[str, Any]) -> None:
    client = APIClient()
    client.force_authenticate(user)
    res = client.post(f"/api/moderation/{case.pk}/actions/{name}/", params,
                      format="multipart")
    assert res.status_code == 200, res.content


@pytest.mark.parametrize("channel", [post_page, post_api], ids=["case_page", "api"])
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_action_runs_through_the_dispatcher(name, channel, people):
    recipe = RECIPES[name]
    case = make_case(people["uploader"])
    state = recipe.setup(case, people)
    actor = people[recipe.actor]
    with mock.patch.object(actions, "dispatch", wraps=actions.dispatch) as dispatched:
        channel(actor, case, name, recipe.params(state))
    assert [c.args[0] for c in dispatched.call_args_list] == [name]
    case.refresh_from_db()
    assert recipe.check(case)
    entry = ModerationAction.objects.filter(case=case, action=name).latest("id")
    assert entry.actor_id == actor.pk
    if recipe.note:
        assert entry.note == recipe.note  # a posted note is kept, never dropped


def test_a_parameter_the_action_does_not_take_is_refused_on_both(people):
    case = make_case(people["uploader"])
    client = Client()
    client.force_login(people["moderator"])
    res = client.post(f"/moderation/case/{case.pk}/actions/claim/", {"label": "ai"})
    assert [str(m) for m in get_messages(res.wsgi_request)] == ["Unknown parameter: label."]
    api = APIClient()
    api.force_authenticate(people["moderator"])
    res = api.post(f"/api/moderation/{case.pk}/actions/claim/", {"label": "ai"},
                   format="multipart")
    assert res.status_code == 400
    assert res.json() == {"detail": "Unknown parameter: label.",
                          "label": ["This action takes no such parameter."]}
    assert not ModerationAction.objects.filter(case=case, action="claim").exists()


def test_refusals_read_the_same_on_both(people):
    case = make_case(people["uploader"])
    client = Client()
    client.force_login(people["moderator"])
    res = client.post(f"/moderation/case/{case.pk}/actions/note/", {"note": ""})
    page = [str(m) for m in get_messages(res.wsgi_request)]
    api = APIClient()
    api.force_authenticate(people["moderator"])
    body = api.post(f"/api/moderation/{case.pk}/actions/note/", {"note": ""},
                    format="multipart").json()
    assert page == [body["detail"]] == ["Write a note."]
    assert body["note"] == ["Write a note."]


def test_an_unknown_action_is_404_on_the_page_and_400_in_the_api(people):
    case = make_case(people["uploader"])
    client = Client()
    client.force_login(people["moderator"])
    assert client.post(f"/moderation/case/{case.pk}/actions/promote/").status_code == 404
    api = APIClient()
    api.force_authenticate(people["moderator"])
    res = api.post(f"/api/moderation/{case.pk}/actions/promote/", {}, format="multipart")
    assert res.status_code == 400 and res.json()["detail"] == "Unknown action."


def test_others_cases_do_not_exist_for_an_uploader(people, other_user):
    case = make_case(people["uploader"])
    client = Client()
    client.force_login(other_user)
    assert client.post(f"/moderation/case/{case.pk}/actions/appeal/",
                       {"message": "mine"}).status_code == 404
    api = APIClient()
    api.force_authenticate(other_user)
    assert api.post(f"/api/moderation/{case.pk}/actions/appeal/", {"message": "mine"},
                    format="multipart").status_code == 404
    assert not Appeal.objects.exists()


def test_an_uploader_cannot_run_a_moderators_action_on_their_own_case(people):
    case = make_case(people["uploader"])
    api = APIClient()
    api.force_authenticate(people["uploader"])
    res = api.post(f"/api/moderation/{case.pk}/actions/mark_human/", {}, format="multipart")
    assert res.status_code == 403
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN


def test_uploader_actions_use_the_appeal_throttle():
    from moderation.api.views import CaseViewSet

    view = CaseViewSet(action="run_named_action", kwargs={"name": "appeal"})
    view.get_throttles()
    assert view.throttle_scope == "moderation_appeal"
    view = CaseViewSet(action="run_named_action", kwargs={"name": "mark_ai"})
    view.get_throttles()
    assert view.throttle_scope == "moderation_write"


def test_the_registry_is_derived_from_the_classes():
    class Variant(actions.MarkHuman):
        """Inherits the name: a variant, not a second "mark_human"."""

    assert actions.registry["mark_human"] is actions.MarkHuman
    with pytest.raises(TypeError, match="mark_human"):
        type("Impostor", (actions.MarkHuman,), {"name": "mark_human"})
