# Tenaz's command index: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(wildcard protos/tenaz/v1/*.proto)
GEN_DIR := clients/python/src

.DEFAULT_GOAL := help
.PHONY: help install run test chaos lint format protos check-protos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e clients/python
	touch $(STAMP)

install: $(STAMP) ## create .venv with Tenaz and its development tools

protos: $(STAMP) ## regenerate the Python code from protos/
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=$(GEN_DIR) \
		--pyi_out=$(GEN_DIR) --grpc_python_out=$(GEN_DIR) $(PROTOS)

check-protos: protos ## fail when the committed generated code is stale
	git diff --exit-code -- $(GEN_DIR)/tenaz/v1

run: protos ## run Tenaz: gRPC server + worker (embedded PostgreSQL unless TENAZ_DATABASE_URL)
	$(BIN)/tenaz run

test: protos ## run the whole test suite against a real PostgreSQL
	$(BIN)/pytest

chaos: $(STAMP) ## kill servers, workers and PostgreSQL under load; check nothing was lost
	$(BIN)/python -m tests.chaos.chaos

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check server jobs tests clients/python/src/tenaz/client.py
	$(BIN)/ruff format --check server jobs tests clients/python/src/tenaz/client.py
	$(BIN)/mypy

format: $(STAMP) ## format the code with ruff
	$(BIN)/ruff format server jobs tests clients/python/src/tenaz/client.py
	$(BIN)/ruff check --fix server jobs tests clients/python/src/tenaz/client.py

clean: ## remove the virtualenv and caches (not the embedded database in .tenaz/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
