"""``manage.py moderation_evaluate --ai DIR --human DIR``: measure the classifier alone."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.internal.bundle import BundleError
from moderation.training.evaluate import plot, public, score_folders


def _clean(value: Any) -> Any:
    """NaN is not JSON: report undefined metrics as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


class Command(BaseCommand):
    # argparse cannot format lazy strings: help texts are translated with plain
    # gettext when the parser is built (in the active language).
    help_text = _("Score a folder of AI images and a folder of hand-made images with the "
             "classifier alone (metadata ignored) and report AUROC, AP and operating points.")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ai", required=True, type=Path, help=gettext("Folder of AI images."))
        parser.add_argument("--human", required=True, type=Path,
                            help=gettext("Folder of hand-made images."))
        parser.add_argument("--bundle", type=Path, default=None,
                            help=gettext("Model bundle directory (default: the shipped one)."))
        parser.add_argument("--json", action="store_true", help=gettext("Print JSON only."))
        parser.add_argument("--plot", type=Path, default=None,
                            help=gettext("Write a ROC curve and score histograms to this PNG."))
        parser.add_argument("--perturb", default="",
                            help=gettext("Comma-separated re-upload perturbations evaluated in "
                                   "addition, e.g. jpeg85,resize0.75."))

    def handle(self, *args: Any, **options: Any) -> None:
        for key in ("ai", "human"):
            if not options[key].is_dir():
                raise CommandError(_("%(path)s is not a directory") % {"path": options[key]})
        quiet = options["json"]

        def say(msg: str) -> None:
            if not quiet:
                self.stderr.write(msg)

        try:
            report = score_folders(options["ai"], options["human"], options["bundle"], None, say)
            if options["plot"]:
                plot(report, options["plot"])
            result = public(report)
            kinds = [k.strip() for k in options["perturb"].split(",") if k.strip()]
            if kinds:
                result["perturbed"] = {
                    kind: public(score_folders(options["ai"], options["human"],
                                               options["bundle"], kind, say))
                    for kind in kinds}
        except (BundleError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        result = _clean(result)
        if quiet:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self._print(result)

    def _print(self, result: dict[str, Any]) -> None:
        runs = [("clean", result), *list(result.get("perturbed", {}).items())]
        for name, r in runs:
            t = r["tpr_at_fpr"]
            self.stdout.write(
                f"{name}: n_ai={r['n_ai']} n_human={r['n_human']} auroc={r['auroc']} "
                f"ap={r['ap']} tpr@1%={t['0.01']} tpr@5%={t['0.05']} "
                f"threshold={r['threshold']} fpr@threshold={r['fpr_at_threshold']} "
                f"ms/image={r['ms_per_image']}")
            for folder, f in r["per_folder"].items():
                self.stdout.write(f"    {folder}: {f}")
