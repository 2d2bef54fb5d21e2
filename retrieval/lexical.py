"""BM25 search over chunks with the Swedish analyser, persisted as JSON next to the vector index.

The index keeps the compound vocabulary it learned from the chunks, so a question is split into
the same parts as the chunks were, also after a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from core.errors import IndexMissingError
from core.types import Chunk, Filters
from retrieval.swedish import (
    ANALYSER_VERSION,
    NGRAM_PREFIX,
    CompoundSplitter,
    analyse,
    vocabulary_from_texts,
    weighted_terms,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1

Allowed = Callable[[str], bool] | Collection[str] | None


@dataclass(frozen=True, slots=True)
class LexicalSettings:
    """How chunks and questions are analysed and scored.

    The defaults are the best of a measurement on the corpus (see the lexical search notes):
    stems, compound parts at 0.3 of a word, 4-gram characters at 0.1 per n-gram, BM25 with
    k1 = 1.2 and a mild length normalisation b = 0.4 (short chunks are headings).
    """

    stem: bool = True
    compounds: bool = True
    ngrams: bool = True
    ngram_size: int = 4
    part_weight: float = 0.3
    ngram_weight: float = 0.1
    k1: float = 1.2
    b: float = 0.4

    def analysis(self) -> tuple[bool, bool, bool, int]:
        """The settings that decide the stored terms; the rest only affect scoring."""
        return (self.stem, self.compounds, self.ngrams, self.ngram_size)


@dataclass(frozen=True, slots=True)
class LexicalItem:
    """One chunk to index: its id, the text to search and metadata for filtering."""

    chunk_id: str
    text: str
    metadata: Mapping[str, Any]


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """The metadata of a chunk that `Filters` look at, in a JSON-friendly form."""
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "doc_type": chunk.doc_type,
        "date": chunk.date,
        "groups": list(chunk.groups),
    }


def metadata_allows(filters: Filters, metadata: Mapping[str, Any]) -> bool:
    """Whether a chunk described by its metadata passes `filters`, as `Filters.allows` does.

    Args:
        filters: The restrictions.
        metadata: As made by `chunk_metadata`.

    Returns:
        True when every set filter is met.
    """
    if filters.doc_ids and metadata.get("doc_id") not in filters.doc_ids:
        return False
    if filters.doc_types and metadata.get("doc_type") not in filters.doc_types:
        return False
    if filters.years:
        date = str(metadata.get("date") or "")
        year = int(date[:4]) if date[:4].isdigit() else None
        if year not in filters.years:
            return False
    groups = metadata.get("groups") or ()
    return not (filters.groups and not set(filters.groups) & set(groups))


def corpus_fingerprint(items: Iterable[LexicalItem], settings: LexicalSettings) -> str:
    """A digest of what an index over ``items`` would store, to tell a stale index.

    Args:
        items: The chunks, in indexing order.
        settings: The settings; only the analysis ones count, not the scoring weights.

    Returns:
        A hex digest over the format and analyser versions, the analysis settings and the
        chunk ids and texts.
    """
    digest = hashlib.sha256()
    digest.update(f"{FORMAT_VERSION}|{ANALYSER_VERSION}|{settings.analysis()}".encode())
    for item in items:
        digest.update(b"\x00" + item.chunk_id.encode() + b"\x01" + item.text.encode())
    return digest.hexdigest()


class LexicalIndex:
    """BM25 over analysed chunk texts, with filters applied before the top k is taken."""

    def __init__(
        self,
        chunk_ids: Sequence[str],
        metadata: Sequence[Mapping[str, Any]],
        terms: Sequence[str],
        postings: tuple[np.ndarray, np.ndarray, np.ndarray],
        vocabulary: Mapping[str, int],
        settings: LexicalSettings,
        *,
        fingerprint: str = "",
        generation: str = "",
    ) -> None:
        """Assemble an index from analysed chunks; use `build` or `load` instead.

        Args:
            chunk_ids: Chunk ids in index order, unique.
            metadata: Per chunk, the metadata given at build time.
            terms: The distinct terms; a term's id is its position.
            postings: ``(doc_ptr, term_ids, counts)``: the terms of chunk ``i`` are
                ``term_ids[doc_ptr[i]:doc_ptr[i + 1]]`` with their counts.
            vocabulary: Word -> count the compound splitter was built from.
            settings: The settings the chunks were analysed with.
            fingerprint: Digest of the indexed content (`corpus_fingerprint`).
            generation: Free label given by the caller at build time, e.g. an ingest id.
        """
        if len(set(chunk_ids)) != len(chunk_ids):
            raise ValueError("Chunk ids of a lexical index must be unique.")
        doc_ptr, term_ids, counts = postings
        if len(doc_ptr) != len(chunk_ids) + 1 or len(metadata) != len(chunk_ids):
            raise ValueError("Chunk ids, metadata and postings of a lexical index disagree.")
        self.chunk_ids: tuple[str, ...] = tuple(chunk_ids)
        self.metadata: tuple[Mapping[str, Any], ...] = tuple(metadata)
        self.settings = settings
        self.fingerprint = fingerprint
        self.generation = generation
        self.vocabulary: dict[str, int] = dict(vocabulary)
        self._terms: list[str] = list(terms)
        self._postings = (
            np.asarray(doc_ptr, dtype=np.int64),
            np.asarray(term_ids, dtype=np.int64),
            np.asarray(counts, dtype=np.float64),
        )
        self._term_ids = {term: i for i, term in enumerate(self._terms)}
        self._position = {chunk_id: i for i, chunk_id in enumerate(self.chunk_ids)}
        self.splitter = CompoundSplitter(self.vocabulary) if settings.compounds else None
        self._weights = self._score_matrix()

    @classmethod
    def build(
        cls,
        items: Iterable[LexicalItem | tuple[str, str, Mapping[str, Any]]],
        settings: LexicalSettings | None = None,
        *,
        generation: str = "",
    ) -> LexicalIndex:
        """Analyse and index chunks.

        Args:
            items: `LexicalItem`s or ``(chunk_id, text, metadata)`` tuples.
            settings: Analysis and scoring settings; the measured defaults when None.
            generation: A label to store with the index, e.g. the ingest run's id.

        Returns:
            The index.
        """
        settings = settings or LexicalSettings()
        rows = [item if isinstance(item, LexicalItem) else LexicalItem(*item) for item in items]
        vocabulary: dict[str, int] = (
            dict(vocabulary_from_texts(row.text for row in rows)) if settings.compounds else {}
        )
        splitter = CompoundSplitter(vocabulary) if settings.compounds else None
        term_index: dict[str, int] = {}
        doc_ptr = [0]
        term_ids: list[int] = []
        counts: list[int] = []
        for row in rows:
            for term, count in Counter(_analyse(row.text, settings, splitter)).items():
                term_ids.append(term_index.setdefault(term, len(term_index)))
                counts.append(count)
            doc_ptr.append(len(term_ids))
        postings = (np.asarray(doc_ptr), np.asarray(term_ids), np.asarray(counts))
        return cls(
            [row.chunk_id for row in rows],
            [dict(row.metadata) for row in rows],
            list(term_index),
            postings,
            vocabulary,
            settings,
            fingerprint=corpus_fingerprint(rows, settings),
            generation=generation,
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[Chunk],
        settings: LexicalSettings | None = None,
        *,
        generation: str = "",
    ) -> LexicalIndex:
        """Index chunks by their heading path and text (`Chunk.embed_text`).

        Args:
            chunks: The chunks of the corpus.
            settings: Analysis and scoring settings; the measured defaults when None.
            generation: A label to store with the index.

        Returns:
            The index.
        """
        return cls.build(chunk_items(chunks), settings, generation=generation)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def _score_matrix(self) -> sparse.csr_matrix:
        """Precompute BM25 weights: one row per term, one column per chunk.

        Words and n-grams are two fields: each is length-normalised by its own length, so the
        many n-grams of a chunk do not make its words look diluted.
        """
        k1, b = self.settings.k1, self.settings.b
        doc_ptr, term_ids, tf = self._postings
        n_docs, n_terms = len(self.chunk_ids), len(self._terms)
        if not n_docs or not n_terms:
            return sparse.csr_matrix((n_terms, n_docs), dtype=np.float32)
        docs = np.repeat(np.arange(n_docs), np.diff(doc_ptr))
        is_gram = np.fromiter((t.startswith(NGRAM_PREFIX) for t in self._terms), bool, n_terms)
        field = is_gram[term_ids].astype(np.int64)
        lengths = np.zeros((2, n_docs))
        np.add.at(lengths, (field, docs), tf)
        average = lengths.mean(axis=1)
        average[average == 0] = 1.0
        relative = lengths[field, docs] / average[field]
        df = np.bincount(term_ids, minlength=n_terms).astype(np.float64)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        weights = idf[term_ids] * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * relative))
        return sparse.csr_matrix(
            (weights.astype(np.float32), (term_ids, docs)), shape=(n_terms, n_docs)
        )

    def query_terms(self, query: str) -> dict[str, float]:
        """The weighted terms of a question, analysed exactly as the chunks were."""
        settings = self.settings
        return weighted_terms(
            query,
            stem=settings.stem,
            compounds=self.splitter,
            ngrams=settings.ngrams,
            ngram_size=settings.ngram_size,
            weights={"part": settings.part_weight, "ngram": settings.ngram_weight},
        )

    def allowed_ids(self, filters: Filters) -> set[str]:
        """The chunk ids whose stored metadata passes ``filters``."""
        return {
            chunk_id
            for chunk_id, metadata in zip(self.chunk_ids, self.metadata, strict=True)
            if metadata_allows(filters, metadata)
        }

    def _mask(self, allowed: Allowed) -> np.ndarray | None:
        if allowed is None:
            return None
        mask = np.zeros(len(self.chunk_ids), dtype=bool)
        if callable(allowed):
            for i, chunk_id in enumerate(self.chunk_ids):
                mask[i] = bool(allowed(chunk_id))
        else:
            for chunk_id in allowed:
                position = self._position.get(chunk_id)
                if position is not None:
                    mask[position] = True
        return mask

    def search(self, query: str, k: int = 10, allowed: Allowed = None) -> list[tuple[str, float]]:
        """The ``k`` best chunks for a question by BM25.

        Args:
            query: The question, possibly expanded (`retrieval.glossary.expand_query`).
            k: How many results at most.
            allowed: Chunk ids that may be returned, or a predicate on a chunk id; None allows
                all. The filter is applied before the top ``k`` is taken, so it never starves
                the results.

        Returns:
            ``(chunk_id, score)`` pairs, best first (ties by index order); only chunks that
            share a term with the question.
        """
        if k <= 0 or not self.chunk_ids:
            return []
        known = [
            (self._term_ids[term], weight)
            for term, weight in self.query_terms(query).items()
            if term in self._term_ids
        ]
        if not known:
            return []
        rows = [term_id for term_id, _ in known]
        query_weights = np.asarray([weight for _, weight in known], dtype=np.float32)
        scores = np.asarray(self._weights[rows].T @ query_weights).ravel()
        mask = self._mask(allowed)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0.0)
        if candidates.size > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [(self.chunk_ids[i], float(scores[i])) for i in order]

    def is_current(self, items: Iterable[LexicalItem]) -> bool:
        """Whether this index was built from exactly ``items`` with its analysis settings."""
        return self.fingerprint == corpus_fingerprint(items, self.settings)

    def save(self, path: Path) -> None:
        """Write the index as JSON, atomically (a temporary file, then a rename).

        Args:
            path: The target file, e.g. ``Settings.lexical_path``.
        """
        doc_ptr, term_ids, counts = self._postings
        payload = {
            "format": FORMAT_VERSION,
            "analyser": ANALYSER_VERSION,
            "fingerprint": self.fingerprint,
            "generation": self.generation,
            "settings": asdict(self.settings),
            "chunk_ids": list(self.chunk_ids),
            "metadata": [dict(m) for m in self.metadata],
            "vocabulary": self.vocabulary,
            "terms": self._terms,
            "doc_ptr": doc_ptr.tolist(),
            "term_ids": term_ids.tolist(),
            "counts": counts.astype(np.int64).tolist(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(payload, out, ensure_ascii=False, separators=(",", ":"))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, settings: LexicalSettings | None = None) -> LexicalIndex:
        """Read an index written by `save`.

        Args:
            path: The file.
            settings: Scoring settings to use instead of the stored ones (weights, k1, b);
                their analysis settings must equal the stored ones.

        Returns:
            The index.

        Raises:
            IndexMissingError: When the file is missing, unreadable, of another format or
                analyser version, or analysed otherwise than ``settings`` ask; an ingest
                rebuilds it.
        """
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            stored = LexicalSettings(**payload["settings"])
        except FileNotFoundError as error:
            raise IndexMissingError(
                f"Det lexikala indexet {path} saknas. Kör en indexering (ingest) först."
            ) from error
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise IndexMissingError(
                f"Det lexikala indexet {path} kan inte läsas ({error}). Kör om indexeringen."
            ) from error
        if payload.get("format") != FORMAT_VERSION or payload.get("analyser") != ANALYSER_VERSION:
            raise IndexMissingError(
                f"Det lexikala indexet {path} är byggt med en annan version. Kör om indexeringen."
            )
        if settings is not None and settings.analysis() != stored.analysis():
            raise IndexMissingError(
                f"Det lexikala indexet {path} är byggt med andra analysinställningar "
                f"({stored.analysis()}). Kör om indexeringen."
            )
        postings = (
            np.asarray(payload["doc_ptr"], dtype=np.int64),
            np.asarray(payload["term_ids"], dtype=np.int64),
            np.asarray(payload["counts"], dtype=np.float64),
        )
        return cls(
            payload["chunk_ids"],
            payload["metadata"],
            payload["terms"],
            postings,
            payload["vocabulary"],
            settings if settings is not None else stored,
            fingerprint=payload.get("fingerprint", ""),
            generation=payload.get("generation", ""),
        )


def chunk_items(chunks: Iterable[Chunk]) -> list[LexicalItem]:
    """The lexical items of chunks: heading path and text (`Chunk.embed_text`), metadata."""
    return [LexicalItem(c.chunk_id, c.embed_text, chunk_metadata(c)) for c in chunks]


def _analyse(text: str, settings: LexicalSettings, splitter: CompoundSplitter | None) -> list[str]:
    return analyse(
        text,
        stem=settings.stem,
        compounds=splitter,
        ngrams=settings.ngrams,
        ngram_size=settings.ngram_size,
    )
