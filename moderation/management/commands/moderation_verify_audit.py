"""Verify the audit log's hash chain; exit 1 naming the first broken row.

Run nightly (the demo's Celery beat runs the same check as the task
``moderation.verify_audit_chain``). The triggers stop the application from editing the
log; this catches an edit made past them, e.g. by a database superuser.

A chain checked only against itself cannot show that its newest rows were deleted, so
``--expect-head HEAD[:COUNT]`` (a head printed earlier and kept elsewhere) or
``--checkpoint-file`` (the file the ``moderation.checkpoint_audit`` task appends to)
also demands that the log still reach that head, at that row count.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moderation.audit import (
    Checkpoint,
    current_checkpoint,
    latest_checkpoint,
    parse_expected_head,
    verify_chain,
    verify_checkpoint,
)
from moderation.conf import moderation_settings

#: Problems listed on stderr at most; the count of the rest follows.
SHOWN = 20


class Command(BaseCommand):
    help = "Verify the hash chain of the moderation audit log (exit 1 if it is broken)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default",
                            help="database alias to check (default: default)")
        parser.add_argument("--expect-head", metavar="HEAD[:COUNT]", default=None,
                            help="a head hash printed earlier (optionally with its row "
                                 "count) that the log must still reach")
        parser.add_argument("--checkpoint-file", default=None,
                            help="check against the last checkpoint in this file "
                                 "(default: MODERATION['AUDIT_CHECKPOINT_FILE'] when "
                                 "--expect-head is not given)")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        expected = self._expected(options)
        problems = verify_chain(using)
        if expected is not None:
            problems += verify_checkpoint(expected, using)
        if problems:
            for problem in problems[:SHOWN]:
                self.stderr.write(str(problem))
            if len(problems) > SHOWN:
                self.stderr.write(_("… and %(n)s more.") % {"n": len(problems) - SHOWN})
            first = problems[0]
            raise CommandError(ngettext(
                "Audit log hash chain is BROKEN (%(n)s problem). First broken row: "
                "id %(id)s. %(why)s",
                "Audit log hash chain is BROKEN (%(n)s problems). First broken row: "
                "id %(id)s. %(why)s",
                len(problems)) % {"n": len(problems), "id": first.row_id, "why": first})
        now = current_checkpoint(using)
        if expected is not None:
            self.stdout.write(_("The log still reaches the expected head %(head)s.")
                              % {"head": expected.head})
        # The head is printed so it can be kept outside the database: a chain rewritten
        # from scratch by someone holding the database would still verify on its own.
        # HEAD:COUNT is the form --expect-head takes.
        self.stdout.write(_("Audit log hash chain intact: %(n)s rows, head %(head)s.")
                          % {"n": now.count, "head": now.head})
        self.stdout.write(f"{now.head}:{now.count}")

    def _expected(self, options: dict[str, Any]) -> Checkpoint | None:
        if options["expect_head"]:
            try:
                return parse_expected_head(options["expect_head"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        path = options["checkpoint_file"] or moderation_settings.AUDIT_CHECKPOINT_FILE
        if not path:
            return None
        checkpoint = latest_checkpoint(path)
        if checkpoint is None and options["checkpoint_file"]:
            raise CommandError(_("No checkpoint in %(path)s.") % {"path": path})
        return checkpoint
