"""Verify the audit log's hash chain; exit 1 naming the first broken row.

Run nightly (the demo's Celery beat runs the same check as the task
``moderation.verify_audit_chain``). The triggers stop the application from editing the
log; this catches an edit made past them, e.g. by a database superuser.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moderation.audit import chain_head, verify_chain
from moderation.models import ModerationAction

#: Problems listed on stderr at most; the count of the rest follows.
SHOWN = 20


class Command(BaseCommand):
    help = "Verify the hash chain of the moderation audit log (exit 1 if it is broken)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default",
                            help="database alias to check (default: default)")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        problems = verify_chain(using)
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
        count = ModerationAction.objects.using(using).count()
        # The head is printed so it can be kept outside the database: a chain rewritten
        # from scratch by someone holding the database would still verify on its own.
        self.stdout.write(_("Audit log hash chain intact: %(n)s rows, head %(head)s.")
                          % {"n": count, "head": chain_head(using)})
