# Two commands for a new user: `make demo` and `make test`. Everything installs itself
# into .venv on first use (pinned by requirements.lock) and is reused afterwards.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed
# The Dagster instance: yours when DAGSTER_HOME is set (environment or command line), else
# .dagster/ here, so runs of `make sync` show in `make dev`. Dagster wants an absolute path.
DEFAULT_DAGSTER_HOME := $(CURDIR)/.dagster
DAGSTER_HOME ?= $(DEFAULT_DAGSTER_HOME)
override DAGSTER_HOME := $(abspath $(DAGSTER_HOME))
export DAGSTER_HOME
export PYTHONUNBUFFERED := 1

.PHONY: install demo dev dev-demo sync checks replay alerts test browser lint format psql raw-body simulator clean lock bench-polling bench-load bench-plans bench-scale prod-like bi bi-install bi-lock

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0] + ": run make PYTHON=python3.11 ...")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned dependencies into $(VENV) (first run only, about a minute)..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# The local instance's config (pools, run monitoring, the run launcher that tells a dead run's
# process): one file, also the one the tests use. The default home's copy follows that file;
# a DAGSTER_HOME of your own gets it only when it has no dagster.yaml (never overwritten).
ifeq ($(DAGSTER_HOME),$(DEFAULT_DAGSTER_HOME))
$(DAGSTER_HOME)/dagster.yaml: pipelines/local_dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp $< $@
else
$(DAGSTER_HOME)/dagster.yaml: | pipelines/local_dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@test -e $@ || cp pipelines/local_dagster.yaml $@
endif

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## simulator + embedded warehouse + 8 simulated days polled + two full syncs + summary and alerts
	@$(PY) -m pipelines.cli demo

sync: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## one full sync against whatever the environment points at
	@$(PY) -m pipelines.cli sync

checks: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## every check over every campaign (the daily full check), nothing fetched
	@$(PY) -m pipelines.cli checks

replay: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## rebuild the sms tables from raw, no vendor call (SCOPE=quarantined, PROVIDER=nixflex|smsfactor)
	@$(PY) -m pipelines.cli replay $(if $(SCOPE),--scope $(SCOPE)) $(if $(PROVIDER),--provider $(PROVIDER))

alerts: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## one alert evaluation now, sending what is due (TEST=1: a test message to each destination)
	@$(PY) -m pipelines.alerts $(if $(TEST),--test)

dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## Dagster UI + daemon, schedule on
	@$(VENV)/bin/dg dev -w workspace.yaml

dev-demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml ## the UI polling the built-in simulator
	@$(PY) -m pipelines.cli dev-demo

simulator: $(STAMP) ## the vendor simulator alone, on port 8765
	@$(PY) -m pipelines.simulator --port 8765

psql: $(STAMP) ## a psql session on the warehouse (embedded or WAREHOUSE_URL)
	@$(PY) -m pipelines.cli psql

raw-body: $(STAMP) ## the bytes of one landed answer as received: make raw-body ID=<response_id>
	@test -n "$(ID)" || { echo "usage: make raw-body ID=<raw.vendor_response.response_id>" >&2; exit 2; }
	@$(PY) -m pipelines.cli raw-body $(ID)

test: $(STAMP) $(DAGSTER_HOME)/dagster.yaml browser $(BI_STAMP) ## lint, then every test
	@$(VENV)/bin/ruff check .
	@$(PY) -m pytest

prod-like: $(STAMP) ## deploy/dagster.yaml on this machine: webserver + daemon + simulator, two full syncs at once (~2 min; also part of make test)
	@$(PY) -m pytest tests/test_production_like.py -v

# Apache Superset (`make bi`) lives in a virtual environment of its own, .venv-bi, pinned by
# bi/requirements.lock (its dependencies do not mix with the pipeline's: SQLAlchemy 1.4 there).
$(BI_STAMP): bi/requirements.lock
	@test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	@echo "Installing Apache Superset into $(BI_VENV) (first run only, about three minutes)..."
	@$(BI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bi/requirements.lock
	@touch $@

bi: $(STAMP) $(BI_STAMP) ## Superset on the warehouse with the "SMS delivery" dashboard, on 127.0.0.1:8088 (docs/bi.md)
	@$(PY) -m pipelines.cli bi

bi-install: $(BI_STAMP) ## only install Superset into .venv-bi (make test does it too)

bi-lock: ## re-pin Superset's environment (bi/requirements.lock) from bi/requirements.in
	@rm -rf .lock-venv-bi && $(PYTHON) -m venv .lock-venv-bi
	@.lock-venv-bi/bin/pip install --quiet --disable-pip-version-check -r bi/requirements.in
	@{ head -2 bi/requirements.lock; .lock-venv-bi/bin/pip freeze --exclude-editable; } > bi/requirements.lock.new
	@mv bi/requirements.lock.new bi/requirements.lock && rm -rf .lock-venv-bi
	@echo "bi/requirements.lock updated"

# The UI test drives Debian's chromium (playwright never downloads a browser). Installed
# here when missing and this user may (root with apt-get); otherwise that test says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the UI test (first run only)..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
	    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; } \
	    || echo "could not install chromium: the UI test will be skipped"; \
	  else echo "chromium is not installed (Debian: apt-get install chromium): the UI test will be skipped"; fi; }

bench-polling: $(STAMP) ## polling cost vs a naive full refresh, and a rate-limited backfill (~20 min)
	@$(PY) -m bench.polling

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	@$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -r requirements-bench.lock
	@touch $@

bench-load: $(BENCH_STAMP) ## load path vs bare COPY, dlt and pandas on the same 1 M rows (ROWS=10000000 ONLY='project copy' for 10 M)
	@$(PY) -m bench.load $(if $(ROWS),--rows $(ROWS)) $(if $(ONLY),--only $(ONLY)) $(if $(REPEAT),--repeat $(REPEAT))

bench-plans: $(STAMP) ## analysts' questions and every check, timed with their query plans (ROWS=… for more than 1 M)
	@$(PY) -m bench.plans $(if $(ROWS),--rows $(ROWS))

bench-scale: $(STAMP) ## one incremental sync, the daily full check and the delivery view on a 50 M-row warehouse vs an empty one (ROWS=… for another size; ~20 min at 50 M)
	@$(PY) -m bench.scale $(if $(ROWS),--rows $(ROWS))

.PHONY: bench-detect
bench-detect: $(STAMP) ## the delivery-drop rule on 15 simulated days synced hourly: false alerts on steady traffic, hours to flag a 30-point drop (~3 min)
	@$(PY) -m bench.detection

lint: $(STAMP)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

format: $(STAMP)
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

lock: ## re-pin every dependency after editing pyproject.toml
	@rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	@.lock-venv/bin/pip install --quiet -e '.[dev]' setuptools
	@{ head -2 requirements.lock; .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock && rm -rf .lock-venv
	@echo "requirements.lock updated"

clean: ## stop the embedded warehouse and delete local state (.data, .dagster; .venv and .venv-bi stay)
	@-$(PY) -m pipelines.cli stop-embedded 2>/dev/null
	@rm -rf .data .dagster
