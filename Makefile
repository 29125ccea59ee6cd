# The two commands a fresh clone needs: `make demo` and `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_ARGS ?=
PYTEST_ARGS ?=
# When this make started: the install step is timed from here, so `make demo` can report it.
MAKE_STARTED := $(shell date +%s)

.PHONY: install demo test test-clock lint validator java postgres bench clean browser faketime

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[test]'
	echo "$$(( $$(date +%s) - $(MAKE_STARTED) )) $(MAKE_STARTED)" > $(STAMP)

install: $(STAMP)

# The stamp holds "<install seconds> <start of the make that installed>": the seconds count only
# when that make is this one; an install found up to date is reported as 0.
demo: install
	$(BIN)/costcouncil demo $(DEMO_DIR) $(DEMO_ARGS) --install-seconds \
		"$$(awk -v now=$(MAKE_STARTED) '{ s = ($$2 == now) ? $$1 : 0 } END { print s + 0 }' $(STAMP))"

validator:
	bash scripts/validator-venv.sh

java:
	bash scripts/java.sh

postgres:
	bash scripts/postgres.sh

browser:
	bash scripts/browser.sh

faketime:
	bash scripts/faketime.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check costcouncil
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install validator java browser postgres faketime lint
	COSTCOUNCIL_TEST_POSTGRES_URL="$$(cat .pg/url)" $(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The whole suite with the wall clock of every Python process moved (docs/testing.md):
# CLOCK=+365d (days ahead) or a UTC moment, e.g. CLOCK='2027-01-31 23:30:00'.
CLOCK ?= +365d
test-clock: install validator java browser postgres faketime
	COSTCOUNCIL_TEST_CLOCK='$(CLOCK)' PYTHONPATH="$(CURDIR)/tests/moved_clock" \
	COSTCOUNCIL_TEST_POSTGRES_URL="$$(cat .pg/url)" $(BIN)/pytest -n 2 $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/attribution.py
	$(BIN)/python benchmarks/events.py
	$(BIN)/python benchmarks/api.py --rows 2000000
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/anomalies.py
	$(BIN)/python benchmarks/monitoring.py
	$(BIN)/python benchmarks/runaway.py
	$(BIN)/python benchmarks/budgets.py
	$(BIN)/python benchmarks/policies.py

clean:
	rm -rf $(VENV) .venv-validator $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
