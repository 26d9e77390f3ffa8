"""The default decision policy: a pure function of declaration, evidence and settings.

Principles (docs/product.md): a classifier alone may hold a work for review but never
label it AI or count against its uploader; provenance proof, the uploader's own
declaration and moderators can. ``compositeWithTrainedAlgorithmicMedia`` is an
AI-assisted edit, never an AI image.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from moderation.constants import (
    STRENGTH_RANK,
    Declaration,
    DetectorMode,
    EvidenceLabel,
    Label,
    Route,
    Strength,
)
from moderation.evidence import Decision, EvidenceResult

# Review priorities: higher is shown first in the moderators' queue. Spaced so later
# case types (deepfake risk, reposts, appeals) slot in between.
PRIORITY_UNDISCLOSED = 800
PRIORITY_WEAK_HINT = 300
PRIORITY_CLASSIFIER = 400


class DefaultPolicy:
    """Map (declaration, evidence, settings) to a :class:`Decision`.

    Subclass and point ``MODERATION["POLICY"]`` at the subclass to change it wholesale.
    """

    def __call__(self, declaration: str | None, evidence: Iterable[EvidenceResult],
                 settings: Any, *, declared_tool: str = "") -> Decision:
        return self.decide(declaration, evidence, settings, declared_tool=declared_tool)

    def decide(self, declaration: str | None, evidence: Iterable[EvidenceResult],
               settings: Any, *, declared_tool: str = "") -> Decision:
        usable = [e for e in evidence if e.mode == DetectorMode.ENFORCE and not e.error]
        ai = [e for e in usable if e.label == EvidenceLabel.AI]
        assisted = [e for e in usable if e.label == EvidenceLabel.AI_ASSISTED]
        best_ai = max((STRENGTH_RANK[Strength(e.strength)] for e in ai), default=0)
        names = _names(sorted(ai + assisted, key=_rank, reverse=True))
        score = _classifier_score(usable)
        reasons = tuple(r for e in ai + assisted for r in (e.reasons or (e.detector,)))

        if declaration == Declaration.AI:
            gen, model, loras = names
            return Decision(Label.AI, Route.AI_FEED, reasons=("self_declared_ai", *reasons),
                            generator=gen or declared_tool, model=model, loras=loras,
                            ai_score=score)
        if best_ai >= STRENGTH_RANK[Strength.STRONG]:
            strength = "proof" if best_ai == STRENGTH_RANK[Strength.PROOF] else "strong"
            if declaration == Declaration.NONE:
                return Decision(Label.AI, Route.HELD, review_priority=PRIORITY_UNDISCLOSED,
                                reasons=("undisclosed_ai", f"provenance_{strength}", *reasons),
                                undisclosed_ai=True, needs_review=True, generator=names[0],
                                model=names[1], loras=names[2], ai_score=score)
            return Decision(Label.AI, Route.AI_FEED,
                            reasons=(f"provenance_{strength}", *reasons), generator=names[0],
                            model=names[1], loras=names[2], ai_score=score)
        if declaration == Declaration.AI_ASSISTED or assisted:
            why = ("self_declared_ai_assisted",) if declaration == Declaration.AI_ASSISTED else ()
            return Decision(Label.AI_ASSISTED, settings.AI_ASSISTED_ROUTE,
                            reasons=(*why, *reasons), generator=names[0] or declared_tool,
                            model=names[1], loras=names[2], ai_score=score)
        if ai:  # only weak evidence: classifier score or a free-text hint
            from_classifier = any(e.score is not None for e in ai)
            priority = PRIORITY_CLASSIFIER if from_classifier else PRIORITY_WEAK_HINT
            if score is not None:
                priority += round(score * 99)
            return Decision(Label.UNCERTAIN, Route.HELD, review_priority=priority,
                            reasons=("weak_ai_signal", *reasons), needs_review=True,
                            generator=names[0], model=names[1], loras=names[2], ai_score=score)
        return Decision(Label.HUMAN, Route.MAIN, reasons=("no_ai_evidence",), ai_score=score)


def _rank(e: EvidenceResult) -> int:
    return STRENGTH_RANK[Strength(e.strength)]


def _names(ranked: list[EvidenceResult]) -> tuple[str, str, tuple[str, ...]]:
    """Take generator, model and LoRAs from the strongest evidence that names them."""
    generator = next((e.generator for e in ranked if e.generator), "")
    model = next((e.model for e in ranked if e.model), "")
    loras = next((tuple(e.loras) for e in ranked if e.loras), ())
    return generator, model, loras


def _classifier_score(evidence: list[EvidenceResult]) -> float | None:
    scores = [e.score for e in evidence if e.score is not None]
    return max(scores) if scores else None


def get_policy() -> Any:
    """Return the configured policy as a callable.

    The callable takes ``(declaration, evidence, settings, *, declared_tool="")``.
    """
    from moderation.conf import moderation_settings

    policy = moderation_settings.POLICY
    return policy() if isinstance(policy, type) else policy
