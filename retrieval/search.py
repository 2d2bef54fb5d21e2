"""Hybrid search: dense (Chroma) and lexical (Swedish BM25) channels fused by rank."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from core.embedders import Embedder
from core.store import ChunkStore
from core.types import YEAR_IN_TEXT, Chunk, Filters, Passage, period_of
from retrieval.english import with_swedish_terms
from retrieval.extractive import is_english
from retrieval.fusion import fuse_rankings
from retrieval.glossary import GlossaryEntry, expand_query, glossary_matches
from retrieval.lexical import LexicalIndex

# A chunk about the year a question asks for goes first from among this many of the best.
PROMOTE_WITHIN = 5


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Ranked passages with each channel's raw scores and timings."""

    passages: list[Passage]
    dense: dict[str, float]
    lexical: dict[str, float]
    timings: dict[str, float]
    expanded_query: str
    query_vector: list[float] | None = None
    parts: tuple[PartResult, ...] = ()
    # The question's names that no allowed document mentions (`Pipeline.unknown_names`).
    unknown_names: tuple[str, ...] = ()
    # The question's names that an allowed document has as a word (`Pipeline.named`).
    named: tuple[str, ...] = ()
    # The acronyms the question uses, with what they stand for in the glossary searched
    # (("VGR", "Västra Götalandsregionen"),): a passage that writes the name mentions them.
    spelled_out: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PartResult:
    """The search for one part of a compound question."""

    question: str  # the part, e.g. "Vem fattade besluten?"
    result: SearchResult


def with_parts(
    whole: SearchResult, parts: Sequence[PartResult], k: int, rrf_k: int = 60, question: str = ""
) -> SearchResult:
    """The ranking of a compound question: the whole question's and each part's rankings fused,
    so each part's best passages reach the context, then ordered by the years the whole
    ``question`` asks for (`prefer_asked_years`), as a single question's ranking is."""
    results = [whole, *(part.result for part in parts)]
    rankings = [[p.chunk.chunk_id for p in r.passages] for r in results]
    by_id = {p.chunk.chunk_id: p.chunk for r in results for p in r.passages}
    fused = prefer_asked_years(
        [(by_id[c], score) for c, score in fuse_rankings(rankings, k=rrf_k)], question
    )[:k]
    timings = dict(whole.timings)
    for part in parts:
        for name, ms in part.result.timings.items():
            timings[name] = timings.get(name, 0.0) + ms
    passages = [Passage(chunk, score, rank) for rank, (chunk, score) in enumerate(fused, start=1)]
    return SearchResult(
        passages,
        whole.dense,
        whole.lexical,
        timings,
        whole.expanded_query,
        whole.query_vector,
        tuple(parts),
        spelled_out=whole.spelled_out,
    )


def rerank_by_sentences(
    result: SearchResult, best_sentence: Mapping[str, float], k: int = 3, question: str = ""
) -> SearchResult:
    """The search's ranking fused with a ranking of the same passages by their best sentence.

    A passage is often found for the words it shares with the question, while the passage
    that answers it holds one sentence that matches well ("Kommun: Falun | Antal platser: 9").
    The answerer scores every sentence anyway; ranking passages by their best sentence as
    well brings the answering passage into the context budget. Reciprocal rank fusion with a
    small ``k`` lets the top of either ranking count most.

    The years ``question`` asks for keep the order the search gave them (`prefer_asked_years`):
    the chunks about an asked year that the search put first stay first, and chunks about
    another year stay behind the rest. A chunk is not promoted for its year again: one that the
    sentences bring up from further down is often about the same year in another region.
    Scores stay the search's.

    Args:
        result: The search (or compound) result.
        best_sentence: Chunk id -> score of the passage's best sentence (see
            `ExtractiveAnswerer.passage_scores`); a passage missing from it ranks last there.
        k: The RRF constant of the two rankings.
        question: The standalone question, for its years.

    Returns:
        The result with its passages re-ranked 1..n.
    """
    by_id = {p.chunk.chunk_id: p for p in result.passages}
    by_sentence = sorted(best_sentence, key=lambda cid: best_sentence[cid], reverse=True)
    fused = [c for c, _ in fuse_rankings([list(by_id), [c for c in by_sentence if c in by_id]], k)]
    asked = set(YEAR_IN_TEXT.findall(question))
    promoted = [
        p.chunk.chunk_id
        for p in result.passages[:PROMOTE_WITHIN]
        if asked and period_of(p.chunk.heading_path) in asked
    ]
    first = promoted + [c for c in fused if c not in promoted]
    ordered = prefer_asked_years(
        [(by_id[c].chunk, by_id[c].score) for c in first], question, promote_within=0
    )
    passages = [Passage(chunk, score, rank) for rank, (chunk, score) in enumerate(ordered, 1)]
    return replace(result, passages=passages)


class HybridRetriever:
    """Searches both channels within the allowed documents and fuses the rankings."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        lexical: LexicalIndex,
        chunks: Mapping[str, Chunk],
        glossary: Mapping[str, GlossaryEntry] | None = None,
        *,
        dense_k: int = 40,
        lexical_k: int = 40,
        rrf_k: int = 60,
        use_dense: bool = True,
        use_lexical: bool = True,
        use_glossary: bool = True,
        dense_weight: float = 1.0,
        english_terms: Mapping[str, tuple[str, ...]] | None = None,
        dense_weight_english: float | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._lexical = lexical
        self._chunks = chunks
        self._glossary = glossary or {}
        self._dense_k = dense_k
        self._lexical_k = lexical_k
        self._rrf_k = rrf_k
        self._use_dense = use_dense
        self._use_lexical = use_lexical
        self._use_glossary = use_glossary and bool(self._glossary)
        self._dense_weight = dense_weight
        self._dense_weight_english = (
            dense_weight if dense_weight_english is None else dense_weight_english
        )
        self._english_terms = english_terms or {}

    def allowed_chunk_ids(self, filters: Filters | None) -> set[str] | None:
        """The chunk ids a filter lets through, or None when nothing is filtered."""
        if filters is None or filters == Filters():
            return None
        return {cid for cid, chunk in self._chunks.items() if filters.allows(chunk)}

    def search(self, question: str, k: int, filters: Filters | None = None) -> SearchResult:
        """The ``k`` best passages for a question.

        Args:
            question: The standalone question.
            k: Passages to return.
            filters: Documents, types, years and access groups allowed; applied inside both
                channels, before their top lists are cut.

        Returns:
            The fused ranking and the raw scores of each channel.
        """
        timings: dict[str, float] = {}
        allowed = self.allowed_chunk_ids(filters)
        expanded = expand_query(question, self._glossary) if self._use_glossary else question
        dense: dict[str, float] = {}
        lexical: dict[str, float] = {}
        rankings: list[list[str]] = []
        vector: list[float] | None = None
        if self._use_dense and (allowed is None or allowed):
            t0 = time.perf_counter()
            vector = self._embedder.embed_query(expanded)
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            doc_ids = None
            if allowed is not None:
                doc_ids = sorted({self._chunks[c].doc_id for c in allowed})
            hits = self._store.dense_search(vector, self._dense_k, doc_ids)
            # Chroma filters by document; the finer filters (groups, years) apply here too.
            hits = [(cid, s) for cid, s in hits if allowed is None or cid in allowed]
            timings["dense_ms"] = (time.perf_counter() - t0) * 1000
            dense = dict(hits)
            rankings.append([cid for cid, _ in hits if cid in self._chunks])
        if self._use_lexical and (allowed is None or allowed):
            t0 = time.perf_counter()
            hits = self._lexical.search(self._lexical_query(expanded), self._lexical_k, allowed)
            timings["lexical_ms"] = (time.perf_counter() - t0) * 1000
            lexical = dict(hits)
            rankings.append([cid for cid, _ in hits if cid in self._chunks])
        # An English question leans more on meaning: its Swedish words are only approximate.
        dense_weight = self._dense_weight_english if is_english(expanded) else self._dense_weight
        weights = [dense_weight, 1.0] if len(rankings) == 2 else None
        fused = fuse_rankings(rankings, k=self._rrf_k, weights=weights)
        ordered = prefer_asked_years([(self._chunks[cid], score) for cid, score in fused], question)
        passages = [
            Passage(chunk, score, rank) for rank, (chunk, score) in enumerate(ordered[:k], start=1)
        ]
        spelled_out = tuple(
            (entry.acronym, entry.expansion)
            for entry, how in (
                glossary_matches(question, self._glossary) if self._use_glossary else []
            )
            if how == "acronym"
        )
        return SearchResult(
            passages, dense, lexical, timings, expanded, vector, spelled_out=spelled_out
        )

    def _lexical_query(self, expanded: str) -> str:
        """The lexical channel's query: an English question gets the Swedish words for its
        terms (`retrieval.english`); the documents use only those."""
        if not self._english_terms or not is_english(expanded):
            return expanded
        return with_swedish_terms(expanded, self._english_terms)


def prefer_asked_years(
    ranked: Sequence[tuple[Chunk, float]], question: str, promote_within: int = PROMOTE_WITHIN
) -> list[tuple[Chunk, float]]:
    """Order chunks by the year a question asks for.

    A chunk is about a year when its heading path ends in one (the text under a slide's "2024"
    or a plan's "2022"; see ingest.clean). A question naming 2025 is not answered by the
    figures of 2024, however well they match its words: chunks about another year go behind
    the rest. Among the first ``promote_within`` of the rest, the chunks about the asked year
    go first: "Hur mycket fick Region Dalarna för suicidprevention 2025?" is answered by the
    slide under "2025" ("Regionen 7 790 015 kr"), though the document's title page matches
    more of its words. Order is kept otherwise.
    """
    asked = set(YEAR_IN_TEXT.findall(question))
    if not asked:
        return list(ranked)

    def year(item: tuple[Chunk, float]) -> str:
        return period_of(item[0].heading_path)

    rest = [r for r in ranked if not year(r) or year(r) in asked]
    top = rest[:promote_within]
    return (
        [r for r in top if year(r)]
        + [r for r in top if not year(r)]
        + rest[promote_within:]
        + [r for r in ranked if year(r) and year(r) not in asked]
    )


def neighbours(chunk: Chunk, by_position: Mapping[tuple[str, int], Chunk]) -> list[Chunk]:
    """The chunks just before and after a chunk in its document."""
    out = []
    for pos in (chunk.position - 1, chunk.position + 1):
        found = by_position.get((chunk.doc_id, pos))
        if found is not None:
            out.append(found)
    return out


def fit_context(
    passages: Sequence[Passage],
    budget_chars: int,
    by_position: Mapping[tuple[str, int], Chunk] | None = None,
    allowed: set[str] | None = None,
) -> list[Passage]:
    """The passages handed to the answerer: in rank order until the character budget is used.

    With ``by_position``, the neighbours of the two best passages follow them when the budget
    allows, so a hit in the middle of a longer passage keeps its surroundings.

    Args:
        passages: Ranked passages.
        budget_chars: Total characters of chunk text allowed.
        by_position: Chunks by (doc_id, position), to add neighbours; None adds none.
        allowed: Chunk ids a neighbour must be among (the filters), None for all.

    Returns:
        The context, re-ranked 1..n.
    """
    chosen: list[Passage] = []
    seen: set[str] = set()
    used = 0

    def take(chunk: Chunk, score: float) -> bool:
        nonlocal used
        if chunk.chunk_id in seen:
            return True
        if used + len(chunk.text) > budget_chars and chosen:
            return False
        chosen.append(Passage(chunk, score, len(chosen) + 1))
        seen.add(chunk.chunk_id)
        used += len(chunk.text)
        return True

    for i, passage in enumerate(passages):
        if not take(passage.chunk, passage.score):
            break
        if by_position is not None and i < 2:
            for near in neighbours(passage.chunk, by_position):
                if allowed is None or near.chunk_id in allowed:
                    take(near, passage.score * 0.5)
    return chosen
