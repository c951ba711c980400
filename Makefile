# samverka — `make run` serves the API on embedded SQLite; `make test` runs every test.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench postgres node clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# PostgreSQL for the tests: Debian's package, installed only if initdb is missing.
postgres:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; \
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

run: $(STAMP)
	$(VENV)/bin/samverka migrate
	$(VENV)/bin/samverka deploy processes/
	$(VENV)/bin/samverka serve

test: $(STAMP) postgres node
	$(PY) -m pytest -n 2 -q

bench: $(STAMP) postgres
	$(PY) -m pytest tests/bench -q -s -p no:xdist -m bench

clean:
	rm -rf $(VENV) var .pytest_cache node_modules
