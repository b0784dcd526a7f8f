# Hush developer commands. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install run test test-fast lint format bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Dev server on SQLite (recreated at each start), prints the address and root token.
run: install
	$(BIN)/hush server -dev -dev-storage=sqlite -dev-storage-path=.hush-dev/hush.db $(ARGS)

## The whole suite (unit, contract, integration, security) on real servers.
test: install
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider $(ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

bench: install
	@echo "The benchmark suite is not written yet (issue: benchmark suite)." >&2; exit 2

fuzz: install
	@echo "The long fuzzing run is not written yet (issue: security regression suite)." >&2; exit 2

clean:
	rm -rf $(VENV) .hush-dev build dist src/*.egg-info
