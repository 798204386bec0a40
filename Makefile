# The workbench's entry points. A newcomer needs two: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DB := data/workbench.db
export MPLBACKEND ?= Agg

.DEFAULT_GOAL := help
.PHONY: help install run test lab sample bench lock clean approve-visual

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade uv

# Installs the locked dependency set, then the package itself (editable). Re-runs only when the lock or pyproject change.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(PY) requirements.lock
	$(BIN)/uv pip install --quiet --python $(PY) --no-deps -e .
	$(PY) -m compileall -q analytics_lib
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	touch $@

install: $(VENV)/.installed ## create .venv and install the package with its locked dependencies

$(DB): | $(VENV)/.installed
	$(BIN)/workbench sample --into sqlite:///$(DB)

sample: $(DB) ## create the sample database data/workbench.db if missing

run: $(VENV)/.installed $(DB) ## set up, then run every scheduled job once on the sample database (reports/)
	$(BIN)/workbench jobs --store sqlite:///$(DB) run --all

test: $(VENV)/.installed ## set up, then run the whole test suite
	$(PY) scripts/ensure_system_deps.py
	$(BIN)/pytest

# After an intended change of how a dashboard or a report PDF looks: re-take the pictures the visual
# tests compare with (tests/visual/*.png), then look at them and commit them (tests/visual_regression.py).
approve-visual: $(VENV)/.installed ## re-approve the visual tests' images after an intended change of the look
	$(PY) scripts/ensure_system_deps.py
	WORKBENCH_APPROVE_VISUAL=1 $(BIN)/pytest -p no:cacheprovider -q tests/dashboards/test_visual.py tests/report/test_pdf_visual.py

# As root (a container), JupyterLab refuses to start without --allow-root.
lab: $(VENV)/.installed $(DB) ## open JupyterLab with the project's kernel
	$(BIN)/jupyter lab notebooks/ $$(test "$$(id -u)" = 0 && echo --allow-root)

# Every benchmarks/bench_*.py with --json; writes benchmarks/results/bench.json (all figures) and bench.txt (the table).
bench: $(VENV)/.installed $(DB) ## run every benchmark (not part of the tests): benchmarks/results/bench.{json,txt}
	$(PY) scripts/ensure_system_deps.py
	$(PY) benchmarks/run_all.py

lock: | $(BIN)/uv ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 -o requirements.lock

clean: ## remove the venv, generated data and reports
	rm -rf $(VENV) $(DB) reports/*/ .pytest_cache
