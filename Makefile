# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run   - Temporal dev server + worker + demo batch (state kept in ./data)
#   make test  - the whole test suite (what .ci/run calls, after make lint)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: run test test-fast lint diagram clean browser

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/gongfu run

test: $(VENV)/.installed browser
	$(PY) -m tools.run_tests

# Debian's chromium and CJK fonts for the console's browser tests (Playwright drives it
# with executable_path; its own browser download is never used). Best effort, as root:
# without them the browser tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium fonts-noto-cjk) >/dev/null 2>&1 \
	      || echo "note: could not install chromium; the browser tests will skip"; \
	  else echo "note: no chromium (apt-get install chromium fonts-noto-cjk as root);" \
	    "the browser tests will skip"; fi; \
	fi

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
