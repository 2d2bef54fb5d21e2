"""The sentence model: its features, its fit on labelled candidates, and the committed fit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.sentence_model import (
    DEFAULT_PATH,
    FEATURES,
    PRIOR,
    Candidate,
    SentenceModel,
    coverage,
    feature_matrix,
    fit_sentence_model,
    log_likelihood,
)

AMOUNT = re.compile(r"\d+ kr")
PATTERNS = {"amount": AMOUNT}


def candidate(
    text: str,
    line: int,
    *,
    chunk: str = "a",
    rank: int = 0,
    sim: float = 0.8,
    kind: str = "text",
    heading: str = "",
) -> Candidate:
    return Candidate(
        text=text,
        kind=kind,
        line=line,
        chunk_id=chunk,
        terms=frozenset(re.findall(r"\w+", text.lower())),
        heading_terms=frozenset(re.findall(r"\w+", heading.lower())),
        passage_score=1.0 / (1 + rank),
        passage_rank=rank,
        similarity=sim,
    )


def column(matrix: np.ndarray, name: str) -> list[float]:
    return [float(v) for v in matrix[:, FEATURES.index(name)]]


def test_coverage_is_the_weighted_share_of_question_terms() -> None:
    query = {"bidrag": 3.0, "region": 1.0}
    assert coverage(query, frozenset({"bidrag"})) == pytest.approx(0.75)
    assert coverage(query, frozenset()) == 0.0
    assert coverage({}, frozenset({"bidrag"})) == 0.0


def test_features_compare_each_candidate_with_the_others() -> None:
    query = {"bidrag": 3.0, "region": 1.0}
    cands = [
        candidate("Regionen beskriver arbetet.", 0, sim=0.80, heading="Bidrag"),
        candidate("Region får bidrag 500 kr.", 1, sim=0.90),
        candidate("Tabell", 0, chunk="b", rank=1, sim=0.70, kind="heading"),
    ]
    x = feature_matrix(query, {"amount"}, cands, PATTERNS)
    assert x.shape == (3, len(FEATURES))
    assert column(x, "coverage") == pytest.approx([0.0, 1.0, 0.0])
    # The heading "Bidrag" counts for the sentence under it, and the passage holds both words.
    assert column(x, "context_coverage") == pytest.approx([0.75, 1.0, 0.0])
    assert column(x, "passage_coverage") == pytest.approx([1.0, 1.0, 0.0])
    assert column(x, "rarest_word") == [0.0, 1.0, 0.0]
    assert column(x, "next_coverage") == pytest.approx([1.0, 0.0, 0.0])
    assert column(x, "previous_coverage") == pytest.approx([0.0, 0.0, 0.0])
    assert column(x, "similarity_gap") == pytest.approx([-0.1, 0.0, -0.2])
    assert column(x, "similarity_rank") == pytest.approx([0.5, 1.0, 1 / 3])
    assert column(x, "passage_rank") == pytest.approx([1.0, 1.0, 0.5])
    assert column(x, "passage_score") == pytest.approx([1.0, 1.0, 0.5])
    assert column(x, "heading") == [0.0, 0.0, 1.0]
    assert column(x, "amount_held") == [0.0, 1.0, 0.0]
    assert column(x, "amount_missing") == [1.0, 0.0, 1.0]
    # No date was asked for: neither date feature fires.
    assert column(x, "date_missing") == [0.0, 0.0, 0.0]


def test_no_candidates_give_an_empty_matrix() -> None:
    assert feature_matrix({"a": 1.0}, set(), [], PATTERNS).shape == (0, len(FEATURES))
    assert PRIOR.scores(np.zeros((0, len(FEATURES)))).shape == (0,)


def _questions(seed: int, n: int) -> list[tuple[np.ndarray, list[bool]]]:
    """Made-up questions whose evidence sentence has the highest "coverage" plus noise in
    "similarity" that does not tell it apart."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = int(rng.integers(5, 12))
        x = np.zeros((size, len(FEATURES)))
        x[:, FEATURES.index("similarity")] = rng.normal(0.85, 0.02, size)
        x[:, FEATURES.index("coverage")] = rng.uniform(0.0, 0.6, size)
        answer = int(rng.integers(size))
        x[answer, FEATURES.index("coverage")] = 0.7 + rng.uniform(0.0, 0.3)
        out.append((x, [i == answer for i in range(size)]))
    return out


def test_fitting_learns_which_feature_marks_the_evidence() -> None:
    train, held_out = _questions(1, 60), _questions(2, 40)
    model = fit_sentence_model(train)
    assert model.weights["coverage"] > 0
    assert abs(model.weights["similarity"]) < model.weights["coverage"]
    top = [y[int(np.argmax(model.scores(x)))] for x, y in held_out]
    assert all(top)
    assert log_likelihood(model, held_out) > log_likelihood(SentenceModel({}), held_out)


def test_questions_without_an_evidence_candidate_are_left_out_of_the_fit() -> None:
    x = np.ones((3, len(FEATURES)))
    assert fit_sentence_model([(x, [False, False, False])]) is PRIOR
    assert log_likelihood(PRIOR, [(x, [False, False, False])]) == 0.0


def test_a_model_is_saved_and_loaded(tmp_path: Path) -> None:
    model = SentenceModel({"coverage": 2.5, "similarity": 9.0}, margin=1.5)
    path = tmp_path / "sentences.json"
    model.save(path)
    loaded = SentenceModel.load(path)
    assert loaded.weights["coverage"] == 2.5
    assert (loaded.margin, loaded.same_passage_margin) == (1.5, 5.0)
    assert set(loaded.weights) == set(FEATURES)
    assert SentenceModel.load(tmp_path / "missing.json") is PRIOR


def test_the_committed_model_weighs_every_feature() -> None:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert set(data["weights"]) == set(FEATURES)
    model = SentenceModel.load()
    # Fitted on the calibration questions: meaning and the question's words raise a score.
    assert model.weights["similarity"] > 0
    assert model.weights["context_coverage"] > 0
