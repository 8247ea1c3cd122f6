# xunfang: `make demo` and `make test` each create .venv when missing, install, and run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The real data. Override with `make demo XUNFANG_DATA_DIR=/path/to/data`.
XUNFANG_DATA_DIR ?= $(abspath ../shared/data)
export XUNFANG_DATA_DIR

.PHONY: venv demo test lint bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Debian's Chromium drives the console's browser test (never a downloaded browser build).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package) for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and cannot install it here: the browser test will be skipped"; fi; }

demo: venv
	$(BIN)/xunfang plan --area "district:1" --booths 27 --threshold-min 3 --target 3min:95% --out out/demo

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint system-deps
	$(BIN)/python -m pytest -q

bench: venv
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
