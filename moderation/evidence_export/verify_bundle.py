"""Check an unpacked evidence bundle with nothing but Python 3 (shipped as ``verify.py``).

Run it in the bundle's folder: ``python3 verify.py``. It checks

1. every file listed in ``SHA256SUMS`` against its SHA-256 (as ``sha256sum -c`` does);
2. every audit entry in ``case.json`` that carries its ``canonical`` text:
   ``SHA-256(prev_hash + canonical) == row_hash``, and that the canonical text says what
   the entry shows (action, note, before, after, time);
3. the links between entries that were written one after the other
   (``prev_hash`` of one is the ``row_hash`` of the one before).

It prints one line per check and exits 1 if any fails. This file imports nothing from
the site, so a reader can read all of it before running it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from itertools import pairwise
from pathlib import Path


def check_sums(folder: Path) -> list[str]:
    """Problems with ``SHA256SUMS`` ([] when every listed file matches)."""
    problems = []
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    for line in lines:
        if not line.strip():
            continue
        digest, _sep, name = line.partition("  ")
        target = folder / name
        if not target.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: SHA-256 differs from SHA256SUMS")
    if not lines:
        problems.append("SHA256SUMS is empty")
    return problems


def _normalise(value: object) -> object:
    """JSON values as the site hashed them: integral floats as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def check_entry(entry: dict) -> list[str]:
    """Problems with one timeline entry's hash ([] when it verifies or is withheld)."""
    canonical = entry.get("canonical")
    if canonical is None:
        return []
    digest = hashlib.sha256(entry["prev_hash"].encode("ascii"))
    digest.update(canonical.encode("utf-8"))
    problems = []
    if digest.hexdigest() != entry["row_hash"]:
        problems.append(f"audit entry {entry['id']}: canonical text does not hash to row_hash")
    content = json.loads(canonical)
    for key in ("action", "note", "before", "after"):
        if _normalise(content.get(key)) != _normalise(entry.get(key)):
            problems.append(f"audit entry {entry['id']}: {key} differs from the hashed text")
    hashed_at = str(content.get("created_at") or "")
    shown_at = str(entry.get("at") or "").replace("Z", "+00:00")
    if hashed_at[:19] != shown_at[:19]:
        problems.append(f"audit entry {entry['id']}: time differs from the hashed text")
    return problems


def check_links(entries: list[dict]) -> tuple[int, list[str]]:
    """(links checked, problems) for entries whose ids follow each other."""
    checked, problems = 0, []
    for previous, entry in pairwise(entries):
        if entry["id"] == previous["id"] + 1:
            checked += 1
            if entry["prev_hash"] != previous["row_hash"]:
                problems.append(f"audit entry {entry['id']}: does not link to entry "
                                f"{previous['id']}")
    return checked, problems


def main(folder: Path) -> int:
    problems = check_sums(folder)
    print(f"SHA256SUMS: {'OK' if not problems else 'FAILED'}")
    document = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    entries = document["timeline"]["entries"]
    verified = [e for e in entries if e.get("canonical") is not None]
    entry_problems = [p for e in entries for p in check_entry(e)]
    print(f"audit entries checked against their hashes: {len(verified)} of {len(entries)}"
          f" ({len(entries) - len(verified)} withheld in this copy): "
          f"{'OK' if not entry_problems else 'FAILED'}")
    links, link_problems = check_links(entries)
    print(f"links between consecutive entries: {links}: "
          f"{'OK' if not link_problems else 'FAILED'}")
    problems += entry_problems + link_problems
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent))
