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
# CI: PUBLISHOPTS=--reuse-output builds on the restored output/ instead of a copy (portal/publish.py).
PUBLISHOPTS ?=
SERVE_COUNTER_URL ?= http://$(HOST):$(COUNTER_PORT)

.PHONY: help venv html serve devserver publish deploy check test lint format clean test-deps \
	counter counter-backup bench soak import import-accept cms

help:
	@echo "make serve      build the site and serve it on http://$(HOST):$(PORT)"
	@echo "make test       run every test (installs what the tests need)"
	@echo "make html       build the site into $(OUTPUT)/ (only what changed; FULL=1: everything)"
	@echo "make devserver  rebuild on every change, drafts shown, into $(OUTPUT_DEV)/, on http://$(HOST):$(PORT)"
	@echo "make publish    build for production with publishconf.py (swapped in only on success)"
	@echo "make deploy     publish, then rsync $(OUTPUT)/ to DEPLOY_HOST:DEPLOY_PATH over SSH"
	@echo "make check      check the content only"
	@echo "make counter    run the visitor counter service on http://$(HOST):$(COUNTER_PORT)"
	@echo "make cms        the web editor on http://$(HOST):$(PORT)/quan-tri/ (local back-end)"
	@echo "make clean      remove the built site and caches"
	@echo "make bench      time our build against plain Pelican and Hugo (BENCHOPTS=...)"
	@echo "make soak       1,000 random rebuild steps, each compared with a clean build"
	@echo "make import     import legacy articles into import/ (SOURCES=... PROFILE=...)"
	@echo "make import-accept FILES=...  check reviewed imported files, move them into $(CONTENT)/"

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
	$(BIN)/python -m portal.publish --content $(CONTENT) --output $(OUTPUT) -s publishconf.py $(PUBLISHOPTS)

deploy: publish
	bash scripts/deploy.sh $(OUTPUT)

# The visitor counter service (see docs/COUNTER.md for its settings).
counter: $(STAMP)
	COUNTER_HOST=$(HOST) COUNTER_PORT=$(COUNTER_PORT) COUNTER_MODE=development $(BIN)/python -m counter

counter-backup: $(STAMP)
	$(BIN)/python -m counter backup var/backups/

# The web editor (plugins/cms) on this machine: the dev server, and Decap's local
# proxy writing straight into this working copy (no login; changes are files to commit).
CMS_PROXY_PORT ?= 8081
cms: $(STAMP) node_modules/.installed
	@echo "Web editor: http://$(HOST):$(PORT)/quan-tri/ (Ctrl+C to stop)"
	BIND_HOST=$(HOST) PORT=$(CMS_PROXY_PORT) MODE=fs GIT_REPO_DIRECTORY=$(CURDIR) \
	  node node_modules/decap-server/dist/index.js & proxy=$$!; \
	  trap 'kill $$proxy 2>/dev/null' EXIT INT TERM; \
	  CMS_PROXY_PORT=$(CMS_PROXY_PORT) $(PELICAN) $(CONTENT) -o $(OUTPUT) -s devconf.py $(PELICANOPTS) --autoreload --listen --bind $(HOST) --port $(PORT)

check: $(STAMP)
	$(BIN)/python -m portal.check $(CONTENT) $(CHECKOPTS)

# The legacy portal's articles (docs/CHUYEN-DU-LIEU.md): feeds, saved or fetched HTML
# pages read with a site profile (PROFILE=hoso.yml), text dumps; drafts wait in import/.
IMPORT ?= import
SOURCES ?=
PROFILE ?=
IMPORTOPTS ?=
import: $(STAMP)
	@test -n "$(SOURCES)" || { echo "Cần SOURCES=…: tệp RSS, thư mục trang HTML, danh sách địa chỉ hoặc tệp chữ"; exit 2; }
	$(BIN)/python -m portal.importer $(SOURCES) $(if $(PROFILE),--profile $(PROFILE)) --out $(IMPORT) --content $(CONTENT) $(IMPORTOPTS)

# Check reviewed files of import/ and move them into content/ (FILES="import/news/a.md …").
FILES ?=
import-accept: $(STAMP)
	@test -n "$(FILES)" || { echo "Cần FILES=…: các tệp trong import/ đã duyệt"; exit 2; }
	$(BIN)/python -m portal.importer accept $(FILES) --out $(IMPORT) --content $(CONTENT)

test-deps: $(STAMP) node_modules/.installed
	bash scripts/install-test-deps.sh

# axe-core for the accessibility tests and Decap CMS for the web editor (plugins/cms),
# pinned in package-lock.json; npm itself is a Debian package (test-packages.txt).
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || bash scripts/install-test-deps.sh
	npm ci --no-audit --no-fund --silent
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Both cores: pytest-xdist, one test file per worker at a time (TEST_WORKERS=0: one process).
TEST_WORKERS ?= 2
test: test-deps lint
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

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
