"""Command line of the aligned trace detector: ``python -m moderation.training.aligned.cli``.

The same entry points back the ``moderation_aligned`` management command; the module
form needs no Django settings, so long offline runs can start from a bare shell.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from moderation.training.aligned import pairs


def _deadline(value: str | None) -> float | None:
    """Parse ``HH:MM`` (UTC, today or tomorrow) into a ``time.time()`` value."""
    if not value:
        return None
    now = datetime.now(UTC)
    hh, mm = (int(v) for v in value.split(":"))
    target = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return target.timestamp()


def cmd_pairs(args: argparse.Namespace) -> None:
    """Generate (or extend) the aligned pair cache."""
    import torch  # heavy optional dependency: thread count must be set before any work

    torch.set_num_threads(args.threads)
    sources = pairs.human_sources(args.dataset)
    tasks = pairs.plan(sources, args.seed)
    if args.limit:
        tasks = tasks[: args.limit]
    weights = dict(pairs.FAMILY_WEIGHTS)
    families = pairs.default_families(args.taef2, weights, threads=args.threads)
    made, started = Counter[str](), time.time()
    for _task, path in pairs.run(tasks, args.out, families, weights,
                                 deadline=_deadline(args.until)):
        made["ok" if path else "skipped"] += 1
    summary = {"tasks": len(tasks), **made, "seconds": round(time.time() - started, 1)}
    print(json.dumps(summary))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="moderation.training.aligned.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pairs", help="generate aligned human/reconstruction pairs")
    p.add_argument("--dataset", type=Path, required=True,
                   help="moderation_build_dataset output (manifest.csv + images)")
    p.add_argument("--taef2", type=Path, required=True, help="folder with the TAEF2 weights")
    p.add_argument("--out", type=Path, required=True, help="cache folder (outside the repo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    p.add_argument("--until", default=None, help="stop cleanly at HH:MM UTC")
    p.set_defaults(func=cmd_pairs)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
