"""Compound questions: splitting a question that asks two things, and fusing the rankings of
its parts so each part's best passage reaches the context."""

from __future__ import annotations

import pytest
from conftest import text_chunk

from core.types import Passage
from retrieval.compound import split_compound
from retrieval.search import PartResult, SearchResult, with_parts


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "När beslutades riktlinjen, och vem leder arbetet med den?",
            ["När beslutades riktlinjen?", "Vem leder arbetet med den?"],
        ),
        (
            "Hur mycket får regionerna för suicidprevention 2025 och hur fördelas det?",
            ["Hur mycket får regionerna för suicidprevention 2025?", "Hur fördelas det?"],
        ),
        (
            "Vilka regioner deltar samt när startar piloten?",
            ["Vilka regioner deltar?", "När startar piloten?"],
        ),
        (
            "Who represents Avesta in the working group, and what is their role?",
            ["Who represents Avesta in the working group?", "What is their role?"],
        ),
        (
            "Vad kostar det, och vem betalar det, och när ska det vara betalt?",
            ["Vad kostar det?", "Vem betalar det?", "När ska det vara betalt?"],
        ),
        # A comma, a conjunction and a verb: a yes/no question follows.
        (
            "Vilka regioner fick pengar, och har de redovisat hur de använts?",
            ["Vilka regioner fick pengar?", "Har de redovisat hur de använts?"],
        ),
        (
            "What should be done with other issues, and does a service have to attend?",
            ["What should be done with other issues?", "Does a service have to attend?"],
        ),
    ],
)
def test_a_question_asking_two_things_is_split(question: str, parts: list[str]) -> None:
    assert split_compound(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "Hur mycket fick Region Dalarna för suicidprevention 2025?",
        # "och" without a new question word joins two things of one question.
        "Vilka kommuner och regioner deltar i piloten?",
        # Without a comma a verb goes on the same clause.
        "Vilka regioner fick pengar och har redovisat dem?",
        # A comma alone is a relative clause, not a new question.
        "Vem skrev rapporten, vilket år kom den ut?",
        "Who signed the report, which was published in 2020?",
        # A part of fewer than three words is not a question of its own.
        "När och var hölls mötet?",
        "Vilka regioner och vilka kommuner deltar?",
        "",
    ],
)
def test_a_question_asking_one_thing_is_not_split(question: str) -> None:
    assert split_compound(question) == []


def result(ids: list[str], ms: float, years: dict[str, str] | None = None) -> SearchResult:
    """A search result of plain chunks; ``years`` puts a chunk under a year heading."""
    years = years or {}
    chunks = [
        text_chunk(cid, f"Text {cid}.", heading_path=(years[cid],) if cid in years else ())
        for cid in ids
    ]
    passages = [Passage(c, 1.0 / rank, rank) for rank, c in enumerate(chunks, start=1)]
    return SearchResult(passages, {}, {}, {"embed_ms": ms}, "fråga")


def test_each_parts_best_passage_is_ranked_near_the_top() -> None:
    whole = result(["a1", "a2", "a3", "a4", "b1"], 10.0)
    first = PartResult("Första delen?", result(["a1", "a2", "a3"], 5.0))
    second = PartResult("Andra delen?", result(["b1", "a4"], 7.0))
    fused = with_parts(whole, [first, second], k=4)
    ids = [p.chunk.chunk_id for p in fused.passages]
    # b1 is last for the whole question but first for the second part: it moves up to third,
    # ahead of a3 and a4, which the second part ranks lower or not at all.
    assert ids == ["a1", "a2", "b1", "a4"]
    assert [p.rank for p in fused.passages] == [1, 2, 3, 4]
    assert fused.parts == (first, second)
    # The whole question's own search stays what refusal and the answerer read.
    assert fused.dense is whole.dense
    assert fused.query_vector is whole.query_vector
    assert fused.timings["embed_ms"] == pytest.approx(22.0)


def test_the_fused_ranking_puts_the_asked_year_first_as_a_single_question_does() -> None:
    years = {"a1": "2024", "b1": "2025", "a2": "2023"}
    whole = result(["a1", "a2", "b1"], 1.0, years)
    part = PartResult("Hur mycket 2025?", result(["a2", "b1", "a1"], 1.0, years))
    fused = with_parts(whole, [part], k=3, question="Hur mycket 2025, och till vad?")
    # b1 (2025) first; a1 and a2, about other years, behind.
    assert [p.chunk.chunk_id for p in fused.passages][0] == "b1"
    assert [p.rank for p in fused.passages] == [1, 2, 3]
    # Without a year in the question the fused order stands.
    plain = with_parts(whole, [part], k=3)
    assert [p.chunk.chunk_id for p in plain.passages] == ["a2", "a1", "b1"]
