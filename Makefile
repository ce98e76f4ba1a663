# nepflow: the two Quick start commands and a few helpers.
#   make demo   create .venv from requirements.lock, run the offline demo end to end
#   make test   the whole test suite
#   make lint   snakemake --lint, snakefmt, ruff check and ruff format --check, duplicates
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= 2
BIN = $(VENV)/bin

.PHONY: demo test lint clean-demo

$(BIN)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $@

demo: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --cores $(CORES)
	@echo
	@echo "Done. Results: results/demo/ (carbon/, analysis/, tables/summary.md, figures/)"

test: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest

# What a reviewer runs: Snakemake's linter, snakefmt and ruff (settings in pyproject.toml), and
# `duplicates` (repeated code) where it is installed. Runs them all; fails if one of the first four does.
lint: $(BIN)/.installed
	@status=0; export PATH="$(abspath $(BIN)):$$PATH"; \
	echo "== snakemake --lint"; snakemake --lint || status=1; \
	echo "== snakefmt --check"; snakefmt --check Snakefile rules || status=1; \
	echo "== ruff check"; ruff check . || status=1; \
	echo "== ruff format --check"; ruff format --check . || status=1; \
	if command -v duplicates >/dev/null; then echo "== duplicates"; duplicates; \
	else echo "== duplicates: not on PATH, skipped"; fi; \
	exit $$status
