"""What the benchmarks share: an index to measure on, built as `underlag ingest` builds it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from core.config import Settings


def ingest_corpus(settings: Settings) -> None:
    """Ingest the corpus as `underlag ingest` does: store, lexical index and sentence vectors,
    so no question pays for an embedding that belongs to the ingest."""
    from core.embedders import make_embedder
    from core.store import ChunkStore
    from ingest.index import run_ingest
    from retrieval.index_sync import refresh_search_indexes

    embedder = make_embedder(settings.embedder, settings.embedder_model)
    store = ChunkStore.from_settings(settings, embedder.id)
    run_ingest(settings, embedder, store)
    refresh_search_indexes(settings, store, embedder)


def prepare_index(settings: Settings, source: Path | None) -> float:
    """Copy an ingested data directory, or ingest the corpus; returns the seconds it took."""
    started = time.perf_counter()
    if source is not None:
        shutil.copytree(source, settings.data_dir)
    else:
        ingest_corpus(settings)
    return time.perf_counter() - started
