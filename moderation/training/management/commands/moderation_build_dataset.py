"""``manage.py moderation_build_dataset --out DIR``: rebuild the classifier's training data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.training.dataset import build
from moderation.training.fetch import RegistryUnreachable


class Command(BaseCommand):
    # argparse cannot format lazy strings: help texts are translated with plain
    # gettext when the parser is built (in the active language).
    help_text = _("Download the PyPI and Debian packages pinned in moderation/training/sources.py "
                  "(ComfyUI template images as AI-made; game, visual-novel, wallpaper and "
                  "clip-art packages as hand-made), filter and deduplicate their images and "
                  "write manifest.csv (resumable).")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path,
                            help=gettext("Dataset directory (kept out of git)."))

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        out.mkdir(parents=True, exist_ok=True)
        try:
            build(out, progress=lambda msg: self.stdout.write(msg))
        except RegistryUnreachable as exc:
            raise CommandError(str(exc)) from exc
