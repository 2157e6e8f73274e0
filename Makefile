# Set-up and everyday commands. `make plan` and `make test` create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan test lint e2e bench clean

$(BIN)/vapora-infra: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

plan: $(BIN)/vapora-infra
	$(BIN)/vapora-infra plan --stack $(STACK)

test: $(BIN)/vapora-infra
	$(BIN)/pytest -q -m "not e2e"

lint: $(BIN)/vapora-infra
	$(BIN)/ruff format --check vapora_infra tests bench
	$(BIN)/ruff check vapora_infra tests bench
	$(BIN)/mypy vapora_infra

bench: $(BIN)/vapora-infra
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
