#!/usr/bin/env python
"""Where a feed page's CPU goes: cProfile over Django's test client on a bench site.

Usage::

    .venv/bin/python bench/profile_feeds.py --generate 100000      # build the site once
    .venv/bin/python bench/profile_feeds.py /                      # new arrivals
    .venv/bin/python bench/profile_feeds.py /ai/ --sort tottime --top 40
    .venv/bin/python bench/profile_feeds.py --deep only /ai/       # 10,000 works down
    .venv/bin/python bench/profile_feeds.py --viewer include --sql /   # signed in, "show all"

It reuses ``bench_feeds``' synthetic site and settings (feed cache off) in its own
database (``--db``, kept between runs; ``--generate N`` drops and rebuilds it; a site
``bench_feeds.py --keep``/``--reuse`` left, e.g. ``--db tegaki_bench_feeds_1m``, serves
as well), signs in a viewer with a saved preference when asked (``--viewer``), warms
the page up, then prints the CPU milliseconds per request (``time.process_time``: min,
quartile and median of ``--runs`` requests, unprofiled), the number of SQL statements,
and the profile of ``--runs`` profiled requests (CPU time unless ``--timer wall``).
Process CPU time is what a page costs the web server; on a shared machine compare
medians of runs made close together.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_feeds  # the bench's site generator and Django setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default="/", help="the page (default /)")
    parser.add_argument("--db", default="tegaki_bench_feeds_profile")
    parser.add_argument("--pg", default=bench_feeds.parse_args([]).pg)
    parser.add_argument("--generate", type=int, default=0,
                        help="rebuild the database with this many works first")
    parser.add_argument("--deep", default="", metavar="AI",
                        help="follow a cursor 10,000 works down the feed AI "
                             "(exclude, include, only)")
    parser.add_argument("--viewer", default="", metavar="AI",
                        help="sign in a viewer whose saved preference is AI "
                             "(exclude, include, only)")
    parser.add_argument("--sql", action="store_true",
                        help="print every SQL statement of one request")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                        help="profile CPU time (default: waits for the database and for a "
                             "busy machine's CPU left out) or wall time")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    bench_feeds.setup_django(args.pg, args.db)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from moderation.models import ViewerPreference

    if args.generate:
        bench_feeds.build_site(args.generate, args.db, bench_feeds.parse_args([]))
    else:
        call_command("migrate", verbosity=0)  # a no-op unless the code gained a migration
    bench_feeds.feed_settings(FEED_CACHE_SECONDS=0)
    client = Client()
    if args.viewer:
        viewer = bench_feeds.bench_viewer()
        ViewerPreference.objects.update_or_create(user=viewer,
                                                  defaults={"ai_filter": args.viewer})
        client.force_login(viewer)
    url = args.url
    if args.deep:
        joiner = "&" if "?" in url else "?"
        url += f"{joiner}cursor={bench_feeds.deep_cursor(args.deep, bench_feeds.DEEP_ROWS)}"
    for _ in range(5):
        assert client.get(url).status_code == 200, url
    cpu: list[float] = []
    for _ in range(args.runs):
        started = time.process_time()
        client.get(url)
        cpu.append((time.process_time() - started) * 1000)
    cpu.sort()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    if args.sql:
        for query in queries.captured_queries:
            print(f"{query['time']} s: {query['sql'][:300]}")
    print(f"{url}: CPU ms per request min {cpu[0]:.2f} / p25 {cpu[len(cpu) // 4]:.2f} / "
          f"median {cpu[len(cpu) // 2]:.2f}; {len(queries.captured_queries)} queries")
    profile = (cProfile.Profile(time.process_time) if args.timer == "cpu"
               else cProfile.Profile())
    profile.enable()
    for _ in range(args.runs):
        client.get(url)
    profile.disable()
    pstats.Stats(profile, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
