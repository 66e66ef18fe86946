# The two commands of the README:  `make run`  and  `make test` (which also builds the docs).
# Both install what they need into .venv first (Python 3.11+, git, node/npm and the
# PostgreSQL 15 binaries are all a fresh machine must have).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench bench-soak typecheck docs studio studio-check studio-build mutation

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[server,dev,azure]'
	touch $@

run: install studio
	$(BIN)/dakora serve --demo

# The Studio (studio/: React + Vite), built into studio/dist, which `dakora serve` serves
# at /studio/. npm ci runs when package-lock.json is newer than node_modules (the stamp
# below), vite build when a source is newer than dist/index.html. Nothing to do while
# studio/ has no package.json.
STUDIO := studio
NPM ?= npm
STUDIO_STAMP := $(STUDIO)/node_modules/.dakora-npm-ci
STUDIO_SOURCES := $(shell find $(STUDIO)/src $(STUDIO)/public -type f 2>/dev/null) \
	$(wildcard $(STUDIO)/index.html $(STUDIO)/package.json $(STUDIO)/package-lock.json \
	$(STUDIO)/vite.config.* $(STUDIO)/tsconfig*.json $(STUDIO)/tailwind.config.* \
	$(STUDIO)/postcss.config.*)

ifneq ($(wildcard $(STUDIO)/package.json),)
studio: $(STUDIO)/dist/index.html
else
studio:
	@echo "make studio: $(STUDIO)/package.json does not exist yet; nothing to build"
endif

$(STUDIO_STAMP): $(STUDIO)/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "make studio: needs Node.js and npm (e.g. apt-get install nodejs npm)" >&2; exit 1; }
	$(NPM) --prefix $(STUDIO) ci --no-audit --no-fund
	@mkdir -p $(dir $@) && touch $@

$(STUDIO)/dist/index.html: $(STUDIO_STAMP) $(STUDIO_SOURCES)
	$(NPM) --prefix $(STUDIO) run build
	touch $@

test: install docs studio-check studio
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) typecheck
	$(BIN)/python -m pytest -q

# The Studio's typecheck, lint and unit tests (vitest), after the same idempotent npm ci.
studio-check: $(STUDIO_STAMP)
	cd $(STUDIO) && npx tsc --noEmit
	cd $(STUDIO) && npx eslint --max-warnings=0 .
	cd $(STUDIO) && npx vitest run

studio-build: studio
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

# Every figure of the README's benchmark table, each against its baseline measured in
# the same run (docs/development.md lists what each script compares).
bench: install
	$(BIN)/python tests/perf/bench_fetch.py
	$(BIN)/python tests/perf/bench_push.py
	$(BIN)/python tests/perf/bench_cli.py
	$(BIN)/python tests/perf/bench_access_log.py
	$(BIN)/python tests/perf/bench_render.py
	$(BIN)/python tests/perf/bench_read_under_push.py

# 60 s of mixed traffic at half the measured max rate, on SQLite and PostgreSQL
bench-soak: install
	$(BIN)/python tests/perf/bench_soak.py

# Mutation testing of the safety-critical modules (docs/mutation.md): cosmic-ray, one
# worker at nice 19, each module of tests/mutation/modules.toml against its fast tests
# in a copy of the tree (.mutation/); prints killed/total and kill% per module and
# fails under 90%. Not part of `make test`: it takes long. MODULES="inputs layout"
# runs some of them; MUTATION_ARGS="--survivors" reruns only the last survivors.
MODULES ?=
MUTATION_ARGS ?=
mutation: install
	test -x $(BIN)/cosmic-ray || $(BIN)/pip install -q -e '.[mutation]'
	nice -n 19 $(BIN)/python tests/mutation/run.py $(MUTATION_ARGS) $(MODULES)

# mypy --strict over the five packages (registry, hooks, client, api, cli). The import
# packages are dakora.registry, dakora.hooks, … while the folders are registry/, hooks/, …
# (setuptools package-dir), so mypy reads them through a tree of symlinks that has the
# import names.
TYPED := dakora.registry dakora.hooks dakora.client dakora.api dakora.cli
typecheck: install
	@mkdir -p .typecheck/dakora
	@for p in registry hooks client api cli; do ln -sfn ../../$$p .typecheck/dakora/$$p; done
	cd .typecheck && ../$(BIN)/mypy --strict --explicit-package-bases $(addprefix -p ,$(TYPED))
