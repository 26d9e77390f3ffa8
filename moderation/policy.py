"""The decision policy: the one place that decides a case's label, route and priority.

Principles: a classifier alone may hold a work for review but never label it AI or count
against its uploader; provenance proof, the uploader's own declaration and moderators
can. ``compositeWithTrainedAlgorithmicMedia`` is an AI-assisted edit, never an AI image.
An account held or suspended after strikes has its new uploads held or hidden.

Everything the policy needs arrives as a value (declaration, evidence, settings, the
account's standing), so the CLI runs the exact same decisions without a database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from moderation.conf import moderation_settings
from moderation.constants import (
    STRENGTH_RANK,
    Declaration,
    DetectorMode,
    EvidenceLabel,
    Label,
    ProcessingState,
    Route,
    Strength,
)
from moderation.deepfake.signals import deepfake_signals
from moderation.evidence import CLEAN_STANDING, Decision, EvidenceResult, Routing, Standing
from moderation.reasons import (
    ACCOUNT_ON_HOLD,
    ACCOUNT_SUSPENDED,
    BANNED_REUPLOAD,
    DEEPFAKE_RISK,
    DETECTOR_SIGNAL,
    NO_AI_EVIDENCE,
    PROTECTED_WORK_MATCH,
    PROVENANCE_NOT_AI,
    PROVENANCE_PROOF,
    PROVENANCE_STRONG,
    REPOST,
    SELF_DECLARED_AI,
    SELF_DECLARED_AI_ASSISTED,
    SHARED_BAN_MATCH,
    SIMILAR_WORK,
    UNDISCLOSED_AI,
    VARIATION_SET,
    WEAK_AI_SIGNAL,
    Priority,
    reason_table,
)

#: Where a matched upload sorts inside the repost band: a removed work coming back
#: first, then a creator's protected work, then another account's published work.
MATCH_PRIORITY: dict[str, int] = {BANNED_REUPLOAD.code: 60, SHARED_BAN_MATCH.code: 50,
                                  PROTECTED_WORK_MATCH.code: 40}


class BasePolicy(ABC):
    """Decides label, route and review priority for every case.

    Point ``MODERATION["POLICY"]`` at a subclass to change the decisions; implement
    :meth:`decide` and, where the site differs, override the routing methods below. The
    pipeline, the actions and the upload path all ask the configured policy
    (:func:`get_policy`), never decide a route themselves.
    """

    @abstractmethod
    def decide(self, declaration: str | None, evidence: Iterable[EvidenceResult],
               settings: Any, *, declared_tool: str = "",
               standing: Standing = CLEAN_STANDING) -> Decision:
        """The verdict for one scanned upload.

        ``declaration`` is what the uploader said (a :class:`Declaration` value or None),
        ``evidence`` every detector's result for this content (shadow-mode and failed
        results included: the policy decides what counts), ``settings`` the
        ``MODERATION`` settings, ``declared_tool`` the tool the uploader named and
        ``standing`` the uploader's account standing at the time of the scan. The
        evidence also holds what the pipeline found around the detectors: another
        account's similar work (``similarity``), the account's variation set
        (``variation_set``), the face check and the host's flags (``host``, built fresh
        for every decision and never stored).
        """

    def route_for_label(self, label: str, settings: Any) -> str:
        """The feed a work with ``label`` belongs in once a moderator has decided it."""
        if label == Label.HUMAN:
            return Route.MAIN
        if label == Label.AI:
            return Route.AI_FEED
        if label == Label.AI_ASSISTED:
            return str(settings.AI_ASSISTED_ROUTE)
        return Route.HELD

    def pending_route(self, settings: Any) -> str:
        """Where a work waits from upload (or a new file) until its scan finishes."""
        return str(settings.PENDING_ROUTE)

    def scan_failed(self, state: str, settings: Any) -> Routing:
        """Rejected uploads are hidden; quarantined ones are held for moderators."""
        if state == ProcessingState.REJECTED:
            return Routing(Route.HIDDEN)
        return Routing(Route.HELD, needs_review=True)

    def route_for_reports(self, route: str, score: float, settings: Any, *,
                          deepfake: bool = False, burst: bool = False) -> Routing | None:
        """Where viewers' reports with weighted ``score`` send a work now on ``route``.

        Past ``REPORT_HOLD_THRESHOLD`` a public work is held for review; past
        ``REPORT_REVIEW_THRESHOLD`` (or when the reports are a burst against the artist,
        so a moderator sees the burst) it joins the queue where it is. Reports never
        label a work and never strike an account: only the route and the queue change.
        None leaves the case as it is. ``deepfake``: a real person or sexual deepfake is
        reported, filed with the deepfake risks.
        """
        band = int(Priority.DEEPFAKE if deepfake else Priority.REPORTS)
        priority = band + min(99, round(score * 10))
        hold = settings.REPORT_HOLD_THRESHOLD
        if hold is not None and score >= float(hold) and route in (Route.MAIN, Route.AI_FEED):
            return Routing(Route.HELD, needs_review=True, review_priority=priority)
        if score >= float(settings.REPORT_REVIEW_THRESHOLD) or burst:
            return Routing(route, needs_review=True, review_priority=priority)
        return None

    def appeal_priority(self) -> int:
        """Review priority of an appealed case: after every risk category."""
        return Priority.APPEAL

    def apply_matches(self, decision: Decision, evidence: Iterable[EvidenceResult]) -> Decision:
        """Hold an upload whose enforcing evidence names a repost reason (its fingerprint
        matched another account's work, a removed work or a protected one).

        Only tightens, like :meth:`apply_standing`: a hidden decision stays hidden, the
        label is the one the content earned, and the review priority is the repost band
        unless the case already sorts higher.
        """
        codes = set(reason_table.codes_in(REPOST.key))
        found = [r for e in evidence if e.mode == DetectorMode.ENFORCE and not e.error
                 for r in e.reasons if r in codes]
        if not found:
            return decision
        priority = int(Priority.REPOST) + max(MATCH_PRIORITY.get(r, 20) for r in found)
        route = decision.route if decision.route == Route.HIDDEN else Route.HELD
        reasons = (*decision.reasons, *dict.fromkeys(r for r in found
                                                     if r not in decision.reasons))
        return replace(decision, route=route, needs_review=True, reasons=reasons,
                       review_priority=max(decision.review_priority, priority))

    def apply_standing(self, decision: Decision, standing: Standing) -> Decision:
        """Hold (or, when suspended, hide) a held or suspended account's new upload.

        Only tightens: a decision already hidden stays hidden.
        """
        if not (standing.held or standing.suspended):
            return decision
        reason = ACCOUNT_SUSPENDED if standing.suspended else ACCOUNT_ON_HOLD
        route = decision.route
        if route != Route.HIDDEN:
            route = Route.HIDDEN if standing.suspended else Route.HELD
        reasons = decision.reasons if reason.code in decision.reasons else (
            *decision.reasons, reason.code)
        return replace(decision, route=route, needs_review=True, reasons=reasons,
                       review_priority=max(decision.review_priority, Priority.ACCOUNT_HOLD))


class DefaultPolicy(BasePolicy):
    """Declaration and provenance first, the classifier only as a reason to look."""

    def decide(self, declaration: str | None, evidence: Iterable[EvidenceResult],
               settings: Any, *, declared_tool: str = "",
               standing: Standing = CLEAN_STANDING) -> Decision:
        evidence = list(evidence)
        decision = self.decide_content(declaration, evidence, settings,
                                       declared_tool=declared_tool)
        decision = self.apply_signals(self.apply_matches(decision, evidence), evidence,
                                      settings)
        return self.apply_standing(decision, standing)

    def apply_signals(self, decision: Decision, evidence: list[EvidenceResult],
                      settings: Any) -> Decision:
        """What the work's neighbours and its host add: each only sends the work to
        moderators (with a priority), never changes its label.

        * a near copy of another account's work: queued at the repost priority;
        * one of a large variation set (a weak AI-flood sign): queued, priority raised
          with the set's size;
        * AI + photographic + a face + the host's adult flag: deepfake risk, top
          priority and held (hidden from everyone but the uploader) until reviewed.
        """
        usable = [e for e in evidence if e.mode == DetectorMode.ENFORCE and not e.error]
        codes = {r for e in usable for r in e.reasons}
        reasons = list(decision.reasons)
        priority, needs_review, route = (decision.review_priority, decision.needs_review,
                                         decision.route)
        if SIMILAR_WORK.code in codes:
            reasons.append(SIMILAR_WORK.code)
            needs_review, priority = True, max(priority, int(Priority.REPOST))
        if VARIATION_SET.code in codes:
            size = max((int(e.details.get("size", 0)) for e in usable
                        if VARIATION_SET.code in e.reasons), default=0)
            reasons.append(VARIATION_SET.code)
            needs_review = True
            priority = max(priority, int(Priority.VARIATION_SET) + min(49, size))
        signals = deepfake_signals(usable, label=decision.label, reasons=decision.reasons,
                                   settings=settings)
        if signals.escalate:
            reasons.insert(0, DEEPFAKE_RISK.code)
            needs_review, priority = True, int(Priority.DEEPFAKE)
            if route != Route.HIDDEN:
                route = Route.HELD
        if reasons == list(decision.reasons):
            return decision
        return replace(decision, reasons=tuple(reasons), review_priority=priority,
                       needs_review=needs_review, route=route)

    def decide_content(self, declaration: str | None, evidence: list[EvidenceResult],
                       settings: Any, *, declared_tool: str = "") -> Decision:
        """The verdict the work itself earns, before the account's standing."""
        usable = [e for e in evidence if e.mode == DetectorMode.ENFORCE and not e.error]
        ai = [e for e in usable if e.label == EvidenceLabel.AI]
        assisted = [e for e in usable if e.label == EvidenceLabel.AI_ASSISTED]
        best_ai = max((STRENGTH_RANK[Strength(e.strength)] for e in ai), default=0)
        gen, model, loras = _names(sorted(ai + assisted, key=_rank, reverse=True))
        score = _classifier_score(usable)
        reasons = tuple(r for e in ai + assisted for r in (e.reasons or (DETECTOR_SIGNAL.code,)))
        named = Decision(Label.UNCERTAIN, Route.HELD, generator=gen, model=model, loras=loras,
                         ai_score=score)

        if declaration == Declaration.AI:
            return replace(named, label=Label.AI, route=Route.AI_FEED,
                           reasons=(SELF_DECLARED_AI.code, *reasons),
                           generator=gen or declared_tool)
        if best_ai >= STRENGTH_RANK[Strength.STRONG]:
            firmness = (PROVENANCE_PROOF if best_ai == STRENGTH_RANK[Strength.PROOF]
                        else PROVENANCE_STRONG)
            if declaration == Declaration.NONE:
                return replace(named, label=Label.AI, route=Route.HELD,
                               review_priority=Priority.UNDISCLOSED,
                               reasons=(UNDISCLOSED_AI.code, firmness.code, *reasons),
                               undisclosed_ai=True, needs_review=True)
            return replace(named, label=Label.AI, route=Route.AI_FEED,
                           reasons=(firmness.code, *reasons))
        if declaration == Declaration.AI_ASSISTED or assisted:
            why = ((SELF_DECLARED_AI_ASSISTED.code,)
                   if declaration == Declaration.AI_ASSISTED else ())
            return replace(named, label=Label.AI_ASSISTED,
                           route=self.route_for_label(Label.AI_ASSISTED, settings),
                           reasons=(*why, *reasons), generator=gen or declared_tool)
        if ai:  # only weak evidence: classifier score or a free-text hint
            from_classifier = any(e.score is not None for e in ai)
            priority = int(Priority.CLASSIFIER if from_classifier else Priority.WEAK_HINT)
            if score is not None:
                priority += round(score * 99)
            return replace(named, review_priority=priority, needs_review=True,
                           reasons=(WEAK_AI_SIGNAL.code, *reasons))
        # "Not AI" is established only by signed proof (a trusted C2PA capture); an
        # absence of AI signals is recorded as just that, so no page claims "hand-made".
        proof = [e for e in usable if e.label == EvidenceLabel.HUMAN
                 and e.strength == Strength.PROOF]
        if proof:
            return Decision(Label.HUMAN, self.route_for_label(Label.HUMAN, settings),
                            reasons=(PROVENANCE_NOT_AI.code,
                                     *(r for e in proof for r in e.reasons)), ai_score=score)
        return Decision(Label.HUMAN, self.route_for_label(Label.HUMAN, settings),
                        reasons=(NO_AI_EVIDENCE.code,), ai_score=score)


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


def get_policy() -> BasePolicy:
    """The configured policy (``MODERATION["POLICY"]``: a BasePolicy subclass or instance)."""
    policy = moderation_settings.POLICY
    if isinstance(policy, type) and issubclass(policy, BasePolicy):
        return policy()
    if isinstance(policy, BasePolicy):
        return policy
    raise ImproperlyConfigured(
        f'MODERATION["POLICY"] must be a subclass of moderation.policy.BasePolicy, '
        f"got {policy!r}")
