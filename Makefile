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
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help venv html serve devserver publish check test lint format clean test-deps

help:
	@echo "make serve      build the site and serve it on http://$(HOST):$(PORT)"
	@echo "make test       run every test (installs what the tests need)"
	@echo "make html       build the site into $(OUTPUT)/ (only what changed; FULL=1: everything)"
	@echo "make devserver  rebuild on every change, drafts shown, on http://$(HOST):$(PORT)"
	@echo "make publish    build for production with publishconf.py"
	@echo "make check      check the content only"
	@echo "make clean      remove the built site and caches"

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

html: $(STAMP)
	$(PELICAN) $(CONTENT) -o $(OUTPUT) -s pelicanconf.py $(PELICANOPTS)

serve: html
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	$(PELICAN) --listen --bind $(HOST) --port $(PORT) -o $(OUTPUT) -s pelicanconf.py

devserver: $(STAMP)
	$(PELICAN) $(CONTENT) -o $(OUTPUT) -s devconf.py $(PELICANOPTS) --autoreload --listen --bind $(HOST) --port $(PORT)

publish: $(STAMP)
	$(PELICAN) $(CONTENT) -o $(OUTPUT) -s publishconf.py $(PELICANOPTS)

check: $(STAMP)
	$(BIN)/python -m portal.check $(CONTENT)

test-deps: $(STAMP)
	bash scripts/install-test-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: test-deps lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(OUTPUT) cache .pytest_cache .ruff_cache
