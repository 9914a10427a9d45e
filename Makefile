# The two commands of the README. Each creates and reuses the project-local virtualenv .venv.
#   make devnet   start a whole local network (satellite, storage nodes, gateway on :9000)
#   make test     install everything the tests need, lint, and run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
ARGS ?=
PYTEST_ARGS ?=

.PHONY: devnet test lint tools bench venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

tools:
	bash scripts/install-test-tools.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .

devnet: $(STAMP)
	$(VENV)/bin/geoshard devnet $(ARGS)

test: $(STAMP) tools lint
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)
