"""What an acronym stands for: which questions ask it, which sentence defines it, the opening;
and which sentence says what a term means."""

from __future__ import annotations

import pytest
from conftest import text_chunk

from core.types import Passage
from retrieval.definitions import (
    asked_acronym,
    asks_description,
    defines,
    defines_term,
    find_definition,
    meaning_line,
    term_definition,
)
from retrieval.glossary import GlossaryEntry

SIS = GlossaryEntry("SiS", "Statens institutionsstyrelse", aliases=("SIS",))
LVU = GlossaryEntry("LVU", "lagen med särskilda bestämmelser om vård av unga", aliases=("L VU",))
HVB = GlossaryEntry("HVB", "hem för vård eller boende", defined_in_corpus=False)
LAG = GlossaryEntry("LAG", "lokal aktionsgrupp", ambiguous=True)
GLOSSARY = {e.acronym: e for e in (SIS, LVU, HVB, LAG)}


@pytest.mark.parametrize(
    ("question", "acronym"),
    [
        ("Vad betyder LVU?", "LVU"),
        ("Vad står SiS för?", "SiS"),
        ("vad står sis för", "SiS"),
        ("Vad står förkortningen HVB för?", "HVB"),
        ("Vad är förkortningen HVB?", "HVB"),
        ("Vad menas med LVU?", "LVU"),
        ("Vad är ett HVB?", "HVB"),
        ("What does SiS stand for?", "SiS"),
        ("What does the acronym LVU mean?", "LVU"),
        ("What is HVB?", "HVB"),
        ("HVB?", "HVB"),
        ("LAG?", "LAG"),
        # A polite lead-in and the word order of a clause.
        ("Kan du berätta vad SiS är?", "SiS"),
        ("Jag undrar vad LVU betyder", "LVU"),
        ("kan du förklara vad förkortningen HVB står för?", "HVB"),
    ],
)
def test_a_question_about_what_an_acronym_means(question: str, acronym: str) -> None:
    entry = asked_acronym(question, GLOSSARY)
    assert entry is not None
    assert entry.acronym == acronym


@pytest.mark.parametrize(
    "question",
    [
        "Vad gör SiS?",  # what it does, not what it means
        "Vad är SIP-mötet?",
        "Vad betyder LVU för barnen i piloten?",
        "Vad betyder samverkan?",  # no acronym of the glossary
        "Vad betyder lag?",  # "LAG" is also an ordinary word: only as written
        "Hur många platser har SiS?",
        "Kan du berätta vad SiS gör?",
    ],
)
def test_other_questions_ask_no_acronym(question: str) -> None:
    assert asked_acronym(question, GLOSSARY) is None


def test_what_it_is_asks_more_than_what_the_letters_stand_for() -> None:
    assert asks_description("Vad är SIP?")
    assert asks_description("What is SIP?")
    assert not asks_description("Vad betyder SIP?")
    assert not asks_description("Vad är förkortningen SIP?")
    assert not asks_description("What does SIP stand for?")


def test_a_defining_sentence_names_the_acronym_and_every_word_of_its_expansion() -> None:
    assert defines("ett pilotprojekt vid Statens institutionsstyrelse (SiS) för unga", SIS)
    # Inflected, with a law's number inside the name and a spaced alias.
    assert defines(
        "med stöd av lagen (1990:52) med särskilda bestämmelser om vård av unga, L VU", LVU
    )
    assert not defines("SiS driver särskilda ungdomshem.", SIS)
    assert not defines("Statens institutionsstyrelse driver särskilda ungdomshem.", SIS)


def passage(chunk_id: str, text: str, rank: int) -> Passage:
    return Passage(text_chunk(chunk_id, text), score=1.0 / rank, rank=rank)


def test_the_definition_is_looked_for_in_the_context_first_then_in_the_other_chunks() -> None:
    uses = passage("uses", "SiS har 21 särskilda ungdomshem.", 1)
    defining = passage(
        "def", "Inledning\nStatens institutionsstyrelse (SiS) ansvarar för LVU-vården.", 2
    )
    found = find_definition(SIS, [uses, defining], [])
    assert found is not None
    assert found.in_context
    assert found.sentence.passage is defining
    assert found.sentence.text.startswith("Statens institutionsstyrelse (SiS)")
    # Outside the context: found among the chunks the asker may read, marked to join it.
    elsewhere = find_definition(SIS, [uses], [uses.chunk, defining.chunk])
    assert elsewhere is not None
    assert not elsewhere.in_context
    assert elsewhere.sentence.passage.chunk is defining.chunk
    assert elsewhere.sentence.passage.rank == 2
    # Nowhere spelt out.
    assert find_definition(SIS, [uses], [uses.chunk]) is None


@pytest.mark.parametrize(
    ("sentence", "defines_it"),
    [
        ("Med integrerad vård avses bland annat att vården ges samtidigt.", True),
        ("Med integrerad vård menas här att ett team gör båda delarna.", True),
        # Another term, or no definition.
        ("Med särskilda resursbehov avses behov hos barn och unga.", False),
        ("Integrerad vård ges av ett tvärprofessionellt team.", False),
    ],
)
def test_a_sentence_defines_a_term_the_question_names(sentence: str, defines_it: bool) -> None:
    question = "Vad menas med integrerad vård i det här utvecklingsarbetet?"
    assert defines_term(sentence, question) == defines_it


def test_a_terms_definition_is_found_outside_the_context_when_its_meaning_is_asked() -> None:
    uses = passage("uses", "Integrerad vård prövas i ett pilotprojekt vid SiS.", 1)
    defining = text_chunk(
        "def", "Bakgrund\nMed integrerad vård avses bland annat att vården ges samtidigt."
    )
    found = term_definition("Vad menas med integrerad vård?", [uses], [uses.chunk, defining])
    assert found is not None
    assert not found.in_context
    assert found.sentence.text.startswith("Med integrerad vård avses")
    # Only when a question asks what the term means ("Vad menas med ...?", "Vad avses med ...?").
    assert term_definition("Hur fungerar integrerad vård?", [uses], [defining]) is None


def test_the_opening_says_where_an_uncited_meaning_comes_from() -> None:
    assert (
        meaning_line("Vad betyder SiS?", SIS, cited=True)
        == "SiS står för Statens institutionsstyrelse"
    )
    assert meaning_line("What does SiS stand for?", SIS, cited=True) == (
        "SiS stands for “Statens institutionsstyrelse”"
    )
    # A curated acronym the documents never spell out.
    assert meaning_line("Vad betyder HVB?", HVB, cited=False) == (
        "HVB står för hem för vård eller boende (enligt ordlistan; dokumenten skriver inte ut den)."
    )
    # A defined one whose definition a filter hides: only the glossary is named.
    assert meaning_line("Vad betyder SiS?", SIS, cited=False) == (
        "SiS står för Statens institutionsstyrelse (enligt ordlistan)."
    )
