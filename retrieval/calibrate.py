"""Fit the refusal model on the calibration questions (never on the evaluation set).

Run `python -m retrieval.calibrate` (or `make calibrate`) after changing retrieval or the
answerer; it writes retrieval/calibration/refusal.json, which is committed.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from core.config import Settings
from retrieval.pipeline import Pipeline
from retrieval.refusal import DEFAULT_PATH, RefusalModel, fit_refusal_model

log = logging.getLogger(__name__)

QUESTIONS = Path(__file__).parent / "calibration" / "questions.jsonl"


def load_questions(path: Path = QUESTIONS) -> list[tuple[str, bool]]:
    """(question, answerable) pairs of the calibration set."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            rows.append((str(data["question"]), bool(data["answerable"])))
    return rows


def fit_on_pipeline(pipeline: Pipeline, questions: list[tuple[str, bool]]) -> RefusalModel:
    """Compute each question's features through the real chain and fit the model."""
    features = [pipeline.refusal_features(q) for q, _ in questions]
    return fit_refusal_model(features, [answerable for _, answerable in questions])


def balanced_accuracy(
    model: RefusalModel, pipeline: Pipeline, questions: list[tuple[str, bool]]
) -> float:
    """Mean of the answer rate on answerable and the refusal rate on unanswerable questions."""
    pos = [not model.refuses(pipeline.refusal_features(q)) for q, a in questions if a]
    neg = [model.refuses(pipeline.refusal_features(q)) for q, a in questions if not a]
    return 0.5 * (sum(pos) / max(1, len(pos)) + sum(neg) / max(1, len(neg)))


def main() -> None:
    """Fit and save the refusal model for the index the settings point at."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pipeline = Pipeline.from_settings(Settings())
    questions = load_questions()
    model = fit_on_pipeline(pipeline, questions)
    model.save(args.out)
    log.info("weights %s bias %.3f threshold %.2f", model.weights, model.bias, model.threshold)
    log.info(
        "balanced accuracy on the calibration set: %.3f",
        balanced_accuracy(model, pipeline, questions),
    )


if __name__ == "__main__":
    main()
