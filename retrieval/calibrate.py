"""Fit the refusal model on the calibration questions (never on the evaluation set).

Run `python -m retrieval.calibrate` (or `make calibrate`) after changing retrieval or the
answerer; it writes retrieval/calibration/refusal.json, which is committed.
The questions are every *.jsonl file in retrieval/calibration/: each line holds "question",
"answerable" and, for an answerable question, the "evidence" quote from the documents; a
follow-up question also holds the "history" of the conversation before it.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings
from core.types import Turn
from retrieval.pipeline import Pipeline
from retrieval.refusal import DEFAULT_PATH, fit_refusal_model

log = logging.getLogger(__name__)

CALIBRATION_DIR = Path(__file__).parent / "calibration"


@dataclass(frozen=True, slots=True)
class CalibrationQuestion:
    """A question written from the documents, with its evidence quote when it is answerable."""

    question: str
    answerable: bool
    evidence: str | None = None
    history: tuple[Turn, ...] = ()


def load_questions(folder: Path = CALIBRATION_DIR) -> list[CalibrationQuestion]:
    """Every calibration question of the folder's *.jsonl files, file by file."""
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                history = tuple(Turn(t["role"], t["content"]) for t in data.get("history") or ())
                rows.append(
                    CalibrationQuestion(
                        str(data["question"]),
                        bool(data["answerable"]),
                        data.get("evidence"),
                        history,
                    )
                )
    return rows


def cross_validated(
    features: Sequence[Mapping[str, float]], labels: Sequence[bool], folds: int = 10
) -> tuple[float, float]:
    """Refused unanswerable and refused answerable shares, each question judged by a model fitted
    without it (k-fold): what to expect on questions the model has not seen."""
    refused_un: list[bool] = []
    refused_ans: list[bool] = []
    for k in range(folds):
        train = [i for i in range(len(labels)) if i % folds != k]
        model = fit_refusal_model([features[i] for i in train], [labels[i] for i in train])
        for i in range(k, len(labels), folds):
            (refused_ans if labels[i] else refused_un).append(model.refuses(features[i]))
    return (
        sum(refused_un) / max(1, len(refused_un)),
        sum(refused_ans) / max(1, len(refused_ans)),
    )


def main() -> None:
    """Fit and save the refusal model for the index the settings point at."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pipeline = Pipeline.from_settings(Settings())
    questions = load_questions()
    features = [pipeline.refusal_features(q.question, q.history) for q in questions]
    labels = [q.answerable for q in questions]
    refusal = fit_refusal_model(features, labels)
    refusal.save(args.out)
    log.info(
        "refusal weights %s bias %.3f threshold %.2f",
        refusal.weights,
        refusal.bias,
        refusal.threshold,
    )
    log.info(
        "10-fold cross-validation: unanswerable refused %.2f, answerable refused %.2f",
        *cross_validated(features, labels),
    )


if __name__ == "__main__":
    main()
