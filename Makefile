# Tenaz's command index: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A stamp per set of pyproject extras the venv holds: .installed-test for the test tiers,
# .installed-dev for everything (make install).
STAMP := $(VENV)/.installed-dev
TEST_STAMP := $(VENV)/.installed-test
PROTOS := $(wildcard protos/tenaz/v1/*.proto)
GEN_DIR := clients/python/src
BUF := clients/tools/node_modules/.bin/buf
GENERATED := $(GEN_DIR)/tenaz/v1 clients/typescript/src/gen clients/go/gen

.DEFAULT_GOAL := help
TIERS := test-unit test-integration test-e2e test-browser test-interop test-chaos
.PHONY: help install tools browser prometheus curl python-protos run test $(TIERS) bench bench-micro chaos screenshots lint format protos check-protos clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The venv's own setuptools (pyproject's build requirement) builds Tenaz and its client, rather
# than a fresh build environment for each; and each module is compiled when first imported,
# rather than every file of every package at install time. Together they take a third off a
# fresh install.
$(VENV)/.installed-%: pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet 'setuptools>=77'
	$(BIN)/pip install --quiet --no-compile --no-build-isolation -e '.[$*]' -e clients/python
	touch $@

install: $(STAMP) ## create .venv with Tenaz and its development tools

tools: ## install buf, protoc-gen-es, the TypeScript client's packages and Debian's Go, when missing
	clients/setup-tools.sh

python-protos: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=$(GEN_DIR) \
		--pyi_out=$(GEN_DIR) --grpc_python_out=$(GEN_DIR) $(PROTOS)

protos: python-protos tools ## regenerate the Python, TypeScript and Go code from protos/
	$(BUF) generate --template clients/typescript/buf.gen.yaml
	$(BUF) generate --template clients/go/buf.gen.yaml

check-protos: protos ## lint protos/, refuse breaking changes, fail when generated code is stale
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(BUF) breaking --against protos/released/tenaz-v1.binpb
	git diff --exit-code -- $(GENERATED)
	@test -z "$$(git status --porcelain -- $(GENERATED))" || { git status --short -- $(GENERATED); \
		echo "generated code is not committed: run make protos and commit it"; exit 1; }

run: python-protos ## run Tenaz: gRPC server + worker (embedded PostgreSQL unless TENAZ_DATABASE_URL)
	$(BIN)/tenaz run

test: $(STAMP) tools protos browser prometheus curl ## run every tier's tests (what CI runs)
	$(BIN)/pytest

test-unit: $(TEST_STAMP) ## the unit tests: seconds, no database, browser, Node or Go
	$(BIN)/pytest tests/unit

test-integration: $(TEST_STAMP) ## the domain, gRPC and the dashboard's API on a real PostgreSQL
	$(BIN)/pytest tests/integration

test-e2e: $(TEST_STAMP) prometheus curl ## the tenaz command, Prometheus scraping it, the README's curl example, a tiny benchmark
	$(BIN)/pytest tests/acceptance

test-browser: $(VENV)/.installed-test,browser browser ## the dashboard in headless chromium
	$(BIN)/pytest tests/browser

test-interop: $(TEST_STAMP) tools ## the TypeScript and Go clients against a real server
	$(BIN)/pytest tests/interop

test-chaos: $(TEST_STAMP) ## the short chaos run (make chaos is the long one)
	$(BIN)/pytest tests/chaos

browser: ## install Debian's chromium for the dashboard's browser tests, when missing
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

# The end-to-end tests scrape Tenaz with a real Prometheus and check the alerting rules with
# its promtool; Debian's package has both (its service is not started in containers).
prometheus: ## install Debian's prometheus (and promtool) for the metrics tests, when missing
	command -v prometheus >/dev/null && command -v promtool >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus)

curl: ## install Debian's curl for the README's plain-HTTP example test, when missing
	command -v curl >/dev/null || (apt-get update -q && apt-get install -y -q curl)

screenshots: $(STAMP) browser ## regenerate docs/images from demo data (PostgreSQL + chromium)
	$(BIN)/python docs/screenshots.py

bench: $(STAMP) ## Tenaz against the naive baseline, side by side; writes docs/benchmarks.md
	$(BIN)/python -m bench

bench-micro: $(STAMP) ## CPU per event of the server's and the workers' own Python, step by step
	$(BIN)/python -m bench.micro

# The chaos run forks the programs it kills while its own gRPC clients run: gRPC's fork
# handlers would only log that they skip themselves.
chaos: $(TEST_STAMP) ## kill servers, workers and PostgreSQL under load; check nothing was lost
	GRPC_ENABLE_FORK_SUPPORT=0 $(BIN)/python -m tests.chaos.chaos

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check server jobs tests bench docs/screenshots.py clients/python/src/tenaz/client.py
	$(BIN)/ruff format --check server jobs tests bench docs/screenshots.py clients/python/src/tenaz/client.py
	$(BIN)/mypy

format: $(STAMP) ## format the code with ruff
	$(BIN)/ruff format server jobs tests bench docs/screenshots.py clients/python/src/tenaz/client.py
	$(BIN)/ruff check --fix server jobs tests bench docs/screenshots.py clients/python/src/tenaz/client.py

clean: ## remove the virtualenv and caches (not the embedded database in .tenaz/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
