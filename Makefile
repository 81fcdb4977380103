# healthgap — two commands for a newcomer:
#   make site   build the book into _site/ (creates .venv, installs, makes the synthetic data)
#   make test   run every test (also installs the browser test tools)
# Other targets: make test-fast, make lint, make validate, make data, make example, make bench,
# make clean, make distclean.
# Use another dataset:  HEALTHGAP_CONFIG=path/to/config.yml make site

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYNTH := data/synthetic/population.parquet
EXAMPLE := data/examples/other_trust.csv data/examples/cohort.csv data/examples/no_deprivation.csv
AXE_VERSION ?= 4.14.1
AXE := .cache/axe/node_modules/axe-core/axe.min.js
PYTEST_ARGS ?= -n auto --dist loadfile
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help site test test-fast lint validate data example bench browser-deps clean distclean

help:
	@echo "make site   - build the book into _site/ (first run creates .venv and the synthetic data)"
	@echo "make test   - run the test suite"
	@echo "make test-fast - everything except rendering and browser tests (about a minute)"
	@echo "make lint  - ruff (lint and format check) and mypy"
	@echo "make validate | data | example | bench | clean | distclean"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "healthgap needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,lint]'
	@touch $@

$(SYNTH): | $(STAMP)
	$(BIN)/healthgap synth --out data/synthetic

data/examples/%.csv: | $(STAMP)
	$(BIN)/healthgap example --kind $* --out data/examples

data: $(SYNTH)

example: $(EXAMPLE)

validate: $(STAMP) $(SYNTH)
	$(BIN)/healthgap validate

site: $(STAMP) $(SYNTH)
	$(BIN)/healthgap validate
	$(BIN)/healthgap render

# Browser tests need chromium (installed with apt when we are root) and axe-core (npm, git-ignored folder).
browser-deps: $(AXE)
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing chromium with apt-get ..."; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
	else echo "chromium is not installed and we are not root: browser tests will be skipped"; fi

$(AXE):
	@mkdir -p .cache/axe && printf '*\n' > .cache/.gitignore
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@$(AXE_VERSION); \
	else echo "npm is not installed: accessibility tests will be skipped"; fi

test: $(STAMP) browser-deps
	@rc=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests (exit 5)." >&2; fi; exit $$rc

# Everything that does not render chapters or drive a browser: the unit tests of every module and page.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow and not browser and not quarto"

# House style: ruff lint, ruff format (check only) and mypy, configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) $(SYNTH)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	@shopt -s nullglob; for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python "$$f"; done

clean:
	rm -rf _site _build _freeze .quarto .pytest_cache .hypothesis build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .cache data/synthetic $(EXAMPLE)
