"""Reciprocal rank fusion of ranked lists from the dense and lexical channels."""

from __future__ import annotations

from collections.abc import Sequence


def fuse_rankings(
    rankings: Sequence[Sequence[str]],
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse ranked id lists with reciprocal rank fusion.

    Args:
        rankings: Lists of ids, best first.
        k: The RRF constant; larger flattens the weight of the top ranks.
        weights: One weight per list (default 1.0 each).

    Returns:
        (id, fused score) pairs, best first; ties keep the order of first appearance.
    """
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        weight = weights[i] if weights else 1.0
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
