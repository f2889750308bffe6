# The two commands of the README (demo, test) plus bench. Each target sets up .venv itself:
# `make demo` installs the core and matplotlib (the `report` extra: the main job draws
# the report's figures), `make test` the test and lint tools as well (the `dev` extra).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_STAMP := $(VENV)/.installed-demo-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: demo test venv lint typecheck imports unit browser test-slow bench clean

define install
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing dpcsim$(1) into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install -e '.$(1)' \
		> $(VENV)/pip.log 2>&1 || (tail -n 40 $(VENV)/pip.log; exit 1)
endef

$(DEMO_STAMP): pyproject.toml
	$(call install,[report])
	@rm -f $(VENV)/.installed-demo-*
	@touch $(DEMO_STAMP)

$(TEST_STAMP): pyproject.toml
	$(call install,[dev])
	@rm -f $(VENV)/.installed-test-* $(VENV)/.installed-demo-*
	@touch $(TEST_STAMP) $(DEMO_STAMP)

venv: $(TEST_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/dpcsim plan --out reports/demo --force

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

imports: $(TEST_STAMP)
	$(BIN)/lint-imports

# The report's browser test drives Debian's chromium through Playwright
# (Playwright's own browser download is not used). Installed when missing and
# running as root (as CI does); otherwise the command to run is printed and the
# browser test is skipped.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the report's browser test (log: /tmp/dpcsim-apt.log)"; \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends chromium) > /tmp/dpcsim-apt.log 2>&1 \
			|| (tail -n 20 /tmp/dpcsim-apt.log; exit 1); \
	else \
		echo "the report's browser test needs $(CHROMIUM): run" \
			"'sudo apt-get install chromium' (the test is skipped until then)"; \
	fi

unit: $(TEST_STAMP) browser
	$(BIN)/python -m pytest -q

test: lint typecheck imports unit

test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
