"""Tests of reciprocal rank fusion: order, per-list weights, ties and the k constant."""

from __future__ import annotations

import pytest

from retrieval.fusion import fuse_rankings


def ids(fused: list[tuple[str, float]]) -> list[str]:
    return [item for item, _ in fused]


def test_scores_are_the_sum_of_reciprocal_ranks() -> None:
    fused = dict(fuse_rankings([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)


def test_an_id_found_by_both_channels_beats_one_found_by_one() -> None:
    dense = ["c1", "c2", "c3"]
    lexical = ["c4", "c2", "c5"]
    assert ids(fuse_rankings([dense, lexical])) == ["c2", "c1", "c4", "c3", "c5"]


def test_every_id_appears_once_best_first() -> None:
    fused = fuse_rankings([["a", "b"], ["b", "c"], ["c", "a", "d"]])
    assert sorted(ids(fused)) == ["a", "b", "c", "d"]
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


def test_empty_input_gives_an_empty_ranking() -> None:
    assert fuse_rankings([]) == []
    assert fuse_rankings([[], []]) == []


def test_weights_scale_each_list() -> None:
    rankings = [["a", "b"], ["b", "a"]]
    assert ids(fuse_rankings(rankings, weights=[2.0, 1.0])) == ["a", "b"]
    assert ids(fuse_rankings(rankings, weights=[1.0, 2.0])) == ["b", "a"]
    fused = dict(fuse_rankings(rankings, k=10, weights=[1.0, 3.0]))
    assert fused["a"] == pytest.approx(1 / 11 + 3 / 12)
    assert fused["b"] == pytest.approx(1 / 12 + 3 / 11)


def test_a_zero_weight_list_only_adds_ids_at_score_zero() -> None:
    fused = dict(fuse_rankings([["a"], ["b", "a"]], weights=[1.0, 0.0]))
    assert fused == pytest.approx({"a": 1 / 61, "b": 0.0})


def test_ties_keep_the_order_of_first_appearance() -> None:
    # Mirrored lists give every id the same score.
    assert ids(fuse_rankings([["a", "b"], ["b", "a"]])) == ["a", "b"]
    assert ids(fuse_rankings([["b", "a"], ["a", "b"]])) == ["b", "a"]
    # Ids only in the second list come after the tied ones of the first.
    assert ids(fuse_rankings([["x"], ["y"]])) == ["x", "y"]


def test_k_sets_how_much_the_top_rank_counts() -> None:
    # "x" is first in one list; "y" is third in both.
    rankings = [["x", "a", "y"], ["z", "b", "y"]]
    # A small k makes a single first place worth more than two third places ...
    assert ids(fuse_rankings(rankings, k=0))[0] == "x"
    # ... a large k flattens the ranks, so agreement between the lists wins.
    assert ids(fuse_rankings(rankings, k=60))[0] == "y"
    # At k=1 the two are exactly equal: 1/2 == 2/4, and first appearance decides.
    fused = fuse_rankings(rankings, k=1)
    assert dict(fused)["x"] == pytest.approx(dict(fused)["y"])
