"""The default policy as pure tests: no database, just evidence in and a decision out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moderation.conf import moderation_settings
from moderation.evidence import EvidenceResult
from moderation.policy import DefaultPolicy

decide = DefaultPolicy()


def ev(label: str, strength: str, *, detector: str = "provenance", score: float | None = None,
       mode: str = "enforce", error: str = "", generator: str = "", model: str = "",
       loras: tuple[str, ...] = ()) -> EvidenceResult:
    return EvidenceResult(detector=detector, version="1", label=label, strength=strength,
                          summary="", score=score, mode=mode, error=error, generator=generator,
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
    from moderation.policy import get_policy

    assert get_policy()(None, [], moderation_settings).route == "hidden"


class AlwaysHidden(DefaultPolicy):
    def decide(self, declaration, evidence, settings, *, declared_tool=""):
        from moderation.evidence import Decision

        return Decision("uncertain", "hidden")


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
