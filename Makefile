# make demo / make test work on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench check clean screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/haihai-tui demo

test: $(STAMP)
	$(PY) -m pytest -q

check: $(STAMP)
	$(VENV)/bin/haihai-tui check

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

screenshots: $(STAMP)
	$(PY) docs/make_screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
