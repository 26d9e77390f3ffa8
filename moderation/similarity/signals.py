"""What the pipeline calls after the detectors: keep the embedding, report what it shows.

:func:`record_embedding` stores the classifier's embedding of the case's content (a new
row when the content or the model changed, so the index only ever appends);
:func:`similarity_evidence` turns the nearest other accounts' works and the account's
variation set into evidence rows with reason codes, stored and cached like a
detector's (per content and version) and read by the policy.
"""

from __future__ import annotations

from typing import Any

from moderation.conf import moderation_settings
from moderation.constants import EvidenceLabel, Strength
from moderation.evidence import EvidenceResult
from moderation.models import ModerationCase, WorkEmbedding
from moderation.reasons import IN_VARIATION_SET, SIMILAR_WORK, VARIATION_SET
from moderation.similarity.matching import nearest_other_works
from moderation.similarity.variations import update_variation_set
from moderation.similarity.vectors import pack

SIMILARITY = "similarity"
VARIATIONS = "variation_set"
VERSION = "1"


def embedding_artifact(results: list[EvidenceResult]) -> tuple[Any, str] | None:
    """The (vector, model label) a classifier left in ``results``, if any."""
    for result in results:
        vector = result.artifacts.get("embedding")
        if vector is not None and not result.error:
            return vector, f"{result.artifacts.get('embedding_model', result.version)}"
    return None


def record_embedding(case: ModerationCase, sha256: str,
                     results: list[EvidenceResult]) -> WorkEmbedding | None:
    """Store this scan's embedding of ``case`` (or return the one stored for this
    content); None when no classifier produced one."""
    current = WorkEmbedding.objects.filter(case=case).first()
    found = embedding_artifact(results)
    if found is None:
        return current if current is not None and current.content_sha256 == sha256 else None
    vector, model = found
    model = model[:100]
    if current is not None:
        if current.content_sha256 == sha256 and current.model == model:
            return current
        current.delete()
    return WorkEmbedding.objects.create(
        case=case, owner_id=case.owner_id, content_sha256=sha256, model=model,
        dims=len(vector), vector=pack(vector), case_created_at=case.created_at)


def _version(embedding: WorkEmbedding) -> str:
    return f"{VERSION}:{embedding.model}"[:64]


def similarity_evidence(embedding: WorkEmbedding) -> EvidenceResult | None:
    """Other accounts' works at or above ``SIMILARITY_THRESHOLD``, as evidence (None when
    there is none: the case page lists the nearest works live, with their similarity)."""
    threshold = float(moderation_settings.SIMILARITY_THRESHOLD)
    nearest = nearest_other_works(embedding)
    matches = [m for m in nearest if m.similarity >= threshold]
    details: dict[str, Any] = {
        "kind": "similarity", "threshold": threshold, "model": embedding.model,
        "matches": [{"case": m.case_id, "owner": m.owner_id, "owner_name": m.owner_name,
                     "similarity": m.similarity, "created_at": m.created_at.isoformat()}
                    for m in matches],
        "closest": nearest[0].similarity if nearest else None,
    }
    if matches:
        best = matches[0]
        return EvidenceResult(
            detector=SIMILARITY, version=_version(embedding), label=EvidenceLabel.NONE,
            strength=Strength.WEAK, score=best.similarity, message=SIMILAR_WORK.code,
            message_params={"similarity": f"{best.similarity:.2f}", "other": best.owner_name,
                            "other_case": best.case_id, "threshold": f"{threshold:.2f}"},
            details=details, reasons=(SIMILAR_WORK.code,))
    return None


def variation_evidence(embedding: WorkEmbedding) -> EvidenceResult | None:
    """The account's variation set this work joined, as evidence (None: alone)."""
    found = update_variation_set(embedding)
    if found.key is None:
        return None
    flood = moderation_settings.VARIATION_SET_FLOOD_SIZE
    reason = VARIATION_SET if found.is_flood else IN_VARIATION_SET
    return EvidenceResult(
        detector=VARIATIONS, version=_version(embedding), label=EvidenceLabel.NONE,
        strength=Strength.WEAK, score=float(found.size), message=reason.code,
        message_params={"size": found.size, "days": found.days,
                        "flood_size": flood if flood is not None else "-"},
        details={"kind": "variation_set", "size": found.size, "key": found.key,
                 "members": list(found.case_ids[:50]), "days": found.days,
                 "threshold": float(moderation_settings.VARIATION_SET_THRESHOLD)},
        reasons=(VARIATION_SET.code,) if found.is_flood else ())


def case_signals(case: ModerationCase, sha256: str,
                 results: list[EvidenceResult]) -> list[EvidenceResult]:
    """Store the embedding and return the similarity and variation-set evidence."""
    embedding = record_embedding(case, sha256, results)
    if embedding is None:
        return []
    found = [similarity_evidence(embedding), variation_evidence(embedding)]
    return [result for result in found if result is not None]
