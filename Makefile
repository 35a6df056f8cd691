# bacnet-pipeline — the two commands a new user needs are `make run` and `make test`.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-base
STAMP_DEV := $(VENV)/.stamp-dev

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): requirements/base.txt setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(STAMP_DEV): $(STAMP_RUN) requirements/dev.txt
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

## run: the embedded default — web + worker + scheduler on SQLite, with 3 simulated devices.
run: $(STAMP_RUN)
	$(BIN)/bacnet-pipeline all-in-one --simulate 3

## test: the whole suite (PostgreSQL and Redis on 127.0.0.1 are used when present).
test: $(STAMP_DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/flake8 app workers bacnet scheduler tests bench

clean:
	rm -rf $(VENV) build dist *.egg-info
