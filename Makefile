# Tegaki: `make demo` runs the demo site, `make test` runs the whole suite.
# Every target creates .venv and installs the pinned versions (constraints.txt) first,
# so a fresh clone needs nothing but python3 (>= 3.11) and make.

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
LOCALE_DIRS := $(wildcard moderation/locale config/locale)
PYTEST_ARGS ?=
PYTEST_DEMO_ARGS ?=
BENCH_ARGS  ?=
# make reliability: services it runs against (your own database name and Redis DB), the
# soak's length in seconds, and where the Pillow corpus is cached (outside the repo).
RELIABILITY_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
RELIABILITY_BROKER_URL   ?= redis://127.0.0.1:6379/15
RELIABILITY_DB_NAME      ?= test_tegaki_reliability
SOAK_SECONDS ?= 600
SOAK_RATE    ?= 0.5
CORPUS_CACHE ?= $(HOME)/.cache/tegaki/pillow-corpus
# Extras installed into .venv by the test, lint and bench targets; "train" brings torch
# (CPU) for the classifier-loop tests, "watermark" the invisible-watermark detector's
# OpenCV and PyWavelets. `make demo` installs only what the demo site runs.
EXTRAS      ?= dev,train,demo,watermark,match
DEMO_EXTRAS := demo,watermark,match
# Tests of the demo site (tests/demo/, marker demo_site) need its settings: `make test`
# runs everything else first, then those with --ds=tests.demo_settings -m demo_site.

.DEFAULT_GOAL := help
.PHONY: help install install-demo messages debian-tools test reliability lint demo bench bench-feeds constraints clean

help:
	@echo "make demo         install, migrate SQLite, seed, run worker + beat + web on :8000"
	@echo "make test         install, compile translations, ruff, mypy, the whole pytest suite"
	@echo "make reliability  the fault matrix on PostgreSQL + Redis + real workers: Pillow corpus,"
	@echo "                  poison files, kill -9, broker restart, pg_terminate_backend, duplicate"
	@echo "                  delivery, 300-upload burst, soak (SOAK_SECONDS=600, SOAK_RATE=0.5)"
	@echo "make lint         ruff + mypy + lint-imports (the layers contract)"
	@echo "make bench        median per-detector milliseconds (bench/bench_detectors.py)"
	@echo "make bench-feeds  feed pages p50/p95 ms on synthetic PostgreSQL sites (bench/bench_feeds.py)"
	@echo "make constraints  re-pin constraints.txt from a fresh .venv"

$(PY):
	$(PYTHON) -m venv $(VENV)

# One stamp per set of extras; reinstall whenever the dependency lists or the pins change.
$(VENV)/.tegaki-installed-%: pyproject.toml constraints.txt | $(PY)
	$(PIP) install -qq -c constraints.txt -e '.[$*]'
	# The watermark decoder without its declared torch/GUI-OpenCV dependencies.
	case ',$*,' in *,watermark,*) \
	  $(PIP) install -qq --no-deps -c constraints.txt invisible-watermark ;; esac
	@touch $@

install: $(VENV)/.tegaki-installed-$(EXTRAS)

install-demo: $(VENV)/.tegaki-installed-$(DEMO_EXTRAS)

# gettext's msgfmt comes from Debian; install it only when it is missing. Needs only
# Django, which every install has: demo and test list their own install before it.
messages:
	@test -x $(VENV)/bin/django-admin || { echo "run make demo or make test: .venv is not installed"; exit 1; }
	@if [ -n "$(LOCALE_DIRS)" ]; then \
	  command -v msgfmt >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; }; \
	  for dir in $(LOCALE_DIRS); do \
	    (cd $$(dirname $$dir) && $(CURDIR)/$(VENV)/bin/django-admin compilemessages -v 0) || exit 1; \
	  done; \
	fi

# Browser tests drive Debian's chromium (no browser download); the Docker tests validate
# the compose file with Debian's docker-compose. Install them if missing.
debian-tools:
	@command -v chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@command -v docker-compose >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }
	@test -e /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; }

# ruff and both pytest runs always run, so one failure never hides the others; the
# target fails if any did (pytest's exit 5, "no tests collected", is a failure too).
test: install messages debian-tools
	@status=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || status=$$?; \
	echo "mypy moderation config tests"; $(VENV)/bin/mypy moderation config tests || status=$$?; \
	echo "lint-imports"; $(VENV)/bin/lint-imports --no-cache || status=$$?; \
	echo "$(PY) -m pytest -m 'not demo_site' $(PYTEST_ARGS)"; \
	$(PY) -m pytest -m 'not demo_site' $(PYTEST_ARGS) || status=$$?; \
	echo "$(PY) -m pytest --ds=tests.demo_settings -m demo_site $(PYTEST_DEMO_ARGS) tests/demo"; \
	$(PY) -m pytest --ds=tests.demo_settings -m demo_site $(PYTEST_DEMO_ARGS) tests/demo || status=$$?; \
	exit $$status

# The whole reliability matrix against real services (see tests/integration/): the fault
# rows that `make test` also runs when services are configured, then the Pillow corpus
# replay, the burst and the soak, which print drain time, p50/p95 and worker RSS.
# The Pillow sdist is downloaded once (pip, from PyPI) and cached in CORPUS_CACHE.
reliability: install messages
	@corpus=$$($(PY) scripts/fetch_pillow_corpus.py --cache-dir $(CORPUS_CACHE)) || exit 1; \
	DATABASE_URL=$(RELIABILITY_DATABASE_URL) CELERY_BROKER_URL=$(RELIABILITY_BROKER_URL) \
	TEGAKI_TEST_DB_NAME=$(RELIABILITY_DB_NAME) TEGAKI_REQUIRE_SERVICES=1 \
	TEGAKI_RELIABILITY=1 TEGAKI_PILLOW_CORPUS=$$corpus \
	TEGAKI_SOAK_SECONDS=$(SOAK_SECONDS) TEGAKI_SOAK_RATE=$(SOAK_RATE) \
	$(PY) -m pytest -s -p no:cacheprovider --create-db \
	  tests/integration/test_worker_faults.py tests/integration/test_worker_end_to_end.py \
	  tests/integration/test_poison_files.py tests/test_ssrf_canary.py \
	  tests/provenance tests/imaging tests/integration/test_reliability_matrix.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy moderation config tests
	$(VENV)/bin/lint-imports --no-cache

demo: install-demo messages
	DJANGO_SETTINGS_MODULE=config.settings $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings $(PY) manage.py seed_demo
	bash scripts/run_demo.sh

bench: install
	DJANGO_SETTINGS_MODULE=config.settings $(PY) bench/bench_detectors.py $(BENCH_ARGS)

# Needs a PostgreSQL server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432); it
# creates and drops its own database per size. Sizes: BENCH_FEEDS_ARGS="--sizes 100000,1000000";
# build once and time later: add --reuse (see docs/feeds-at-scale.md, "Build a site once").
BENCH_FEEDS_ARGS ?= --sizes 100000
bench-feeds: install
	DJANGO_SETTINGS_MODULE=config.settings $(PY) bench/bench_feeds.py $(BENCH_FEEDS_ARGS)

constraints:
	rm -rf /tmp/tegaki-pin-venv
	$(PYTHON) -m venv /tmp/tegaki-pin-venv
	/tmp/tegaki-pin-venv/bin/pip install --quiet -e '.[dev,train,server,demo,watermark]'
	/tmp/tegaki-pin-venv/bin/pip install --quiet --no-deps invisible-watermark
	{ echo "# Exact versions for a reproducible install: pip install -c constraints.txt -e '.[dev,train,demo]'"; \
	  echo "# Regenerate after changing dependencies: make constraints (pip freeze of a fresh .venv)."; \
	  /tmp/tegaki-pin-venv/bin/pip freeze --exclude-editable | sed -e 's/+cpu$$//'; } > constraints.txt
	rm -rf /tmp/tegaki-pin-venv

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
