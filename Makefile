# Two commands do everything: `make demo` and `make test`. The rest are helpers.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := tests/interop/node_modules/.installed
CHAT_STAMP := examples/chat/node_modules/.installed
E2E_STAMP := tests/e2e/node_modules/.installed
TYPED_STAMP := tests/typed/node_modules/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test test-compiled lint typecheck unit bench soak env node redis clean chromium docs site

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,fast,redis,docs]'
	touch $(STAMP)

$(NODE_STAMP): tests/interop/package.json tests/interop/package-lock.json
	cd tests/interop && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The chat demo's browser client and the Admin UI's built files (npm, never committed).
$(CHAT_STAMP): examples/chat/package.json examples/chat/package-lock.json
	cd examples/chat && npm ci --no-audit --no-fund --loglevel=error
	touch $(CHAT_STAMP)

# playwright-core drives Debian's chromium in the browser tests (no browser download).
$(E2E_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $(E2E_STAMP)

# The AsyncAPI parser and the TypeScript compiler that check the typed-events output.
$(TYPED_STAMP): tests/typed/package.json tests/typed/package-lock.json
	cd tests/typed && npm ci --no-audit --no-fund --loglevel=error
	touch $(TYPED_STAMP)

chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: could not install chromium; the browser tests will not run"

env: $(STAMP) $(NODE_STAMP) $(CHAT_STAMP) $(E2E_STAMP) $(TYPED_STAMP) chromium

redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no

demo: $(STAMP) $(CHAT_STAMP)
	$(BIN)/python -m aiosio demo --host 127.0.0.1 --port 3000

lint: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site (mkdocs.yml): `make docs` serves it on http://127.0.0.1:8000 and
# rebuilds on change; `make site` builds it into build/site. `make test` builds it with
# --strict too (tests/docs/test_site.py: a broken link, include or reference fails).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

site: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Two processes, each test file in one of them (module fixtures are set up once): the
# tests use ports of their own and unique Redis keys, so the halves cannot meet.
test: env redis lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile
	$(MAKE) --no-print-directory test-compiled

# The compiled core (mypyc_build.py: the codecs and the frame parser compiled by mypyc, in
# build/mypyc, recompiled only when their sources change): the sans-I/O tests and a few end
# to end ones (real sockets, the Node client) again, against the compiled modules.
COMPILED_TESTS := tests/test_compiled_core.py tests/websocket/test_frames.py \
  tests/engineio/test_packets.py tests/engineio/test_wire.py tests/socketio/test_packets.py \
  tests/socketio/test_parsers.py tests/serve/test_websocket.py tests/interop/sio/test_sio_events.py
test-compiled: $(STAMP)
	$(BIN)/python mypyc_build.py build/mypyc
	AIOSIO_COMPILED_DIR=build/mypyc PYTHONPATH=build/mypyc \
	  $(BIN)/python -m pytest -q -p no:cacheprovider $(COMPILED_TESTS)

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,fast,redis,bench]'
	touch $(BENCH_STAMP)

# By hand only, never in CI: every scenario against Node and python-socketio, one core each.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/pip install -q -e '.[webtransport]' && $(BIN)/python -m benchmarks.webtransport
	$(BIN)/python -m benchmarks.presence_history
	$(BIN)/python -m benchmarks.compat
	$(BIN)/python -m benchmarks.http_apps
	$(BIN)/python -m benchmarks.asgi_instructions
	$(BIN)/python -m benchmarks.typed
	$(BIN)/python -m benchmarks.flood
	$(BIN)/python -m benchmarks.cluster_backends

soak: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.soak

clean:
	rm -rf $(VENV) tests/interop/node_modules examples/chat/node_modules tests/e2e/node_modules \
	  benchmarks/node_modules tests/typed/node_modules
