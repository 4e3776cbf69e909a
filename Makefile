VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test install lint clean

## install: create .venv and install newsflow with its development tools
install: $(BIN)/newsflow

$(BIN)/newsflow: pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

## run: the main job: ingest the seeds into ./newsflow.db, then list what was stored
run: install
	@$(BIN)/newsflow ingest seeds/
	@$(BIN)/newsflow query

## lint: ruff and mypy
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test: lint, then the whole test suite (SQLite, PostgreSQL, a real Prefect server)
test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) newsflow.db newsflow.db-wal newsflow.db-shm
