"""The default policy as pure tests: no database, just evidence in and a decision out."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from moderation import pipeline
from moderation.conf import moderation_settings
from moderation.constants import ProcessingState, StandingLevel
from moderation.evidence import CLEAN_STANDING, Decision, EvidenceResult, Routing, Standing
from moderation.models import ModerationCase
from moderation.policy import BasePolicy, DefaultPolicy, get_policy
from moderation.reasons import Priority
from tests.factories import png_bytes
from tests.testapp.models import Artwork

policy = DefaultPolicy()
decide = policy.decide


def ev(label: str, strength: str, *, detector: str = "provenance", score: float | None = None,
       mode: str = "enforce", error: str = "", generator: str = "", model: str = "",
       loras: tuple[str, ...] = ()) -> EvidenceResult:
    return EvidenceResult(detector=detector, version="1", label=label, strength=strength,
                          score=score, mode=mode, error=error, generator=generator,
                          model=model, loras=loras, reasons=(f"{detector}_{label}",))


def test_no_evidence_is_human_main():
    d = decide(None, [], moderation_settings)
    assert (d.label, d.route, d.needs_review, d.undisclosed_ai) == ("human", "main", False, False)


def test_provenance_proof_is_ai_feed_with_names():
    d = decide(None, [ev("ai", "proof", generator="ComfyUI", model="sdxl.safetensors",
                         loras=("style",))], moderation_settings)
    assert (d.label, d.route) == ("ai", "ai_feed")
    assert (d.generator, d.model, d.loras) == ("ComfyUI", "sdxl.safetensors", ("style",))
    assert "provenance_proof" in d.reasons


def test_provenance_strong_is_ai_feed():
    d = decide(None, [ev("ai", "strong")], moderation_settings)
    assert (d.label, d.route, d.undisclosed_ai) == ("ai", "ai_feed", False)


def test_self_declared_ai_goes_to_ai_feed_without_evidence():
    d = decide("ai", [], moderation_settings, declared_tool="NovelAI")
    assert (d.label, d.route) == ("ai", "ai_feed")
    assert d.reasons[0] == "self_declared_ai"


def test_declared_handmade_with_strong_ai_is_held_and_undisclosed():
    d = decide("none", [ev("ai", "strong")], moderation_settings)
    assert (d.label, d.route, d.undisclosed_ai, d.needs_review) == ("ai", "held", True, True)
    assert d.review_priority > 0


def test_composite_is_ai_assisted_never_ai():
    d = decide("none", [ev("ai_assisted", "strong")], moderation_settings)
    assert d.label == "ai_assisted"
    assert d.route == moderation_settings.AI_ASSISTED_ROUTE
    assert not d.undisclosed_ai


def test_ai_assisted_route_setting(settings):
    settings.MODERATION = {"AI_ASSISTED_ROUTE": "ai_feed"}
    d = decide(None, [ev("ai_assisted", "weak")], moderation_settings)
    assert d.route == "ai_feed"


def test_classifier_alone_only_holds_for_review():
    d = decide("none", [ev("ai", "weak", detector="classifier", score=0.99)],
               moderation_settings)
    assert (d.label, d.route, d.needs_review, d.undisclosed_ai) == (
        "uncertain", "held", True, False)
    assert d.ai_score == 0.99


def test_low_classifier_score_is_human_with_score():
    d = decide("none", [ev("none", "weak", detector="classifier", score=0.1)],
               moderation_settings)
    assert (d.label, d.route, d.ai_score) == ("human", "main", 0.1)


def test_shadow_and_errored_evidence_never_decide():
    d = decide("none", [ev("ai", "proof", mode="shadow"), ev("ai", "proof", error="boom")],
               moderation_settings)
    assert (d.label, d.route) == ("human", "main")


def test_strongest_evidence_names_the_generator():
    d = decide(None, [ev("ai", "weak", generator="guess"),
                      ev("ai", "strong", generator="NovelAI")], moderation_settings)
    assert d.generator == "NovelAI"


def test_policy_setting_is_an_import_string(settings):
    settings.MODERATION = {"POLICY": "tests.test_policy.AlwaysHidden"}
    assert get_policy().decide(None, [], moderation_settings).route == "hidden"


def test_policy_setting_must_be_a_base_policy(settings):
    settings.MODERATION = {"POLICY": "tests.test_policy.not_a_policy"}
    with pytest.raises(ImproperlyConfigured, match="BasePolicy"):
        get_policy()


def not_a_policy(declaration, evidence, settings):
    return Decision("human", "main")


class AlwaysHidden(BasePolicy):
    def decide(self, declaration, evidence, settings, *, declared_tool="",
               standing=CLEAN_STANDING):
        return Decision("uncertain", "hidden")


# -- the account's standing, passed in as a value --------------------------------------
HELD = Standing(2, StandingLevel.HOLD, timezone.now() + timedelta(days=3))
HOLD_OVER = Standing(2, StandingLevel.HOLD, timezone.now() - timedelta(days=1))
SUSPENDED = Standing(3, StandingLevel.SUSPEND)
WARNED = Standing(1, StandingLevel.WARN)


def test_clean_and_warned_accounts_change_nothing():
    for standing in (CLEAN_STANDING, WARNED, HOLD_OVER):
        d = decide("none", [], moderation_settings, standing=standing)
        assert (d.label, d.route, d.needs_review, d.review_priority) == ("human", "main",
                                                                         False, 0)
        assert d.reasons == ("no_ai_evidence",)


def test_held_account_holds_a_clean_upload_for_review():
    d = decide("none", [], moderation_settings, standing=HELD)
    assert (d.label, d.route, d.needs_review) == ("human", "held", True)
    assert d.review_priority == Priority.ACCOUNT_HOLD
    assert d.reasons == ("no_ai_evidence", "account_on_hold")


def test_suspended_account_hides_even_a_declared_ai_upload():
    d = decide("ai", [], moderation_settings, standing=SUSPENDED)
    assert (d.label, d.route, d.needs_review) == ("ai", "hidden", True)
    assert d.reasons[-1] == "account_suspended"


def test_standing_only_tightens_priority():
    d = decide("none", [ev("ai", "strong")], moderation_settings, standing=HELD)
    assert d.route == "held" and d.undisclosed_ai
    assert d.review_priority == Priority.UNDISCLOSED > Priority.ACCOUNT_HOLD
    assert d.reasons[:2] == ("undisclosed_ai", "provenance_strong")


# -- routes without a verdict, and after a moderator's --------------------------------
def test_route_for_label_follows_the_ai_assisted_setting(settings):
    assert [policy.route_for_label(label, moderation_settings)
            for label in ("human", "ai", "ai_assisted", "uncertain")] == [
        "main", "ai_feed", "main", "held"]
    settings.MODERATION = {"AI_ASSISTED_ROUTE": "ai_feed"}
    assert policy.route_for_label("ai_assisted", moderation_settings) == "ai_feed"


def test_pending_route_is_the_setting(settings):
    settings.MODERATION = {"PENDING_ROUTE": "hidden"}
    assert policy.pending_route(moderation_settings) == "hidden"


def test_failed_scans_are_hidden_or_held_for_review():
    rejected = policy.scan_failed(ProcessingState.REJECTED, moderation_settings)
    quarantined = policy.scan_failed(ProcessingState.QUARANTINED, moderation_settings)
    assert (rejected.route, rejected.needs_review) == ("hidden", False)
    assert (quarantined.route, quarantined.needs_review) == ("held", True)


def test_priorities_are_spaced_and_ordered():
    order = [Priority.DEEPFAKE, Priority.UNDISCLOSED, Priority.ACCOUNT_HOLD, Priority.REPOST,
             Priority.CLASSIFIER, Priority.WEAK_HINT, Priority.APPEAL]
    assert order == sorted(order, reverse=True)
    assert all(a - b >= 100 for a, b in itertools.pairwise(order))
    # A classifier-held case stays inside its band whatever its score.
    top = decide(None, [ev("ai", "weak", detector="classifier", score=1.0)],
                 moderation_settings)
    assert Priority.CLASSIFIER < top.review_priority < Priority.REPOST


def test_evidence_without_a_reason_code_gets_the_generic_one():
    bare = EvidenceResult(detector="x", version="1", label="ai", strength="strong")
    assert decide(None, [bare], moderation_settings).reasons == ("provenance_strong",
                                                                 "detector_signal")


classifier_evidence = st.builds(
    ev, label=st.sampled_from(["ai", "none"]), strength=st.just("weak"),
    detector=st.just("classifier"), score=st.floats(0, 1))


@given(declaration=st.sampled_from([None, "none", "ai_assisted"]),
       evidence=st.lists(classifier_evidence, max_size=4))
def test_classifier_evidence_alone_never_labels_ai_or_strikes(declaration, evidence):
    d = decide(declaration, evidence, moderation_settings)
    assert d.label != "ai"
    assert d.undisclosed_ai is False
    assert d.route in {"main", "held"}


# -- the pipeline and the upload path ask the configured policy ------------------------
class QuarantineAll(DefaultPolicy):
    """A site that keeps every upload out of sight until a moderator has looked."""

    def pending_route(self, settings):
        return "hidden"

    def scan_failed(self, state, settings):
        return Routing("hidden", needs_review=True, review_priority=Priority.UNDISCLOSED)


@pytest.mark.django_db
def test_upload_and_failed_scan_routes_come_from_the_policy(settings, django_user_model):
    settings.MODERATION = {"POLICY": "tests.test_policy.QuarantineAll"}
    owner = django_user_model.objects.create_user("painter")
    art = Artwork.objects.create(owner=owner, image=SimpleUploadedFile("a.png", png_bytes()))
    case = ModerationCase.objects.for_instance(art).get()
    assert case.route == "hidden"
    pipeline.reject(case.pk, "corrupt", "truncated")
    case.refresh_from_db()
    assert (case.state, case.route, case.needs_review, case.review_priority) == (
        "rejected", "hidden", True, Priority.UNDISCLOSED)
