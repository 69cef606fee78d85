# The two commands of the README: `make demo` and `make test`. Each bootstraps
# the virtual environment from the lock file when it is missing or stale.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast test-containers lint bench lock clean system-deps

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (roadtest needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## system-deps: Debian packages the test suite runs against (PostgreSQL server, Java for Spark)
system-deps:
	@bash scripts/install_system_deps.sh

## demo: simulate a plant and run it through the platform on the embedded defaults
demo: $(STAMP)
	$(BIN)/roadtest demo

## test: the whole suite (unit, integration against real DuckDB/PostgreSQL/SeaweedFS/Spark)
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -m "" -q
	$(MAKE) test-containers

## test-containers: build the base and all images, run the compose stack's smoke scenario
test-containers: $(STAMP)
	bash scripts/container_stage.sh

## test-fast: everything but the slow tests
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## lock: re-resolve the pinned lock file from pyproject.toml (run after changing dependencies);
## the current pins are kept where they still fit (UNPIN="pkg1|pkg2" frees some, or delete the lock).
## The lock pins the base and every extra: the developer install and each image take their pins from it.
UNPIN ?= ^$$
ALL_EXTRAS = $(shell $(PYTHON) -c "import tomllib; print(','.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']))")
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	touch requirements.lock && grep -Ev '^($(UNPIN))==' requirements.lock > .lockenv/constraints.txt || true
	.lockenv/bin/python -m pip install --quiet -c .lockenv/constraints.txt ".[$(ALL_EXTRAS)]"
	.lockenv/bin/python -m pip freeze --exclude roadtest | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
