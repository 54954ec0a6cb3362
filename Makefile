# The two commands a new machine needs: `make test` and `make demo`. Both create .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# What mypy checks in `make test` (config in pyproject.toml: strict on the pure cores).
TYPECHECKED := fn_pp_tap_functions customize bench demo sim

# App Host: the registry and namespace the app's image is pushed to (`make package REPOSITORY=quay.io/mysoc`);
# the app zip names <REPOSITORY>/fn_pp_tap_functions:<version>, which you build from the Dockerfile and push there.
REPOSITORY ?=
# pytest processes for `make test` (pytest-xdist; each test file runs whole in one of them, every port is
# the OS's choice, so they never collide). The end-to-end tests mostly wait on the runtime: 2 halve the time.
TEST_WORKERS ?= 2
VERSION := $(shell sed -n 's/^ *version="\(.*\)",$$/\1/p' setup.py)
IMAGE = $(REPOSITORY)/fn_pp_tap_functions:$(VERSION)

.PHONY: test demo bench package sdist export lint typecheck validate clean

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
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

typecheck: $(STAMP)
	$(BIN)/mypy $(TYPECHECKED)

demo: $(STAMP)
	$(BIN)/python -m demo $(if $(SERVE),--serve,)

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.sweep
	$(BIN)/python -m bench.stream

validate: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/resilient-sdk validate -p . --validate

sdist: $(STAMP)
	$(BIN)/python -m build --sdist --outdir dist .

package: validate
	@test -n "$(REPOSITORY)" || { echo "make package REPOSITORY=<registry/namespace>: the App Host zip names the image" \
		"<REPOSITORY>/fn_pp_tap_functions:$(VERSION), which you build from the Dockerfile and push there" \
		"(README: Install on App Host)."; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/resilient-sdk package -p . --repository-name $(REPOSITORY)
	@echo "Next: docker build -t $(IMAGE) . && docker push $(IMAGE); then import" \
		"dist/app-fn_pp_tap_functions-$(VERSION).zip into App Host (README: Install on App Host)."

clean:
	rm -rf $(VENV) build dist *.egg-info .demo
