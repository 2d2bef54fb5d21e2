"""The refusal model: a logistic score over evidence features, fitted on a calibration set."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = (
    "dense_top",
    "best_coverage",
    "best_score",
    "context_coverage",
    "missing_specific",
    "english",
)
DEFAULT_PATH = Path(__file__).parent / "calibration" / "refusal.json"


@dataclass(frozen=True, slots=True)
class RefusalModel:
    """P(answerable) = sigmoid(bias + sum(weight_i * feature_i)); refuse under ``threshold``."""

    weights: Mapping[str, float]
    bias: float
    threshold: float = 0.5

    def probability(self, features: Mapping[str, float]) -> float:
        """The probability that the passages answer the question."""
        z = self.bias + sum(w * float(features.get(name, 0.0)) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def refuses(self, features: Mapping[str, float]) -> bool:
        """Whether the evidence is too weak to answer."""
        return self.probability(features) < self.threshold

    def save(self, path: Path) -> None:
        """Write the model as JSON."""
        data = {"weights": dict(self.weights), "bias": self.bias, "threshold": self.threshold}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> RefusalModel:
        """Read a fitted model; the conservative prior when none has been fitted yet."""
        if not path.exists():
            return PRIOR
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(dict(data["weights"]), float(data["bias"]), float(data.get("threshold", 0.5)))


# Before calibration: answer when the question's words and figures are found in the passages.
PRIOR = RefusalModel(
    weights={"context_coverage": 6.0, "best_coverage": 3.0, "missing_specific": -6.0},
    bias=-3.0,
)


def fit_refusal_model(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    l2: float = 0.1,
    iterations: int = 200,
) -> RefusalModel:
    """Fit logistic weights by Newton's method with L2 regularisation.

    Args:
        rows: Feature dicts, one per calibration question.
        labels: True when the question is answerable from the corpus.
        l2: Ridge penalty (not applied to the bias).
        iterations: Newton steps at most.

    Returns:
        The fitted model, with the threshold that maximises balanced accuracy.
    """
    x = np.asarray([[float(r.get(f, 0.0)) for f in FEATURES] for r in rows], dtype=np.float64)
    x = np.hstack([np.ones((len(rows), 1)), x])
    y = np.asarray(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + penalty @ w
        hess = x.T @ (x * (p * (1 - p))[:, None]) + penalty + np.eye(x.shape[1]) * 1e-9
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    model = RefusalModel(dict(zip(FEATURES, (float(v) for v in w[1:]), strict=True)), float(w[0]))
    probs = [model.probability(r) for r in rows]
    best_t, best_acc = 0.5, -1.0
    for t in np.linspace(0.2, 0.8, 61):
        tp = sum(1 for pr, lab in zip(probs, labels, strict=True) if lab and pr >= t)
        tn = sum(1 for pr, lab in zip(probs, labels, strict=True) if not lab and pr < t)
        pos = max(1, sum(labels))
        neg = max(1, len(labels) - sum(labels))
        acc = 0.5 * (tp / pos + tn / neg)
        if acc > best_acc + 1e-9:
            best_t, best_acc = float(t), acc
    return RefusalModel(model.weights, model.bias, best_t)
