"""Tests of numbered citations, the extractive answer text and the JSON form of an Answer."""

from __future__ import annotations

import json
from dataclasses import replace

from conftest import text_chunk

from core.types import Passage
from retrieval.citations import answer_to_json, build_extractive_answer, citation_for
from retrieval.extractive import ScoredSentence, Selection, Sentence, split_candidates

VILLKOR_TEXT = (
    "Bidraget söks av regionerna. Det fördelas efter befolkningsmängd.\n"
    "För att beviljas medel måste regionen senast 220901 uppfylla följande villkor:\n"
    "- Regionen ska ha stämt av sin ansökan med SiS\n"
    "- Utformningen ska ha skett i samverkan med SiS\n"
    "Regionerna redovisar resultaten i en slutrapport."
)
VGR_TEXT = "Västra Götalandsregionen tilldelas 21 724 099 kr år 2024."


def make_passage(
    text: str, rank: int, doc_id: str = "socialstyrelsen_bilaga", position: int = 0
) -> Passage:
    chunk = text_chunk(
        f"{doc_id}:{position:04d}",
        text,
        doc_id=doc_id,
        title=f"Titel för {doc_id}",
        heading_path=("Villkor för bidraget",),
        locator=f"avsnitt ”Villkor”, stycke {position + 1}",
        position=position,
        content_hash=f"hash-{doc_id}-{position}",
        publisher="Socialstyrelsen",
        date="2023-05-10",
    )
    return Passage(chunk, score=1.0 / rank, rank=rank)


def sentences_of(passage: Passage) -> dict[str, Sentence]:
    """The candidate sentences of a passage, by their text."""
    return {s.text: s for s in split_candidates(passage)}


def selection(*sentences: Sentence) -> Selection:
    """A selection of the given sentences, best first, with falling scores."""
    return Selection([ScoredSentence(s, 1.0 - 0.1 * i, 1.0) for i, s in enumerate(sentences)])


def test_the_same_passage_cited_twice_keeps_one_number() -> None:
    passage = make_passage(VILLKOR_TEXT, rank=1)
    by_text = sentences_of(passage)
    chosen = selection(
        by_text["Regionerna redovisar resultaten i en slutrapport."],
        by_text["Bidraget söks av regionerna."],
    )
    answer = build_extractive_answer("Hur söks bidraget?", "Hur söks bidraget?", chosen, [passage])
    # Reading order within the passage (line by line), both sentences marked [1].
    assert answer.text == (
        "Bidraget söks av regionerna. [1] Regionerna redovisar resultaten i en slutrapport. [1]"
    )
    assert len(answer.citations) == 1
    assert answer.citations[0].n == 1
    assert answer.citations[0].quote == (
        "Bidraget söks av regionerna. … Regionerna redovisar resultaten i en slutrapport."
    )


def test_sentences_of_one_line_are_in_the_order_of_the_text() -> None:
    passage = make_passage(VILLKOR_TEXT, rank=1)
    by_text = sentences_of(passage)
    chosen = selection(
        by_text["Det fördelas efter befolkningsmängd."],
        by_text["Bidraget söks av regionerna."],
    )
    answer = build_extractive_answer("Hur söks bidraget?", "Hur söks bidraget?", chosen, [passage])
    assert (
        answer.text == "Bidraget söks av regionerna. [1] Det fördelas efter befolkningsmängd. [1]"
    )


def test_the_answer_opens_with_the_passage_of_the_best_sentence() -> None:
    first = make_passage(VILLKOR_TEXT, rank=1, doc_id="socialstyrelsen_bilaga")
    second = make_passage(VGR_TEXT, rank=2, doc_id="vgr_fordelning")
    # The best sentence is in the passage the search ranked second: the answer opens with it.
    chosen = selection(
        sentences_of(second)[VGR_TEXT],
        sentences_of(first)["Bidraget söks av regionerna."],
    )
    answer = build_extractive_answer("q", "q", chosen, [first, second])
    assert answer.text == f"{VGR_TEXT} [1] Bidraget söks av regionerna. [2]"
    assert [(c.n, c.doc_id) for c in answer.citations] == [
        (1, "vgr_fordelning"),
        (2, "socialstyrelsen_bilaga"),
    ]


def test_passages_follow_the_order_their_sentences_were_chosen_in() -> None:
    later = make_passage("Andra delen av beslutet gäller 2024.", rank=1, position=5)
    earlier = make_passage("Första delen av beslutet gäller 2023.", rank=2, position=2)
    chosen = selection(
        sentences_of(later)["Andra delen av beslutet gäller 2024."],
        sentences_of(earlier)["Första delen av beslutet gäller 2023."],
    )
    answer = build_extractive_answer("q", "q", chosen, [later, earlier])
    # The best sentence's passage first, though it comes later in the document.
    assert answer.text == (
        "Andra delen av beslutet gäller 2024. [1] Första delen av beslutet gäller 2023. [2]"
    )


def test_list_items_are_bullets_and_a_sentence_after_them_starts_a_paragraph() -> None:
    passage = make_passage(VILLKOR_TEXT, rank=1)
    by_text = sentences_of(passage)
    lead = "För att beviljas medel måste regionen senast 220901 uppfylla följande villkor:"
    chosen = selection(
        by_text[lead],
        by_text["Regionen ska ha stämt av sin ansökan med SiS"],
        by_text["Utformningen ska ha skett i samverkan med SiS"],
        by_text["Regionerna redovisar resultaten i en slutrapport."],
    )
    answer = build_extractive_answer("Vilka villkor gäller?", "Vilka villkor gäller?", chosen, [])
    assert answer.text == (
        f"{lead} [1]\n"
        "- Regionen ska ha stämt av sin ansökan med SiS [1]\n"
        "- Utformningen ska ha skett i samverkan med SiS [1]\n"
        "\n"
        "Regionerna redovisar resultaten i en slutrapport. [1]"
    )
    assert len(answer.citations) == 1


def test_a_numbered_list_keeps_its_numbers_one_line_each() -> None:
    passage = make_passage(
        "Delmål\n1. Ökat fokus på psykisk hälsa.\n2. Stärkt suicidpreventivt arbete.\n"
        "Handlingsplanen gäller 2025–2026.",
        rank=1,
    )
    by_text = sentences_of(passage)
    chosen = selection(
        by_text["Delmål"],
        by_text["1. Ökat fokus på psykisk hälsa."],
        by_text["2. Stärkt suicidpreventivt arbete."],
        by_text["Handlingsplanen gäller 2025–2026."],
    )
    answer = build_extractive_answer("Vilka delmål?", "Vilka delmål?", chosen, [passage])
    assert answer.text == (
        "Delmål [1]\n"
        "1. Ökat fokus på psykisk hälsa. [1]\n"
        "2. Stärkt suicidpreventivt arbete. [1]\n"
        "\n"
        "Handlingsplanen gäller 2025–2026. [1]"
    )


def test_a_parenthesis_the_splitter_cut_is_one_sentence_with_one_marker() -> None:
    passage = make_passage(
        "2. Insatser för barn och unga (Kommunerna får stöd genom skola och socialtjänst. "
        "Sammanlagt 8 006 024 kr)\nArenor som möter barn och föräldrar.",
        rank=1,
    )
    by_text = sentences_of(passage)
    opened = "2. Insatser för barn och unga (Kommunerna får stöd genom skola och socialtjänst."
    closing = "Sammanlagt 8 006 024 kr)"
    assert set(by_text) == {opened, closing, "Arenor som möter barn och föräldrar."}
    chosen = selection(by_text[opened], by_text["Sammanlagt 8 006 024 kr)"])
    answer = build_extractive_answer("Hur mycket?", "Hur mycket?", chosen, [passage])
    assert answer.text == f"{opened} Sammanlagt 8 006 024 kr) [1]"
    # Quoted as written: the two parts stand on one line of the passage.
    assert answer.citations[0].quote == f"{opened} Sammanlagt 8 006 024 kr)"
    assert answer.citations[0].quote in passage.chunk.text


def test_an_opening_line_carries_the_number_of_the_sentence_that_states_it() -> None:
    passage = make_passage(VGR_TEXT, rank=1, doc_id="vgr_fordelning", position=3)
    chosen = selection(sentences_of(passage)[VGR_TEXT])
    answer = build_extractive_answer(
        "Vad betyder VGR?",
        "Vad betyder VGR?",
        chosen,
        [passage],
        opening="VGR står för Västra Götalandsregionen",
        opening_source=passage.chunk.chunk_id,
    )
    assert answer.text == f"VGR står för Västra Götalandsregionen [1].\n\n{VGR_TEXT} [1]"
    # Without a source among the chosen sentences, the opening carries no number.
    bare = build_extractive_answer("q", "q", chosen, [passage], opening="VGR står för X.")
    assert bare.text.startswith("VGR står för X.\n\n")


def test_citations_carry_where_the_quote_comes_from() -> None:
    passage = make_passage(VGR_TEXT, rank=1, doc_id="vgr_fordelning", position=3)
    chosen = selection(sentences_of(passage)[VGR_TEXT])
    answer = build_extractive_answer("Hur mycket?", "Hur mycket?", chosen, [passage])
    (citation,) = answer.citations
    assert citation == citation_for(1, passage, VGR_TEXT)
    assert citation.n == 1
    assert citation.chunk_id == "vgr_fordelning:0003"
    assert citation.doc_id == "vgr_fordelning"
    assert citation.title == "Titel för vgr_fordelning"
    assert citation.publisher == "Socialstyrelsen"
    assert citation.date == "2023-05-10"
    assert citation.locator == "avsnitt ”Villkor”, stycke 4"
    assert citation.quote == VGR_TEXT


def test_the_answer_keeps_both_questions_and_the_context() -> None:
    passage = make_passage(VGR_TEXT, rank=1)
    other = make_passage(VILLKOR_TEXT, rank=2, doc_id="annat")
    chosen = selection(sentences_of(passage)[VGR_TEXT])
    answer = build_extractive_answer(
        "och 2024?", "Hur mycket fick VGR 2024?", chosen, [passage, other]
    )
    assert answer.question == "och 2024?"
    assert answer.standalone_question == "Hur mycket fick VGR 2024?"
    assert answer.mode == "extractive"
    assert answer.refused is False
    # Every passage given as context is kept, also the uncited one.
    assert answer.passages == (passage, other)


def test_an_empty_selection_gives_an_empty_answer_without_citations() -> None:
    answer = build_extractive_answer("q", "q", Selection([]), [])
    assert answer.text == ""
    assert answer.citations == ()


def test_answer_to_json_has_exactly_the_documented_shape() -> None:
    passage = make_passage(VGR_TEXT, rank=1, doc_id="vgr_fordelning")
    passage = replace(passage, score=0.123456789)
    chosen = selection(sentences_of(passage)[VGR_TEXT])
    answer = build_extractive_answer("Hur mycket?", "Hur mycket?", chosen, [passage])
    answer = replace(answer, timings={"retrieve_ms": 12.345, "answer_ms": 0.04})
    data = answer_to_json(answer)

    assert set(data) == {"answer", "refused", "mode", "citations", "passages", "timings_ms"}
    assert data["answer"] == f"{VGR_TEXT} [1]"
    assert data["refused"] is False
    assert data["mode"] == "extractive"
    assert data["citations"] == [
        {
            "n": 1,
            "doc_id": "vgr_fordelning",
            "title": "Titel för vgr_fordelning",
            "locator": "avsnitt ”Villkor”, stycke 1",
            "quote": VGR_TEXT,
            "chunk_id": "vgr_fordelning:0000",
        }
    ]
    assert data["passages"] == [
        {
            "chunk_id": "vgr_fordelning:0000",
            "doc_id": "vgr_fordelning",
            "text": VGR_TEXT,
            "score": 0.123457,
        }
    ]
    assert data["timings_ms"] == {"retrieve": 12.3, "answer": 0.0}
    # It is plain JSON, å/ä/ö included.
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
