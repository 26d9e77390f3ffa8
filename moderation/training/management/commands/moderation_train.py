"""``manage.py moderation_train``: train the classifier offline (needs the ``[train]`` extras).

Three modes: ``--dataset DIR --out BUNDLE`` trains the bundled model from registry data;
``--from-site`` fine-tunes the current bundle on this site's labelled cases and installs
the result in shadow mode; ``--promote VERSION`` makes a shadow install the enforcing one
after showing its before/after metrics.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.internal.bundle import default_bundle_dir
from moderation.training.aligned.site_blend import TraceFinetune
from moderation.training.promotion import PromoteClassifier, PromotionError, promoted_message
from moderation.training.site import SiteDataError, adapt
from moderation.training.site import default_install_dir as site_default


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def default_install_dir() -> Path:
    """Site bundles live outside MEDIA_ROOT (never publicly served), next to the project."""
    return site_default()


class Command(BaseCommand):
    # argparse cannot format lazy strings: help texts are translated with plain
    # gettext when the parser is built (in the active language).
    help_text = _("Train the AI-image classifier from a dataset built by moderation_build_dataset "
                  "(--dataset, --out), fine-tune it on this site's labelled cases (--from-site) "
                  "or promote a shadow install (--promote).")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", type=Path,
                            help=gettext("Dataset directory (manifest.csv)."))
        parser.add_argument("--out", type=Path, help=gettext("Bundle directory to write."))
        parser.add_argument("--bundle-version", default="1.0.0",
                            help=gettext("Version string written to model.json."))
        parser.add_argument("--epochs", type=int, default=None,
                            help=gettext("Fine-tuning epochs (0: linear probe only)."))
        parser.add_argument("--views", type=int, default=4,
                            help=gettext("Augmented crops cached per image."))
        parser.add_argument("--variants", default="rgb,npr",
                            help=gettext("Input variants compared: rgb, npr (pixel residuals)."))
        parser.add_argument("--from-site", action="store_true",
                            help=gettext("Fine-tune the current bundle on this site's "
                                         "moderator-confirmed and provenance-proved cases and "
                                         "install it in shadow mode."))
        parser.add_argument("--base-bundle", type=Path, default=None,
                            help=gettext("Bundle to start from (default: the shipped one)."))
        parser.add_argument("--install-dir", type=Path, default=None,
                            help=gettext("Where site bundles are installed (default: "
                                         "BASE_DIR/var/moderation-bundles)."))
        parser.add_argument("--min-cases", type=int, default=20,
                            help=gettext("Refuse to train on fewer labelled site cases."))
        parser.add_argument("--taef2", type=Path, default=None,
                            help=gettext("Folder with the TAEF2 weights for the aligned pairs "
                                         "of a blended bundle's trace CNNs (default: the "
                                         "SITE_TRAINING_TAEF2_DIR setting; without either, "
                                         "upsampler pairs only)."))
        parser.add_argument("--trace-steps", type=int, default=None,
                            help=gettext("Fine-tuning steps of each trace CNN of a blended "
                                         "bundle."))
        parser.add_argument("--pairs-per-upload", type=int, default=None,
                            help=gettext("Aligned pairs cut from each confirmed hand-made "
                                         "upload for a blended bundle's trace CNNs."))
        parser.add_argument("--seed", type=int, default=0,
                            help=gettext("Seed of every random choice of the site loop."))
        parser.add_argument("--promote", metavar="VERSION", default=None,
                            help=gettext("Make an installed shadow version the enforcing one."))
        parser.add_argument("--yes", action="store_true",
                            help=gettext("Confirm --promote after reading the metrics."))

    def handle(self, *args: Any, **options: Any) -> None:
        install_dir = options["install_dir"] or default_install_dir()
        if options["promote"]:
            self._promote(install_dir, options["promote"], options["yes"])
        elif options["from_site"]:
            self._from_site(install_dir, options)
        else:
            self._train(options)

    def _train(self, options: dict[str, Any]) -> None:
        try:
            from moderation.training.train import TrainConfig, run
        except ImportError as exc:
            raise CommandError(
                _("Training needs the [train] extras (torch, scikit-learn...): %(err)s")
                % {"err": exc}) from exc
        if not options["dataset"] or not options["out"]:
            raise CommandError(_("--dataset and --out are required (or use --from-site)."))
        manifest = options["dataset"] / "manifest.csv"
        if not manifest.is_file():
            raise CommandError(_("%(path)s not found; run moderation_build_dataset first.")
                               % {"path": manifest})
        epochs = 1 if options["epochs"] is None else options["epochs"]
        cfg = TrainConfig(dataset=options["dataset"], out=options["out"],
                          version=options["bundle_version"], epochs=epochs,
                          views=options["views"],
                          variants=tuple(v.strip() for v in options["variants"].split(",")),
                          progress=lambda msg: self.stdout.write(msg))
        report = run(cfg)
        (options["out"] / "training-report.json").write_text(
            json.dumps(_jsonable(report), indent=2) + "\n")

    def _from_site(self, install_dir: Path, options: dict[str, Any]) -> None:
        base = options["base_bundle"] or default_bundle_dir()
        if base is None:
            raise CommandError(_("No base bundle: pass --base-bundle."))
        taef2 = options["taef2"] or moderation_settings.SITE_TRAINING_TAEF2_DIR
        if taef2 is not None and not Path(taef2).is_dir():
            raise CommandError(_("TAEF2 folder %(path)s not found.") % {"path": taef2})
        recipe = {k: v for k, v in (("steps", options["trace_steps"]),
                                    ("crops_per_image", options["pairs_per_upload"]))
                  if v is not None}
        trace_cfg = TraceFinetune(**recipe)
        try:
            entry = adapt(Path(base), install_dir,
                          epochs=6 if options["epochs"] is None else options["epochs"],
                          views_per_image=options["views"], min_cases=options["min_cases"],
                          seed=options["seed"], taef2_dir=Path(taef2) if taef2 else None,
                          trace_cfg=trace_cfg, progress=lambda msg: self.stdout.write(msg))
        except ImportError as exc:  # adapt() imports torch when it starts
            raise CommandError(_("Training needs the [train] extras: %(err)s")
                               % {"err": exc}) from exc
        except SiteDataError as exc:
            raise CommandError(str(exc)) from exc
        self._show(entry)
        if not entry.get("beats_installed"):
            self.stdout.write(gettext(
                "%(version)s does not beat the installed bundle %(installed)s on the held-out "
                "site works: it stays in shadow mode and --promote will refuse it.")
                % {"version": entry["version"], "installed": entry.get("compared_with")})
        shadow = install_dir / "shadow"
        self.stdout.write(gettext(
            "Installed %(version)s in shadow mode. It records evidence but never decides once "
            "an alias points at it, e.g.\n"
            '  MODERATION["DETECTORS"]["classifier-shadow"] = {"BACKEND": '
            '"moderation.detectors.onnx.OnnxClassifier", "MODE": "shadow", '
            '"OPTIONS": {"BUNDLE": "%(path)s"}}\n'
            "Restart the workers to load it; promote it with --promote %(version)s.")
            % {"version": entry["version"], "path": shadow})

    def _show(self, entry: dict[str, Any]) -> None:
        for side in ("old", "new"):
            m = entry["metrics"][side]
            self.stdout.write(
                f"  {side}: auroc={m['auroc']} ap={m['ap']} tpr@1%={m['tpr_at_fpr']['0.01']} "
                f"tpr@5%={m['tpr_at_fpr']['0.05']} fpr@review={m.get('fpr_at_threshold')} "
                f"tpr@review={m.get('tpr_at_threshold')} (n_ai={m['n_ai']}, "
                f"n_human={m['n_human']})")

    def _promote(self, install_dir: Path, version: str, confirmed: bool) -> None:
        # The same action the admin's "Classifier versions" page runs (audit row included).
        action = PromoteClassifier(None, version, install_dir=install_dir,
                                   note="manage.py moderation_train --promote")
        try:
            entry = action.entry()
        except PromotionError as exc:
            raise CommandError(_("No installed version %(v)s in %(dir)s")
                               % {"v": version, "dir": install_dir}) from exc
        self.stdout.write(gettext("Held-out site metrics, base %(base)s (old) vs %(v)s (new):")
                          % {"base": entry["base"], "v": version})
        self._show(entry)
        if not confirmed:
            raise CommandError(_("Not promoted: re-run with --yes to confirm."))
        try:
            action.run()
        except PromotionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(promoted_message(version, install_dir / "current")))
