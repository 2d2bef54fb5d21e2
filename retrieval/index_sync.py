"""Keep the persisted lexical index and the glossary in step with the chunk store."""

from __future__ import annotations

import logging

from core.config import Settings
from core.embedders import Embedder
from core.errors import IngestError, UnderlagError
from core.store import ChunkStore
from core.types import Chunk
from retrieval.extractive import embedding_texts
from retrieval.glossary import GlossaryEntry, extract_glossary, load_glossary, merge_glossaries
from retrieval.lexical import LexicalIndex, LexicalSettings, chunk_items
from retrieval.sentence_vectors import SentenceVectors

log = logging.getLogger(__name__)


def lexical_settings(settings: Settings) -> LexicalSettings:
    """The lexical analysis the settings ask for."""
    return LexicalSettings(compounds=settings.use_compounds)


def refresh_lexical_index(settings: Settings, store: ChunkStore) -> LexicalIndex:
    """Rebuild the lexical index from the store and save it next to the Chroma index.

    Called by ingest (CLI and page) after every run, so questions never rebuild it.
    """
    chunks = store.all_chunks()
    generation = str(store.metadata().get("generation", ""))
    index = LexicalIndex.from_chunks(chunks, lexical_settings(settings), generation=generation)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    index.save(settings.lexical_path)
    return index


def refresh_sentence_vectors(settings: Settings, store: ChunkStore, embedder: Embedder) -> int:
    """Embed the candidate sentences of every chunk not embedded yet; returns how many."""
    cache = SentenceVectors(settings.sentence_vectors_path, embedder)
    weight = settings.sentence_heading_weight
    texts = [t for chunk in store.all_chunks() for t in embedding_texts(chunk, weight)]
    added = cache.ensure(texts)
    cache.prune(texts)
    cache.save()
    return added


def refresh_search_indexes(settings: Settings, store: ChunkStore, embedder: Embedder) -> None:
    """After an ingest: rebuild the lexical index and embed new sentences (CLI and page alike).

    Raises:
        IngestError: the data directory cannot be written (a full disk, a read-only directory);
            the files written before stay as they were.
    """
    try:
        refresh_lexical_index(settings, store)
        refresh_sentence_vectors(settings, store, embedder)
    except OSError as exc:
        raise IngestError(
            f"Sökindexen i {settings.data_dir} kunde inte skrivas ({exc.strerror or exc}). "
            "Frigör utrymme eller kontrollera behörigheterna och kör inläsningen igen."
        ) from exc


def load_lexical_index(settings: Settings, store: ChunkStore) -> tuple[LexicalIndex, list[Chunk]]:
    """The saved lexical index and all chunks; rebuilt once if it is missing or stale.

    A stale file (another ingest generation, other analysis settings, other indexed text) is
    rebuilt from the store; when it cannot be written (a read-only data directory) the index is
    kept in memory.
    """
    chunks = store.all_chunks()
    generation = str(store.metadata().get("generation", ""))
    wanted = lexical_settings(settings)
    index: LexicalIndex | None = None
    if settings.lexical_path.exists():
        try:
            index = LexicalIndex.load(settings.lexical_path)
        except (UnderlagError, OSError, ValueError, KeyError) as exc:
            log.warning("Lexical index unreadable (%s); rebuilding it.", exc)
    # The fingerprint also tells an index of other text: the same ingest, indexed by another
    # version of Underlag.
    if (
        index is None
        or index.generation != generation
        or index.settings != wanted
        or not index.is_current(chunk_items(chunks))
    ):
        index = LexicalIndex.from_chunks(chunks, wanted, generation=generation)
        try:
            index.save(settings.lexical_path)
        except OSError as exc:
            log.warning("Could not save the lexical index (%s); keeping it in memory.", exc)
    return index, chunks


def load_glossary_for(settings: Settings, chunks: list[Chunk]) -> dict[str, GlossaryEntry]:
    """The acronyms defined in the indexed chunks, merged with the curated glossary file."""
    extracted = extract_glossary((c.doc_id, c.text) for c in chunks)
    curated_path = settings.corpus_dir / "glossary.toml"
    curated = load_glossary(curated_path) if curated_path.exists() else {}
    return merge_glossaries(extracted, curated)
