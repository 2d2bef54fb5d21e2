"""The evaluation metrics on hand-made passages and answers: exact values."""

from __future__ import annotations

import pytest
from conftest import text_chunk

from core.types import Answer, Citation, Passage
from evals.dataset import normalise_for_match
from evals.metrics import (
    QuestionScore,
    answer_contains,
    breakdown,
    citation_precision,
    context_recall,
    evidence_rank,
    false_refusal_rate,
    hit_at_k,
    mean,
    percentile,
    quote_found,
    reciprocal_rank,
    refusal_recall,
    summarise,
)

EVIDENCE = "Projektledare för arbetet med regeringsuppdraget är Pär Alexandersson."
FILLER = "Socialstyrelsen har i uppdrag att förbereda ett pilotprojekt. " * 3


def passage(text: str, rank: int, doc: str = "rapport", position: int | None = None) -> Passage:
    pos = rank if position is None else position
    chunk = text_chunk(
        f"{doc}:{pos:04d}",
        text,
        doc_id=doc,
        title=doc,
        locator=f"sida {pos}",
        position=pos,
        content_hash=f"{doc}{pos}",
    )
    return Passage(chunk, 1.0 / rank, rank)


def answer(
    text: str, cited: list[Passage], context: list[Passage], refused: bool = False
) -> Answer:
    citations = tuple(
        Citation(n, p.chunk.chunk_id, p.chunk.doc_id, p.chunk.title, p.chunk.locator, "")
        for n, p in enumerate(cited, start=1)
    )
    return Answer("fråga", text, citations, refused, "extractive", passages=tuple(context))


# --- normalisation and matching -----------------------------------------------------------


def test_normalise_keeps_letters_and_digits_only() -> None:
    assert normalise_for_match("21 724 099 kr") == "21724099kr"
    assert normalise_for_match("Ut-\nvecklings-\n  arbete") == "utvecklingsarbete"
    assert normalise_for_match("**Hälso- och sjukvård** | <li>SiS</li> &amp; ﬁ") == (
        "hälsoochsjukvårdsisfi"
    )


def test_quote_found_exactly_after_cleaning() -> None:
    text = normalise_for_match("Projektledare för arbetet med regerings-\nuppdraget är Pär\n")
    assert quote_found(normalise_for_match("regeringsuppdraget är Pär"), text)


def test_quote_found_when_cleaning_writes_table_headers_into_rows() -> None:
    quote = normalise_for_match(
        "Boka tid och skicka kallelse\tHälso- och sjukvården\tErbjuda en fysisk och psykisk "
        "hälsoundersökning"
    )
    cleaned = normalise_for_match(
        "7 | Vad ska göras: Boka tid och skicka kallelse | Vems ansvar: Hälso- och sjukvården | "
        "Syfte: Erbjuda en fysisk och psykisk hälsoundersökning"
    )
    assert quote not in cleaned
    assert quote_found(quote, cleaned)


def test_quote_not_found_when_its_words_are_scattered() -> None:
    quote = normalise_for_match("Boka tid och skicka kallelse till hälsoundersökningen i Dalarna")
    scattered = normalise_for_match(
        "Boka tid hos vårdcentralen. "
        + FILLER
        + "Och skicka kallelse senare. "
        + FILLER
        + "Till hälsoundersökningen kommer många. "
        + FILLER
        + "I Dalarna finns 15 kommuner."
    )
    assert not quote_found(quote, scattered)


def test_short_quote_needs_an_exact_match() -> None:
    assert not quote_found("pärolsson", "pärolssen")
    assert quote_found("pärolsson", "xxpärolssonxx")
    assert not quote_found("", "text")


# --- retrieval metrics --------------------------------------------------------------------


def test_evidence_rank_and_reciprocal_rank() -> None:
    passages = [passage(FILLER, 1), passage(FILLER + EVIDENCE, 2), passage(EVIDENCE, 3)]
    assert evidence_rank([EVIDENCE], passages) == 2
    assert reciprocal_rank([EVIDENCE], passages) == 0.5
    assert hit_at_k([EVIDENCE], passages, 1) is False
    assert hit_at_k([EVIDENCE], passages, 2) is True
    assert evidence_rank([EVIDENCE], passages[:1]) is None
    assert reciprocal_rank([EVIDENCE], passages[:1]) == 0.0


def test_evidence_straddling_two_chunks_is_found_only_with_both() -> None:
    first = passage(FILLER + "Projektledare för arbetet med", 1, position=7)
    second = passage("regeringsuppdraget är Pär Alexandersson. " + FILLER, 3, position=8)
    other = passage(FILLER, 2, doc="annan", position=8)
    assert evidence_rank([EVIDENCE], [first, other]) is None
    assert evidence_rank([EVIDENCE], [first, other, second]) == 3
    # Chunks of different documents, or not adjacent, are never joined.
    far = passage("regeringsuppdraget är Pär Alexandersson.", 2, position=9)
    assert evidence_rank([EVIDENCE], [first, far]) is None


def test_overlap_repeated_by_the_chunker_is_dropped_when_joining() -> None:
    overlap = "med regeringsuppdraget"
    first = passage("Projektledare för arbetet " + overlap, 1, position=3)
    second = passage(overlap + " är Pär Alexandersson.", 2, position=4)
    assert context_recall([EVIDENCE], [first, second]) == 1.0


def test_context_recall_cuts_passages_at_the_budget() -> None:
    filler = passage("x" * 1500, 1)
    holder = passage(EVIDENCE, 2)
    assert len(EVIDENCE) == 70
    assert context_recall([EVIDENCE], [filler, holder], 2000) == 1.0
    assert context_recall([EVIDENCE], [filler, holder], 1540) == 0.0  # 40 of 70 chars fit
    assert context_recall([EVIDENCE], [filler, holder], 1500) == 0.0
    assert context_recall([EVIDENCE], [filler, holder]) == 1.0


def test_context_recall_is_the_share_of_quotes() -> None:
    second = "Region Dalarna beviljades 2 850 000 kronor för 2024."
    passages = [passage(EVIDENCE, 1), passage(FILLER, 2)]
    assert context_recall([EVIDENCE, second], passages, 4000) == 0.5
    passages.append(passage(second, 3, doc="bilaga"))
    assert context_recall([EVIDENCE, second], passages, 4000) == 1.0
    assert context_recall([], passages, 4000) == 0.0


# --- answer metrics -----------------------------------------------------------------------


def test_answer_contains_needs_every_string() -> None:
    text = "Region Dalarna fick 21724099 kr [1] och projektledaren heter Pär Alexandersson [2]."
    assert answer_contains(["21 724 099", "Pär Alexandersson"], text)
    assert not answer_contains(["21 724 099", "Annika Öquist"], text)
    assert answer_contains([], text)


def test_answer_contains_ignores_citation_markers() -> None:
    assert not answer_contains(["20191"], "Det började 2019 [1].")
    assert answer_contains(["2019"], "Det började 2019 [1, 2].")


def test_citation_precision_counts_cited_passages_holding_evidence() -> None:
    good, bad = passage(EVIDENCE, 1), passage(FILLER, 2)
    assert citation_precision([EVIDENCE], answer("svar", [good, bad], [good, bad])) == 0.5
    assert citation_precision([EVIDENCE], answer("svar", [good], [good, bad])) == 1.0
    assert citation_precision([EVIDENCE], answer("svar", [], [good, bad])) is None


def test_citation_precision_for_multi_accepts_either_quote() -> None:
    second = "Region Dalarna beviljades 2 850 000 kronor för 2024."
    one, two = passage(EVIDENCE, 1), passage(second, 2, doc="bilaga")
    noise = passage(FILLER, 3)
    ans = answer("svar", [one, two, noise], [one, two, noise])
    assert citation_precision([EVIDENCE, second], ans) == pytest.approx(2 / 3)


def test_citation_precision_of_a_straddled_quote() -> None:
    first = passage(FILLER + "Projektledare för arbetet med", 1, position=7)
    second = passage("regeringsuppdraget är Pär Alexandersson. " + FILLER, 2, position=8)
    whole = passage(EVIDENCE, 1, doc="annan", position=1)
    assert citation_precision([EVIDENCE], answer("svar", [second], [first, second])) == 1.0
    # A neighbour of a passage that holds the whole quote is not needed for it.
    after = passage(FILLER, 2, doc="annan", position=2)
    assert citation_precision([EVIDENCE], answer("svar", [after], [whole, after])) == 0.0


def test_citation_outside_the_context_counts_as_wrong() -> None:
    good = passage(EVIDENCE, 1)
    assert citation_precision([EVIDENCE], answer("svar", [good], [])) == 0.0


def test_refusal_rates() -> None:
    assert refusal_recall([True, True, False, True]) == 0.75
    assert false_refusal_rate([False, False, False, True]) == 0.25
    assert refusal_recall([]) is None
    assert false_refusal_rate([]) is None


def test_percentile_interpolates() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(48.0)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert mean([1.0, None, 3.0]) == 2.0
    assert mean([None]) is None


# --- aggregation --------------------------------------------------------------------------


def scored(
    id: str, kind: str, lang: str, rank: int | None, contains: bool, refused: bool, ms: float
) -> QuestionScore:
    if kind == "unanswerable":
        return QuestionScore(id, kind, lang, False, refused, ms)
    recall = 1.0 if rank is not None else 0.0
    return QuestionScore(
        id,
        kind,
        lang,
        True,
        refused,
        ms,
        evidence_rank=rank,
        recall={2000: recall, 4000: recall, 8000: recall},
        context_recall_answer=recall,
        answer_contains=contains,
        citation_precision=None if refused else 1.0,
    )


SCORES = [
    scored("q1", "fact", "sv", 1, True, False, 10.0),
    scored("q2", "fact", "en", 2, False, False, 20.0),
    scored("q3", "number", "sv", None, False, True, 30.0),
    scored("q4", "unanswerable", "sv", None, False, True, 40.0),
    scored("q5", "unanswerable", "en", None, False, False, 50.0),
]


def test_summarise_headline_metrics() -> None:
    m = summarise(SCORES)
    assert m["n"] == 5.0
    assert m["context_recall_4000"] == pytest.approx(2 / 3)
    assert m["hit_at_1"] == pytest.approx(1 / 3)
    assert m["hit_at_3"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["answer_contains"] == pytest.approx(1 / 3)
    assert m["citation_precision"] == 1.0
    assert m["refusal_recall"] == 0.5
    assert m["false_refusal_rate"] == pytest.approx(1 / 3)
    assert m["latency_p50_ms"] == 30.0
    assert m["latency_p95_ms"] == pytest.approx(48.0)


def test_breakdown_by_kind_and_language() -> None:
    by_kind = breakdown(SCORES, lambda s: s.kind)
    assert list(by_kind) == ["fact", "number", "unanswerable"]
    assert by_kind["fact"]["mrr"] == 0.75
    assert by_kind["fact"]["refusal_recall"] is None
    assert by_kind["unanswerable"]["mrr"] is None
    assert by_kind["unanswerable"]["refusal_recall"] == 0.5
    by_lang = breakdown(SCORES, lambda s: s.lang)
    assert by_lang["en"]["n"] == 2.0
    assert by_lang["en"]["answer_contains"] == 0.0
    assert by_lang["en"]["refusal_recall"] == 0.0


def test_quote_found_when_cleaning_writes_a_header_into_every_cell() -> None:
    quote = normalise_for_match("Vansbro\t5\nÅrjäng\t5\nRegion Dalarna\t10\nÖvriga\t17")
    cleaned = normalise_for_match(
        "Kommun: Vansbro | Antal platser: 5\nKommun: Årjäng | Antal platser: 5\n"
        "Kommun: Region Dalarna | Antal platser: 10\nKommun: Övriga | Antal platser: 17"
    )
    assert quote_found(quote, cleaned)


def test_quote_not_found_in_a_row_with_other_figures() -> None:
    quote = normalise_for_match("Avesta kommun 300 000 kronor, Borlänge kommun 450 000 kronor")
    other_year = normalise_for_match("Avesta kommun 250 000 kronor, Borlänge kommun 450 000 kronor")
    assert not quote_found(quote, other_year)


def test_quote_found_without_dropped_list_numbers() -> None:
    quote = normalise_for_match(
        "Upptäck behov 2. Förbered 3. Kalla till SIP-möte 4. Genomför SIP-möte"
    )
    cleaned = normalise_for_match("Upptäck behov\nFörbered\nKalla till SIP-möte\nGenomför SIP-möte")
    assert quote_found(quote, cleaned)
