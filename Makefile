# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run   - Temporal dev server + worker + demo batch (state kept in ./data)
#   make test  - the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: run test lint diagram clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/gongfu run

test: $(VENV)/.installed
	$(PY) -m tools.run_tests

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

diagram: $(VENV)/.installed
	$(VENV)/bin/gongfu diagram --write

clean:
	rm -rf $(VENV) data .pytest_cache
