# netrosetta: `make run` launches a server, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IMPL ?= raw
BEHAVIOUR ?= urlecho
ARGS ?=
# Workers for the suite: most tests wait on sockets, so more workers than cores pays off.
JOBS ?= 4

.PHONY: run test test-full lint conformance bench bench-readme bench-tools compare mutants clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/netrosetta serve $(IMPL) $(BEHAVIOUR) $(ARGS)

# The compare pages' browser test (tests/test_compare.py) needs Debian's chromium; CI runs as root.
.PHONY: browser
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# tests/test_bring_your_own.py runs the README's Node.js example server.
.PHONY: node
node:
	command -v node >/dev/null || (apt-get update && apt-get install -y nodejs) || echo "no node: tests/test_bring_your_own.py is skipped"

test: $(STAMP) browser bench-tools node
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(JOBS) -q

# The bench test builds loadgen.c and drives wrk; without root the bench falls back to its own client.
bench-tools:
	command -v cc >/dev/null || (apt-get update && apt-get install -y gcc) || echo "no C compiler: tests/test_bench.py will fail"
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk) || echo "wrk not installed: the bench uses its own client"

# Every clause under every --loop and model (make test runs the smoke subset for the extra loops).
test-full: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q --full

lint: $(STAMP)
	$(BIN)/ruff check .

conformance: $(STAMP)
	$(BIN)/netrosetta conformance $(ARGS)

bench: $(STAMP)
	$(BIN)/netrosetta bench $(ARGS)

# The fetch client against nginx, with wrk, Node.js fetch and aiohttp on uvloop beside it (about 10 minutes).
bench-fetch: $(STAMP) bench-tools
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	command -v nginx >/dev/null || (apt-get update && apt-get install -y nginx-light)
	$(BIN)/python -m netrosetta.bench.fetch $(ARGS)

# After a full `make bench`: its summary joins every earlier one in docs/bench/runs/ (history.md lists
# them), its JSON, tables and charts go to docs/bench as the latest, and README.md shows the targets
# over the last five runs beside the latest run's tables.
bench-readme: $(STAMP)
	$(BIN)/python -m netrosetta.bench.report bench-results

# Plant each bug of tests/mutants/catalogue.py in a copy of the tree and see whether the suite
# catches it (slow: about half a minute a mutant); the report goes to docs/mutants.md. An interrupted
# run goes on where it stopped with ARGS=--resume.
mutants: $(STAMP)
	$(BIN)/python tests/mutants/run.py $(ARGS)

compare: $(STAMP)
	$(BIN)/netrosetta compare --all $(ARGS)

# The README's picture (docs/compare.png): the urlecho page, built in a temporary directory with the
# matrix of the last `make conformance` (conformance-results/), without its Benchmark card,
# taken with headless Chromium.
.PHONY: screenshot
screenshot: $(STAMP) browser
	$(BIN)/netrosetta compare urlecho --screenshot docs/compare.png --window-size 1600,2400 $(ARGS)

# What each framework does for SPEC section U by itself: the U clauses against each framework's URL echo
# with its hardening off and on, recorded in docs/hardening/ (table.json, table.md) for the urlecho page.
.PHONY: hardening
hardening: $(STAMP)
	$(BIN)/python -m netrosetta.hardening $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache bench-results conformance-results compare-results
