"""Tests of the Swedish analyser: normalising, tokens, stopwords, stems and compound splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.swedish import (
    NGRAM_PREFIX,
    STOPWORDS,
    CompoundSplitter,
    analyse,
    char_ngrams,
    expand_chat_words,
    normalise,
    split_compound,
    stem,
    tokenize,
    unify_text,
    vocabulary_from_texts,
    weighted_terms,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.txt"))]
    assert texts, f"no corpus files in {CORPUS}"
    return texts


@pytest.fixture(scope="module")
def splitter(corpus_texts: list[str]) -> CompoundSplitter:
    return CompoundSplitter(vocabulary_from_texts(corpus_texts))


def test_tokenize_joins_swedish_thousands_separators() -> None:
    tokens = tokenize("Insatsområden länsgemensamma medel totalt 21 724 099 kr")
    assert tokens == ["insatsområden", "länsgemensamma", "medel", "totalt", "21724099", "kr"]


def test_tokenize_joins_numbers_with_non_breaking_spaces() -> None:
    assert tokenize("omfattar 1\u00a0560\u00a0000\u00a0000 kronor") == [
        "omfattar",
        "1560000000",
        "kronor",
    ]


def test_tokenize_keeps_years_and_separate_numbers_apart() -> None:
    assert tokenize("åren 2021 och 2022") == ["åren", "2021", "och", "2022"]
    assert tokenize("Summa 11089785 11 477 779") == ["summa", "11089785", "11477779"]


def test_tokenize_keeps_swedish_letters() -> None:
    tokens = tokenize("Överenskommelse om hälsoundersökning för barn i Årjäng, café och Müller")
    assert tokens == [
        "överenskommelse",
        "om",
        "hälsoundersökning",
        "för",
        "barn",
        "i",
        "årjäng",
        "café",
        "och",
        "müller",
    ]


def test_tokenize_keeps_acronyms_and_drops_colon_inflection() -> None:
    assert tokenize("SKR:s stöd, SIP:en och VIP:arna för SiS") == [
        "skr",
        "stöd",
        "sip",
        "och",
        "vip",
        "för",
        "sis",
    ]


def test_tokenize_splits_letters_from_digits() -> None:
    assert tokenize("1 000 000kr för 0-17år") == ["1000000", "kr", "för", "0", "17", "år"]


def test_normalise_unifies_dashes_and_quotes() -> None:
    assert normalise("”Avtalet ska vara enkelt” – kort") == '"avtalet ska vara enkelt" - kort'


def test_unify_text_joins_words_hyphenated_across_lines() -> None:
    assert unify_text("vid Statens Insti-\ntutionsstyrelse (SiS)") == (
        "vid Statens Institutionsstyrelse (SiS)"
    )


def test_unify_text_keeps_suspended_compounds() -> None:
    assert unify_text("hälso-\noch sjukvården") == "hälso- och sjukvården"


@pytest.mark.parametrize(
    "forms",
    [
        ("gemensam", "gemensamma", "gemensamt"),
        ("hälsa", "hälsan"),
        ("delegation", "delegationen", "delegationens"),
        ("samordnare", "samordnar", "samordnas"),
        ("samsjuklighet", "samsjukligheten"),
        ("ungdomshem", "ungdomshemmen", "ungdomshemmet"),
    ],
)
def test_stem_conflates_inflections(forms: tuple[str, ...]) -> None:
    assert len({stem(form) for form in forms}) == 1


def test_stem_leaves_numbers_alone() -> None:
    assert stem("21724099") == "21724099"


def test_stopwords_hold_question_words() -> None:
    assert {"vad", "vem", "hur", "när", "vilka", "vilken", "finns", "står"} <= STOPWORDS
    assert 150 <= len(STOPWORDS) <= 250


def test_analyse_drops_stopwords_and_stems() -> None:
    assert analyse("Vad finns det för stöd till kommunerna?") == ["stöd", "kommun"]


def test_char_ngrams_mark_word_boundaries() -> None:
    assert char_ngrams("sis") == ["<sis", "sis>"]
    assert char_ngrams("ab") == ["<ab>"]
    assert char_ngrams("vård", n=3) == ["<vå", "vår", "ård", "rd>"]


def test_analyse_adds_prefixed_ngrams_on_request() -> None:
    terms = analyse("SiS", ngrams=True)
    assert terms == ["sis", f"{NGRAM_PREFIX}<sis", f"{NGRAM_PREFIX}sis>"]


@pytest.mark.parametrize(
    ("compound", "parts"),
    [
        ("samsjuklighetsdelegation", ["samsjuklighet", "delegation"]),
        ("länsgemensamma", ["län", "gemensamma"]),
        ("hälsoundersökning", ["hälsa", "undersökning"]),
        ("suicidpreventionssamordnare", ["suicidprevention", "samordnare"]),
        ("utvecklingsarbetet", ["utveckling", "arbetet"]),
    ],
)
def test_split_compound_finds_corpus_parts(
    splitter: CompoundSplitter, corpus_texts: list[str], compound: str, parts: list[str]
) -> None:
    assert any(compound in text.lower() for text in corpus_texts)
    assert split_compound(compound, splitter) == parts


def test_parts_go_below_the_first_split(splitter: CompoundSplitter) -> None:
    # "prevention" never stands alone in the corpus: it is the rest after the known "suicid".
    parts = splitter.parts("suicidpreventionssamordnare")
    assert set(parts) == {"suicidprevention", "suicid", "prevention", "samordnare"}


def test_inflected_compound_of_a_question_splits_too(splitter: CompoundSplitter) -> None:
    assert splitter.split("samsjuklighetsdelegationens") == ["samsjuklighet", "delegationens"]


@pytest.mark.parametrize(
    "word", ["regionen", "verksamhet", "samverkan", "kommunerna", "kommunikation", "placering"]
)
def test_split_compound_leaves_simple_words_whole(splitter: CompoundSplitter, word: str) -> None:
    assert split_compound(word, splitter) == []


@pytest.mark.parametrize(
    ("compound", "phrase"),
    [
        ("samsjuklighetsdelegationen", "delegationen för samsjuklighet"),
        ("länsgemensamma", "gemensamma för länet"),
        ("hälsoundersökning", "undersökning av hälsan"),
        ("suicidpreventionssamordnare", "samordnare för suicidprevention"),
        ("utvecklingsarbetet", "arbetet med utveckling"),
    ],
)
def test_compound_and_its_phrase_share_terms_both_ways(
    splitter: CompoundSplitter, compound: str, phrase: str
) -> None:
    phrase_terms = set(analyse(phrase, compounds=splitter))
    compound_terms = set(analyse(compound, compounds=splitter))
    # A chunk with the compound meets a question with the phrase, and the other way round.
    assert phrase_terms <= compound_terms
    assert stem(compound) in compound_terms


def test_splitter_is_learned_from_its_vocabulary_only() -> None:
    splitter = CompoundSplitter(["skola", "skola", "läkare", "läkare", "tid", "tid", "plan"])
    assert splitter.split("skolläkare") == ["skola", "läkare"]
    assert splitter.split("tidplan") == ["tid", "plan"]
    assert splitter.split("samsjuklighetsdelegationen") == []


def test_vocabulary_leaves_out_capital_only_acronyms() -> None:
    vocabulary = vocabulary_from_texts(["RSS och SIP stöder regionen. Regionen har SiS."])
    assert "rss" not in vocabulary
    assert "sip" not in vocabulary
    assert vocabulary["regionen"] == 2
    assert "och" not in vocabulary


def test_weighted_terms_weigh_parts_below_words(splitter: CompoundSplitter) -> None:
    terms = weighted_terms("samsjuklighetsdelegationen", compounds=splitter, weights={"part": 0.3})
    assert terms[stem("samsjuklighetsdelegationen")] == 1.0
    assert terms[stem("delegationen")] == pytest.approx(0.3)
    assert terms[stem("samsjuklighet")] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("hur mkt fick dalarna 2025?", "hur mycket fick dalarna 2025?"),
        ("Finns det nån rutin för ngt sånt?", "Finns det någon rutin för något sånt?"),
        ("vem e ordförande?", "vem är ordförande?"),
        ("Va kostar det?", "Vad kostar det?"),
        # Left as they are: an "e" that opens a word, a "va" that asks nothing, whole words.
        ("vad e-handel är", "vad e-handel är"),
        ("va?", "va?"),
        ("Hur mycket kostar det?", "Hur mycket kostar det?"),
    ],
)
def test_chat_short_forms_are_written_out(typed: str, written: str) -> None:
    assert expand_chat_words(typed) == written
