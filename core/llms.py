"""Chat models from settings: one factory for OpenAI-compatible servers, Ollama and GGUF files.

Every backend is a LangChain ``BaseChatModel``. ``LlamaCppChatModel`` is a thin wrapper around
``llama_cpp.Llama`` rather than ``langchain_community``'s ``ChatLlamaCpp``: that class loads the
weights inside its validator (so building settings would load a gigabyte), processes prompts in
batches of 8 tokens by default, and lives in a package that is being sunset.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from core.config import Settings
from core.errors import ConfigError, LLMUnavailable

log = logging.getLogger(__name__)

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LlamaCppChatModel(BaseChatModel):
    """A local GGUF model through llama-cpp-python, loaded on first use and shared by threads.

    One generation runs at a time: ``llama_cpp.Llama`` is not safe to call from two threads.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    n_batch: int = 512
    max_tokens: int = 400
    temperature: float = 0.0
    seed: int = 0

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx}

    def _load(self) -> Any:
        # Called with the lock held.
        if self._llama is None:
            from llama_cpp import Llama

            log.info("loading %s", self.model_path)
            try:
                self._llama = Llama(
                    self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_batch=self.n_batch,
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise LLMUnavailable(
                    f"Kan inte ladda språkmodellen {self.model_path}: {exc}. "
                    "Kontrollera UNDERLAG_LLM_MODEL_PATH (kör `make llm` för testmodellen)."
                ) from exc
        return self._llama

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        payload = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        with self._lock:
            llama = self._load()
            try:
                pieces = llama.create_chat_completion(
                    messages=payload,
                    stream=True,
                    max_tokens=kwargs.get("max_tokens", self.max_tokens),
                    temperature=kwargs.get("temperature", self.temperature),
                    stop=stop or [],
                )
                for piece in pieces:
                    choice = piece["choices"][0]
                    text = choice["delta"].get("content") or ""
                    finish = choice.get("finish_reason")
                    if not text and not finish:
                        continue
                    chunk = ChatGenerationChunk(
                        message=AIMessageChunk(
                            content=text,
                            response_metadata={"finish_reason": finish} if finish else {},
                        )
                    )
                    if run_manager is not None and text:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
            except (ValueError, RuntimeError) as exc:  # e.g. the prompt exceeds n_ctx
                raise LLMUnavailable(f"Språkmodellen kunde inte svara: {exc}") from exc

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


def _require_model(settings: Settings, provider: str) -> str:
    if not settings.llm_model:
        raise ConfigError(
            f"Språkmodellen {provider!r} behöver ett modellnamn: sätt UNDERLAG_LLM_MODEL."
        )
    return settings.llm_model


def _build_openai(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    model = _require_model(settings, "openai")
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if key is None and settings.llm_base_url:
        key = "ingen-nyckel"  # local servers (vLLM, llama.cpp) accept any key
    try:
        return ChatOpenAI(
            model=model,
            base_url=settings.llm_base_url,
            api_key=key,  # type: ignore[arg-type]
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
            streaming=True,
        )
    except Exception as exc:  # openai raises its own error when no key can be found
        raise ConfigError(
            f"Kan inte skapa OpenAI-klienten: {exc}. Sätt UNDERLAG_LLM_API_KEY "
            "eller UNDERLAG_LLM_BASE_URL."
        ) from exc


def _build_ollama(settings: Settings) -> BaseChatModel:
    import httpx
    from langchain_ollama import ChatOllama

    # Ollama's client has no retry setting; httpx retries failed connections.
    retries = max(0, settings.llm_max_retries)
    return ChatOllama(
        model=_require_model(settings, "ollama"),
        base_url=settings.llm_base_url,
        temperature=settings.llm_temperature,
        num_predict=settings.llm_max_tokens,
        num_ctx=settings.llm_n_ctx,
        sync_client_kwargs={
            "timeout": settings.llm_timeout_s,
            "transport": httpx.HTTPTransport(retries=retries),
        },
        async_client_kwargs={
            "timeout": settings.llm_timeout_s,
            "transport": httpx.AsyncHTTPTransport(retries=retries),
        },
    )


def _build_llamacpp(settings: Settings) -> BaseChatModel:
    if settings.llm_model_path is None:
        raise ConfigError(
            "Språkmodellen 'llamacpp' behöver en GGUF-fil: sätt UNDERLAG_LLM_MODEL_PATH."
        )
    path = Path(settings.llm_model_path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"GGUF-filen {path} finns inte. Kör `make llm` för testmodellen eller rätta "
            "UNDERLAG_LLM_MODEL_PATH."
        )
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(
            "llama-cpp-python är inte installerat. Kör `make llm` (eller "
            "`pip install llama-cpp-python`)."
        )
    return LlamaCppChatModel(
        model_path=str(path),
        n_ctx=settings.llm_n_ctx,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )


LLM_PROVIDERS: dict[str, Callable[[Settings], BaseChatModel]] = {
    "openai": _build_openai,
    "ollama": _build_ollama,
    "llamacpp": _build_llamacpp,
}


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """Build the chat model the settings name, or None when no LLM is configured.

    Nothing is loaded or contacted here: a local model is loaded on its first answer, a server is
    first called on the first question.

    Raises:
        ConfigError: the provider is unknown (the message lists the valid ones), or a setting it
            needs is missing.
    """
    name = (settings.llm_provider or "").strip().lower()
    if name in {"", "none"}:
        return None
    try:
        build = LLM_PROVIDERS[name]
    except KeyError:
        valid = ", ".join(sorted(LLM_PROVIDERS))
        raise ConfigError(
            f"Okänd språkmodell {settings.llm_provider!r}; giltiga är: {valid}."
        ) from None
    return build(settings)


@cache
def provider_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a chat model raises when its server or model fails; caught at the edge."""
    import httpx
    import openai
    from ollama import RequestError, ResponseError

    return (
        LLMUnavailable,
        openai.APIError,
        httpx.HTTPError,
        ResponseError,
        RequestError,
        OSError,  # ConnectionError and TimeoutError from the clients
    )
