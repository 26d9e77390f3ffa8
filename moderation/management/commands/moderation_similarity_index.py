"""Rebuild the embedding (similar works) index of every model from the table and save it.

``manage.py moderation_similarity_index`` reads every stored embedding of each model in
batches (with a progress bar), writes one file per model under
``SIMILARITY_INDEX_PATH`` atomically and prints what each holds. Workers load the new
files when they next start; running ones keep their own index, which they keep in step
incrementally anyway.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.conf import moderation_settings
from moderation.management.progress import progress_bar_class
from moderation.models import WorkEmbedding
from moderation.similarity import index


class Command(BaseCommand):
    help = "Rebuild the embedding index of similar works from the database and save it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true",
                            help="Do not draw a progress bar (logs, cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not moderation_settings.SIMILARITY_INDEX_PATH:
            raise CommandError('Set MODERATION["SIMILARITY_INDEX_PATH"] to save the index.')
        tqdm = progress_bar_class(disabled=options["no_progress"])
        models = (WorkEmbedding.objects.order_by().values_list("model", "dims").distinct())
        built = 0
        for model, dims in sorted(set(models)):
            total = WorkEmbedding.objects.filter(model=model, dims=dims).count()
            started = time.perf_counter()
            bar = None if tqdm is None else tqdm(total=total, unit="work",
                                                 desc=f"{model} ({dims})")
            try:
                fresh = index.build(model, dims,
                                    progress=bar.update if bar is not None else None)
            finally:
                if bar is not None:
                    bar.close()
            index.save(fresh)
            index.install(fresh)
            built += 1
            self.stdout.write(
                f"{model} ({dims} dimensions): {fresh.size} works in "
                f"{time.perf_counter() - started:.1f} s, {fresh.memory_bytes() / 2**20:.1f} MiB"
                f" -> {index.file_for(model, dims)}")
        if not built:
            self.stdout.write("no embeddings stored yet")
