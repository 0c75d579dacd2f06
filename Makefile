# The README's commands. Each target creates the virtual environment when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= .demo

.PHONY: demo test lint format bench install install-dev install-bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# The Spark tests run in `make test`, so the development install carries the spark extra.
install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,spark]'

install-bench: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,spark,bench]'

demo: install
	$(BIN)/creditmesh simulate --borrowers 20000 --months 24 --seed 7 --out $(DEMO_DIR) --overwrite
	$(BIN)/creditmesh metrics $(DEMO_DIR) --compare-seeds
	$(BIN)/creditmesh model dataset $(DEMO_DIR) --out $(DEMO_DIR)/model/applications.parquet
	$(BIN)/creditmesh model train --data $(DEMO_DIR)/model/applications.parquet --target bad_12m --where approved --kind gbm --out $(DEMO_DIR)/model/gbm
	$(BIN)/creditmesh model evaluate $(DEMO_DIR)/model/gbm --data $(DEMO_DIR)/model/applications.parquet --target bad_12m --report $(DEMO_DIR)/model/report.html
	$(BIN)/creditmesh graph build $(DEMO_DIR) --out $(DEMO_DIR)/graph
	$(BIN)/creditmesh graph rings --data $(DEMO_DIR) --graph $(DEMO_DIR)/graph
	$(BIN)/creditmesh match allocate $(DEMO_DIR) --partners $(DEMO_DIR) --month 2024-12 --capacity volume --out $(DEMO_DIR)/allocations_2024-12.parquet
	$(BIN)/creditmesh report $(DEMO_DIR) --quarter 2024Q4 --out $(DEMO_DIR)/report_2024Q4.html
	$(BIN)/creditmesh finance abs --cutoff 2024-12-31 --data $(DEMO_DIR)
	$(BIN)/creditmesh finance capital --as-of 2024-12-31 --data $(DEMO_DIR)
	$(BIN)/creditmesh ledger load $(DEMO_DIR) --db sqlite:///$(DEMO_DIR)/ledger.db
	$(BIN)/creditmesh collections queue 2024-12-31 --db sqlite:///$(DEMO_DIR)/ledger.db --limit 10
	$(BIN)/creditmesh collections backtest --borrowers 8000 --seed 7
	$(BIN)/creditmesh policy backtest src/creditmesh/decision/policies/champion.yaml --applications $(DEMO_DIR)/model/applications.parquet --model $(DEMO_DIR)/model/gbm --chart $(DEMO_DIR)/backtest.png
	rm -f $(DEMO_DIR)/service.db*
	$(BIN)/python -m creditmesh.api.demo --model $(DEMO_DIR)/model/gbm --partners $(DEMO_DIR)/institutions.parquet --db $(DEMO_DIR)/service.db

# Two workers (this project's machines have two cores), a test file to a worker at a time so that a file's
# module fixtures are built once: 1,086 s on one process, 781 s on two (session 13).
test: install-dev lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-bench
	@set -e; for script in $(filter-out benchmarks/results.py,$(wildcard benchmarks/[!_]*.py)); do \
	  echo "== $$script"; $(BIN)/python $$script; \
	done
	$(BIN)/python benchmarks/results.py

clean:
	rm -rf $(DEMO_DIR) build dist src/*.egg-info .pytest_cache
