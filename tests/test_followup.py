"""Tests of the follow-up rewrite: a short question is made standalone from the conversation."""

from __future__ import annotations

import pytest

from core.types import Turn
from retrieval.followup import needs_context, rewrite_followup

SUBJECT_2023 = "Hur mycket medel fick Västra Götalandsregionen för samsjuklighet 2023?"
STANDALONE = (
    "Vilka villkor måste regionen uppfylla för att beviljas statsbidrag för integrerad vård?"
)


def conversation(*questions: str) -> list[Turn]:
    """User questions, each followed by an assistant answer, oldest first."""
    turns: list[Turn] = []
    for question in questions:
        turns.append(Turn("user", question))
        turns.append(Turn("assistant", "Svar med källa [1]."))
    return turns


def test_a_new_year_repeats_the_earlier_question_with_that_year() -> None:
    rewritten = rewrite_followup("och 2024?", conversation(SUBJECT_2023))
    assert rewritten == "Hur mycket medel fick Västra Götalandsregionen för samsjuklighet 2024?"


def test_a_new_year_in_english_is_rewritten_the_same_way() -> None:
    history = conversation("How much funding did the region receive in 2023?")
    rewritten = rewrite_followup("And 2024?", history)
    assert rewritten == "How much funding did the region receive in 2024?"


def test_a_pronoun_question_is_placed_before_the_earlier_question() -> None:
    history = conversation("Vad är Samsjuklighetsdelegationen?")
    rewritten = rewrite_followup("vem leder den?", history)
    assert rewritten == "vem leder den? Vad är Samsjuklighetsdelegationen?"
    # The earlier subject is now searchable.
    assert "Samsjuklighetsdelegationen" in rewritten


def test_a_follow_up_with_more_than_a_year_keeps_both_questions() -> None:
    history = conversation(SUBJECT_2023)
    rewritten = rewrite_followup("och hur mycket fick Region Skåne 2024?", history)
    assert rewritten == f"och hur mycket fick Region Skåne 2024? {SUBJECT_2023}"


def test_a_standalone_question_is_returned_unchanged() -> None:
    assert not needs_context(STANDALONE)
    assert rewrite_followup(STANDALONE, conversation(SUBJECT_2023)) == STANDALONE


def test_without_history_the_question_is_returned_unchanged() -> None:
    assert rewrite_followup("och 2024?", []) == "och 2024?"
    assert rewrite_followup("vem leder den?", []) == "vem leder den?"


def test_only_user_turns_give_the_subject() -> None:
    history = [
        Turn("user", SUBJECT_2023),
        Turn("assistant", "Västra Götalandsregionen fick 21 724 099 kr år 2023 [1]."),
    ]
    assert "21 724 099" not in rewrite_followup("och 2024?", history)
    assert rewrite_followup("och 2024?", history).startswith("Hur mycket medel fick")


def test_a_chain_of_follow_ups_keeps_the_first_subject() -> None:
    history = conversation(SUBJECT_2023, "och 2024?")
    rewritten = rewrite_followup("och 2025?", history)
    assert rewritten == "Hur mycket medel fick Västra Götalandsregionen för samsjuklighet 2025?"


def test_the_last_user_question_is_the_subject() -> None:
    history = conversation(SUBJECT_2023, STANDALONE)
    assert rewrite_followup("vem beslutar om det?", history) == (
        f"vem beslutar om det? {STANDALONE}"
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("och 2024?", True),  # opened by "och"
        ("Men Region Skåne?", True),  # opened by "men"
        ("Vem leder den?", True),  # short
        ("Vilket belopp gäller för den regionen enligt beslutet?", True),  # pronoun, 8 words
        (STANDALONE, False),
        ("", False),
        ("?", False),
    ],
)
def test_needs_context(question: str, expected: bool) -> None:
    assert needs_context(question) is expected
