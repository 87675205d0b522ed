# Everything a fresh machine needs is installed by these targets: a virtualenv in .venv with
# the package and its test tools, and the test OpenID Provider's npm packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OP_STAMP := tests/op/node_modules/.installed-stamp

.PHONY: demo test install lint types docs tox check clean bench bench-quick

# Ports 8000 (site) and 8001 (provider); others: DEMO_SITE_PORT=8010 DEMO_IDP_PORT=8011 make demo
demo: $(STAMP)  ## Run the example site with its development identity provider
	$(BIN)/python example_project/run_demo.py

test: $(STAMP) $(OP_STAMP)  ## Run the whole test suite
	$(BIN)/pytest

install: $(STAMP) $(OP_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,lint,docs,demo,browser,services,drf]" "tox>=4"
	touch $@

$(OP_STAMP): tests/op/package-lock.json
	cd tests/op && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .

types: $(STAMP)  ## mypy with django-stubs
	$(BIN)/mypy django_idp_logout

docs: $(STAMP)  ## Sphinx, warnings are errors
	$(BIN)/sphinx-build -W -q -b html docs docs/_build/html

tox: $(STAMP) $(OP_STAMP)  ## The Django x Python matrix (TOXENV=... to pick)
	$(BIN)/tox

bench: $(STAMP) $(OP_STAMP)  ## Benchmarks, full counts; rewrites docs/performance.md
	$(BIN)/python -m benchmarks.run --profile

bench-quick: $(STAMP) $(OP_STAMP)  ## Benchmarks with tiny counts (CI: proves they run)
	$(BIN)/python -m benchmarks.run --quick

check: lint types docs test

clean:
	rm -rf $(VENV) .tox docs/_build tests/op/node_modules
