# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run   - Temporal dev server + worker + demo batch (state kept in ./data)
#   make test  - the whole test suite (what .ci/run calls, after make lint)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: run test test-fast lint diagram clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/gongfu run

test: $(VENV)/.installed
	$(PY) -m tools.run_tests

# The pure tests (rules, table, drawing, replay of recorded histories): seconds.
test-fast: $(VENV)/.installed
	$(PY) -m tools.run_tests -q -m pure

# ruff everywhere; mypy strict for domain/ and workflows/ (pyproject.toml).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

diagram: $(VENV)/.installed
	$(VENV)/bin/gongfu diagram --write

clean:
	rm -rf $(VENV) data .pytest_cache
