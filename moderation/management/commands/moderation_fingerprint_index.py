"""Rebuild the index of the fingerprint banks from the table and save it.

``manage.py moderation_fingerprint_index`` reads every live, matchable bank entry in
batches (with a progress bar), writes ``FINGERPRINT_INDEX_PATH`` atomically and prints
what it holds. Workers load the new file when they next start; running ones keep their
own index, which they keep in step incrementally anyway.

``--verify N`` then checks the index against the exhaustive scan: N stored hashes with
random bits flipped (0 to the match distance) are looked up both ways, and the share
of lookups that found exactly what the scan found is printed per distance band (always
all of them unless ``FINGERPRINT_INDEX_MAX_FLIPS`` caps the probing).

``--backfill`` first hashes the finished cases that have no fingerprint of their current
content (works scanned before fingerprints were turned on), so published works join the
site bank and works moderators hid join the removed-works bank.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Exists, OuterRef

from moderation.conf import moderation_settings
from moderation.constants import ProcessingState, Route
from moderation.exceptions import ImageRejected
from moderation.fingerprints import banks, matching, store
from moderation.fingerprints import index as fingerprint_index
from moderation.internal.imaging import load_image
from moderation.management.progress import progress_bar_class
from moderation.models import BankEntry, ModerationCase, WorkFingerprint
from moderation.pipeline import read_case_bytes


class Command(BaseCommand):
    help = "Rebuild the fingerprint banks' index from the database and save it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true",
                            help="Do not draw a progress bar (logs, cron).")
        parser.add_argument("--backfill", action="store_true",
                            help="First hash finished cases that have no fingerprint.")
        parser.add_argument("--verify", type=int, default=0, metavar="N",
                            help="Then compare N lookups with the exhaustive scan.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not moderation_settings.FINGERPRINT_INDEX_PATH:
            raise CommandError('Set MODERATION["FINGERPRINT_INDEX_PATH"] to save the index.')
        tqdm = progress_bar_class(disabled=options["no_progress"])
        if options["backfill"]:
            self.backfill(tqdm)
        total = BankEntry.objects.filter(store.matchable()).count()
        started = time.perf_counter()
        bar = None if tqdm is None else tqdm(total=total, unit="entry",
                                             desc="fingerprint index")
        try:
            index = store.build(progress=bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        store.save(index)
        store.install(index)
        threshold = int(moderation_settings.FINGERPRINT_MATCH_DISTANCE)
        layout = index.kind if not index.slices else f"{index.kind}, {index.slices} slices, " + (
            "exact" if index.exact_for(threshold) else f"at most {index.max_flips} flip(s)")
        self.stdout.write(
            f"{len(index)} hashes of {total} entries ({layout}) in "
            f"{time.perf_counter() - started:.1f} s, "
            f"{index.memory_bytes() / 2**20:.1f} MiB -> "
            f"{moderation_settings.FINGERPRINT_INDEX_PATH}")
        if options["verify"]:
            for band, (same, asked) in fingerprint_index.verify(
                    index, options["verify"], threshold).items():
                self.stdout.write(f"verify {band} bits: {same}/{asked} lookups found exactly "
                                  "what the exhaustive scan found")

    def backfill(self, tqdm: Any) -> None:
        if not matching.enabled():
            raise CommandError("Fingerprints are off or the match extra is not installed.")
        hashed = WorkFingerprint.objects.filter(case=OuterRef("pk"),
                                                content_sha256=OuterRef("content_sha256"))
        todo = (ModerationCase.objects.filter(state=ProcessingState.DONE)
                .exclude(content_sha256="").exclude(Exists(hashed)).order_by("pk"))
        cases = todo.iterator(chunk_size=500)
        if tqdm is not None:
            cases = tqdm(cases, total=todo.count(), unit="case", desc="backfill")
        done = failed = 0
        for case in cases:
            try:
                image = load_image(read_case_bytes(case), name=case.file_name)
            except ImageRejected:
                failed += 1
                continue
            if image.sha256 != case.content_sha256:
                failed += 1  # the file changed since its scan: its rescan will hash it
                continue
            matching.fingerprint(case, image)
            banks.sync_site_entry(case)
            if case.route == Route.HIDDEN and case.decided_by_id:
                banks.ban(case, case.decided_by)
            done += 1
        self.stdout.write(f"backfill: {done} cases hashed, {failed} skipped")
