# Boltwork developer tasks. `make run` starts the whole app on a bare machine; `make test` runs everything CI runs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Python 3.11 (Django 5.2, lnurl 2 needs < 3.13); prefer an explicit python3.11 when there is one.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv run test bench lint format clean chromium lnbits pgbouncer

help:
	@echo "make run     set up .venv, migrate, load demo data, start web + Celery worker + beat (DEBUG=1, SQLite)"
	@echo "make test    ruff + pytest against PostgreSQL and Redis (starts them if needed, installs Chromium)"
	@echo "make bench   the benchmark suite against floors measured in the same run (after make test)"
	@echo "make lint    ruff check, ruff format --check and the import layers (lint-imports)"
	@echo "make format  ruff format and ruff check --fix"
	@echo "make clean   remove var/ and staticfiles/"

# Re-install only when a requirements file is newer than the stamp.
$(STAMP): requirements.txt requirements-dev.txt requirements-dev-nodeps.txt
	@if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check --quiet --no-deps -r requirements-dev-nodeps.txt
	@touch $(STAMP)

venv: $(STAMP)

# make run: development defaults, each overridable from the environment (DEBUG=0 make run).
PORT ?= 8000
run: export DEBUG ?= 1
run: export PORT := $(PORT)
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
# The development test wallet's Lightning Addresses live on this same site, over plain http on loopback.
run: export LNURL_ALLOWED_INSECURE_HOSTS ?= 127.0.0.1:$(PORT)
# `make run` is a development command: its embedded Lightning backend is the development one, even with DEBUG=0.
run: export LIGHTNING_DEV_BACKEND_ALLOWED ?= 1
run: venv
	scripts/dev-env.sh
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py load_demo_data
	exec scripts/dev-run.sh

# make test: the real services, as in CI. Each can be overridden from the environment.
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/boltwork
test: export REDIS_URL ?= redis://127.0.0.1:6379/15
test: export SECRET_KEY ?= test-secret-key
test: export DEBUG ?= 0
# The tests run with DEBUG off, like production, on the development Lightning backend (and a real LNbits).
test: export LIGHTNING_DEV_BACKEND_ALLOWED ?= 1
# A development `.env` (written by `make run`) must not change what the tests see.
test: export BOLTWORK_DOTENV := 0
# Two pytest-xdist processes, one per core: much of the suite waits on processes it starts (Celery workers, LNbits,
# outages of a minute), so two streams finish in far less time than one. Each gets its own test database and Redis
# database (tests/parallel_workers.py). TEST_WORKERS=0 runs them all in this one process.
TEST_WORKERS ?= 2
test: venv chromium lnbits pgbouncer
	bash scripts/ensure-services.sh
	@# With DEBUG off, {% static %} needs the manifest that collectstatic writes.
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@# Run every check even when an earlier one fails, so one CI run reports all of them.
	@status=0; \
	echo "+ ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "+ ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "+ lint-imports (the layers, docs/architecture.md)"; $(BIN)/lint-imports --no-cache || status=1; \
	echo "+ pytest ($(TEST_WORKERS) worker processes)"; \
	$(BIN)/python -m pytest -p tests.parallel_workers -n $(TEST_WORKERS) --dist worksteal || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)" >&2; fi; \
	exit $$status

# The real Lightning wallet server the money tests run against, in its own venv (it pins pydantic 1).
lnbits:
	bash scripts/install-lnbits.sh

# Browser tests drive Debian's Chromium through Playwright (`playwright install` cannot download here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		echo "Installing Chromium for the browser tests"; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-dejavu-core; \
	fi

# The PgBouncer test (tests/integration/test_pgbouncer.py) starts Debian's PgBouncer in transaction mode; the
# multi-host test (tests/integration/test_multihost.py) makes network namespaces with iproute2's `ip`.
pgbouncer:
	@if [ ! -x /usr/sbin/pgbouncer ] || ! command -v ip >/dev/null 2>&1; then \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		echo "Installing PgBouncer and iproute2 for the PgBouncer and multi-host tests"; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer iproute2; \
	fi

# make bench: the benchmark suite (benchmarks/run_all.py), each figure beside its floor measured in the same run,
# after `make test` has set things up (.venv, LNbits, the services). Databases boltwork_bench_*, Redis DB 13.
# BENCH_ARGS passes options through, e.g. BENCH_ARGS="--only batch_create,export".
BENCH_ARGS ?=
bench: export BOLTWORK_DOTENV := 0
bench: export DEBUG := 0
bench: venv lnbits
	bash scripts/ensure-services.sh
	$(BIN)/python -m benchmarks.run_all $(BENCH_ARGS)

lint: venv
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var staticfiles
