# paretoopt: the two set-up commands of the README.
#   make demo   installs into .venv, traces the quick segmented-calorimeter front on the default
#               SQLite database, prints it and writes calorimeter_quick.html
#   make test   installs (with test tools, a headless browser and PostgreSQL) and runs every test
# The torch wheel is pinned to the CPU build of 2.13.0 here (TORCH=...); pyproject.toml accepts
# any torch >= 2.4, so elsewhere `make TORCH=torch demo` or a plain `pip install paretoopt` works.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
# test order: shuffled by pytest-randomly with this seed (reproducible; `make test TEST_SEED=7`
# runs another order, which must pass too)
TEST_SEED ?= 23
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/paretoopt run studies/calorimeter_quick.py --trials 20 --engine random --seed 0 --workers 2
	$(BIN)/paretoopt export calorimeter_quick --format html -o calorimeter_quick.html

test: install
	bash .ci/install-system-deps.sh
	$(BIN)/ruff check paretoopt tests studies benchmarks dashboard
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q -p randomly --randomly-seed=$(TEST_SEED)

lint: install
	$(BIN)/ruff check paretoopt tests studies benchmarks dashboard
	$(BIN)/python -m mypy
	$(BIN)/ruff format --check paretoopt tests studies benchmarks dashboard

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache paretoopt.db paretoopt.db-wal paretoopt.db-shm calorimeter_quick.html
