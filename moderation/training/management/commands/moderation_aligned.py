"""``manage.py moderation_aligned {pairs,fit,gate,fallback,bundle,curve} ...``.

A thin wrapper over :mod:`moderation.training.aligned.cli`, available once the training
sub-app is installed; the module form runs the same code from a bare shell.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from moderation.training.aligned import cli


class Command(BaseCommand):
    help = "Aligned-pair trace detector: generate pairs, train, gate, fuse, bundle."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER,
                            help="arguments of moderation.training.aligned.cli")

    def handle(self, *args: Any, **options: Any) -> None:
        cli.main(list(args))
