# nepflow: the two Quick start commands and a few helpers.
#   make demo   create .venv from requirements.lock, run the offline demo end to end
#   make test   the whole test suite
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

lint: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --lint
