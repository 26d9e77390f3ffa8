"""``manage.py moderation_status``: readiness and the metrics, at a glance.

Exit status 0 when every readiness check passes, 1 otherwise, so the command doubles as
a container health check where no HTTP probe is wired.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from prometheus_client.registry import Collector

from moderation.ops.health import readiness
from moderation.ops.metrics import TegakiCollector


def _samples(collector: Collector) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for family in collector.collect():
        out[family.name] = [{"labels": sample.labels, "value": sample.value}
                            for sample in family.samples
                            if not sample.name.endswith(("_gcount", "_gsum"))]
    return out


class Command(BaseCommand):
    help_text = _("Print readiness (database, broker, detectors) and the metrics "
                  "/metrics exports; exit 1 when a check fails.")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help_text)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true",
                            help=gettext("One JSON object instead of the table."))

    def handle(self, *args: Any, **options: Any) -> None:
        checks = readiness()
        metrics = _samples(TegakiCollector())
        if options["json"]:
            self.stdout.write(json.dumps({
                "ready": all(c.ok for c in checks),
                "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
                "metrics": metrics}, ensure_ascii=False))
        else:
            for check in checks:
                state = gettext("ok") if check.ok else gettext("FAIL")
                line = f"{check.name:<10} {state}"
                self.stdout.write(line + (f"  {check.detail}" if check.detail else ""))
            for name, samples in metrics.items():
                for sample in samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample["labels"].items()))
                    self.stdout.write(f"{name}{{{labels}}} {sample['value']:g}")
        if not all(c.ok for c in checks):
            raise SystemExit(1)
