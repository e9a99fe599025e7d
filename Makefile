# The same commands for users, developers and CI. Everything runs from .venv,
# which `make` creates and fills on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := examples/demo-cluster
DEMO_INTENT := examples/intent/intent.yaml
DEMO_PORT ?= 9873
DEMO_STATE ?= demo-out
BENCH_OUT ?= benchmarks/results

.PHONY: help venv system-deps tools lint typecheck layers unit test demo demo-report bench image chart-docs chart-check clean protos dashboards docs

help:
	@echo "make demo   - scan the bundled demo cluster, then serve its metrics (Ctrl-C stops)"
	@echo "make test   - lint, type-check, layering contracts, then the test suite"
	@echo "make bench  - benchmarks; JSON results in $(BENCH_OUT)/"
	@echo "make image  - build the container image with buildah (offline, on an mmdebstrap base)"
	@echo "make demo-report - seed a quarter of demo history and render its PDF report"

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash .ci/system-deps

# helm, pinned and checksummed, into .tools/ (deploy/tools/install-helm.sh).
tools:
	@bash deploy/tools/install-helm.sh >/dev/null

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

layers: venv
	$(BIN)/lint-imports

unit: venv system-deps tools
	$(BIN)/pytest

test: lint typecheck layers unit

# A quarter of seeded history (drift, an outage, Hubble denials) and its auditor report.
demo-report: venv
	@mkdir -p $(DEMO_STATE)
	@q=$$($(BIN)/python examples/demo_history.py sqlite:///$(DEMO_STATE)/quarter.db | tail -1) && \
	  $(BIN)/netfence report --store sqlite:///$(DEMO_STATE)/quarter.db --period $$q \
	    --controls examples/report-controls.yaml -o $(DEMO_STATE)/report-$$q.pdf

demo: venv demo-report
	$(BIN)/netfence scan --manifests $(DEMO_DIR) --intent $(DEMO_INTENT) -o table; rc=$$?; \
	  if [ $$rc -eq 2 ]; then exit 2; fi; \
	  echo; echo "exit code $$rc (1 = findings at or above --fail-on, as expected for the demo's broken namespaces)"
	@echo; echo "Starting netfence serve on the demo cluster: metrics at http://127.0.0.1:$(DEMO_PORT)/metrics (Ctrl-C stops);"
	@echo "Hubble traffic keeps flowing; a burst of denied connections in payments starts after $${DEMO_BURST_AFTER:-90}s"
	$(BIN)/python examples/demo.py --listen 127.0.0.1:$(DEMO_PORT) --state $(DEMO_STATE) --intent $(DEMO_INTENT) \
	  --scan-interval 1m || test $$? -eq 130

bench: venv
	$(BIN)/python -m benchmarks.run --out $(BENCH_OUT)
	$(BIN)/python -m benchmarks.run --out $(BENCH_OUT) --sizes connectivity-2k \
	  --connectivity-sizes connectivity-2k --stages connectivity
	$(BIN)/python -m benchmarks.mixed
	$(BIN)/python -m benchmarks.service_bench --out $(BENCH_OUT)
	$(BIN)/python -m benchmarks.scrape_bench --out $(BENCH_OUT)
	$(BIN)/python -m benchmarks.hubble_bench --out $(BENCH_OUT)
	$(BIN)/python -m benchmarks.report_bench --out $(BENCH_OUT)
	$(BIN)/python -m benchmarks.history_bench --out $(BENCH_OUT)
	$(BIN)/python -m benchmarks.diff_bench --out $(BENCH_OUT)

# Regenerate the committed dashboards/*.json from dashboards/generate.py (a test fails
# when they disagree).
dashboards: venv
	$(BIN)/python dashboards/generate.py

# Rewrite the program output the docs quote (blocks between `<!-- netfence:begin NAME -->`
# markers) from the program itself (docs/generate.py; tests/docs/ fails when they differ).
docs: venv
	$(BIN)/python docs/generate.py

# Regenerate the committed Hubble gRPC/protobuf stubs from exporter/sources/hubble/proto/.
protos: venv
	PYTHON=$(BIN)/python exporter/sources/hubble/regenerate_protos.sh

# The image as CI builds it: buildah, no daemon, no network in the build; prints its size.
# IMAGE=name:tag to tag it otherwise; deploy/image/buildah.sh ARGS reaches its storage
# (e.g. `deploy/image/buildah.sh push IMAGE docker://REGISTRY/netfence:TAG`).
image: venv system-deps
	PYTHON=$(BIN)/python deploy/image/build.sh

# The chart's README.md from its values.yaml (a test checks they agree).
chart-docs: venv
	$(BIN)/python deploy/chart_docs.py

# The chart as helm renders it, scanned by netfence: its namespace is default-deny.
chart-check: venv tools
	$$(bash deploy/tools/install-helm.sh) template nf deploy/netfence --namespace netfence > .chart-rendered.yaml
	$(BIN)/netfence scan --manifests .chart-rendered.yaml --fail-on never -o table
	rm -f .chart-rendered.yaml

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .tools .cache
