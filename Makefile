# The two commands a new machine needs: `make test` and `make demo`. Both create .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# What mypy checks in `make test` (config in pyproject.toml: strict on the pure cores).
TYPECHECKED := fn_pp_tap_functions customize bench demo sim

.PHONY: test demo bench package export lint typecheck validate clean

$(STAMP): setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

export: $(STAMP)
	$(BIN)/python -m customize.build

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/python -m customize.build --check
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPECHECKED)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

typecheck: $(STAMP)
	$(BIN)/mypy $(TYPECHECKED)

demo: $(STAMP)
	$(BIN)/python -m demo $(if $(SERVE),--serve,)

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.sweep

validate: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/resilient-sdk validate -p . --validate

package: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/resilient-sdk package -p . --validate

clean:
	rm -rf $(VENV) build dist *.egg-info .demo
