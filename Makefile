# Andon's two commands: `make demo` and `make test`. Both create .venv if it is missing and
# install what they need from the package registries only, at the exact versions of
# requirements.lock (pyproject.toml keeps the ranges, for those who install Andon as a library).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
DEMO_DATA ?= var/demo
# The demo hospital's time zone (ANDON_TIME_ZONE: the organisation's): pages show times in it, not in UTC.
DEMO_TIME_ZONE ?= America/Chicago
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-deep install lock browser pdf-libs bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)

# Every package at the version and hash the lock names (a fresh machine installs what CI saw),
# then Andon itself, whose dependencies the lock already holds. uv installs them: on a fresh
# machine it took 41 s where pip took 88 s (docs/benchmarks.md, "The suite's time").
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Upgrading is a deliberate commit: `make lock` resolves pyproject.toml's ranges (with the test
# extra) to the newest releases for Python 3.11 on any platform; run `make test`, then commit
# requirements.lock with what the upgrade needed.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra spark --universal --python-version 3.11 \
	  --generate-hashes --quiet --output-file $(LOCK)

# Browser tests drive Debian's chromium (never a browser download). Install it when missing,
# as root with apt-get; without it the browser tests skip and say why.
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will skip"; \
	  else echo "warning: $(CHROMIUM) missing and not root; browser tests will skip"; fi; \
	fi

# PDF reports (WeasyPrint) need Debian's pango and a font: installed when missing, as root with
# apt-get, like chromium above.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
pdf-libs:
	@if command -v dpkg >/dev/null; then \
	  missing=""; for p in $(PDF_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	        || echo "warning: could not install$$missing; PDF reports will fail"; \
	    else echo "warning:$$missing missing and not root; PDF reports will fail"; fi; \
	  fi; \
	fi

demo: install pdf-libs
	ANDON_DATA_DIR=$(DEMO_DATA) ANDON_DEMO=1 ANDON_DEBUG=1 ANDON_TIME_ZONE=$(DEMO_TIME_ZONE) $(BIN)/andon demo
	@echo "Andon demo on http://127.0.0.1:8000  (Ctrl-C to stop)"
	ANDON_DATA_DIR=$(DEMO_DATA) ANDON_DEMO=1 ANDON_DEBUG=1 ANDON_TIME_ZONE=$(DEMO_TIME_ZONE) $(BIN)/andon serve --host 127.0.0.1 --port 8000 --with-worker

# Tests keep their files (secret key, exports) in their own data directory (one per worker);
# DATABASE_URL picks the database (SQLite by default; .ci/run also runs the suite on PostgreSQL).
# TEST_WORKERS: pytest-xdist processes, one per core by default (0 runs the suite in one process);
# an idle worker takes tests from a busy one (worksteal), so a few long tests do not leave a core idle.
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): pytest
# then keeps the test modules it rewrote for assertions, and every later pytest process, worker
# and subprocess (`andon serve`, Spark's Python workers) reads them instead of compiling again;
# collecting the suite takes 12 s instead of 23 s per worker.
TEST_DATA ?= var/test
TEST_WORKERS ?= auto
TEST_ENV = ANDON_DATA_DIR=$(TEST_DATA) DJANGO_ALLOW_ASYNC_UNSAFE=true PYTHONDONTWRITEBYTECODE=
test: install browser pdf-libs
	$(TEST_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Release checks: the same suite with the property-based and schema fuzzing tests at ten times
# their examples (ANDON_FUZZ_SCALE multiplies each test's own count).
test-deep: install browser pdf-libs
	ANDON_FUZZ_SCALE=10 $(TEST_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Peer engines for the benchmarks: for fhir_views.py each in its own venv under var/bench/peers/<name>/
# (their dependencies, e.g. fhir4ds's duckdb<2, never touch .venv). Versions as in
# shared/docs/PEERS.md. A peer that fails to install is reported, and the benchmark goes on.
PEERS_DIR := var/bench/peers
PEERS := pysof==0.2.6 fhir4ds==0.5.1 sqlonfhir==0.0.2
PEER_EXTRA_fhir4ds := duckdb<2

bench-peers:
	@mkdir -p $(PEERS_DIR)
	@for spec in $(PEERS); do \
	  name=$${spec%%==*}; dir=$(PEERS_DIR)/$$name; stamp=$$dir/.installed-$$spec; \
	  if [ -f $$stamp ]; then continue; fi; \
	  extra=""; [ $$name = fhir4ds ] && extra='$(PEER_EXTRA_fhir4ds)'; \
	  echo "installing peer $$spec into $$dir"; rm -rf $$dir; \
	  if $(PYTHON) -m venv $$dir && $$dir/bin/pip install --quiet "$$spec" $${extra:+"$$extra"}; then \
	    touch $$stamp; else echo "warning: peer $$spec did not install; the benchmark will say so"; fi; \
	done
	@# the reference CQL engine for benchmarks/ecqm.py (cql-execution on Node), pinned by its lock file
	@if [ ! -d benchmarks/ecqm_js/node_modules ]; then \
	  npm ci --silent --prefix benchmarks/ecqm_js || echo "warning: cql-execution did not install; benchmarks/ecqm.py will say so"; fi

bench: install bench-peers
	@if [ -d benchmarks ] && ls benchmarks/*.py >/dev/null 2>&1; then \
	  for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done; \
	else echo "no benchmarks yet"; fi

clean:
	rm -rf $(VENV) var .pytest_cache
