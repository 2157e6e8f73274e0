# Set-up and everyday commands. `make plan` and `make test` create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
STACKS ?= dev prod
RENDER := out/render
# checkov pins an old `packaging`; it lives in its own virtualenv so that it
# never changes what the project's tests run against.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION ?= 3.3.30

.PHONY: plan test lint validate e2e bench clean

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
	$(BIN)/ruff format --check vapora_infra tests bench tools
	$(BIN)/ruff check vapora_infra tests bench tools
	$(BIN)/mypy vapora_infra

# Render every stack and let outside tools judge the objects: the Kubernetes
# schema (strict), the CRD schemas in ../shared, and checkov's policies.
validate: $(BIN)/vapora-infra $(CHECKOV_VENV)/bin/checkov
	@set -e; for stack in $(STACKS); do \
	  rm -rf $(RENDER)/$$stack; \
	  echo "== $$stack"; \
	  $(BIN)/vapora-infra validate --stack $$stack; \
	  $(BIN)/vapora-infra render --stack $$stack --out $(RENDER)/$$stack; \
	  $(BIN)/python tools/validate_rendered.py $(RENDER)/$$stack \
	    --checkov $(CHECKOV_VENV)/bin/checkov; \
	done

$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

# The end-to-end suite on a local kwok cluster (e2e/README.md).
e2e: $(BIN)/vapora-infra
	bash e2e/run.sh

bench: $(BIN)/vapora-infra
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build *.egg-info out
