"""Embeddings of the candidate sentences of every chunk, computed at ingest and kept on disk.

The extractive answerer compares the question with each sentence by meaning, alone and read
under its headings (`retrieval.extractive.embedding_texts`); embedding sentences at question time
would cost ~25 ms each on 2 cores, so ingest embeds them once and questions only look them up.
Vectors are keyed by a hash of the embedded text, so a re-ingest embeds only texts it has not
seen.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from core.embedders import Embedder

log = logging.getLogger(__name__)


def sentence_key(text: str) -> str:
    """The cache key of a sentence."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class SentenceVectors:
    """A persistent map from sentence text to its passage embedding."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self._path = path
        self._embedder = embedder
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        if not self._path.exists():
            return
        try:
            with np.load(self._path, allow_pickle=False) as data:
                if str(data["embedder"]) != self._embedder.id:
                    return
                keys = [str(k) for k in data["keys"]]
                self._vectors = dict(zip(keys, data["vectors"], strict=True))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Sentence vectors unreadable (%s); they will be recomputed.", exc)

    def __len__(self) -> int:
        return len(self._vectors)

    def vectors_for(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of the sentences, embedding (and remembering) any not seen before."""
        keys = [sentence_key(t) for t in texts]
        with self._lock:
            missing = sorted(
                {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items()
            )
        if missing:
            fresh = self._embedder.embed_documents([t for _, t in missing])
            with self._lock:
                for (key, _), vec in zip(missing, fresh, strict=True):
                    self._vectors[key] = np.asarray(vec, dtype=np.float32)
                self._dirty = True
        with self._lock:
            if not keys:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([self._vectors[k] for k in keys])

    def ensure(self, texts: Iterable[str]) -> int:
        """Embed every sentence not yet known; returns how many were embedded."""
        unique = list(dict.fromkeys(texts))
        before = len(self._vectors)
        for i in range(0, len(unique), 64):
            self.vectors_for(unique[i : i + 64])
        return len(self._vectors) - before

    def prune(self, keep: Iterable[str]) -> None:
        """Forget sentences no longer in the corpus."""
        wanted = {sentence_key(t) for t in keep}
        with self._lock:
            stale = [k for k in self._vectors if k not in wanted]
            for key in stale:
                del self._vectors[key]
            self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        """Write the vectors atomically if anything changed."""
        with self._lock:
            if not self._dirty:
                return
            keys = list(self._vectors)
            vectors = (
                np.stack([self._vectors[k] for k in keys])
                if keys
                else np.zeros((0, 0), dtype=np.float32)
            )
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(self._path.name + ".tmp.npz")
            np.savez(
                tmp, keys=np.asarray(keys), vectors=vectors, embedder=np.asarray(self._embedder.id)
            )
            os.replace(tmp, self._path)
            self._dirty = False
