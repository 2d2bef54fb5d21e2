"""The sentence model: how the extractive answerer ranks the candidate sentences of its passages.

Each candidate is described by features of how it matches the question (its words, its meaning,
its passage, the kind of fact asked for); its score is a weighted sum of them. The weights are
fitted on the calibration questions (`python -m retrieval.calibrate`, never on the evaluation
set) so that the sentence holding a question's evidence ranks first: a listwise (softmax) model
over each question's candidates. Score differences are log-odds between two sentences, which
is what the answerer's margins for further sentences are measured in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).parent / "calibration" / "sentences.json"

FEATURES = (
    # The question's words (idf-weighted share) in the sentence; in it and its headings; in its
    # whole passage (every candidate sentence and the headings).
    "coverage",
    "context_coverage",
    "passage_coverage",
    # The question's rarest word (or one of them, when several weigh the same) is in it.
    "rarest_word",
    # The share of the question's words in the sentences just before and after it.
    "previous_coverage",
    "next_coverage",
    # Meaning: cosine to the question, and its distance to the best candidate's.
    "similarity",
    "similarity_gap",
    "coverage_gap",
    # 1 / (1 + rank) among the candidates by similarity and by coverage.
    "similarity_rank",
    "coverage_rank",
    # The passage: search score over the best passage's, and 1 / (1 + rank).
    "passage_score",
    "passage_rank",
    # The kind of unit and its form.
    "heading",
    "row",
    "item",
    "short",
    "log_words",
    "lead_in",
    "first_line",
    "has_number",
    # The kind of fact asked for (answer_types) and whether the sentence holds one.
    "amount_held",
    "amount_missing",
    "count_held",
    "count_missing",
    "percent_held",
    "percent_missing",
    "date_held",
    "date_missing",
    "person_held",
    "person_missing",
    "list_item",
)

# Before calibration: the hand-set weights the answerer used until the model was fitted.
PRIOR_WEIGHTS = {
    "coverage": 1.0,
    "context_coverage": 0.35,
    "passage_score": 0.2,
    "similarity": 10.0,
    "heading": -0.4,
    "short": -0.1,
    "amount_held": 0.2,
    "amount_missing": -0.16,
    "count_held": 0.16,
    "count_missing": -0.12,
    "percent_held": 0.2,
    "percent_missing": -0.12,
    "date_held": 0.16,
    "date_missing": -0.12,
    "person_held": 0.2,
    "person_missing": -0.12,
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the features of one candidate sentence are computed from."""

    text: str
    kind: str  # "text" | "item" | "row" | "heading"
    line: int
    chunk_id: str
    terms: frozenset[str]
    heading_terms: frozenset[str]
    passage_score: float
    passage_rank: int
    similarity: float


def coverage(query: Mapping[str, float], terms: frozenset[str] | set[str]) -> float:
    """The weighted share of the question's terms found in ``terms``."""
    total = sum(query.values())
    if not total:
        return 0.0
    return sum(w for t, w in query.items() if t in terms) / total


def feature_matrix(
    query: Mapping[str, float],
    types: set[str],
    candidates: Sequence[Candidate],
    patterns: Mapping[str, re.Pattern[str]],
) -> np.ndarray:
    """The `FEATURES` of each candidate (one row per candidate, in order).

    Args:
        query: The question's terms with their weights.
        types: The kinds of fact the question asks for (`answer_types`).
        candidates: Every candidate sentence of the context.
        patterns: For each fact kind (amount, count, percent, date, person), the pattern a
            sentence holding one matches.
    """
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    coverages = [coverage(query, c.terms) for c in candidates]
    sims = [c.similarity for c in candidates]
    top_passage = max(c.passage_score for c in candidates) or 1.0
    top_weight = max(query.values(), default=0.0)
    rarest = frozenset(t for t, w in query.items() if w == top_weight)
    by_sim = _ranks(sims)
    by_cov = _ranks(coverages)
    siblings: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        siblings.setdefault(c.chunk_id, []).append(i)
    passage_terms = {
        cid: frozenset().union(
            candidates[ids[0]].heading_terms, *(candidates[i].terms for i in ids)
        )
        for cid, ids in siblings.items()
    }
    # Each chunk's candidates in text order, and each candidate's place among them.
    orders = {cid: sorted(ids, key=lambda j: candidates[j].line) for cid, ids in siblings.items()}
    places = {i: at for order in orders.values() for at, i in enumerate(order)}
    rows = []
    for i, c in enumerate(candidates):
        order = orders[c.chunk_id]
        at = places[i]
        f = {
            "coverage": coverages[i],
            "context_coverage": coverage(query, c.terms | c.heading_terms),
            "passage_coverage": coverage(query, passage_terms[c.chunk_id]),
            "rarest_word": float(bool(rarest & c.terms)),
            "previous_coverage": coverages[order[at - 1]] if at > 0 else 0.0,
            "next_coverage": coverages[order[at + 1]] if at + 1 < len(order) else 0.0,
            "similarity": sims[i],
            "similarity_gap": sims[i] - max(sims),
            "coverage_gap": coverages[i] - max(coverages),
            "similarity_rank": 1.0 / (1 + by_sim[i]),
            "coverage_rank": 1.0 / (1 + by_cov[i]),
            "passage_score": c.passage_score / top_passage,
            "passage_rank": 1.0 / (1 + c.passage_rank),
            "heading": float(c.kind == "heading"),
            "row": float(c.kind == "row"),
            "item": float(c.kind == "item"),
            "short": float(c.kind == "text" and len(c.text.split()) < 4),
            "log_words": math.log(1 + len(c.text.split())),
            "lead_in": float(c.text.endswith(":")),
            "first_line": float(c.line == 0),
            "has_number": float(any(ch.isdigit() for ch in c.text)),
            "list_item": float("list" in types and c.kind in {"item", "row"}),
        }
        for kind, pattern in patterns.items():
            held = kind in types and bool(pattern.search(c.text))
            f[f"{kind}_held"] = float(held)
            f[f"{kind}_missing"] = float(kind in types and not held)
        rows.append([f.get(name, 0.0) for name in FEATURES])
    return np.asarray(rows, dtype=np.float64)


def _ranks(values: Sequence[float]) -> list[int]:
    """Each value's rank, 0 for the largest (ties by position)."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0] * len(values)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


@dataclass(frozen=True, slots=True)
class SentenceModel:
    """A candidate's score: the weighted sum of its `FEATURES`; and, on the scale of those
    scores, how far under the best sentence a further sentence may score and still join the
    answer (`ExtractiveAnswerer._choose`)."""

    weights: Mapping[str, float]
    # Any sentence of another passage than the best sentence's.
    margin: float = 3.0
    # A sentence of the best sentence's own passage, whose citation the answer has anyway.
    same_passage_margin: float = 5.0
    # The sentence just after the best one, which often says what the best one introduces.
    continuation_margin: float = 5.0

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The score of each row of a `feature_matrix`."""
        vector = np.asarray([float(self.weights.get(f, 0.0)) for f in FEATURES])
        return features @ vector if len(features) else np.zeros(0)

    def save(self, path: Path) -> None:
        """Write the weights as JSON, to 9 decimals (a refit on the same questions then writes
        the same file)."""
        data = {
            "weights": {f: round(float(self.weights.get(f, 0.0)), 9) for f in FEATURES},
            "margin": self.margin,
            "same_passage_margin": self.same_passage_margin,
            "continuation_margin": self.continuation_margin,
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> SentenceModel:
        """Read a fitted model; the prior weights when none has been fitted yet."""
        if not path.exists():
            return PRIOR
        data = json.loads(path.read_text(encoding="utf-8"))
        margins = {
            name: float(data[name])
            for name in ("margin", "same_passage_margin", "continuation_margin")
            if name in data
        }
        return cls({str(k): float(v) for k, v in data["weights"].items()}, **margins)


# The prior's margins are on its smaller scale (a best score near 1.5 with the similarity term
# centred): about the shares of the best score the answerer used before the fitted model.
PRIOR = SentenceModel(PRIOR_WEIGHTS, margin=0.4, same_passage_margin=0.9, continuation_margin=1.5)


def fit_sentence_model(
    questions: Sequence[tuple[np.ndarray, Sequence[bool]]],
    l2: float = 3.0,
    iterations: int = 3000,
    learning_rate: float = 0.05,
) -> SentenceModel:
    """Fit the weights on calibration questions: for each, the `feature_matrix` of its
    candidates and which of them hold its evidence. The objective is the log of the softmax
    probability of the evidence sentences (listwise), with an L2 penalty on standardised
    features; full-batch Adam, deterministic. Questions without an evidence candidate teach
    nothing and are left out.

    The margins are not fitted: they keep their defaults, chosen on the calibration questions
    by how many answers hold the evidence and how many cited passages do (margin 3, same-passage
    and continuation margins 5).

    Args:
        questions: Per question, the candidates' features and their evidence labels.
        l2: Ridge penalty on the standardised weights.
        iterations: Gradient steps.
        learning_rate: Adam's step size.
    """
    data = [
        (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=bool))
        for x, y in questions
        if len(x) and any(y)
    ]
    if not data:
        return PRIOR
    stacked = np.vstack([x for x, _ in data])
    labels = np.concatenate([y for _, y in data])
    starts = np.cumsum([0] + [len(x) for x, _ in data[:-1]])
    sizes = np.asarray([len(x) for x, _ in data])
    mean = stacked.mean(axis=0)
    std = stacked.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (stacked - mean) / std
    w = np.zeros(len(FEATURES))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, iterations + 1):
        s = z @ w
        e = np.exp(s - np.repeat(np.maximum.reduceat(s, starts), sizes))
        p = e / np.repeat(np.add.reduceat(e, starts), sizes)
        q = np.where(labels, p, 0.0)
        q /= np.repeat(np.add.reduceat(q, starts), sizes)
        grad = (l2 * w - z.T @ (q - p)) / len(data)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= learning_rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return SentenceModel(dict(zip(FEATURES, (float(x) for x in w / std), strict=True)))


def log_likelihood(
    model: SentenceModel, questions: Sequence[tuple[np.ndarray, Sequence[bool]]]
) -> float:
    """Mean log softmax probability of the evidence candidates (higher is better)."""
    total, n = 0.0, 0
    for x, y in questions:
        labels = np.asarray(y, dtype=bool)
        if not len(x) or not labels.any():
            continue
        s = model.scores(np.asarray(x))
        s = s - s.max()
        total += float(np.log(np.exp(s[labels]).sum()) - np.log(np.exp(s).sum()))
        n += 1
    return total / max(1, n)
