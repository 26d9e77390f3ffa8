#!/usr/bin/env python
"""Feed pages at pixiv scale: p50/p95 milliseconds per page on synthetic sites.

Usage::

    make bench-feeds BENCH_FEEDS_ARGS="--sizes 100000,1000000 --json var/bench-feeds.json"
    .venv/bin/python bench/bench_feeds.py [--sizes 100000] [--runs 40] [--json PATH|-]
        [--pg postgres://postgres@127.0.0.1:5432] [--db tegaki_bench_feeds_{size}]
        [--keep | --reuse | --build-only]

    # build the 10M site once (about half an hour), time it later in minutes:
    .venv/bin/python bench/bench_feeds.py --sizes 10000000 --db 'tegaki_feeds_{size}' --build-only
    .venv/bin/python bench/bench_feeds.py --sizes 10000000 --db 'tegaki_feeds_{size}' --reuse

For each size it uses its own PostgreSQL database (``--db``; ``{size}`` in the name
becomes ``100k``, ``1m``, ``10m``...; never the test or demo database). Without
``--reuse`` it drops and rebuilds it, and drops it at the end unless ``--keep``. With
``--reuse`` it times the site already in the database when that site was built by this
generator at this size (a ``bench_site`` table records it), else it builds it; either
way the database is kept. ``--build-only`` builds (or, with ``--reuse``, checks) the
sites and times nothing. A build migrates the database and writes a
synthetic site with ``generate_series`` in a few statements: 2,000 uploaders with a
heavy tail (a few post most works), one upload every 2.6 s on average, bursts of 200-500
AI works by one account within half an hour every 4,000 uploads, and routes 64 % main /
30 % AI feed / 5 % held / 1 % hidden. The secondary indexes of the three loaded tables
are dropped for the load and rebuilt after it (one sort per index instead of ten million
random insertions into each: the 10M build takes a fraction of the time). Then
``VACUUM ANALYZE`` and, through the demo
site's own URLs (``config.urls``, Django's test client, no network):

* new arrivals, anonymous: first page and a deep page (10,000 works down the feed);
* each ``?ai=`` preference (exclude, include, only), first and deep, signed in;
* the AI feed (bursts folded), first and deep;
* the works API list (``/api/works/?ai=exclude``), first and deep;
* RSS new arrivals and RSS AI feed;
* new arrivals' first page from the feed cache (the other rows run with it off);
* the works sitemap (``ModeratedSitemap``): the index's page count, and the URLs of its
  first and middle page (5,000 works each), built as Django's sitemap view builds them.

A deep page is reached the way a viewer reaches it: by the cursor of a page whose last
row is 10,000 rows down the feed. Each page is requested ``--runs`` times after warm-up;
the table shows p50/p95 wall milliseconds (the whole request through Django: middleware,
view, template), p50/p95 of the time spent waiting for SQL, p50/p95 of the CPU time the
Django process used (``time.process_time``: what a page costs the web server, which a
busy shared machine inflates far less than wall time), the number of SQL statements, and
a summary of the PostgreSQL plan of the page's feed query (node types and indexes, from
``EXPLAIN (ANALYZE, BUFFERS)``). ``--json`` writes everything, full plans included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEEP_ROWS = 10_000
BURST_BLOCK = 4000

# Foreign-key triggers are off while loading (session_replication_role = replica, which
# needs a superuser, as the bench's own database server gives): the rows are consistent
# by construction, and 10M deferred checks would queue in memory until commit.
# One upload per 2.6 s on average; rows of a burst are every other upload for 400-1000
# uploads (within half an hour); the rest get a route by a seeded random draw so that the
# whole site is 64 % main / 30 % AI feed / 5 % held / 1 % hidden. A case's id is its
# work's; the works of a generated burst carry the burst id the write path would have
# given them (the pk of the burst's first case); the other cases have none and fold by
# the time window, as cases from before burst ids do.
GENERATE_SQL = """
SET session_replication_role = replica;
SELECT setseed(0.42);
INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name,
                       email, is_staff, is_active, date_joined)
SELECT '!', NULL, false, 'artist' || g, '', '', '', false, true, now()
FROM generate_series(1, 2000) AS g;
CREATE UNLOGGED TABLE bench_gen AS
SELECT n, at, owner, route, burst_first,
       CASE route WHEN 'ai_feed' THEN 'ai' WHEN 'main' THEN 'human' ELSE 'uncertain' END
         AS label
FROM (
  SELECT n, at,
         CASE WHEN burst THEN greatest(block * {block}, 2) END AS burst_first,
         CASE WHEN burst THEN 1 + ((block * 7919) % 2000)
              ELSE 1 + floor(2000 * power(r2, 3))::int END AS owner,
         CASE WHEN burst THEN 'ai_feed'
              WHEN r < 0.2330 THEN 'ai_feed'
              WHEN r < 0.2878 THEN 'held'
              WHEN r < 0.2988 THEN 'hidden'
              ELSE 'main' END AS route
  FROM (
    SELECT g AS n,
           now() - make_interval(secs => ({size} - g) * 2.6) AS at,
           (g % {block} < 2 * (200 + ((g / {block}) * 37) % 301) AND g % 2 = 0) AS burst,
           (g / {block}) AS block,
           random() AS r,
           random() AS r2
    FROM generate_series(1, {size}) AS g
  ) AS draws
) AS picked;
INSERT INTO gallery_artwork (id, author_id, title, image, ai_declaration, ai_tool, created_at)
SELECT g.n, u.id, 'Work ' || g.n, 'works/bench/' || g.n || '.png',
       CASE WHEN g.route = 'ai_feed' THEN 'ai' ELSE 'none' END,
       CASE WHEN g.route = 'ai_feed' THEN 'ComfyUI' ELSE '' END, g.at
FROM bench_gen g
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM auth_user) u ON u.rn = g.owner;
SELECT setval(pg_get_serial_sequence('gallery_artwork', 'id'), {size});
INSERT INTO moderation_moderationcase (
  id, burst, transient_failures, object_id, file_name, content_sha256, state, attempts,
  rejection_reason, last_error,
  declaration, declared_tool, label, route, ai_score, generator, model_name, loras, reasons,
  needs_review, review_priority, undisclosed_ai, created_at, updated_at, scanned_at,
  content_type_id, owner_id)
SELECT a.id, g.burst_first, 0, a.id::text, a.image, md5(a.id::text) || md5(a.id::text),
       'done', 1, '', '',
       a.ai_declaration, a.ai_tool, g.label, g.route, NULL,
       CASE WHEN g.route = 'ai_feed' THEN 'ComfyUI' ELSE '' END,
       CASE WHEN g.route = 'ai_feed' THEN 'sd_xl_base_1.0' ELSE '' END, '[]'::jsonb,
       CASE WHEN g.route = 'ai_feed' THEN '["declared_ai"]'::jsonb ELSE '[]'::jsonb END,
       g.route = 'held', 0, false, a.created_at, a.created_at, a.created_at, {ct},
       a.author_id
FROM gallery_artwork a JOIN bench_gen g ON g.n = a.id;
SELECT setval(pg_get_serial_sequence('moderation_moderationcase', 'id'), {size});
DROP TABLE bench_gen;
SET session_replication_role = DEFAULT;
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000",
                        help="comma-separated numbers of works (default 100000)")
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    parser.add_argument("--json", default="", help="write the results here ('-' = stdout)")
    parser.add_argument("--pg", default=os.environ.get(
        "BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server URL (without a database name)")
    parser.add_argument("--db", default="tegaki_bench_feeds_{size}",
                        help="database of each site; {size} becomes 100k, 1m, 10m ...")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="time the site already in the database if it is this size and "
                             "generator's (else build it); implies --keep")
    parser.add_argument("--build-only", action="store_true",
                        help="build (with --reuse: check) the sites, time nothing; keeps them")
    parser.add_argument("--without-feed-index", action="store_true",
                        help="drop the demo model's feed index (gallery_artwork_feed) after "
                             "generating: what a host that ignores moderation.W040 gets")
    return parser.parse_args(argv)


def admin_sql(pg: str, statement: str) -> None:
    import psycopg  # the bench needs PostgreSQL; imported here so --help works without

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def setup_django(pg: str, db: str) -> None:
    os.environ["DATABASE_URL"] = f"{pg}/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(REPO))
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    from config.gallery.api import ArtworkViewSet

    # The API's anonymous throttle would answer 429 after a few dozen requests.
    ArtworkViewSet.throttle_classes = []


def feed_settings(**values: Any) -> None:
    from django.conf import settings

    from moderation.conf import moderation_settings

    settings.MODERATION = {**(getattr(settings, "MODERATION", None) or {}), **values}
    moderation_settings.reload()


#: Tables the generator loads; their secondary indexes are rebuilt after the load.
LOADED_TABLES = ("auth_user", "gallery_artwork", "moderation_moderationcase")

#: Records which site a kept database holds, so ``--reuse`` never times a stale one.
SITE_TABLE_SQL = """
CREATE TABLE bench_site (works bigint NOT NULL, generator text NOT NULL,
                         generate_seconds double precision NOT NULL,
                         routes jsonb NOT NULL, built_at timestamptz NOT NULL DEFAULT now())
"""


def generator_version() -> str:
    """A digest of what shapes the generated site: a kept site built by another version of
    the generator is rebuilt rather than timed."""
    return hashlib.sha256(f"{GENERATE_SQL}|{BURST_BLOCK}".encode()).hexdigest()[:16]


def size_label(size: int) -> str:
    """100000 -> 100k, 1000000 -> 1m, 10000000 -> 10m (other sizes as digits)."""
    for factor, suffix in ((1_000_000, "m"), (1_000, "k")):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def database_name(template: str, size: int) -> str:
    return template.replace("{size}", size_label(size))


def secondary_indexes(cursor: Any) -> list[tuple[str, str, str]]:
    """(table, name, statement that recreates it) for each index of the loaded tables
    other than the primary keys; a unique constraint's index comes back as its
    constraint."""
    cursor.execute("""
        SELECT t.relname, i.relname,
               CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.oid)
                    ELSE format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, c.conname,
                                pg_get_constraintdef(c.oid)) END,
               c.oid IS NOT NULL
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'u'
        WHERE t.relname = ANY(%s) AND NOT x.indisprimary
        ORDER BY t.relname, i.relname
    """, [list(LOADED_TABLES)])
    rows = cursor.fetchall()
    return [(table, name, ("constraint " if is_constraint else "") + statement)
            for table, name, statement, is_constraint in rows]


def generate(size: int) -> float:
    """Write a site of ``size`` works; return the seconds it took (indexes and VACUUM
    included)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from tqdm import tqdm

    from config.gallery.models import Artwork

    ct = ContentType.objects.get_for_model(Artwork, for_concrete_model=False).pk
    started = time.perf_counter()
    statements = [stmt for stmt in GENERATE_SQL.format(
        size=size, block=BURST_BLOCK, ct=ct).split(";\n") if stmt.strip()]
    with connection.cursor() as cursor:
        indexes = secondary_indexes(cursor)
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET synchronous_commit = off")
        for table, name, statement in indexes:
            if statement.startswith("constraint "):
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            else:
                cursor.execute(f'DROP INDEX "{name}"')
        steps = tqdm(statements + [stmt for _t, _n, stmt in indexes], desc=f"{size:,} works",
                     unit="step", file=sys.stderr)
        for statement in steps:
            steps.set_postfix_str(" ".join(statement.split())[:48])
            cursor.execute(statement.removeprefix("constraint "))
    connection.close()
    admin_vacuum()
    return time.perf_counter() - started


def admin_vacuum() -> None:
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    previous = raw.autocommit
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    raw.autocommit = previous


def route_counts() -> dict[str, int]:
    from django.db.models import Count

    from moderation.models import ModerationCase

    return dict(ModerationCase.objects.values_list("route").annotate(n=Count("id")))


class Recorder:
    """Captures the SQL a request runs and how long each statement took."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str, Any]] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                 context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params))


def plan_summary(sql: str, params: Any) -> tuple[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if node.get("Index Name"):
            kind += f" {node['Index Name']}"
        elif node.get("Relation Name") and "Scan" in kind:
            kind += f" {node['Relation Name']}"
        if kind not in nodes:
            nodes.append(kind)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    summary = (f"planning {plan['Planning Time']:.2f} + execution "
               f"{plan['Execution Time']:.2f} ms: " + " > ".join(nodes))
    return summary, plan


def time_page(client: Any, url: str, runs: int) -> dict[str, Any]:
    """One page through Django's test client (middleware, view, template)."""

    def request() -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return {"url": url, **measure(request, runs)}


def measure(request: Callable[[], None], runs: int) -> dict[str, Any]:
    """Wall, SQL and CPU p50/p95 of ``runs`` calls of ``request``, its statements and
    the plan of its slowest statement that reads the works."""
    from django.db import connection

    for _ in range(3):  # warm-up: connections, plans, the OS page cache
        request()
    timings: list[float] = []
    sql_timings: list[float] = []
    cpu_timings: list[float] = []
    for _ in range(runs):
        per_request = Recorder()
        with connection.execute_wrapper(per_request):
            cpu = time.process_time()
            started = time.perf_counter()
            request()
            timings.append((time.perf_counter() - started) * 1000)
            cpu_timings.append((time.process_time() - cpu) * 1000)
        sql_timings.append(sum(q[0] for q in per_request.queries) * 1000)
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        request()
    # The plan shown is the feed query's: the slowest statement that reads the works.
    feed = [q for q in recorder.queries if '"gallery_artwork"' in q[1]] or recorder.queries
    slowest = max(feed, key=lambda q: q[0])
    summary, plan = plan_summary(slowest[1], slowest[2])
    quantiles = statistics.quantiles(timings, n=20)
    return {"p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(quantiles[18], 2), "queries": len(recorder.queries),
            "sql_p50_ms": round(statistics.median(sql_timings), 2),
            "sql_p95_ms": round(statistics.quantiles(sql_timings, n=20)[18], 2),
            "cpu_p50_ms": round(statistics.median(cpu_timings), 2),
            "cpu_p95_ms": round(statistics.quantiles(cpu_timings, n=20)[18], 2),
            "plan": summary, "plan_json": plan, "slowest_sql": slowest[1]}


def sitemap_rows(runs: int) -> list[dict[str, Any]]:
    """The works sitemap (:class:`moderation.feeds.sitemaps.ModeratedSitemap`): the
    index's page count and the URLs of its first and middle page (5,000 works each),
    built as Django's sitemap view builds them, without the XML template."""
    from django.contrib.sites.requests import RequestSite
    from django.test import RequestFactory

    from config.gallery.models import Artwork
    from moderation.feeds.sitemaps import ModeratedSitemap

    sitemap = ModeratedSitemap.for_model(Artwork)
    site = RequestSite(RequestFactory().get("/", HTTP_HOST="bench.example"))
    pages = sitemap.paginator.num_pages

    def count_pages() -> None:
        assert sitemap.paginator.num_pages >= 1

    rows = [{"page": "sitemap index (number of pages)", "url": "sitemap.xml",
             **measure(count_pages, runs)}]
    # A sitemap page is 5,000 URLs, a hundred times a feed page: fewer runs.
    for name, number in (("first", 1), ("middle", max(1, pages // 2))):
        def build(number: int = number) -> None:
            urls = sitemap.get_urls(page=number, site=site, protocol="https")
            assert urls, number

        rows.append({"page": f"sitemap, {name} page (5,000 works down the pk range)",
                     "url": f"sitemap-works.xml?p={number}",
                     **measure(build, max(20, runs // 3))})
    return rows


def deep_cursor(ai: str, depth: int, *, api: bool = False) -> str:
    """The cursor a viewer holds after paging ``depth`` rows down the ``ai`` feed."""
    from config.gallery.models import Artwork
    from moderation.feeds.cursor import Cursor, encode, ordering_keys, row_values
    from moderation.feeds.queries import apply_ai_filter

    qs = apply_ai_filter(Artwork.objects.all(), ai)
    row = qs.order_by("-created_at", "-id")[depth]
    if api:
        from rest_framework.pagination import Cursor as DRFCursor
        from rest_framework.pagination import CursorPagination

        pager = CursorPagination()
        pager.base_url = "http://testserver/api/works/"
        pager.cursor_query_param = "cursor"
        token = pager.encode_cursor(DRFCursor(offset=0, reverse=False,
                                              position=str(row.created_at)))
        return token.split("cursor=")[1]
    return encode(Cursor(values=row_values(row, ordering_keys(qs)), bursts=[]))


def use_database(db: str) -> None:
    """Point Django's default connection at ``db`` (one database per site size)."""
    from django.conf import settings
    from django.db import connection

    connection.close()
    settings.DATABASES["default"]["NAME"] = db
    connection.settings_dict["NAME"] = db


def kept_site(pg: str, db: str, size: int) -> dict[str, Any] | None:
    """The site ``db`` holds if this generator built it at ``size``, else None."""
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone() is None:
            return None
    with psycopg.connect(f"{pg}/{db}", autocommit=True) as conn:
        table = conn.execute("SELECT to_regclass('bench_site')").fetchone()
        if table is None or table[0] is None:
            return None
        row = conn.execute("SELECT works, generator, generate_seconds, routes FROM bench_site"
                           ).fetchone()
    if row is None or row[0] != size or row[1] != generator_version():
        return None
    return {"generate_seconds": round(row[2], 1), "routes": row[3], "reused": True}


def build_site(size: int, db: str, args: argparse.Namespace) -> dict[str, Any]:
    """Drop ``db``, create it, migrate, generate ``size`` works, record the site."""
    from django.core.management import call_command
    from django.db import connection

    use_database(db)
    admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db}"')
    admin_sql(args.pg, f'CREATE DATABASE "{db}"')
    call_command("migrate", verbosity=0)
    print(f"generating {size:,} works in {db} ...", file=sys.stderr, flush=True)
    seconds = generate(size)
    if args.without_feed_index:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX gallery_artwork_feed")
    routes = route_counts()
    with connection.cursor() as cursor:
        cursor.execute(SITE_TABLE_SQL)
        cursor.execute("INSERT INTO bench_site (works, generator, generate_seconds, routes) "
                       "VALUES (%s, %s, %s, %s)",
                       [size, generator_version() + ("-noindex" if args.without_feed_index
                                                     else ""), seconds, json.dumps(routes)])
    print(f"  {seconds:.1f} s; routes {routes}", file=sys.stderr, flush=True)
    return {"generate_seconds": round(seconds, 1), "routes": routes, "reused": False}


def prepare_site(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """The site of ``size`` works, built now or (``--reuse``) found in its database."""
    from django.core.management import call_command

    db = database_name(args.db, size)
    site = kept_site(args.pg, db, size) if args.reuse else None
    if site is None:
        return {"db": db, **build_site(size, db, args)}
    use_database(db)
    call_command("migrate", verbosity=0)  # a no-op unless the code gained a migration
    print(f"reusing the {size:,}-work site in {db} (built in {site['generate_seconds']} s)",
          file=sys.stderr, flush=True)
    return {"db": db, **site}


def bench_viewer() -> Any:
    """The signed-in viewer of the bench's pages (kept in a reused site)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    return (user_model.objects.filter(username="bench-viewer").first()
            or user_model.objects.create_user("bench-viewer"))


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from moderation.models import ViewerPreference

    site = prepare_site(size, args)
    routes, seconds = site["routes"], site["generate_seconds"]

    depth = min(DEEP_ROWS, size // 10)  # small sites: a tenth of the way down
    viewer = bench_viewer()
    feed_settings(FEED_CACHE_SECONDS=0)
    anon = Client()
    signed_in = Client()
    signed_in.force_login(viewer)
    pages: list[tuple[str, Client, str, Callable[[], None] | None]] = [
        ("new arrivals, anonymous, first page", anon, "/", None),
        ("new arrivals, anonymous, deep page", anon, f"/?cursor={deep_cursor('exclude', depth)}",
         None),
    ]
    for ai in ("exclude", "include", "only"):
        def prefer(ai: str = ai) -> None:
            ViewerPreference.objects.update_or_create(user=viewer, defaults={"ai_filter": ai})
        pages.append((f"signed in, preference {ai}, first page", signed_in, "/", prefer))
        pages.append((f"signed in, preference {ai}, deep page", signed_in,
                      f"/?cursor={deep_cursor(ai, depth)}", prefer))
    pages += [
        ("AI feed (bursts folded), first page", anon, "/ai/", None),
        ("AI feed (bursts folded), deep page", anon, f"/ai/?cursor={deep_cursor('only', depth)}",
         None),
        ("API list ?ai=exclude, first page", anon, "/api/works/?ai=exclude", None),
        ("API list ?ai=exclude, deep page", anon,
         f"/api/works/?ai=exclude&cursor={deep_cursor('exclude', depth, api=True)}", None),
        ("RSS new arrivals", anon, "/feeds/new.rss", None),
        ("RSS AI feed", anon, "/feeds/ai.rss", None),
    ]
    results: list[dict[str, Any]] = []
    for name, client, url, before in pages:
        if before is not None:
            before()
        row = {"page": name, **time_page(client, url, args.runs)}
        results.append(row)
        print(f"  {name}: p50 {row['p50_ms']} / p95 {row['p95_ms']} ms, SQL "
              f"{row['sql_p50_ms']}/{row['sql_p95_ms']}, CPU {row['cpu_p50_ms']}/"
              f"{row['cpu_p95_ms']}", file=sys.stderr, flush=True)
    feed_settings(FEED_CACHE_SECONDS=30)
    row = {"page": "new arrivals, anonymous, first page (feed cache on)",
           **time_page(anon, "/", args.runs)}
    results.append(row)
    results += sitemap_rows(args.runs)
    load = os.getloadavg()
    connection.close()
    if not (args.keep or args.reuse):
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{site["db"]}"')
    return {"works": size, "db": site["db"], "reused": site["reused"],
            "feed_index": not args.without_feed_index,
            "load_average": [round(x, 2) for x in load], "cpus": os.cpu_count(),
            "generate_seconds": round(seconds, 1), "routes": routes, "pages": results}


def print_table(report: list[dict[str, Any]]) -> None:
    sizes = [r["works"] for r in report]
    header = ("| page | " + " | ".join(
        f"{s:,}: wall p50/p95 ms (SQL p50/p95; Django CPU p50/p95; queries)" for s in sizes)
        + " |")
    print(header)
    print("|" + "---|" * (len(sizes) + 1))
    for i, page in enumerate(report[0]["pages"]):
        cells = [f"{p['p50_ms']}/{p['p95_ms']} ({p['sql_p50_ms']}/{p['sql_p95_ms']}; "
                 f"{p['cpu_p50_ms']}/{p['cpu_p95_ms']}; {p['queries']})"
                 for p in (r["pages"][i] for r in report)]
        print(f"| {page['page']} | " + " | ".join(cells) + " |")
    for r in report:
        index = "" if r["feed_index"] else ", WITHOUT the feed index"
        print(f"\nPlans of each page's feed query at {r['works']:,} works{index} "
              f"(database {r['db']}{', reused' if r['reused'] else ''}; "
              f"generated in {r['generate_seconds']} s; routes {r['routes']}; load average "
              f"{r['load_average']} on {r['cpus']} CPUs):")
        for page in r["pages"]:
            print(f"- {page['page']}: {page['plan']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.reuse and args.without_feed_index:
        raise SystemExit("--without-feed-index drops the index: build a site for it "
                         "(no --reuse)")
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    setup_django(args.pg, database_name(args.db, sizes[0]))
    if args.build_only:
        for size in sizes:
            site = prepare_site(size, args)
            print(f"{site['db']}: {size:,} works, built in {site['generate_seconds']} s, "
                  f"routes {site['routes']}")
        return 0
    report = [bench_size(size, args) for size in sizes]
    print_table(report)
    if args.json:
        text = json.dumps(report, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
