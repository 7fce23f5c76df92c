# Quick start: `make demo` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck pytest demo bench attack emulator clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,emulator]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check target_zoho_crm zoho_crm_emulator tests $(wildcard bench)
	$(BIN)/ruff format --check target_zoho_crm zoho_crm_emulator tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy target_zoho_crm zoho_crm_emulator

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck pytest

DEMO_ARGS ?=
demo: $(STAMP)  # make demo DEMO_ARGS=--keep leaves the emulator running for its inspector page
	$(BIN)/python -m demo.run $(DEMO_ARGS)

BENCH_ARGS ?=
bench: $(STAMP)  # make bench BENCH_ARGS=--quick (or --only cpu,credits)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

ATTACK_ARGS ?=
attack: $(STAMP)  # make attack ATTACK_ARGS='--quick --seed 7' (or --only NAME, --sections bad)
	$(BIN)/python -m attack.run $(ATTACK_ARGS)

emulator: $(STAMP)
	$(BIN)/zoho-crm-emulator --host 127.0.0.1 --port 8765

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info demo/.meltano
