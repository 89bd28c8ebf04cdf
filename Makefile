# Socket Lab: `make run` for the dashboard, `make test` for the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.run-deps: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements.txt requirements-test.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) -m webapp --host $(HOST) --port $(PORT)

test: $(VENV)/.test-deps
	node --test tests/js/
	$(PY) -m ruff check lab webapp agent bench tests
	$(PY) -m mypy --strict lab webapp agent
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-deps
	$(PY) -m ruff check lab webapp agent bench tests
	$(PY) -m mypy --strict lab webapp agent

bench: $(VENV)/.test-deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache lab-downloads
