"""``manage.py moderation_site_curve --ai DIR --human DIR --out DIR``: the site loop's
simulated learning curve for a blended bundle (see :mod:`moderation.training.site_curve`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from moderation.training.aligned import gate
from moderation.training.aligned.cli import FALLBACK_FOLDS
from moderation.training.site_curve import run


class Command(BaseCommand):
    help = ("Simulated site-loop learning curve of a blended bundle: dev AUROC and TPR at "
            "1% FPR against the number of site-confirmed works.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ai", type=Path, required=True)
        parser.add_argument("--human", type=Path, required=True)
        parser.add_argument("--bundle", type=Path, default=None,
                        help="blended base bundle (default: the shipped one)")
        parser.add_argument("--taef2", type=Path, default=None,
                        help="TAEF2 weights folder (default: upsampler pairs only)")
        parser.add_argument("--eval-fold", default="sd1-family", choices=sorted(FALLBACK_FOLDS))
        parser.add_argument("--eval-sources", default="freecol,valyriatear")
        parser.add_argument("--sizes", type=int, nargs="+", default=[0, 25, 100, 178])
        parser.add_argument("--crops", type=int, default=3,
                            help="aligned pairs per confirmed image")
        parser.add_argument("--trace-steps", type=int, default=120)
        parser.add_argument("--epochs", type=int, default=6, help="semantic fine-tune epochs")
        parser.add_argument("--views", type=int, default=4, help="semantic crops per image")
        parser.add_argument("--kinds", nargs="+", default=list(gate.KINDS), choices=gate.KINDS)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        run(argparse.Namespace(**options))
