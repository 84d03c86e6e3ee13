# `make demo` and `make test` set everything up in a local venv, then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test quick timing clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/simve demo

test: $(STAMP)
	$(BIN)/ruff check simve tests scripts
	$(BIN)/python -m pytest -q

quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

timing: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	for script in scripts/time_*.py; do $(BIN)/python $$script || exit 1; done
	$(BIN)/python -m simve timing --data glyphs --out results/timing/glyphs

clean:
	rm -rf $(VENV) simve.egg-info
