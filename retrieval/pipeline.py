"""The question-answering chain every entry point uses: rewrite, retrieve, answer, cite."""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.config import Settings
from core.embedders import Embedder, make_embedder
from core.errors import InputError
from core.store import ChunkStore
from core.types import Answer, Chunk, DocumentMeta, Filters, Passage, Turn
from retrieval.citations import REFUSAL_TEXT, build_extractive_answer
from retrieval.extractive import ExtractiveAnswerer
from retrieval.followup import rewrite_followup
from retrieval.glossary import GlossaryEntry
from retrieval.index_sync import load_glossary_for, load_lexical_index
from retrieval.lexical import LexicalIndex
from retrieval.refusal import RefusalModel
from retrieval.search import HybridRetriever, fit_context

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What the page shows about the index."""

    documents: int
    chunks: int
    embedder: str
    ingested_at: str
    generation: str


def clean_question(question: str, max_chars: int) -> str:
    """Strip control characters and check length.

    Raises:
        InputError: the question is empty or longer than ``max_chars``.
    """
    text = _CONTROL.sub(" ", question or "").strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise InputError("Skriv en fråga först.")
    if len(text) > max_chars:
        raise InputError(
            f"Frågan är för lång ({len(text)} tecken). Korta ner den till högst {max_chars} tecken."
        )
    return text


class Pipeline:
    """Retrieval and answers over one index, built once and shared by the page and the CLI."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: ChunkStore,
        lexical: LexicalIndex,
        chunks: Sequence[Chunk],
        glossary: dict[str, GlossaryEntry],
        refusal: RefusalModel,
        llm: Any = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.glossary = glossary
        self.refusal = refusal
        self.llm = llm
        self._chunks = {c.chunk_id: c for c in chunks}
        self._by_position = {(c.doc_id, c.position): c for c in chunks}
        self.retriever = HybridRetriever(
            store,
            embedder,
            lexical,
            self._chunks,
            glossary,
            dense_k=settings.dense_k,
            lexical_k=settings.lexical_k,
            rrf_k=settings.rrf_k,
            use_dense=settings.use_dense,
            use_lexical=settings.use_lexical,
            use_glossary=settings.use_glossary,
            dense_weight=settings.dense_weight,
        )
        df: Counter[str] = Counter()
        for chunk in chunks:
            df.update(set(lexical.query_terms(chunk.embed_text)))
        n = max(1, len(chunks))
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._idf_unknown = math.log(1 + (n + 0.5) / 0.5)
        self.answerer = ExtractiveAnswerer(
            lambda text: list(lexical.query_terms(text)),
            lambda term: self._idf.get(term, self._idf_unknown),
            embed_sentences=embedder.embed_documents,
            embed_query=embedder.embed_query,
        )

    @classmethod
    def from_settings(cls, settings: Settings, llm: Any = None) -> Pipeline:
        """Open the index the settings point at.

        Raises:
            IndexMissingError: nothing has been ingested yet.
            IndexMismatchError: the index was built with another embedder.
            IndexUnavailableError: the Chroma server cannot be reached.
        """
        embedder = make_embedder(settings.embedder, settings.embedder_model)
        store = ChunkStore.from_settings(settings, embedder.id)
        store.metadata()  # raises IndexMissingError / IndexMismatchError early
        lexical, chunks = load_lexical_index(settings, store)
        glossary = load_glossary_for(settings, chunks)
        return cls(settings, embedder, store, lexical, chunks, glossary, RefusalModel.load(), llm)

    # -- information for the page ---------------------------------------------------------
    def status(self) -> IndexStatus:
        """Documents, chunks, embedder and last ingest of the index."""
        meta = self.store.metadata()
        return IndexStatus(
            documents=len({c.doc_id for c in self._chunks.values()}),
            chunks=len(self._chunks),
            embedder=str(meta.get("embedder", self.embedder.id)),
            ingested_at=str(meta.get("ingested_at", "")),
            generation=str(meta.get("generation", "")),
        )

    def documents(self, groups: Sequence[str] = ()) -> list[DocumentMeta]:
        """One entry per indexed document the groups may see, in title order."""
        seen: dict[str, DocumentMeta] = {}
        for chunk in self._chunks.values():
            if groups and not set(groups) & set(chunk.groups):
                continue
            if chunk.doc_id not in seen:
                seen[chunk.doc_id] = DocumentMeta(
                    doc_id=chunk.doc_id,
                    source="",
                    title=chunk.title,
                    publisher=chunk.publisher,
                    date=chunk.date,
                    doc_type=chunk.doc_type,
                    groups=chunk.groups,
                )
        return sorted(seen.values(), key=lambda d: d.title)

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A chunk by id."""
        return self._chunks.get(chunk_id)

    # -- answering ------------------------------------------------------------------------
    def standalone(self, question: str, history: Sequence[Turn] = ()) -> str:
        """The question made standalone from the conversation (deterministic rule)."""
        return rewrite_followup(question, history)

    def retrieve(self, question: str, filters: Filters | None = None) -> list[Passage]:
        """Ranked candidate passages, before the context budget."""
        return self.retriever.search(question, self.settings.top_k, filters).passages

    def context(
        self, question: str, filters: Filters | None = None
    ) -> tuple[list[Passage], dict[str, float], dict[str, float]]:
        """The passages handed to the answerer, the dense scores, and timings in ms."""
        result = self.retriever.search(question, self.settings.top_k, filters)
        allowed = self.retriever.allowed_chunk_ids(filters)
        passages = fit_context(
            result.passages,
            self.settings.context_chars,
            self._by_position if self.settings.use_neighbours else None,
            allowed,
        )
        return passages, result.dense, result.timings

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer a question with citations, or refuse when the documents do not say.

        Args:
            question: The question as typed.
            history: Earlier turns of the conversation, oldest first.
            filters: Documents, types, years and access groups allowed.
            mode: "extractive" (default) or "llm".

        Raises:
            InputError: the question is empty or too long.
        """
        started = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        history = list(history)[-self.settings.max_history_turns :]
        standalone = self.standalone(question, history)
        t0 = time.perf_counter()
        passages, dense, timings = self.context(standalone, filters)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        answer = self._extractive(question, standalone, passages, dense)
        answer_ms = (time.perf_counter() - t0) * 1000
        timings = {
            **timings,
            "retrieve_ms": retrieve_ms,
            "answer_ms": answer_ms,
            "total_ms": (time.perf_counter() - started) * 1000,
        }
        return replace(answer, timings=timings)

    def _extractive(
        self,
        question: str,
        standalone: str,
        passages: list[Passage],
        dense: dict[str, float],
    ) -> Answer:
        focus = question if standalone != question else None
        selection = self.answerer.select(standalone, passages, focus=focus, dense_scores=dense)
        refused = not selection.sentences or self.refusal.refuses(selection.features)
        if refused:
            return Answer(
                question=question,
                text=REFUSAL_TEXT,
                citations=(),
                refused=True,
                mode="extractive",
                passages=tuple(passages),
                standalone_question=standalone,
            )
        return build_extractive_answer(question, standalone, selection, passages)

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as they are ready, then the final Answer."""
        answer = self.ask(question, history, filters, mode)
        yield answer.text
        yield answer

    def refusal_features(self, question: str, filters: Filters | None = None) -> dict[str, float]:
        """The refusal model's inputs for a question (for calibration)."""
        passages, dense, _ = self.context(question, filters)
        return self.answerer.select(question, passages, dense_scores=dense).features
