# Socket Lab: `make run` for the dashboard, `make test` for the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run class test lint bench bench-quick screenshots clean

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

# A class: the dashboard on the LAN (links with tokens printed), lesson servers students' own programs
# reach, and the wire lessons in a sandbox beside them (webapp/__init__.py _for_a_class).
class: $(VENV)/.run-deps
	$(PY) -m webapp --class --port $(PORT)

test: $(VENV)/.test-deps
	node --test tests/js/
	$(PY) -m ruff check lab webapp agent bench tests
	$(PY) -m mypy --strict lab webapp agent
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-deps
	$(PY) -m ruff check lab webapp agent bench tests
	$(PY) -m mypy --strict lab webapp agent

# The docs' pictures: the browser tests that take them, writing into docs/img/ (tests alone write to /tmp).
screenshots: $(VENV)/.test-deps
	SOCKETLAB_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/browser/test_lessons.py tests/browser/test_wire.py \
		tests/browser/test_traced_programs.py tests/browser/test_screenshots.py tests/browser/test_projector.py \
		tests/browser/test_projector_layout.py tests/browser/test_lessons_on_screen.py tests/browser/test_a11y_views.py tests/browser/test_board.py \
		-p no:cacheprovider

bench: $(VENV)/.test-deps
	$(PY) -m bench

# Every row with fewer, shorter rounds: minutes, to see that all run (its figures are not the ones to publish).
bench-quick: $(VENV)/.test-deps
	SOCKETLAB_BENCH_QUICK=1 $(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache lab-downloads
