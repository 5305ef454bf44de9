# The two set-up commands of the README: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment .venv on first use (pip takes torch from local disk).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: install demo test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[offline,test]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/infogauss demo --out build/demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/stats.py
