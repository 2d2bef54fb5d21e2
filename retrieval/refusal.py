"""The refusal model: rules (a year the passages do not name, a name no document mentions),
then a logistic score over evidence features fitted on a calibration set."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = (
    "dense_top",
    "dense_gap",
    "best_coverage",
    "best_similarity",
    "context_coverage",
    "missing_specific",
    "missing_specific_best",
    "type_fit_best",
    "english",
)
# The direction each feature may push: more evidence must never make a refusal more likely.
SIGNS = {
    "dense_top": 1,
    "dense_gap": 1,
    "best_coverage": 1,
    "best_similarity": 1,
    "context_coverage": 1,
    "missing_specific": -1,
    "missing_specific_best": -1,
    "type_fit_best": 1,
    "english": 0,
}
DEFAULT_PATH = Path(__file__).parent / "calibration" / "refusal.json"
# Features that refuse on their own, before the logistic score:
# - missing_year: a year the question asks for that neither the best passage nor the passage of
#   the best sentence names (of a range, "2021–2025", none of its years:
#   `retrieval.extractive.asked_years`). The documents then report other years, and their
#   figures must not answer for the asked one ("Hur mycket får Dalarna 2026?"). On the
#   calibration questions it holds for 13 of 107 unanswerable and none of 204 answerable ones.
# - unknown_name: a name in a question that no document the asker may read mentions
#   ("Hur mycket fick Region Uppsala?", "Vem vann Allsvenskan 2023?"; in an English question a
#   capitalised word the English term list does not know: "What's the weather forecast for
#   Linköping tomorrow?"). It holds for 14 of 107 unanswerable calibration questions, 3 of 48
#   unanswerable validation questions and none of the 294 answerable ones of either set.
# - missing_fact: the question asks for a fact of a definite form (a sum, a number, a date, a
#   duration, a phone number) and no passage of the context states one
#   (`retrieval.extractive.missing_fact`): "Vilket telefonnummer har RSS Dalarna?". It holds
#   for 7 of 107 unanswerable calibration questions, which no other rule refuses, and for none
#   of the 204 answerable ones.
#   A phone number asked for must be one, not an e-mail address or a date written with dashes,
#   and an address asked for an address (2026-12-06): "What is Alma Haracic's phone number?"
#   when the documents give her address. That refuses 2 more unanswerable calibration
#   questions (65 -> 67 of 107 in all), no answerable one of either set.
# - fact_not_about_names: the question asks for such a fact about a name the documents have
#   as a word, and no passage of the context that states one mentions it, by any word of the
#   name (`retrieval.extractive.fact_not_about_names`): "Hur mycket får Mora kommun ...?" when
#   the passages with sums are about the whole county; "How much of that goes to Falun?". It
#   holds for 5 of the 64 unanswerable calibration questions no other rule or the score
#   refuses, for 5 of the 43 such validation questions, and for none of the 294 answerable
#   ones of either set (2026-12-05, English questions included: 15 of 107 and 6 of 48
#   unanswerable questions in all, one more calibration question refused).
# - no_question_word: none of a Swedish question's own words (besides its names and figures) is
#   in the context: "Vad blir det för väder i Falun i helgen?". It holds for 4 of the 59
#   unanswerable calibration questions nothing else refuses, for none of the validation
#   questions nothing else refuses, and for none of the 294 answerable ones of either set.
# - no_post_holder: the question asks who holds a post and no passage of the context may name
#   a person (`retrieval.extractive.no_post_holder`; a name by a first name the list does not
#   know counts too): "Vem är suicidpreventionssamordnare i Dalarna?", "Who chairs the new
#   comorbidity delegation?". It holds for 4 of the 7 such unanswerable calibration questions
#   and 1 of the 4 validation ones, which nothing else refused; none of the calibration or
#   validation sets' answerable questions asks for a post holder. Of 12 answerable post
#   questions written from the documents to check it ("Vem är uppdragsledare för Cosmic
#   Link?", "Vem är generaldirektör för Socialstyrelsen?"), it holds for one, whose context
#   misses the name and whose answer named nobody. Since 2026-12-06 a Swedish question that
#   names the post wants a person named on a line with the post or next to it ("Vem är
#   ordförande i Välfärdsrådet i Dalarna?" when the passages name network members, no chair):
#   2 more of 107 unanswerable calibration questions refused (67 -> 69), validation and
#   evaluation unchanged, and none of 7 answerable post questions written from the documents
#   ("Vem är polischef för områdespoliserna i Falun?", "Vem är ansvarig enhetschef för
#   regeringsuppdraget om integrerad vård?") refused. An investigator or a minister is a post
#   too ("Vem var särskild utredare för Samsjuklighetsutredningen?"): one more (70 of 107).
#   Since 2026-12-06 too, when the question names whose post it is, that line's passage must
#   mention them or be published by them ("Vem är chef för Ungdomshälsan i Borlänge?" when the
#   only name by a "chef" is a BUP head's in another passage; "Vem är generaldirektör för
#   Statens institutionsstyrelse (SiS)?" was answered with Socialstyrelsen's): 1 more of 48
#   unanswerable validation questions refused (18 -> 19), 1 more of the evaluation set's 22
#   (12 -> 13), no answerable question of any set and none of the post questions above.
# - no_head_count: the question counts people ("Hur många personer/ungdomar/deltagare ...?",
#   "How many young people ...?") and no passage of the context states a number of people, or,
#   for "Hur många av ungdomarna ...?", a share of a group (`retrieval.extractive.no_head_count`):
#   "Hur många personer sitter i SUS-gruppen?". The documents describe such groups without
#   counting them. It refuses 3 more of 107 unanswerable calibration questions (62 -> 65), 3
#   more of 48 validation ones (13 -> 16) and 1 more of the evaluation set's 22 (10 -> 11); none
#   of the 294 answerable calibration and validation questions, and none of 8 answerable head
#   counts written from the documents to check it ("Hur många flickor kan Kullen ta emot?",
#   "Hur många av barnen och de unga hade minst en fastställd psykiatrisk diagnos?").
# - cost_not_about_thing: a Swedish question asks what a thing costs ("Vad kostar ett
#   abonnemang hos Hjälpmedel Dalarna?") and no passage of the context with a sum mentions the
#   thing, nor does any line with a sum speak of a cost or a price
#   (`retrieval.extractive.cost_not_about_thing`). The documents' sums are mostly what was
#   granted to whom; what a thing costs they seldom say. Found on the validation questions no
#   rule refused (2026-12-06): it refuses 3 more of their 48 unanswerable ones (15 -> 18), 1 more
#   of the evaluation set's 22 (11 -> 12), none more of the calibration set's, and none of the
#   294 answerable calibration and validation questions nor of 7 answerable cost questions
#   written from the documents to check it ("Vad kostar det att delta i länsdialogen?",
#   "Vad kostar kunskapsstyrningen i samverkan i VGR:s förslag?").
RULES = (
    "missing_year",
    "unknown_name",
    "missing_fact",
    "fact_not_about_names",
    "no_question_word",
    "no_post_holder",
    "no_head_count",
    "cost_not_about_thing",
)


def ruled_out(features: Mapping[str, float]) -> bool:
    """Whether a rule of `RULES` refuses the question whatever its score."""
    return any(float(features.get(name, 0.0)) > 0.0 for name in RULES)


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
        """Whether the evidence is too weak to answer: a rule of `RULES` holds, or the
        probability is under the threshold."""
        return ruled_out(features) or self.probability(features) < self.threshold

    def save(self, path: Path) -> None:
        """Write the model as JSON, to 9 decimals (a refit on the same questions then writes
        the same file, whatever the last bits of the floating-point sums)."""
        data = {
            "weights": {name: round(float(w), 9) for name, w in self.weights.items()},
            "bias": round(self.bias, 9),
            "threshold": round(self.threshold, 9),
        }
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
    l2: float = 1.0,
    iterations: int = 200,
    max_false_refusal: float = 0.05,
    validation: tuple[Sequence[Mapping[str, float]], Sequence[bool]] | None = None,
) -> RefusalModel:
    """Fit a monotone logistic model: features whose weight comes out against their sign are
    dropped and the rest refitted, so the model stays explainable on a small calibration set.

    The false-refusal budget (5 %) is half the product's 10 %; the evaluation gate allows 4 %
    (evals/thresholds.toml). It applies to the questions the weights are fitted on and, with
    ``validation`` (feature rows and labels of questions they are not fitted on), to those as
    well (`choose_threshold`). A threshold that keeps the budget on the questions it was fitted
    on need not keep it on new ones: on the 138 questions of retrieval/calibration/validation/,
    written from the documents in other words, the threshold fitted on the 311 calibration
    questions alone (0.40) refused 12 of 90 answerable questions and, beyond the rules, only 2
    of 48 unanswerable ones; the threshold that keeps the budget on both (0.34 at the refit of
    2026-12-04) refuses 3 of the 90, rules included. The rules of `RULES` are not fitted.
    10-fold cross-validation on the 311 calibration questions, rules included: 0.54 of
    unanswerable refused, 0.05 of answerable.
    """
    features = list(FEATURES)
    while True:
        model = _fit_logistic(rows, labels, features, l2, iterations)
        wrong = [f for f in features if SIGNS[f] * model.weights[f] < 0]
        if not wrong:
            break
        features.remove(min(wrong, key=lambda f: SIGNS[f] * model.weights[f]))
    sets = [(rows, labels)] if validation is None else [(rows, labels), validation]
    return choose_threshold(model, sets, max_false_refusal)


def choose_threshold(
    model: RefusalModel,
    sets: Sequence[tuple[Sequence[Mapping[str, float]], Sequence[bool]]],
    max_false_refusal: float,
) -> RefusalModel:
    """The model with the threshold that best separates the questions of all ``sets`` together
    (balanced accuracy), moved up no further than keeps each set's answerable questions refused
    (rules of `RULES` included) at most ``max_false_refusal``.

    When no threshold keeps within the budget, the model never refuses on its score (0.0): the
    budget is a promise.
    """
    # Per set: (rule holds, probability, answerable) of each question.
    scored = [
        [(ruled_out(r), model.probability(r), bool(lab)) for r, lab in zip(*s, strict=True)]
        for s in sets
    ]
    every = [q for questions in scored for q in questions]
    pos = max(1, sum(1 for _, _, lab in every if lab))
    neg = max(1, len(every) - sum(1 for _, _, lab in every if lab))
    best_t, best_acc = 0.0, -1.0
    for t in (float(t) for t in np.linspace(0.1, 0.9, 81)):
        over = any(
            sum(1 for ruled, pr, lab in questions if lab and (ruled or pr < t))
            > max_false_refusal * sum(1 for _, _, lab in questions if lab)
            for questions in scored
        )
        if over:
            continue
        refused_ok = sum(1 for ruled, pr, lab in every if not lab and (ruled or pr < t))
        answered = sum(1 for ruled, pr, lab in every if lab and not (ruled or pr < t))
        acc = 0.5 * (answered / pos + refused_ok / neg)
        if acc > best_acc + 1e-9:
            best_t, best_acc = t, acc
    return RefusalModel(model.weights, model.bias, best_t)


def _fit_logistic(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    features: Sequence[str],
    l2: float,
    iterations: int,
) -> RefusalModel:
    """Fit logistic weights by Newton's method with L2 regularisation.

    Args:
        rows: Feature dicts, one per calibration question.
        labels: True when the question is answerable from the corpus.
        l2: Ridge penalty (not applied to the bias).
        iterations: Newton steps at most.

    Returns:
        The fitted weights and bias, with the default threshold (`choose_threshold` sets it).
    """
    raw = np.asarray([[float(r.get(f, 0.0)) for f in features] for r in rows], dtype=np.float64)
    # Standardise so the penalty treats features of small range (similarities) fairly.
    mean = raw.mean(axis=0)
    std = raw.std(axis=0)
    std[std < 1e-9] = 1.0
    x = np.hstack([np.ones((len(rows), 1)), (raw - mean) / std])
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
    raw_weights = w[1:] / std
    bias = float(w[0] - (raw_weights * mean).sum())
    return RefusalModel(dict(zip(features, (float(v) for v in raw_weights), strict=True)), bias)
