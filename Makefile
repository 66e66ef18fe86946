# The two commands of the README:  `make run`  and  `make test`.
# Both install what they need into .venv first (Python 3.11+, git, node/npm and the
# PostgreSQL 15 binaries are all a fresh machine must have).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench studio-deps studio-check studio-build

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev,azure]'
	touch $@

run: install
	$(BIN)/dakora serve --demo

test: install studio-check studio-build
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

# The Studio (studio/): `npm ci` only when package-lock.json is newer than the last
# install, then typecheck, lint and unit tests; the build only when a source changed.
STUDIO := studio
STUDIO_STAMP := $(STUDIO)/node_modules/.dakora-installed
STUDIO_SOURCES := $(shell find $(STUDIO)/src -type f 2>/dev/null) $(STUDIO)/index.html \
	$(STUDIO)/vite.config.ts $(STUDIO)/tsconfig.json $(STUDIO)/package-lock.json

studio-deps: $(STUDIO_STAMP)

$(STUDIO_STAMP): $(STUDIO)/package.json $(STUDIO)/package-lock.json
	cd $(STUDIO) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

studio-check: studio-deps
	cd $(STUDIO) && npx tsc --noEmit
	cd $(STUDIO) && npx eslint --max-warnings=0 .
	cd $(STUDIO) && npx vitest run

studio-build: $(STUDIO)/dist/index.html

$(STUDIO)/dist/index.html: $(STUDIO_STAMP) $(STUDIO_SOURCES)
	cd $(STUDIO) && npx vite build --logLevel error

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python tests/perf/bench_render.py
