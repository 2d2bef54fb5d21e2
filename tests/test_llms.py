"""The chat-model factory, and the generative chain through a real OpenAI-compatible server.

The server is llama-cpp-python's own (``python -m llama_cpp.server``) with the local Qwen2.5
model, started on 127.0.0.1 and stopped after; LangChain's ``ChatOpenAI`` talks to it exactly as
it would to vLLM or OpenAI. A server that never answers and a closed port show the fallback.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import clear_chroma_cache, free_port, server_process
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from core.config import Settings
from core.errors import ConfigError, LLMUnavailable
from core.llms import LLM_PROVIDERS, LlamaCppChatModel, make_chat_model
from core.types import Answer
from retrieval.pipeline import LLM_UNAVAILABLE_NOTICE, Pipeline

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QUESTION = "Hur mycket länsgemensamma medel hade Dalarna totalt inom överenskommelsen 2024?"


def local_model_path() -> Path:
    """The GGUF model `make llm` assembles; fails the test (never skips) when it is missing."""
    cache = Path(os.environ.get("UNDERLAG_CACHE", "~/.cache/underlag")).expanduser()
    path = cache / "models" / MODEL_FILENAME
    if not path.is_file():
        pytest.fail(f"The local model {path} is missing: run `make llm` (make test does).")
    return path


def settings_for(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- the factory --------------------------------------------------------------------------


def test_no_provider_means_no_model() -> None:
    assert make_chat_model(settings_for()) is None
    assert make_chat_model(settings_for(llm_provider="")) is None


def test_an_unknown_provider_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        make_chat_model(settings_for(llm_provider="gpt-magic"))
    message = str(caught.value)
    assert "gpt-magic" in message
    for name in LLM_PROVIDERS:
        assert name in message
    assert sorted(LLM_PROVIDERS) == ["llamacpp", "ollama", "openai"]


def test_openai_compatible_takes_url_model_key_timeout_and_retries() -> None:
    model = make_chat_model(
        settings_for(
            llm_provider="openai",
            llm_base_url="http://127.0.0.1:9/v1",
            llm_model="qwen",
            llm_api_key=SecretStr("hemlig"),
            llm_timeout_s=7.5,
            llm_max_retries=3,
            llm_max_tokens=99,
        )
    )
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "qwen"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == "hemlig"
    assert model.request_timeout == 7.5
    assert model.max_retries == 3
    assert model.max_tokens == 99
    assert model.temperature == 0.0


def test_openai_compatible_needs_a_model_name() -> None:
    with pytest.raises(ConfigError, match="UNDERLAG_LLM_MODEL"):
        make_chat_model(settings_for(llm_provider="openai", llm_base_url="http://x/v1"))


def test_ollama_takes_url_model_and_limits() -> None:
    model = make_chat_model(
        settings_for(
            llm_provider="ollama",
            llm_base_url="http://127.0.0.1:11434",
            llm_model="qwen2.5:1.5b",
            llm_max_tokens=50,
            llm_n_ctx=2048,
            llm_timeout_s=3,
        )
    )
    assert isinstance(model, ChatOllama)
    assert model.model == "qwen2.5:1.5b"
    assert model.base_url == "http://127.0.0.1:11434"
    assert model.num_predict == 50
    assert model.num_ctx == 2048
    assert model.sync_client_kwargs is not None
    assert model.sync_client_kwargs["timeout"] == 3


def test_llamacpp_needs_an_existing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="UNDERLAG_LLM_MODEL_PATH"):
        make_chat_model(settings_for(llm_provider="llamacpp"))
    with pytest.raises(ConfigError, match="make llm"):
        make_chat_model(
            settings_for(llm_provider="llamacpp", llm_model_path=tmp_path / "saknas.gguf")
        )


def test_llamacpp_loads_only_on_first_use(tmp_path: Path) -> None:
    broken = tmp_path / "trasig.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    model = make_chat_model(settings_for(llm_provider="llamacpp", llm_model_path=broken))
    assert isinstance(model, LlamaCppChatModel)  # built without reading the weights
    with pytest.raises(LLMUnavailable, match="Kan inte ladda"):
        model.invoke("Hej")


# --- a real OpenAI-compatible server ------------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the local model; yields its /v1 URL."""
    model = local_model_path()
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
        "--n_threads", "2",
        "--model_alias", "qwen",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with server_process(command, log, f"{url}/models", name="llama_cpp.server", timeout=180):
        yield url


@pytest.fixture
def small_settings(ingested_settings: Settings) -> Iterator[Settings]:
    yield ingested_settings.model_copy(update={"context_chars": 1500, "llm_max_tokens": 120})
    clear_chroma_cache()


@pytest.mark.llm
def test_answers_through_a_real_openai_compatible_server(
    llama_server: str, small_settings: Settings
) -> None:
    settings = small_settings.model_copy(
        update={
            "llm_provider": "openai",
            "llm_base_url": llama_server,
            "llm_model": "qwen",
            "llm_api_key": SecretStr("x"),
            "llm_timeout_s": 300.0,  # two shared CPU cores
        }
    )
    pipeline = Pipeline.from_settings(settings)
    assert isinstance(pipeline.llm, ChatOpenAI)
    items = list(pipeline.stream(QUESTION, mode="llm"))
    answer = items[-1]
    assert isinstance(answer, Answer)
    assert len(items) > 3  # streamed over server-sent events
    assert answer.mode == "llm", answer
    assert not answer.refused, answer.text
    assert answer.citations, answer.text
    given = [p.chunk.chunk_id for p in answer.passages]
    for citation in answer.citations:
        assert given[citation.n - 1] == citation.chunk_id
    for sentence in answer.unverified:
        assert sentence in answer.text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers; yields its /v1 URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


def _ask_unreachable(settings: Settings, base_url: str) -> tuple[Answer, float]:
    settings = settings.model_copy(
        update={
            "llm_provider": "openai",
            "llm_base_url": base_url,
            "llm_model": "qwen",
            "llm_timeout_s": 1.0,
            "llm_max_retries": 0,
        }
    )
    pipeline = Pipeline.from_settings(settings)
    started = time.monotonic()
    answer = pipeline.ask(QUESTION, mode="llm")
    return answer, time.monotonic() - started


@pytest.mark.slow
def test_a_server_that_never_answers_times_out_to_extractive(
    silent_server: str, small_settings: Settings
) -> None:
    answer, seconds = _ask_unreachable(small_settings, silent_server)
    assert answer.mode == "extractive"
    assert answer.notice == LLM_UNAVAILABLE_NOTICE
    assert not answer.refused
    assert answer.citations
    assert seconds < 30  # one 1-second timeout, then the extractive answer


@pytest.mark.slow
def test_a_closed_port_gives_extractive_at_once(small_settings: Settings) -> None:
    answer, seconds = _ask_unreachable(small_settings, f"http://127.0.0.1:{free_port()}/v1")
    assert answer.mode == "extractive"
    assert answer.notice == LLM_UNAVAILABLE_NOTICE
    assert seconds < 30
