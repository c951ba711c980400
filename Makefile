# samverka — `make run` serves the API on embedded SQLite; `make test` runs every test.
VENV     := .venv
PY       := $(VENV)/bin/python
HASH     := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Two install stamps: serving needs the package alone, the tests its [test] extras too.
RUN_STAMP  := $(VENV)/.run-$(HASH)
TEST_STAMP := $(VENV)/.test-$(HASH)
PIP      := $(VENV)/bin/pip install -q --disable-pip-version-check

.PHONY: run test bench postgres cairo node clean

$(VENV)/bin/python:
	@python3 -m venv $(VENV)

# pip's output goes to a log that is shown only if the install fails.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "installing samverka into $(VENV) (once)"
	@$(PIP) -e . > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@rm -f $(VENV)/.run-* && touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[test]" > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@rm -f $(VENV)/.test-* $(VENV)/.run-* && touch $@ $(RUN_STAMP)

# PostgreSQL (and PgBouncer) for the tests: Debian's packages, installed only if missing.
postgres:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; \
	fi
	@# PgBouncer, for the test of running behind a pooler in transaction mode (tests/test_pgbouncer.py).
	@if ! command -v pgbouncer >/dev/null 2>&1 && ! test -x /usr/sbin/pgbouncer; then \
		echo "installing PgBouncer (Debian package)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; \
	fi

# The C library cairosvg renders the report charts with in the tests: Debian's package if it is missing.
cairo:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libcairo\.so\.2'; then \
		echo "installing libcairo2 (Debian package)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libcairo2 >/dev/null; \
	fi

# Node tools for the tests (bpmnlint): Debian's nodejs/npm if npm is missing, then package.json's versions.
node_modules/.installed: package.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "installing Node.js and npm (Debian packages)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null; \
	fi
	npm install --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

node: node_modules/.installed

# The server on embedded SQLite under var/, readable log lines; Ctrl-C stops it (exit 0).
run: $(RUN_STAMP)
	@$(VENV)/bin/samverka migrate --quiet
	@$(VENV)/bin/samverka deploy --quiet processes/
	@$(VENV)/bin/samverka serve --log-format console

# Coverage of engine/ and api/ (the samverka subprocesses the tests start included: pyproject's
# [tool.coverage.run] patch = subprocess), reported per module; each must reach tests/coverage_floor.py's floor.
test: $(TEST_STAMP) postgres cairo node
	@rm -f .coverage .coverage.*
	$(PY) -m pytest -n 2 -q --durations=15 --cov --cov-report=term:skip-covered
	$(PY) tests/coverage_floor.py

bench: $(TEST_STAMP) postgres
	$(PY) -m pytest tests/bench -q -s -p no:xdist -m bench

clean:
	rm -rf $(VENV) var .pytest_cache node_modules
