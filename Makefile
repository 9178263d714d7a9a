# Two set-up commands for a fresh machine with only Python 3.11 and pip:
#   make demo   creates .venv, installs posture, audits the bundled demo instance
#   make test   creates .venv, installs posture with test extras, runs ruff and pytest
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install clean bench

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/posture demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

# Crawl benchmark (about 30 minutes; docs/performance.md). Not part of `make test`.
#   make bench BENCH_ARGS=--quick        one-minute smoke
#   make bench BENCH_ARGS=--markdown     tables to paste into docs/performance.md
bench: $(STAMP)
	$(BIN)/python -m bench.crawl $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
