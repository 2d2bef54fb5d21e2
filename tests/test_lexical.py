"""Tests of the BM25 lexical index on paragraphs of the real corpus: ranking, filters, storage."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import text_chunk

from core.errors import IndexMissingError
from core.types import Chunk, Filters
from retrieval.glossary import expand_query, extract_glossary, load_glossary, merge_glossaries
from retrieval.lexical import LexicalIndex, LexicalItem, LexicalSettings, corpus_fingerprint

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
VGR = "vgr_fordelning_medel_samsjuklighet_2024"


def corpus_paragraphs() -> list[LexicalItem]:
    """The corpus split at blank lines: one item per paragraph, id ``<doc_id>#<n>``."""
    items = []
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for n, paragraph in enumerate(re.split(r"\n\s*\n", text)):
            if paragraph.strip():
                items.append(LexicalItem(f"{path.stem}#{n}", paragraph, {"doc_id": path.stem}))
    return items


@pytest.fixture(scope="module")
def paragraphs() -> list[LexicalItem]:
    items = corpus_paragraphs()
    assert len(items) > 500
    return items


@pytest.fixture(scope="module")
def index(paragraphs: list[LexicalItem]) -> LexicalIndex:
    return LexicalIndex.build(paragraphs, generation="test-1")


@pytest.fixture(scope="module")
def texts(paragraphs: list[LexicalItem]) -> dict[str, str]:
    return {item.chunk_id: " ".join(item.text.split()) for item in paragraphs}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # The documents use the compound, the questions its parts, or the other way round.
        (
            "Vilka insatsområden fick medel som är gemensamma för länet, totalt?",
            "Insatsområden länsgemensamma medel totalt 21 724 099 kr",
        ),
        (
            "Vad gör samordnaren för suicidprevention?",
            "Suicidpreventionssamordnare: stödjer region och kommuner",
        ),
        (
            "Hur många placerade barn hade genomgått en undersökning av den orala hälsan?",
            "hälsoundersökning av den *orala hälsan*",
        ),
        (
            "Vilket system används för att hantera avvikelser?",
            "avvikelsehanteringssystem, Synergi",
        ),
        (
            "Vilken rutin för undersökning av hälsan ska gälla från 1 juli 2024?",
            "ny regional rutin för hälsoundersökning ska gälla från 1 juli 2024",
        ),
        ("Vilket arbete med utveckling av SIP görs i länet?", "utvecklingsarbete om SIP"),
    ],
)
def test_search_ranks_the_right_paragraph_first(
    index: LexicalIndex, texts: dict[str, str], question: str, expected: str
) -> None:
    results = index.search(question, k=5)
    assert results, question
    assert expected in texts[results[0][0]]


def test_search_finds_the_delegation_through_its_compound(
    index: LexicalIndex, texts: dict[str, str]
) -> None:
    top = texts[index.search("Vad gör delegationen för samsjuklighet?", k=3)[0][0]].lower()
    assert "delegation" in top
    assert "samsjuklighet" in top


def test_search_with_glossary_expansion_finds_the_acronym(
    index: LexicalIndex, texts: dict[str, str]
) -> None:
    documents = [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.txt"))]
    glossary = merge_glossaries(
        extract_glossary(documents), load_glossary(CORPUS / "glossary.toml")
    )
    question = "Vad beslutade Vårdsamverkan Västra Götaland om medlen som är gemensamma för länet?"
    expanded = expand_query(question, glossary)
    assert expanded.endswith("(VVG)")
    assert texts[index.search(expanded, k=3)[0][0]].startswith("- VVG ställer sig bakom")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Vad kostar fjäraccess?", "Fjärraccess"),
        ("Vad gör samsjukligetsdelegationen?", "Samsjuklighetsdelegation"),
    ],
)
def test_ngrams_tolerate_misspelled_questions(
    index: LexicalIndex, texts: dict[str, str], question: str, expected: str
) -> None:
    assert expected in texts[index.search(question, k=1)[0][0]]


def test_without_ngrams_a_misspelled_word_finds_nothing(paragraphs: list[LexicalItem]) -> None:
    words_only = LexicalIndex.build(paragraphs, LexicalSettings(ngrams=False))
    assert words_only.search("Vad kostar fjäraccess?", k=1) == []


def test_search_results_are_sorted_and_bounded(index: LexicalIndex) -> None:
    results = index.search("samordnad individuell plan", k=7)
    assert len(results) == 7
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


def test_search_without_known_terms_is_empty(index: LexicalIndex) -> None:
    assert index.search("Vad är det?", k=5) == []
    assert index.search("xyzzy qwertz", k=5) == []
    assert index.search("samverkan", k=0) == []


def test_filter_is_applied_before_the_top_k(index: LexicalIndex) -> None:
    question = "Vad gör delegationen för samsjuklighet?"
    unfiltered = index.search(question, k=5)
    assert not any(chunk_id.startswith(VGR) for chunk_id, _ in unfiltered)
    allowed = {chunk_id for chunk_id in index.chunk_ids if chunk_id.startswith(VGR)}
    filtered = index.search(question, k=5, allowed=allowed)
    assert len(filtered) == 5
    assert all(chunk_id in allowed for chunk_id, _ in filtered)


def test_predicate_filter_equals_set_filter(index: LexicalIndex) -> None:
    allowed = {chunk_id for chunk_id in index.chunk_ids if chunk_id.startswith(VGR)}
    by_set = index.search("samsjuklighet", k=10, allowed=allowed)
    by_predicate = index.search("samsjuklighet", k=10, allowed=lambda c: c.startswith(VGR))
    assert by_set == by_predicate
    assert index.search("samsjuklighet", k=10, allowed=set()) == []
    assert index.search("samsjuklighet", k=10, allowed={"okänt-id"}) == []


def test_allowed_ids_follow_the_stored_metadata(index: LexicalIndex) -> None:
    allowed = index.allowed_ids(Filters(doc_ids=(VGR,)))
    assert allowed
    assert all(chunk_id.startswith(VGR) for chunk_id in allowed)
    assert index.allowed_ids(Filters()) == set(index.chunk_ids)


def test_save_and_load_round_trip(
    index: LexicalIndex, paragraphs: list[LexicalItem], tmp_path: Path
) -> None:
    path = tmp_path / "data" / "lexical.json"
    index.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["lexical.json"]
    loaded = LexicalIndex.load(path)
    assert loaded.chunk_ids == index.chunk_ids
    assert loaded.fingerprint == index.fingerprint
    assert loaded.generation == "test-1"
    assert loaded.settings == index.settings
    assert loaded.vocabulary == index.vocabulary
    assert loaded.is_current(paragraphs)
    for question in (
        "Vad gör delegationen för samsjuklighet?",
        "Hur mycket pengar är länsgemensamma?",
        "Vad kostar fjärraccess?",
    ):
        assert loaded.search(question, k=10) == index.search(question, k=10)


def test_fingerprint_tells_a_stale_index(
    index: LexicalIndex, paragraphs: list[LexicalItem]
) -> None:
    changed = [*paragraphs[:-1], LexicalItem(paragraphs[-1].chunk_id, "Ny text.", {})]
    assert not index.is_current(changed)
    assert not index.is_current(paragraphs[:-1])
    assert index.fingerprint == corpus_fingerprint(paragraphs, LexicalSettings(part_weight=0.9))
    assert index.fingerprint != corpus_fingerprint(paragraphs, LexicalSettings(ngrams=False))


def test_load_with_new_scoring_settings_keeps_the_terms(
    index: LexicalIndex, tmp_path: Path
) -> None:
    path = tmp_path / "lexical.json"
    index.save(path)
    loaded = LexicalIndex.load(path, LexicalSettings(part_weight=0.5, b=0.75))
    assert loaded.settings.b == 0.75
    assert loaded.search("samsjuklighet", k=3)
    with pytest.raises(IndexMissingError, match="analysinställningar"):
        LexicalIndex.load(path, LexicalSettings(compounds=False))


def test_load_of_a_missing_or_foreign_file_says_to_reindex(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="saknas"):
        LexicalIndex.load(tmp_path / "lexical.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(IndexMissingError, match="kan inte läsas"):
        LexicalIndex.load(broken)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": 0, "settings": {}}), encoding="utf-8")
    with pytest.raises(IndexMissingError, match="annan version"):
        LexicalIndex.load(old)


def test_build_rejects_duplicate_chunk_ids() -> None:
    with pytest.raises(ValueError, match="unique"):
        LexicalIndex.build([("a", "vård", {}), ("a", "omsorg", {})])


def test_settings_switch_compounds_and_ngrams_off() -> None:
    items: list[tuple[str, str, dict[str, Any]]] = [
        ("a", "Samsjuklighetsdelegationen har ett uppdrag.", {}),
        ("b", "Delegationen för samsjuklighet arbetar i tre år.", {}),
        ("c", "Regionen och kommunerna samverkar.", {}),
    ]
    plain = LexicalIndex.build(items, LexicalSettings(compounds=False, ngrams=False))
    assert plain.splitter is None
    assert [c for c, _ in plain.search("samsjuklighetsdelegationen", k=3)] == ["a"]
    split = LexicalIndex.build(items, LexicalSettings(compounds=True, ngrams=False))
    assert [c for c, _ in split.search("samsjuklighetsdelegationen", k=3)] == ["a", "b"]


def _chunk(chunk_id: str, text: str, heading: str, **meta: Any) -> Chunk:
    return text_chunk(
        chunk_id,
        text,
        doc_id=meta.get("doc_id", "doc"),
        heading_path=(heading,),
        locator="s. 1",
        doc_type=meta.get("doc_type", "rapport"),
        date=meta.get("date", "2024-06-12"),
        groups=meta.get("groups", ("alla",)),
    )


def test_from_chunks_indexes_headings_and_filters_on_metadata() -> None:
    chunks = [
        _chunk("c1", "Arbetsgruppen ska utreda förutsättningarna.", "MiniMaria"),
        _chunk("c2", "Arbetsgruppen träffas varje vecka.", "Hjälpmedel", date="2023-01-01"),
        _chunk("c3", "Arbetsgruppen rapporterar.", "Hemsjukvård", groups=("chefer",)),
    ]
    index = LexicalIndex.from_chunks(chunks)
    assert index.search("MiniMaria", k=3)[0][0] == "c1"
    assert index.allowed_ids(Filters(years=(2024,))) == {"c1", "c3"}
    assert index.allowed_ids(Filters(groups=("chefer",))) == {"c3"}
    allowed = index.allowed_ids(Filters(years=(2023,)))
    assert [c for c, _ in index.search("arbetsgruppen", k=3, allowed=allowed)] == ["c2"]
