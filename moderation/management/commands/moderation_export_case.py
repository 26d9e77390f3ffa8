"""Export one case's evidence bundle to a ZIP file (recorded in the audit log).

``manage.py moderation_export_case 42 --out case-42.zip`` writes the moderator's
bundle (everything but prompts); ``--include-private`` adds prompts and other private
metadata, ``--audience uploader`` writes the copy the creator would download from their
status page, and ``--language`` picks one of the site's languages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from moderation.evidence_export import OPERATOR, UPLOADER, Viewer, export_case
from moderation.models import ModerationCase


class Command(BaseCommand):
    help = "Export a moderation case's evidence bundle (ZIP) and record the export."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case_id", type=int, help="the case's number")
        parser.add_argument("--out", required=True, help="the ZIP file to write")
        parser.add_argument("--language", default=None,
                            help="one of the site's LANGUAGES (default: LANGUAGE_CODE)")
        parser.add_argument("--audience", choices=["operator", "uploader"],
                            default="operator",
                            help="operator: everything but prompts (default); uploader: "
                                 "the creator's redacted copy")
        parser.add_argument("--include-private", action="store_true",
                            help="include prompts and other private metadata (operator only)")

    def handle(self, *args: Any, **options: Any) -> None:
        case = ModerationCase.objects.filter(pk=options["case_id"]).first()
        if case is None:
            raise CommandError(_("There is no case %(id)s.") % {"id": options["case_id"]})
        language = options["language"] or settings.LANGUAGE_CODE
        if language not in {code for code, _name in settings.LANGUAGES}:
            raise CommandError(_("Unknown language %(code)s; the site offers: %(codes)s.") % {
                "code": language, "codes": ", ".join(c for c, _n in settings.LANGUAGES)})
        audience = UPLOADER if options["audience"] == "uploader" else OPERATOR
        if audience == UPLOADER and options["include_private"]:
            raise CommandError(_("--include-private cannot be used with --audience uploader."))
        out = Path(options["out"])
        if out.parent and not out.parent.exists():
            raise CommandError(_("The folder %(dir)s does not exist.") % {"dir": out.parent})
        bundle = export_case(case, Viewer(audience, None,
                                          include_private=options["include_private"]),
                             language=language, via="command")
        out.write_bytes(bundle.data)
        self.stdout.write(_("Wrote %(path)s (%(size)s bytes); ZIP SHA-256 %(sha)s") % {
            "path": out, "size": len(bundle.data), "sha": bundle.digests["zip_sha256"]})
