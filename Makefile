# The two set-up commands of the README: `make demo` (main job) and `make test` (test suite).
# Both create the virtual environment .venv on first use (pip takes torch from local disk).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: install demo test lint bench

$(BIN)/.installed: pyproject.toml
	@echo "make: creating $(VENV) and installing infogauss with torch, timm, open_clip, transformers (about 2-4 minutes, 6 GB; once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on --disable-pip-version-check -e '.[offline,test]'
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
