"""Rebuild the FAISS index of the fingerprint banks from the table and save it.

``manage.py moderation_fingerprint_index`` reads every live, matchable bank entry in
batches (with a progress bar), writes ``FINGERPRINT_INDEX_PATH`` atomically and prints
what it holds. Workers load the new file when they next start; running ones keep their
own index, which they keep in step incrementally anyway.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.conf import moderation_settings
from moderation.fingerprints import store
from moderation.models import BankEntry


class Command(BaseCommand):
    help = "Rebuild the fingerprint banks' FAISS index from the database and save it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true",
                            help="Do not draw a progress bar (logs, cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not moderation_settings.FINGERPRINT_INDEX_PATH:
            raise CommandError('Set MODERATION["FINGERPRINT_INDEX_PATH"] to save the index.')
        try:
            from tqdm import tqdm  # optional: the ``match`` extra installs it
        except ImportError:  # pragma: no cover - the match extra brings it
            tqdm = None
        total = BankEntry.objects.filter(store.matchable()).count()
        started = time.perf_counter()
        bar = None if options["no_progress"] or tqdm is None else tqdm(
            total=total, unit="entry", desc="fingerprint index")
        try:
            index = store.build(progress=bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        store.save(index)
        store.install(index)
        self.stdout.write(
            f"{len(index)} hashes of {total} entries ({index.kind}) in "
            f"{time.perf_counter() - started:.1f} s, "
            f"{index.memory_bytes() / 2**20:.1f} MiB -> "
            f"{moderation_settings.FINGERPRINT_INDEX_PATH}")
