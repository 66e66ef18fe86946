# The two commands of the README:  `make run`  and  `make test` (which also builds the docs).
# Both install what they need into .venv first (Python 3.11+, git, node/npm and the
# PostgreSQL 15 binaries are all a fresh machine must have).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench bench-soak typecheck docs

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev,azure]'
	touch $@

run: install
	$(BIN)/dakora serve --demo

test: install docs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) typecheck
	$(BIN)/python -m pytest -q

# The documentation site (mkdocs.yml), strict: a broken link or a page missing from
# the navigation fails. The CLI and HTTP API pages are generated from the code.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python tests/perf/bench_render.py

# 60 s of mixed traffic at half the measured max rate, on SQLite and PostgreSQL
bench-soak: install
	$(BIN)/python tests/perf/bench_soak.py

# mypy --strict over the layers that must be fully typed. The import packages are
# dakora.registry, dakora.hooks, … while the folders are registry/, hooks/, … (setuptools
# package-dir), so mypy reads them through a tree of symlinks that has the import names.
TYPED := dakora.registry dakora.client
typecheck: install
	@mkdir -p .typecheck/dakora
	@for p in registry hooks client api cli; do ln -sfn ../../$$p .typecheck/dakora/$$p; done
	cd .typecheck && ../$(BIN)/mypy --strict --explicit-package-bases $(addprefix -p ,$(TYPED))
