"""The calibration questions (kept apart from the evaluation set) and the cross-validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retrieval.calibrate import (
    CALIBRATION_DIR,
    VALIDATION_DIR,
    cross_validated,
    holds_evidence,
    load_questions,
)

REPO = Path(__file__).resolve().parent.parent


def letters(text: str) -> str:
    return re.sub(r"[^0-9a-zåäöéü]+", "", text.lower())


def read_rows(folder: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def raw_rows() -> list[dict[str, object]]:
    return read_rows(CALIBRATION_DIR)


@pytest.fixture(scope="module")
def every_row() -> list[dict[str, object]]:
    """The calibration questions and the validation questions, which nothing is fitted on."""
    return read_rows(CALIBRATION_DIR) + read_rows(VALIDATION_DIR)


def test_the_validation_questions_are_read_apart_from_the_calibration_ones() -> None:
    fitted = {q.question for q in load_questions()}
    validation = load_questions(VALIDATION_DIR)
    assert len(validation) >= 138
    assert sum(q.answerable for q in validation) >= 90
    assert not any(q.question in fitted for q in validation)
    assert all(q.evidence for q in validation if q.answerable)
    assert not any(q.evidence for q in validation if not q.answerable)


def test_every_file_of_the_folder_is_read(raw_rows: list[dict[str, object]]) -> None:
    questions = load_questions()
    assert len(questions) == len(raw_rows) >= 311
    assert sum(q.answerable for q in questions) >= 204
    assert all(q.evidence for q in questions if q.answerable)
    assert not any(q.evidence for q in questions if not q.answerable)


def test_a_follow_up_keeps_the_conversation_before_it() -> None:
    follow_ups = [q for q in load_questions() if q.history]
    assert len(follow_ups) >= 45
    for question in follow_ups:
        assert [t.role for t in question.history][:2] == ["user", "assistant"]
        assert all(t.content for t in question.history)


def test_ids_are_unique_across_files(every_row: list[dict[str, object]]) -> None:
    ids = [row["id"] for row in every_row]
    assert len(ids) == len(set(ids))


def test_every_evidence_quote_is_in_its_document(every_row: list[dict[str, object]]) -> None:
    texts = {
        path.name: letters(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))
        + letters(path.read_text(encoding="utf-8").replace("-\n", ""))
        for path in (REPO / "corpus").glob("*.txt")
    }
    missing = [
        row["id"]
        for row in every_row
        if row["answerable"] and letters(str(row["evidence"])) not in texts[str(row["source"])]
    ]
    assert missing == []


def test_no_question_of_the_evaluation_set_is_reused(every_row: list[dict[str, object]]) -> None:
    evaluation = {
        letters(json.loads(line)["question"])
        for line in (REPO / "evals" / "dataset.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    assert [row["id"] for row in every_row if letters(str(row["question"])) in evaluation] == []


def test_cross_validation_judges_each_question_by_a_model_fitted_without_it() -> None:
    # Answerable questions have high similarity, unanswerable low; one unanswerable question
    # looks answerable and cannot be told apart.
    features = [{"best_similarity": 0.9 + 0.001 * i} for i in range(20)]
    features += [{"best_similarity": 0.7 + 0.001 * i} for i in range(20)]
    features += [{"best_similarity": 0.95}]
    labels = [True] * 20 + [False] * 21
    refused_unanswerable, refused_answerable = cross_validated(features, labels, folds=7)
    assert refused_unanswerable == pytest.approx(20 / 21)  # all but the one out of line
    assert refused_answerable == 0.0


def test_a_candidate_holds_evidence_when_it_holds_the_quote_or_a_sentence_of_it() -> None:
    quote = "Projektledare är Pär Alexandersson. Ansvarig enhetschef är Annika Öquist."
    assert holds_evidence("Ansvarig enhetschef är Annika Öquist.", [quote])
    assert holds_evidence(
        "Enligt planen: projektledare är Pär Alexandersson. Mer text.",
        ["projektledare är Pär Alexandersson"],
    )
    # Case, punctuation, spaces in figures and a word hyphenated across lines do not matter.
    assert holds_evidence(
        "Beloppet är 7 790 015 kr för ut-\nveckling.", ["7790015 kr för utveckling"]
    )
    # A short line inside a long quote is not taken for it; nor is another sentence.
    assert not holds_evidence("Projektledare", [quote])
    assert not holds_evidence("Arbetet startar i maj.", [quote])
    assert not holds_evidence("Arbetet startar i maj.", [])
