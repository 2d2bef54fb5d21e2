"""Tests of the refusal model: monotone in the evidence, fitted with sign constraints, stored."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from retrieval.refusal import (
    FEATURES,
    PRIOR,
    SIGNS,
    RefusalModel,
    fit_refusal_model,
    ruled_out,
)

Row = dict[str, float]


def calibration_set(seed: int = 0, n: int = 80) -> tuple[list[Row], list[bool]]:
    """Answerable rows have high coverage and few missing names; unanswerable the opposite.

    ``best_similarity`` is made higher for the unanswerable rows, against its sign, so a free fit
    would give it a negative weight.
    """
    rng = random.Random(seed)
    rows: list[Row] = []
    labels: list[bool] = []
    for i in range(n):
        answerable = i % 2 == 0
        coverage = rng.uniform(0.5, 1.0) if answerable else rng.uniform(0.0, 0.6)
        rows.append(
            {
                "dense_top": rng.uniform(0.7, 0.9),
                "best_coverage": coverage,
                "context_coverage": min(1.0, coverage + rng.uniform(0.0, 0.2)),
                "best_similarity": rng.uniform(0.0, 0.4) if answerable else rng.uniform(0.5, 0.9),
                "missing_specific": rng.uniform(0.0, 0.2) if answerable else rng.uniform(0.0, 0.5),
                "english": float(rng.random() < 0.2),
            }
        )
        labels.append(answerable)
    return rows, labels


def overlapping_set(seed: int = 1, n: int = 120) -> tuple[list[Row], list[bool]]:
    """One informative feature with overlapping classes: no threshold separates them cleanly."""
    rng = random.Random(seed)
    rows: list[Row] = []
    labels: list[bool] = []
    for i in range(n):
        answerable = i % 2 == 0
        centre = 0.6 if answerable else 0.4
        rows.append({"context_coverage": min(1.0, max(0.0, rng.gauss(centre, 0.15)))})
        labels.append(answerable)
    return rows, labels


def false_refusal_rate(model: RefusalModel, rows: list[Row], labels: list[bool]) -> float:
    answerable = [row for row, label in zip(rows, labels, strict=True) if label]
    return sum(1 for row in answerable if model.refuses(row)) / len(answerable)


def test_prior_answers_when_the_words_are_found_and_refuses_when_not() -> None:
    found = {"context_coverage": 1.0, "best_coverage": 0.8, "missing_specific": 0.0}
    missing = {"context_coverage": 0.2, "best_coverage": 0.1, "missing_specific": 1.0}
    assert PRIOR.probability(found) > 0.9
    assert not PRIOR.refuses(found)
    assert PRIOR.probability(missing) < 0.01
    assert PRIOR.refuses(missing)
    # No evidence at all: sigmoid of the bias.
    assert PRIOR.probability({}) == pytest.approx(1 / (1 + math.exp(3.0)))


@pytest.mark.parametrize("model", [PRIOR, fit_refusal_model(*calibration_set())])
def test_probability_moves_with_the_sign_of_each_feature(model: RefusalModel) -> None:
    base: Row = dict.fromkeys(FEATURES, 0.3)
    for feature in model.weights:
        more = {**base, feature: base[feature] + 0.2}
        sign = SIGNS[feature]
        if sign > 0:
            assert model.probability(more) >= model.probability(base), feature
        elif sign < 0:
            assert model.probability(more) <= model.probability(base), feature
    # Coverage, the main evidence, strictly raises the probability in both models.
    assert model.probability({**base, "context_coverage": 0.9}) > model.probability(base)


def test_probability_stays_in_the_open_unit_interval_for_extreme_features() -> None:
    high = RefusalModel({"best_coverage": 1000.0}, bias=0.0)
    assert high.probability({"best_coverage": 1000.0}) == pytest.approx(1.0)
    assert high.probability({"best_coverage": -1000.0}) == pytest.approx(0.0, abs=1e-12)
    assert high.probability({"best_coverage": -1000.0}) > 0.0


def test_fit_drops_features_whose_weight_goes_against_their_sign() -> None:
    rows, labels = calibration_set()
    model = fit_refusal_model(rows, labels)
    assert "best_similarity" not in model.weights
    for feature, weight in model.weights.items():
        assert SIGNS[feature] * weight >= 0, (feature, weight)
    # The informative features survive with the expected direction.
    assert model.weights["best_coverage"] > 0
    assert model.weights["context_coverage"] > 0
    assert model.weights["missing_specific"] < 0


def test_fitted_model_separates_its_calibration_set() -> None:
    rows, labels = calibration_set()
    model = fit_refusal_model(rows, labels)
    refused = [model.refuses(row) for row in rows]
    correct = sum(1 for r, label in zip(refused, labels, strict=True) if r != label)
    assert correct / len(rows) >= 0.9


@pytest.mark.parametrize("budget", [0.05, 0.10, 0.25])
def test_threshold_respects_the_false_refusal_budget(budget: float) -> None:
    rows, labels = overlapping_set()
    model = fit_refusal_model(rows, labels, max_false_refusal=budget)
    assert 0.1 <= model.threshold <= 0.9
    assert false_refusal_rate(model, rows, labels) <= budget


def test_a_tighter_budget_never_raises_the_threshold() -> None:
    rows, labels = overlapping_set()
    thresholds = [
        fit_refusal_model(rows, labels, max_false_refusal=b).threshold for b in (0.5, 0.1, 0.05)
    ]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[0] > thresholds[-1]


def test_the_threshold_keeps_the_budget_on_validation_questions_too() -> None:
    # Calibration questions the fit separates well; validation questions, worded otherwise,
    # whose answerable ones score lower: the threshold fitted on the first alone refuses many.
    rows, labels = overlapping_set()
    rng = random.Random(2)
    held: list[Row] = []
    held_labels: list[bool] = []
    for i in range(60):
        answerable = i % 2 == 0
        centre = 0.45 if answerable else 0.35
        held.append({"context_coverage": min(1.0, max(0.0, rng.gauss(centre, 0.1)))})
        held_labels.append(answerable)
    alone = fit_refusal_model(rows, labels, max_false_refusal=0.10)
    assert false_refusal_rate(alone, held, held_labels) > 0.10
    both = fit_refusal_model(rows, labels, max_false_refusal=0.10, validation=(held, held_labels))
    # Same weights, a lower threshold that keeps the budget on both sets.
    assert both.weights == alone.weights
    assert both.bias == alone.bias
    assert 0.1 <= both.threshold < alone.threshold
    assert false_refusal_rate(both, held, held_labels) <= 0.10
    assert false_refusal_rate(both, rows, labels) <= 0.10


def test_an_answerable_question_a_rule_refuses_counts_against_the_budget() -> None:
    rows, labels = overlapping_set()
    # 20 answerable validation questions of middling evidence; a budget of 10 % lets 2 of
    # them be refused.
    held: list[Row] = [{"context_coverage": 0.35 + 0.02 * i} for i in range(20)]
    yes = [True] * len(held)
    free = fit_refusal_model(rows, labels, max_false_refusal=0.10, validation=(held, yes))
    assert 0 < sum(free.refuses(r) for r in held) <= 2
    # A rule refuses two other answerable questions: the budget is spent, and the score may
    # refuse none of the 20.
    ruled = [{"context_coverage": 1.0, "missing_fact": 1.0}] * 2
    spent = fit_refusal_model(
        rows, labels, max_false_refusal=0.10, validation=([*held, *ruled], [True] * 22)
    )
    assert not any(spent.refuses(r) for r in held)
    assert spent.threshold < free.threshold


@pytest.mark.parametrize(
    ("rows", "labels", "budget"),
    [
        # A zero budget on overlapping classes: some answerable row has probability < 0.1.
        (*overlapping_set(), 0.0),
        # Uninformative features, 2 answerable questions of 40: every probability is 0.05.
        ([{"best_coverage": 0.5} for _ in range(40)], [i < 2 for i in range(40)], 0.10),
    ],
    ids=["zero-budget", "all-low"],
)
def test_threshold_respects_the_budget_when_the_grid_cannot(
    rows: list[Row], labels: list[bool], budget: float
) -> None:
    model = fit_refusal_model(rows, labels, max_false_refusal=budget)
    assert false_refusal_rate(model, rows, labels) <= budget


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = fit_refusal_model(*calibration_set())
    path = tmp_path / "refusal.json"
    model.save(path)
    loaded = RefusalModel.load(path)
    # Saved to 9 decimals, so a refit on the same questions writes the same file.
    assert dict(loaded.weights) == pytest.approx(dict(model.weights), abs=1e-9)
    assert loaded.bias == pytest.approx(model.bias, abs=1e-9)
    assert loaded.threshold == pytest.approx(model.threshold, abs=1e-9)
    loaded.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_load_without_a_threshold_uses_one_half(tmp_path: Path) -> None:
    path = tmp_path / "refusal.json"
    path.write_text('{"weights": {"best_coverage": 2.0}, "bias": -1.0}', encoding="utf-8")
    assert RefusalModel.load(path) == RefusalModel({"best_coverage": 2.0}, -1.0, 0.5)


def test_load_of_a_missing_file_gives_the_prior(tmp_path: Path) -> None:
    assert RefusalModel.load(tmp_path / "absent.json") is PRIOR


@pytest.mark.parametrize("model", [PRIOR, fit_refusal_model(*calibration_set())])
def test_a_year_the_answering_passages_do_not_name_refuses_whatever_the_score(
    model: RefusalModel,
) -> None:
    strong = {"context_coverage": 1.0, "best_coverage": 1.0}
    assert not model.refuses(strong)
    assert not ruled_out(strong)
    assert ruled_out({**strong, "missing_year": 0.5})
    assert model.refuses({**strong, "missing_year": 1.0})
    assert not model.refuses({**strong, "missing_year": 0.0})


def test_a_fact_no_passage_states_refuses_whatever_the_score() -> None:
    strong = {"context_coverage": 1.0, "best_coverage": 1.0}
    assert not ruled_out(strong)
    assert ruled_out({**strong, "missing_fact": 1.0})
