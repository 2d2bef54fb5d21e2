"""Verification of generated answers: citation numbers, Swedish figures, marking and fallback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retrieval.verify import (
    extract_figures,
    marker_numbers,
    passage_facts,
    remove_invalid_citations,
    says_no_support,
    split_sentences,
    verification_notice,
    verify_answer,
    verify_numbers,
)

# Sentences in the style of the real corpus (Region Dalarna's report on 2024 funds).
DALARNA = (
    "Region Dalarna hade totalt 21 724 099 kronor i länsgemensamma medel inom överenskommelsen "
    "om psykisk hälsa 2024. Av dessa gick 6 330 883 kronor till barn och unga. "
    "Beslutet fattades den 30 september 2025 (dnr 220901). Staten avsätter 15 miljoner kronor "
    "per år. 9 procent av platserna har förstärkt bemanning."
)
SIS = "Projektledare för arbetet med regeringsuppdraget är Pär Alexandersson."


# --- figures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("21 724 099 kr", Decimal(21724099)),
        ("21\u00a0724\u00a0099 kronor", Decimal(21724099)),
        ("21724099", Decimal(21724099)),
        ("21,724,099 SEK", Decimal(21724099)),
        ("15 miljoner kronor", Decimal(15_000_000)),
        ("15 mnkr", Decimal(15_000_000)),
        ("1,56 miljarder", Decimal(1_560_000_000)),
        ("45 tkr", Decimal(45_000)),
        ("9 procent", Decimal(9)),
        ("9 %", Decimal(9)),
        ("9%", Decimal(9)),
        ("8,5 miljoner", Decimal(8_500_000)),
        ("1,5 år", Decimal("1.5")),
    ],
)
def test_a_figure_is_read_as_its_value(written: str, value: Decimal) -> None:
    figures = extract_figures(written)
    assert len(figures) == 1
    assert value in figures[0].numbers


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("30 september 2025", "d:2025-09-30"),
        ("2025-09-30", "d:2025-09-30"),
        ("30/9 2025", "d:2025-09-30"),
        ("September 30, 2025", "d:2025-09-30"),
        ("220901", "d:2022-09-01"),
        ("20220901", "d:2022-09-01"),
        ("september 2025", "ym:2025-09"),
        ("den 1 januari", "md:01-01"),
    ],
)
def test_a_date_is_read_whole_in_any_form(written: str, key: str) -> None:
    figures = extract_figures(written)
    assert len(figures) == 1
    assert key in figures[0].dates


def test_markers_enumerators_and_names_are_not_figures() -> None:
    assert extract_figures("1. Regionen ska delta [2].") == []
    assert extract_figures("Efter covid-19 ökade behoven [3][4].") == []
    surfaces = [f.surface for f in extract_figures("Under 2023/24 fick 3 regioner 2 000 kr [1].")]
    assert surfaces == ["2023", "24", "3", "2 000"]


def test_a_short_second_year_is_read_in_full() -> None:
    short = extract_figures("2023/24")[1]
    assert Decimal(2024) in short.numbers


def test_passage_facts_hold_every_reading() -> None:
    facts = passage_facts(DALARNA)
    for value in (21724099, 6330883, 15_000_000, 15, 9, 2024, 2025, 30, 220901):
        assert Decimal(value) in facts.numbers
    assert {"d:2025-09-30", "d:2022-09-01", "ym:2025-09", "md:09-30"} <= facts.dates


# --- numbers against passages -------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Dalarna hade 21 724 099 kr [1].",
        "Dalarna hade 21724099 kronor [1].",
        "Dalarna hade 21,7 miljoner kronor [1].",  # rounded to the digits it states
        "Staten avsätter 15 000 000 kr per år [1].",
        "Staten avsätter 15 mkr [1].",
        "Beslutet fattades 2025-09-30 [1].",
        "Beslutet fattades den 30 september 2025 [1].",
        "Ärendet är från den 1 september 2022 [1].",  # "220901" in the passage
        "9 % av platserna har förstärkt bemanning [1].",
        "Det gäller 2024 [1].",
    ],
)
def test_a_figure_in_another_form_is_found(sentence: str) -> None:
    assert verify_numbers(sentence, [passage_facts(DALARNA)]) == ()


@pytest.mark.parametrize(
    ("sentence", "caught"),
    [
        ("Dalarna hade 21 742 099 kr [1].", ("21 742 099",)),
        ("Dalarna hade 23 miljoner kronor [1].", ("23 miljoner",)),
        ("Dalarna hade 21,5 miljoner kronor [1].", ("21,5 miljoner",)),
        ("Staten avsätter 25 miljoner kronor per år [1].", ("25 miljoner",)),
        ("Beslutet fattades den 30 oktober 2025 [1].", ("30 oktober 2025",)),
        ("Andelen är 19 procent [1].", ("19 procent",)),
        ("Det gäller 2026 och 6 330 883 kr [1].", ("2026",)),
    ],
)
def test_a_figure_no_passage_holds_is_caught(sentence: str, caught: tuple[str, ...]) -> None:
    assert verify_numbers(sentence, [passage_facts(DALARNA)]) == caught


# --- markers and sentences ----------------------------------------------------------------


def test_marker_numbers_read_lists_and_ranges() -> None:
    assert marker_numbers("1, 3") == [1, 3]
    assert marker_numbers("2-4") == [2, 3, 4]
    assert marker_numbers("2–3") == [2, 3]


def test_markers_naming_no_given_passage_are_removed() -> None:
    text, removed = remove_invalid_citations("Ja [1]. Nej [7]. Kanske [2, 9].", 2)
    assert text == "Ja [1]. Nej. Kanske [2]."
    assert removed == (7, 9)


def test_sentences_keep_their_markers_and_abbreviations() -> None:
    sentences = split_sentences(
        "Beloppet är 9.5 mkr, t.ex. till Region X [1]. Nästa mening. [2]\n- en punkt [3]"
    )
    assert [s.text for s in sentences] == [
        "Beloppet är 9.5 mkr, t.ex. till Region X [1].",
        "Nästa mening. [2]",
        "- en punkt [3]",
    ]
    assert [s.markers for s in sentences] == [(1,), (2,), (3,)]


# --- the whole answer ---------------------------------------------------------------------


def test_a_faithful_answer_passes() -> None:
    answer = (
        "Region Dalarna hade 21 724 099 kronor 2024 [1]. Av dem gick 6 330 883 kronor till barn "
        "och unga [1]. Projektledare är Pär Alexandersson [2]."
    )
    verification = verify_answer(answer, [DALARNA, SIS])
    assert verification.text == answer
    assert verification.unverified == ()
    assert verification.removed == ()
    assert verification.cited == (1, 2)
    assert verification.figures_checked == 3
    assert verification.figures_caught == 0
    assert not verification.falls_back
    assert verification_notice(verification) == ""


def test_an_invented_figure_is_caught_and_its_sentence_marked() -> None:
    answer = (
        "Region Dalarna hade 21 724 099 kronor 2024 [1]. "
        "Av dem gick 7 000 000 kronor till barn och unga [1]."
    )
    verification = verify_answer(answer, [DALARNA, SIS])
    assert verification.unverified == ("Av dem gick 7 000 000 kronor till barn och unga [1].",)
    assert verification.figures_caught == 1
    assert not verification.falls_back  # the first sentence holds: marking, not fallback
    assert "kunde inte styrkas" in verification_notice(verification)


def test_a_figure_must_be_in_the_passage_the_sentence_cites() -> None:
    # 21 724 099 is in passage 1, but the sentence cites passage 2.
    verification = verify_answer("Dalarna hade 21 724 099 kronor [2].", [DALARNA, SIS])
    assert verification.unverified == ("Dalarna hade 21 724 099 kronor [2].",)
    assert verification.falls_back


def test_a_bad_marker_is_removed_and_its_sentence_marked() -> None:
    answer = "Projektledare är Pär Alexandersson [2]. Han leder också arbetet i Dalarna [5]."
    verification = verify_answer(answer, [DALARNA, SIS])
    assert verification.text == (
        "Projektledare är Pär Alexandersson [2]. Han leder också arbetet i Dalarna."
    )
    assert verification.removed == (5,)
    assert verification.unverified == ("Han leder också arbetet i Dalarna.",)
    assert all(s in verification.text for s in verification.unverified)
    notice = verification_notice(verification)
    assert "[5]" in notice
    assert "tagits bort" in notice


def test_a_sentence_borrows_the_citation_after_it_on_its_line() -> None:
    answer = "Dalarna hade 21 724 099 kronor. Av dem gick 6 330 883 kronor till barn och unga [1]."
    verification = verify_answer(answer, [DALARNA])
    assert [s.cites for s in verification.sentences] == [(1,), (1,)]
    assert verification.unverified == ()


def test_a_sentence_without_marker_is_attributed_to_the_passage_that_holds_it() -> None:
    verification = verify_answer("Det blir 6 330 883 kr.", [SIS, DALARNA])
    assert verification.text == "Det blir 6 330 883 kr. [2]"
    assert verification.cited == (2,)
    assert verification.attributed == 1
    assert verification.unverified == ()
    worded = verify_answer(
        "Pär Alexandersson är projektledare för regeringsuppdraget.", [DALARNA, SIS]
    )
    assert worded.cited == (2,)


def test_no_passage_holding_the_figure_means_no_attribution() -> None:
    verification = verify_answer("Det blir 6 330 884 kr.", [SIS, DALARNA])
    assert verification.text == "Det blir 6 330 884 kr."
    assert verification.cited == ()
    assert verification.unverified == ("Det blir 6 330 884 kr.",)
    assert verification.falls_back


def test_an_uncited_claim_is_unverified() -> None:
    verification = verify_answer("Dalarna fick pengar.\nProjektledare är Pär [1].", [SIS])
    assert verification.unverified == ("Dalarna fick pengar.",)


def test_lead_ins_and_no_support_sentences_are_not_claims() -> None:
    answer = "Beloppen är:\n- 21 724 099 kronor [1]\nJag hittar inget stöd för resten i underlaget."
    verification = verify_answer(answer, [DALARNA])
    assert [s.claim for s in verification.sentences] == [False, True, False]
    assert verification.unverified == ()


def test_nothing_verified_falls_back() -> None:
    verification = verify_answer("Dalarna fick 99 miljoner kronor [1].", [DALARNA])
    assert verification.falls_back
    assert verify_answer("", [DALARNA]).falls_back


def test_says_no_support_in_swedish_and_english() -> None:
    assert says_no_support("Jag hittar inget stöd för det i underlaget.")
    assert says_no_support("Det framgår inte av källorna.")
    assert says_no_support("I find no support for that in the documents.")
    assert not says_no_support("Region Dalarna fick 21 724 099 kronor [1].")
