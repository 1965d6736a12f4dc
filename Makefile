# The front door. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml routers/pyproject.toml | md5sum | cut -c1-12)

# The demo's stack (contract ports: primary 54320, replicas 54321...).
REPLICAS ?= 1
REPLICA_LAG ?= 2s
STACK := REPLICAS=$(REPLICAS) REPLICA_LAG=$(REPLICA_LAG) postgres/stack.sh
# The HA stack's (Patroni's REST API on 8008-8010, PostgreSQL 54340-54342): synchronous
# unless HA_SYNC=off.
HA_SYNC ?= on

# $(call throwaway_stack,ENVFILE[,AT_EXIT]): the rest of the recipe line runs with
# ENVFILE's variables, against a stack made afresh from them (its own ports and data
# directory), which is removed when the line ends, whatever fails (AT_EXIT too runs then).
throwaway_stack = set -a && . $(1) && set +a && \
	trap 'postgres/stack.sh reset >/dev/null$(if $(2),; $(2))' EXIT && \
	scripts/ensure-stack.sh && postgres/stack.sh reset >/dev/null && postgres/stack.sh up >/dev/null

# $(call throwaway_ha,ENVFILE): the same for an HA cluster (postgres/ha.sh): made afresh
# from ENVFILE's variables, reset (stopped, its data deleted) when the line ends.
throwaway_ha = set -a && . $(1) && set +a && \
	trap 'postgres/ha.sh reset >/dev/null' EXIT && \
	scripts/ensure-ha.sh && postgres/ha.sh reset >/dev/null && postgres/ha.sh up >/dev/null

# make drills runs both parts (DRILLS=plain or DRILLS=ha: one); the HA clusters of the
# failover drills and of make bench's commit latency (another file: other ports).
DRILLS ?= plain ha
DRILLS_HA_ENV ?= bench/drills-ha.env
BENCH_HA_ENV ?= bench/ha.env

.PHONY: help venv dist matrix demo ha ha-down stack stack-down stack-reset lag up up-ha down test lint format bench drills screenshots

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml routers/pyproject.toml
	@test -x $(PY) || "$$(scripts/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./routers -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# The collected static files the suite and the matrix serve, collected once before
# either runs (never while tests read them), again when an app's static file changes.
STATIC_MANIFEST := staticfiles/staticfiles.json
$(STATIC_MANIFEST): $(STAMP) $(shell find forum/static lab/static -type f)
	DJANGO_DEBUG=false DJANGO_SECRET_KEY=collectstatic-only $(PY) manage.py collectstatic --noinput -v0
	@touch $@

venv: $(STAMP) ## Create the virtualenv and install the dependencies

dist: $(STAMP) ## Build the routers' wheel and sdist (django-replica-routers) into dist/
	@rm -rf dist && $(PY) -m build --outdir dist routers >/dev/null
	@rm -rf routers/build routers/*.egg-info
	@ls dist/*

demo: $(STAMP) ## Local stack (lag REPLICA_LAG=2s), migrate, seed, serve on http://127.0.0.1:8000
	@VENV=$(VENV) REPLICAS=$(REPLICAS) REPLICA_LAG=$(REPLICA_LAG) scripts/demo.sh

ha: $(STAMP) ## The forum on three PostgreSQL nodes under Patroni and etcd (HA_SYNC=on), on :8000
	@VENV=$(VENV) REPLICA_LAG=$(REPLICA_LAG) HA_SYNC=$(HA_SYNC) DEMO_STACK=ha scripts/demo.sh

ha-down: ## Stop the HA stack (data is kept; postgres/ha.sh reset deletes it)
	@postgres/ha.sh down

stack: ## Start the local primary and replicas (REPLICAS=1, REPLICA_LAG=2s)
	@scripts/ensure-stack.sh && $(STACK) up

stack-down: ## Stop the local stack (data is kept)
	@$(STACK) down

stack-reset: ## Stop the local stack and delete its data
	@$(STACK) reset

lag: ## Change every replica's apply delay live, local stack, HA stack and compose: make lag DELAY=3s
	@test -n "$(DELAY)" || { echo "usage: make lag DELAY=3s" >&2; exit 2; }
	@found=; \
	if $(STACK) status 2>/dev/null | grep -q 'primary up'; then \
		found=1; $(STACK) lag '$(DELAY)' || exit 1; fi; \
	if postgres/ha.sh status 2>/dev/null | grep -q '(leader)'; then \
		found=1; postgres/ha.sh lag '$(DELAY)' || exit 1; fi; \
	if docker compose ps --quiet replica 2>/dev/null | grep -q .; then \
		found=1; postgres/compose-lag.sh '$(DELAY)' || exit 1; fi; \
	test -n "$$found" || { echo "make lag: no replica runs (make demo, make ha, make stack or make up first)" >&2; exit 1; }

up: ## docker compose: primary, replica and web on http://127.0.0.1:$WEB_PORT (8000)
	@scripts/ensure-docker.sh && scripts/ensure-images.sh
	docker compose up --detach --build --wait --pull never
	@echo; echo "The forum: http://127.0.0.1:$${WEB_PORT:-8000}  (the lab: /lab/)"; \
	echo "Demo members: ada (staff), grace, linus, margaret, ken; password: NAME-demo-password"; \
	echo "Routing strategy: the navbar menu, per browser (default: FORUM_ROUTING=causal make up)"; \
	echo "Lag: make lag DELAY=5s   Stop and delete everything: make down"

up-ha: ## docker compose: the HA stack (etcd, three Patroni nodes, web, worker) on $WEB_PORT (8000)
	@scripts/ensure-docker.sh && scripts/ensure-images.sh
	docker compose -f docker-compose.ha.yml up --detach --build --wait --pull never
	@echo; echo "The forum: http://127.0.0.1:$${WEB_PORT:-8000}  (the cluster panel: /lab/cluster/)"; \
	echo "Patroni: http://127.0.0.1:8008/cluster  Kill a node: docker compose -f docker-compose.ha.yml kill node1"; \
	echo "Stop and delete everything: make down"

down: ## Remove what make up or make up-ha made: containers, network, volumes (and an engine it started)
	@if docker info >/dev/null 2>&1; then docker compose down --volumes --remove-orphans; \
		docker compose -f docker-compose.ha.yml down --volumes --remove-orphans; fi
	@scripts/ensure-docker.sh stop

# The compose suite needs an engine and the images: without them (not root, no Docker)
# it is skipped, except under CI=true, where that is a failure.
ENSURE_COMPOSE := { { scripts/ensure-docker.sh && scripts/ensure-images.sh; } || \
	{ test "$${CI:-}" != true && echo "make test: the compose tests will be skipped" >&2; }; }
TEST_ENGINE := DOCKERD_PIDFILE=.docker/dockerd-test.pid
OLDEST_LOG := .nox/oldest.log
OLDEST_CELL := mkdir -p .nox && $(MAKE) --no-print-directory matrix MATRIX=oldest >$(OLDEST_LOG) 2>&1
# postgres/stack.sh on the second worker's stack, whatever the shell's variables say.
SECOND_STACK := env $$(sed /^\#/d tests/stack-2.env) postgres/stack.sh

test: $(STAMP) $(STATIC_MANIFEST) ## Start a throwaway stack on other ports (and Docker, for compose), run every test
	@scripts/ensure-chromium.sh && scripts/ensure-axe.sh && scripts/ensure-test-tools.sh && scripts/ensure-ha.sh
	@# Two pytest-xdist workers, each on a stack of its own (tests/stack.env and
	@# tests/stack-2.env: other ports, two replicas, a small lag): the suite mostly waits
	@# on replication, so two halve its time. Beside them, the matrix's oldest cell on a
	@# third (make matrix MATRIX=oldest); the main suite is its newest. The stacks and any
	@# engine started here are removed at the end, whatever fails.
	@export $(TEST_ENGINE) && \
	$(call throwaway_stack,tests/stack.env,$(SECOND_STACK) reset >/dev/null; scripts/ensure-docker.sh stop) && \
	$(SECOND_STACK) reset >/dev/null && $(SECOND_STACK) up >/dev/null && \
	$(ENSURE_COMPOSE) && \
	{ $(OLDEST_CELL) & } && \
	TEST_PYTHON=$(abspath $(PY)) $(VENV)/bin/pytest --dist loadscope \
		--tx popen --tx popen//python=$(CURDIR)/tests/second-worker-python \
		--durations=30 $(PYTEST_ARGS); suite=$$?; \
	wait $$!; oldest=$$?; tail -n 4 $(OLDEST_LOG); \
	test $$oldest = 0 || echo "make test: the oldest cell failed (Django 5.2, Python 3.11): $(OLDEST_LOG)" >&2; \
	test $$suite = 0 && test $$oldest = 0

# make matrix's cells (noxfile.py): all of them, or those of a tag: MATRIX=oldest
# (Django 5.2 on Python 3.11), MATRIX=newest (6.1 on 3.13), MATRIX=django5.2, ...
MATRIX ?= all

matrix: $(STAMP) $(STATIC_MANIFEST) ## The routers' tests on Django 5.2, 6.0 and 6.1, each on its Pythons (nox), on a throwaway stack
	@scripts/ensure-test-tools.sh && $(call throwaway_stack,tests/stack-matrix.env) && \
	PATH="$$(scripts/matrix-path.sh)" $(VENV)/bin/nox --noxfile noxfile.py $(if $(filter all,$(MATRIX)),,--tags $(MATRIX))

lint: $(STAMP) ## ruff (lint and format check), mypy on routers/, the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=true $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## Measure routing overhead and replica share (see bench/README.md)
	@$(call throwaway_stack,bench/stack.env) && \
	$(PY) manage.py migrate_primaries --noinput -v0 && $(PY) bench/run.py && \
	$(PY) -m pip install --quiet -e '.[dev,bench]' && $(PY) bench/concurrent_http.py
	@$(call throwaway_ha,$(BENCH_HA_ENV)) && $(PY) bench/ha_commit.py

drills: $(STAMP) ## Break the cluster under load and count what visitors saw (see bench/README.md)
	@$(if $(filter plain,$(DRILLS)),$(call throwaway_stack,bench/drills.env) && \
	$(PY) bench/drills.py)
	@$(if $(filter ha,$(DRILLS)),$(call throwaway_ha,$(DRILLS_HA_ENV)) && \
	$(PY) bench/drills_ha.py)

screenshots: $(STAMP) ## Retake docs/images/ from a running demo (make demo first)
	@scripts/ensure-chromium.sh
	$(PY) scripts/screenshots.py
