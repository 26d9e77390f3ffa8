"""Group splits: by hand-made source and by AI generator family, never by image.

A random split puts sibling images of one generator (or one game's portraits) on both
sides and measures memorised content. ``test`` groups are held out of every choice made
during training (variant, epochs, temperature, thresholds) and report the shipped
model's metrics; ``dev`` groups are cut into leave-groups-out folds.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from moderation.training.sources import AI

#: Hand-made sources held out for the final report (painted portraits of another game,
#: and the only anime-style artwork in the registries).
TEST_HUMAN_SOURCES = frozenset({"flare-game", "renpy-demo", "renpy-thequestion"})
#: Share of AI images whose generator families are held out for the final report.
TEST_AI_SHARE = 0.2


def _stable(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def assign(rows: list[dict[str, str]], folds: int = 3) -> list[int]:
    """Return each row's fold: -1 for the held-out test set, else 0..folds-1.

    Human dev sources map one per fold (round-robin by size); AI generator families are
    spread over the folds greedily by image count so every fold holds both classes.
    """
    ai_families = Counter(r["generator"] for r in rows if r["label"] == AI)
    n_ai = sum(ai_families.values())
    test_families: set[str] = set()
    taken = 0
    for family in sorted(ai_families, key=_stable):
        if taken >= TEST_AI_SHARE * n_ai:
            break
        test_families.add(family)
        taken += ai_families[family]

    human_sources = Counter(r["source"] for r in rows
                            if r["label"] != AI and r["source"] not in TEST_HUMAN_SOURCES)
    source_fold = {s: i % folds for i, (s, _) in enumerate(human_sources.most_common())}
    load = [0] * folds
    family_fold: dict[str, int] = {}
    for family, count in sorted(((f, c) for f, c in ai_families.items()
                                 if f not in test_families), key=lambda fc: (-fc[1], fc[0])):
        k = load.index(min(load))
        family_fold[family] = k
        load[k] += count

    out = []
    for r in rows:
        if r["label"] == AI:
            out.append(-1 if r["generator"] in test_families else family_fold[r["generator"]])
        else:
            out.append(-1 if r["source"] in TEST_HUMAN_SOURCES else source_fold[r["source"]])
    return out
