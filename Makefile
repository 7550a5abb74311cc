# Trackside: the two commands a new user needs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench lint screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -x -p no:cacheprovider

demo: $(STAMP)
	$(BIN)/trackside demo

bench: $(STAMP)
	for f in bench/*_bench.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

# The README's screenshots: the browser tests write them to artifacts/screenshots.
screenshots:
	cp artifacts/screenshots/*.png docs/img/

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
