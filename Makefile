# samverka — `make run` serves the API on embedded SQLite; `make test` runs every test.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench postgres lint clean

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

run: $(STAMP)
	$(VENV)/bin/samverka migrate
	$(VENV)/bin/samverka deploy processes/
	$(VENV)/bin/samverka serve

test: $(STAMP) postgres
	$(PY) -m pytest -n 2 -q

bench: $(STAMP) postgres
	$(PY) -m pytest tests/bench -q -s -p no:xdist -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
