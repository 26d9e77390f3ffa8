"""``manage.py moderation_scan [--json] [--no-classifier] PATH...``: scan files offline.

Runs the same decoder, detectors and policy as the Celery worker (through
:func:`moderation.scanning.scan_bytes`) but never opens a database connection, so it
works on a fresh checkout with no migrations and on a moderator's laptop.

Contract (other tools parse it; see issue 2):

* ``PATH`` is a file or a folder (walked recursively, sorted, hidden entries skipped).
* ``--json``: one JSON object per file and line, written as soon as the file is done::

    {"path", "label", "route", "ai_score", "generator", "model", "loras",
     "evidence": [{"detector", "version", "label", "score", "strength", "summary"}],
     "error"}

  ``error`` is null or a :class:`~moderation.constants.RejectionReason` code; when it is
  set, ``label``/``route``/``ai_score`` are null, ``generator``/``model`` are "" and
  ``loras``/``evidence`` are empty. A file that vanishes or cannot be read gives
  ``"missing_file"``. A bad file never stops the run.
* Without ``--json``: an aligned table, one row per file.
* Exit status: 0 once every file was scanned (whatever the verdicts); 2 on a usage error:
  no ``PATH``, an unknown option, or a ``PATH`` argument that does not exist (a typo in
  an argument is the caller's mistake, unlike a file that disappears mid-walk).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import RejectionReason
from moderation.evidence import ScanResult
from moderation.reasons import describe
from moderation.scanning import scan_bytes

USAGE_ERROR = 2


def iter_files(root: Path) -> Iterator[Path]:
    """Yield ``root`` itself, or every non-hidden file below it in a stable order.

    Symlinked folders are not followed (no loops); symlinked files are scanned.
    """
    if not root.is_dir():
        yield root
        return
    for folder, dirs, files in os.walk(root, onerror=None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def read_file(path: Path, max_bytes: int) -> bytes | str:
    """Return the bytes, or a rejection code when the file cannot or must not be read.

    The size is checked before reading so a huge file is never pulled into memory.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return RejectionReason.FILE_TOO_BIG.value
        with path.open("rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError:
        return RejectionReason.MISSING_FILE.value


def result_row(path: str, result: ScanResult | None, error: str | None = None) -> dict[str, Any]:
    """Build the JSON object of the contract for one file."""
    decision = result.decision if result is not None else None
    error = error or (result.error if result is not None else None)
    if decision is None or error:
        return {"path": path, "label": None, "route": None, "ai_score": None,
                "generator": "", "model": "", "loras": [], "evidence": [],
                "error": error or RejectionReason.CORRUPT.value}
    evidence = [{"detector": e.detector, "version": e.version, "label": str(e.label),
                 "score": e.score, "strength": str(e.strength),
                 "summary": describe(e.message, e.message_params)}
                for e in (result.evidence if result is not None else ())]
    return {"path": path, "label": str(decision.label), "route": str(decision.route),
            "ai_score": decision.ai_score, "generator": decision.generator,
            "model": decision.model, "loras": list(decision.loras), "evidence": evidence,
            "error": None}


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    """Render rows as left-aligned columns, one header line and one line per file."""
    header = [str(_("Path")), str(_("Label")), str(_("Route")), str(_("AI score")),
              str(_("Generator")), str(_("Model")), str(_("Error"))]
    cells = [[r["path"], r["label"] or "-", r["route"] or "-",
              "-" if r["ai_score"] is None else f"{r['ai_score']:.3f}",
              r["generator"] or "-", r["model"] or "-", r["error"] or "-"] for r in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return ["  ".join(col.ljust(w) for col, w in zip(line, widths, strict=True)).rstrip()
            for line in [header, *cells]]


class Command(BaseCommand):
    # argparse runs regexes over help texts, which lazy strings do not support: they are
    # translated with plain gettext when the parser is built (in the active language).
    help_text = _("Scan image files or folders with the configured detectors and policy, "
                  "without touching the database.")
    # Only Tegaki's own checks: a scan must not fail because an unrelated app is
    # misconfigured, and none of these checks needs the database.
    requires_system_checks = ["moderation"]

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH",
                            help=gettext("Image files or folders (scanned recursively)."))
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help=gettext("Write one JSON object per file and line."))
        parser.add_argument("--no-classifier", action="store_true",
                            help=gettext("Skip classifiers; run metadata readers and "
                                         "watermark decoders only."))

    def handle(self, *args: Any, **options: Any) -> None:
        roots = [Path(p) for p in options["paths"]]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            raise CommandError(_("No such file or folder: %(paths)s")
                               % {"paths": ", ".join(missing)}, returncode=USAGE_ERROR)

        max_bytes = int(moderation_settings.MAX_UPLOAD_BYTES)
        use_classifier = not options["no_classifier"]
        rows: list[dict[str, Any]] = []
        for root in roots:
            for path in iter_files(root):
                data = read_file(path, max_bytes)
                if isinstance(data, str):
                    row = result_row(str(path), None, error=data)
                else:
                    row = result_row(str(path), scan_bytes(data, name=path.name,
                                                           use_classifier=use_classifier))
                if options["as_json"]:
                    self.stdout.write(json.dumps(row))
                    self.stdout.flush()
                else:
                    rows.append(row)
        if not options["as_json"]:
            for line in format_table(rows):
                self.stdout.write(line)
