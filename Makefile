# The two commands of the README:  `make run`  and  `make test`.
# Both install what they need into .venv first (Python 3.11+, git, node/npm and the
# PostgreSQL 15 binaries are all a fresh machine must have).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench bench-soak typecheck

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev,azure]'
	touch $@

run: install
	$(BIN)/dakora serve --demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) typecheck
	$(BIN)/python -m pytest -q

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
