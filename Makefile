# The two commands of the README (demo, test) plus bench. Each target sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck unit browser test-slow bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing dpcsim and its dependencies into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install -e '.[dev,notebooks,distributed,aws]' \
		> $(VENV)/pip.log 2>&1 || (tail -n 40 $(VENV)/pip.log; exit 1)
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/dpcsim demo --out reports/demo --force

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

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

unit: $(STAMP) browser
	$(BIN)/python -m pytest -q

test: lint typecheck unit

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
