# Two commands on a fresh clone, each creating (or reusing) the virtual environment .venv:
#   make demo   train the default model and read num-draft/ (MNIST_DATA=<folder> uses a copy
#               of MNIST holding MNIST/raw/; without it MNIST is downloaded to ./MNIST_data)
#   make test   ruff and the whole test suite (what .ci/run runs)
PYTHON ?= python3
VENV ?= .venv
MNIST_DATA ?= MNIST_data
BIN := $(VENV)/bin

.PHONY: demo test

demo: $(VENV)/.installed-app
	$(BIN)/mnist-train --data-dir "$(MNIST_DATA)"
	$(BIN)/mnist-recognize num-draft/*.png --grid num-draft-grid.png
	@echo "The grid of what was read: num-draft-grid.png"

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[$*]"
	touch $@
