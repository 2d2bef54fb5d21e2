"""Fit the sentence model and the refusal model on the calibration questions (never on the
evaluation set).

Run `python -m retrieval.calibrate` (or `make calibrate`) after changing retrieval or the
answerer; it writes retrieval/calibration/sentences.json and refusal.json, which are committed.
The sentence model is fitted first, on the candidate sentences of the contexts `ask` hands the
answerer (which do not depend on it: passages are re-ranked with the prior weights); the refusal
model then on the features of the answers the new sentence model gives.
The questions are every *.jsonl file in retrieval/calibration/: each line holds "question",
"answerable" and, for an answerable question, the "evidence" quote from the documents; a
follow-up question also holds the "history" of the conversation before it. The questions of
retrieval/calibration/validation/, in the same form, are never fitted on: the refusal threshold
must keep its false-refusal budget on them as well.
"""

from __future__ import annotations

import argparse
import json
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import Settings
from core.types import Turn
from retrieval.pipeline import Pipeline
from retrieval.refusal import DEFAULT_PATH, RefusalModel, fit_refusal_model
from retrieval.sentence_model import DEFAULT_PATH as SENTENCES_PATH
from retrieval.sentence_model import SentenceModel, fit_sentence_model

log = logging.getLogger(__name__)

CALIBRATION_DIR = Path(__file__).parent / "calibration"
# Questions written by others from the same documents, never fitted on: the refusal threshold
# must keep to its false-refusal budget on them too (`fit_refusal_model`).
VALIDATION_DIR = CALIBRATION_DIR / "validation"


@dataclass(frozen=True, slots=True)
class CalibrationQuestion:
    """A question written from the documents, with its evidence quote when it is answerable."""

    question: str
    answerable: bool
    evidence: str | None = None
    history: tuple[Turn, ...] = ()
    # Further quotes a complete answer holds (a question in two parts).
    evidence_more: tuple[str, ...] = ()

    @property
    def quotes(self) -> tuple[str, ...]:
        """Every evidence quote of the question."""
        return (self.evidence, *self.evidence_more) if self.evidence else self.evidence_more


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
                        tuple(data.get("evidence_more") or ()),
                    )
                )
    return rows


def _letters(text: str) -> str:
    """Lower-case letters and digits only, words hyphenated across lines joined: how a quote
    is compared with a sentence."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-\n", "")
    return "".join(ch for ch in text if ch.isalnum())


def holds_evidence(sentence: str, quotes: Sequence[str]) -> bool:
    """Whether a candidate sentence holds (part of) a quote: the quote is in the sentence, or a
    sentence of a quote that spans several is in the quote."""
    text = _letters(sentence)
    return any(
        q and (q in text or (len(text) >= _MIN_SENTENCE_MATCH and text in q))
        for q in map(_letters, quotes)
    )


# A candidate shorter than this (in letters and digits) is not judged part of a longer quote:
# a heading such as "Bakgrund" is in many.
_MIN_SENTENCE_MATCH = 20


def fit_sentences(
    pipeline: Pipeline, questions: Sequence[CalibrationQuestion]
) -> tuple[SentenceModel, list[tuple[np.ndarray, list[bool]]]]:
    """Fit the sentence model on the answerable questions' candidates and evidence."""
    data = []
    for q in questions:
        if not q.answerable:
            continue
        sentences, features = pipeline.sentence_candidates(q.question, q.history)
        data.append((features, [holds_evidence(s.text, q.quotes) for s in sentences]))
    return fit_sentence_model(data), data


def top_sentence_share(
    data: Sequence[tuple[np.ndarray, Sequence[bool]]], model: SentenceModel
) -> float:
    """Share of questions whose best-scored candidate holds the evidence."""
    hits = [bool(y[int(np.argmax(model.scores(x)))]) for x, y in data if len(x)]
    return sum(hits) / max(1, len(data))


def cross_validated_sentences(
    data: Sequence[tuple[np.ndarray, Sequence[bool]]], folds: int = 10
) -> float:
    """`top_sentence_share`, each question ranked by a model fitted without it (k-fold)."""
    hits = 0
    for k in range(folds):
        model = fit_sentence_model([data[i] for i in range(len(data)) if i % folds != k])
        held_out = [data[i] for i in range(k, len(data), folds)]
        hits += round(top_sentence_share(held_out, model) * len(held_out))
    return hits / max(1, len(data))


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


def refusal_counts(
    model: RefusalModel, features: Sequence[Mapping[str, float]], labels: Sequence[bool]
) -> tuple[int, int, int, int]:
    """Unanswerable questions refused, unanswerable questions, answerable questions refused,
    answerable questions."""
    refused = [model.refuses(f) for f in features]
    return (
        sum(1 for r, lab in zip(refused, labels, strict=True) if r and not lab),
        sum(1 for lab in labels if not lab),
        sum(1 for r, lab in zip(refused, labels, strict=True) if r and lab),
        sum(1 for lab in labels if lab),
    )


def main() -> None:
    """Fit and save the refusal model for the index the settings point at."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--sentences-out", type=Path, default=SENTENCES_PATH)
    parser.add_argument(
        "--cross-validate",
        action="store_true",
        help="also report 10-fold cross-validated figures (slower)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pipeline = Pipeline.from_settings(Settings())
    questions = load_questions()
    before = pipeline.answerer.model
    sentences, data = fit_sentences(pipeline, questions)
    sentences.save(args.sentences_out)
    pipeline.answerer.model = sentences
    log.info(
        "sentence model: best sentence holds the evidence for %.3f of %d answerable questions "
        "(%.3f with the model before)",
        top_sentence_share(data, sentences),
        len(data),
        top_sentence_share(data, before),
    )
    if args.cross_validate:
        log.info("10-fold cross-validation: %.3f", cross_validated_sentences(data))
    features = [pipeline.refusal_features(q.question, q.history) for q in questions]
    labels = [q.answerable for q in questions]
    validation = load_questions(VALIDATION_DIR)
    held_features = [pipeline.refusal_features(q.question, q.history) for q in validation]
    held_labels = [q.answerable for q in validation]
    refusal = fit_refusal_model(features, labels, validation=(held_features, held_labels))
    refusal.save(args.out)
    log.info(
        "refusal weights %s bias %.3f threshold %.2f",
        refusal.weights,
        refusal.bias,
        refusal.threshold,
    )
    for name, rows, row_labels in (
        ("calibration", features, labels),
        ("validation", held_features, held_labels),
    ):
        log.info(
            "%s questions: unanswerable refused %d of %d, answerable refused %d of %d",
            name,
            *refusal_counts(refusal, rows, row_labels),
        )
    if args.cross_validate:
        log.info(
            "10-fold cross-validation: unanswerable refused %.2f, answerable refused %.2f",
            *cross_validated(features, labels),
        )


if __name__ == "__main__":
    main()
