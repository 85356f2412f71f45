# "Dân vận khéo" portal. The two set-up commands are `make serve` and `make test`:
# both create the virtual environment on first use (and again when the pins change).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PELICAN := $(BIN)/pelican
PELICANOPTS ?= --log-handler plain
# Builds are incremental (plugins/incremental); `make html FULL=1` forces a full one.
PELICANOPTS += $(if $(FULL),--ignore-cache)
CONTENT := content
OUTPUT := output
# The dev server (drafts shown) builds into its own folder with its own cache
# (cache/dev, devconf.py), so nothing it writes can reach output/ (docs/INCREMENTAL.md).
OUTPUT_DEV := output-dev
HOST ?= 127.0.0.1
PORT ?= 8000
COUNTER_PORT ?= 8787
SERVE_COUNTER_URL ?= http://$(HOST):$(COUNTER_PORT)

.PHONY: help venv html serve devserver publish deploy check test lint format clean test-deps \
	counter counter-backup bench soak

help:
	@echo "make serve      build the site and serve it on http://$(HOST):$(PORT)"
	@echo "make test       run every test (installs what the tests need)"
	@echo "make html       build the site into $(OUTPUT)/ (only what changed; FULL=1: everything)"
	@echo "make devserver  rebuild on every change, drafts shown, into $(OUTPUT_DEV)/, on http://$(HOST):$(PORT)"
	@echo "make publish    build for production with publishconf.py (swapped in only on success)"
	@echo "make deploy     publish, then rsync $(OUTPUT)/ to DEPLOY_HOST:DEPLOY_PATH over SSH"
	@echo "make check      check the content only"
	@echo "make counter    run the visitor counter service on http://$(HOST):$(COUNTER_PORT)"
	@echo "make clean      remove the built site and caches"
	@echo "make bench      time our build against plain Pelican and Hugo (BENCHOPTS=...)"
	@echo "make soak       1,000 random rebuild steps, each compared with a clean build"

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

html: $(STAMP)
	$(PELICAN) $(CONTENT) -o $(OUTPUT) -s pelicanconf.py $(PELICANOPTS)

# Build with the local counter's URL, then serve the site and run the counter beside it.
serve: $(STAMP)
	COUNTER_URL=$(SERVE_COUNTER_URL) $(PELICAN) $(CONTENT) -o $(OUTPUT) -s pelicanconf.py $(PELICANOPTS)
	@echo "Serving on http://$(HOST):$(PORT)/ with the counter on $(SERVE_COUNTER_URL) (Ctrl+C to stop)"
	COUNTER_HOST=$(HOST) COUNTER_PORT=$(COUNTER_PORT) COUNTER_PAGES=$(OUTPUT)/counter-pages.json \
	  COUNTER_MODE=development COUNTER_ALLOWED_ORIGINS=http://$(HOST):$(PORT) $(BIN)/python -m counter & counter=$$!; \
	  trap 'kill $$counter 2>/dev/null' EXIT INT TERM; \
	  $(PELICAN) --listen --bind $(HOST) --port $(PORT) -o $(OUTPUT) -s pelicanconf.py

devserver: $(STAMP)
	$(PELICAN) $(CONTENT) -o $(OUTPUT_DEV) -s devconf.py $(PELICANOPTS) --autoreload --listen --bind $(HOST) --port $(PORT)

publish: $(STAMP)
	$(BIN)/python -m portal.publish --content $(CONTENT) --output $(OUTPUT) -s publishconf.py

deploy: publish
	bash scripts/deploy.sh $(OUTPUT)

# The visitor counter service (see docs/COUNTER.md for its settings).
counter: $(STAMP)
	COUNTER_HOST=$(HOST) COUNTER_PORT=$(COUNTER_PORT) COUNTER_MODE=development $(BIN)/python -m counter

counter-backup: $(STAMP)
	$(BIN)/python -m counter backup var/backups/

check: $(STAMP)
	$(BIN)/python -m portal.check $(CONTENT) $(CHECKOPTS)

test-deps: $(STAMP) node_modules/.installed
	bash scripts/install-test-deps.sh

# axe-core for the accessibility tests, pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: test-deps lint
	$(BIN)/python -m pytest

# Benchmarks (docs/BENCHMARKS.md): bench/run.py, then every bench/*_bench.py present.
BENCHOPTS ?=
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCHOPTS)
	@for script in bench/*_bench.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; $(BIN)/python "$$script" || exit 1; \
	done

# The rebuild property test at length (tests/test_rebuild_property.py): prints the
# seed of any failure; replay with PROPERTY_SEEDS=<seed> PROPERTY_STEPS=<steps>.
SOAK_STEPS ?= 1000
soak: $(STAMP)
	PROPERTY_STEPS=$(SOAK_STEPS) PROPERTY_SEEDS=$${PROPERTY_SEEDS:-11,12,13,14,15} \
	  $(BIN)/python -m pytest tests/test_rebuild_property.py -x -q -s -p no:cacheprovider

clean:
	rm -rf $(OUTPUT) $(OUTPUT_DEV) $(OUTPUT).staging $(OUTPUT).old cache .pytest_cache .ruff_cache
