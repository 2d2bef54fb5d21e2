"""Swedish search words for English questions: the curated term list and its use in search."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.english import TERMS_PATH, load_terms, swedish_terms, with_swedish_terms


@pytest.fixture
def terms(tmp_path: Path) -> dict[str, tuple[str, ...]]:
    path = tmp_path / "terms.tsv"
    path.write_text(
        "# English -> Swedish\n"
        "suicide prevention\tsuicidprevention|suicidpreventivt\n"
        "county\tlän|länet\n"
        "care\tvård\n"
        "integrated care\tintegrerad vård\n"
        "no tab on this line\n"
        "empty\t\n",
        encoding="utf-8",
    )
    return load_terms(path)


def test_the_list_is_read_without_comments_or_broken_lines(
    terms: dict[str, tuple[str, ...]],
) -> None:
    assert terms == {
        "suicide prevention": ("suicidprevention", "suicidpreventivt"),
        "county": ("län", "länet"),
        "care": ("vård",),
        "integrated care": ("integrerad vård",),
    }


def test_the_longest_phrase_wins_and_each_word_comes_once(
    terms: dict[str, tuple[str, ...]],
) -> None:
    question = "How much did the County get for suicide prevention, integrated care and care?"
    assert swedish_terms(question, terms) == [
        "län",
        "länet",
        "suicidprevention",
        "suicidpreventivt",
        "integrerad vård",
        "vård",
    ]
    assert swedish_terms("What is the weather like?", terms) == []


def test_a_question_is_read_with_its_swedish_words_in_brackets(
    terms: dict[str, tuple[str, ...]],
) -> None:
    assert with_swedish_terms("Which county?", terms) == "Which county? (län länet)"
    assert with_swedish_terms("What is the weather like?", terms) == "What is the weather like?"


def test_a_missing_list_is_empty(tmp_path: Path) -> None:
    assert load_terms(tmp_path / "none.tsv") == {}


def test_the_shipped_list_is_well_formed() -> None:
    lines = [
        line
        for line in TERMS_PATH.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) >= 200
    keys = [line.split("\t", 1)[0] for line in lines]
    assert all(line.count("\t") == 1 for line in lines)
    assert len(keys) == len(set(keys))
    assert all(key == key.lower().strip() and key for key in keys)
    shipped = load_terms()
    assert len(shipped) == len(lines)
    assert "län" in swedish_terms("Which county?", shipped)
