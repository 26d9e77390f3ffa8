"""``manage.py moderation_train``: train the bundled classifier (offline; needs ``[train]``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class Command(BaseCommand):
    # argparse cannot format lazy strings: help texts are translated with plain
    # gettext when the parser is built (in the active language).
    help_text = _("Train the AI-image classifier from a dataset built by moderation_build_dataset "
             "and write a model bundle (model.onnx, model.json, MODEL_CARD.md, "
             "training-manifest.csv).")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", type=Path,
                            help=gettext("Dataset directory (manifest.csv)."))
        parser.add_argument("--out", type=Path, help=gettext("Bundle directory to write."))
        parser.add_argument("--version", default="1.0.0", help=gettext("Bundle version string."))
        parser.add_argument("--epochs", type=int, default=4,
                            help=gettext("Fine-tuning epochs (0: linear probe only)."))
        parser.add_argument("--views", type=int, default=4,
                            help=gettext("Augmented crops cached per image."))
        parser.add_argument("--variants", default="rgb,npr",
                            help=gettext("Input variants compared: rgb, npr (pixel residuals)."))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from moderation.internal.training.train import TrainConfig, run
        except ImportError as exc:
            raise CommandError(
                _("Training needs the [train] extras (torch, scikit-learn...): %(err)s")
                % {"err": exc}) from exc
        if not options["dataset"] or not options["out"]:
            raise CommandError(_("--dataset and --out are required."))
        manifest = options["dataset"] / "manifest.csv"
        if not manifest.is_file():
            raise CommandError(_("%(path)s not found; run moderation_build_dataset first.")
                               % {"path": manifest})
        cfg = TrainConfig(dataset=options["dataset"], out=options["out"],
                          version=options["version"], epochs=options["epochs"],
                          views=options["views"],
                          variants=tuple(v.strip() for v in options["variants"].split(",")),
                          progress=lambda msg: self.stdout.write(msg))
        report = run(cfg)
        (options["out"] / "training-report.json").write_text(
            json.dumps(_jsonable(report), indent=2) + "\n")
