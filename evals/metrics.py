"""Pure scoring functions of the evaluation, one per metric, and their aggregation.

Evidence matching. Quotes and passage texts are compared after ``normalise_for_match`` (letters
and digits only). A quote is *found* in a text when its normalised form is a substring, or, for
quotes of at least 20 normalised characters, when one stretch of the text matches it closely:
in-order matching blocks cover at least 90 % of the quote, blocks of 4 or more characters
cover at least half of it, no more than 24 characters of text sit between two blocks, the
stretch is at most 3 times the quote, and every figure of two or more digits matches whole.
The fuzzy rule lets a quote survive what cleaning does to tables and lists (column headers
written into each cell, list numbers dropped) without accepting words scattered over a passage
or a table row with other figures.

A quote may straddle a chunk boundary. Passages of the same document whose chunk positions are
consecutive are therefore joined (dropping the overlap the chunker repeats) into one *run*, and a
quote counts as found in a set of passages when it is found in one run. So a quote split evenly
across chunks 7 and 8 is found only when both are among the passages; one that lies 90 % or more
in chunk 7 is found with chunk 7 alone (the same rule as above, on what is missing).
"""

from __future__ import annotations

import difflib
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.types import Answer, Passage
from evals.dataset import normalise_for_match

BUDGETS: tuple[int, ...] = (2000, 4000, 8000)
HIT_KS: tuple[int, ...] = (1, 3, 5, 10)
FUZZY_COVERAGE = 0.9
FUZZY_MIN_CHARS = 20
_MIN_BLOCK = 4  # blocks at least this long are anchors, shorter ones may be coincidence
_MAX_GAP = 24  # longest text inserted inside a quote: a column header, a list number
_MAX_SPREAD = 3.0
_GRAM = 5
_MAX_OVERLAP = 3000
_CITATION_MARK = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")
_NUMBER = re.compile(r"\d{2,}")


# --- evidence matching --------------------------------------------------------------------


def _anchor_starts(quote: str, text: str) -> list[int]:
    """Where in ``text`` the quote would start, voted by its 5-grams that occur there.

    A gram found in many places spreads its one vote over them, so rare grams decide.
    """
    votes: dict[int, float] = defaultdict(float)
    bucket = max(1, len(quote) // 2)
    present = 0
    n_grams = len(quote) - _GRAM + 1
    for i in range(n_grams):
        gram = quote[i : i + _GRAM]
        places: list[int] = []
        pos = text.find(gram)
        while pos != -1:
            places.append(pos)
            pos = text.find(gram, pos + 1)
        if places:
            present += 1
            for place in places:
                votes[(place - i) // bucket] += 1.0 / len(places)
    # Too few of the quote's grams anywhere in the text: no 90 % match is possible.
    if present * 4 < n_grams:
        return []
    best = sorted(votes, key=votes.__getitem__, reverse=True)[:3]
    return [b * bucket for b in best]


def _chains(blocks: Sequence[difflib.Match]) -> list[list[difflib.Match]]:
    """Split in-order matching blocks where the text between two of them is too long."""
    chains: list[list[difflib.Match]] = []
    for block in blocks:
        if chains and block.b - (chains[-1][-1].b + chains[-1][-1].size) <= _MAX_GAP:
            chains[-1].append(block)
        else:
            chains.append([block])
    return chains


def _chain_matches(quote: str, chain: Sequence[difflib.Match]) -> bool:
    matched = [False] * len(quote)
    for block in chain:
        matched[block.a : block.a + block.size] = [True] * block.size
    anchored = sum(b.size for b in chain if b.size >= _MIN_BLOCK)
    spread = chain[-1].b + chain[-1].size - chain[0].b
    if (
        sum(matched) < FUZZY_COVERAGE * len(quote)
        or anchored < 0.5 * len(quote)
        or spread > _MAX_SPREAD * len(quote)
    ):
        return False
    # A figure must match whole: "300 000" is not found in a row that says "250 000".
    return all(all(matched[m.start() : m.end()]) for m in _NUMBER.finditer(quote))


def _fuzzy_found(quote: str, text: str) -> bool:
    for start in _anchor_starts(quote, text):
        lo = max(0, start - len(quote))
        window = text[lo : start + 4 * len(quote)]
        matcher = difflib.SequenceMatcher(None, quote, window, autojunk=False)
        blocks = [b for b in matcher.get_matching_blocks() if b.size]
        if any(_chain_matches(quote, chain) for chain in _chains(blocks)):
            return True
    return False


def quote_found(quote: str, text: str) -> bool:
    """Whether a normalised quote is found in a normalised text (exactly, or by the 90 % rule).

    Args:
        quote: Output of ``normalise_for_match``.
        text: Output of ``normalise_for_match``.
    """
    if not quote:
        return False
    if quote in text:
        return True
    return len(quote) >= FUZZY_MIN_CHARS and _fuzzy_found(quote, text)


@dataclass(frozen=True, slots=True)
class _Piece:
    doc_id: str
    position: int
    text: str  # normalised


def _pieces(passages: Sequence[Passage], budget: int | None = None) -> list[_Piece]:
    """Normalised passages in rank order; with a budget, only the first ``budget`` characters.

    The passage that crosses the budget is cut at it, so every system gets exactly the same
    amount of context however it sizes its chunks.
    """
    out: list[_Piece] = []
    left = budget
    for p in passages:
        text = p.chunk.text
        if left is not None:
            if left <= 0:
                break
            text = text[:left]
            left -= len(text)
        out.append(_Piece(p.chunk.doc_id, p.chunk.position, normalise_for_match(text)))
    return out


def _join(a: str, b: str) -> str:
    """Concatenate two consecutive chunks, dropping the text the second repeats from the first."""
    for k in range(min(len(a), len(b), _MAX_OVERLAP), 0, -1):
        if a.endswith(b[:k]):
            return a + b[k:]
    return a + b


def _runs(pieces: Iterable[_Piece]) -> list[str]:
    """Join pieces of the same document with consecutive positions into runs of text."""
    by_doc: dict[str, dict[int, str]] = defaultdict(dict)
    for piece in pieces:
        by_doc[piece.doc_id].setdefault(piece.position, piece.text)
    runs: list[str] = []
    for texts in by_doc.values():
        positions = sorted(texts)
        current = texts[positions[0]]
        for prev, pos in zip(positions, positions[1:], strict=False):
            if pos == prev + 1:
                current = _join(current, texts[pos])
            else:
                runs.append(current)
                current = texts[pos]
        runs.append(current)
    return runs


def _found_in(quote: str, pieces: Iterable[_Piece]) -> bool:
    return any(quote_found(quote, run) for run in _runs(pieces))


# --- retrieval metrics --------------------------------------------------------------------


def context_recall(
    quotes: Sequence[str], passages: Sequence[Passage], budget: int | None = None
) -> float:
    """Share of evidence quotes found in the passages that fit a context budget.

    Args:
        quotes: The row's evidence quotes (raw; normalised here).
        passages: Ranked passages, best first.
        budget: Characters of passage text taken, in rank order; None takes them all.

    Returns:
        A share in [0, 1]; 0.0 when there are no quotes.
    """
    if not quotes:
        return 0.0
    pieces = _pieces(passages, budget)
    found = sum(_found_in(normalise_for_match(q), pieces) for q in quotes)
    return found / len(quotes)


def evidence_rank(quotes: Sequence[str], passages: Sequence[Passage]) -> int | None:
    """The rank at which the first evidence quote is found in the passages up to that rank.

    For a quote that straddles two chunks this is the rank of the later of the two; for a
    multi row, whichever quote is found first counts.

    Returns:
        A 1-based rank, or None when no quote is found in any passage.
    """
    normalised = [normalise_for_match(q) for q in quotes]
    pieces = _pieces(passages)
    for r, piece in enumerate(pieces, start=1):
        # Only the run that holds the new passage can have changed.
        same_doc = [p for p in pieces[:r] if p.doc_id == piece.doc_id]
        for run in _runs(same_doc):
            if piece.text not in run:
                continue
            if any(quote_found(q, run) for q in normalised):
                return r
    return None


def reciprocal_rank(quotes: Sequence[str], passages: Sequence[Passage]) -> float:
    """1 / the evidence rank; 0.0 when the evidence is not among the passages."""
    rank = evidence_rank(quotes, passages)
    return 0.0 if rank is None else 1.0 / rank


def hit_at_k(quotes: Sequence[str], passages: Sequence[Passage], k: int) -> bool:
    """Whether an evidence quote is found within the top ``k`` passages."""
    rank = evidence_rank(quotes, passages)
    return rank is not None and rank <= k


# --- answer metrics -----------------------------------------------------------------------


def answer_contains(must_contain: Sequence[str], answer_text: str) -> bool:
    """Whether every expected string occurs in the answer (normalised; [n] markers ignored)."""
    text = normalise_for_match(_CITATION_MARK.sub(" ", answer_text))
    return all(normalise_for_match(s) in text for s in must_contain)


def _holds(quote: str, piece: _Piece, context: Sequence[_Piece]) -> bool:
    """Whether a passage holds a quote alone, or is one of two adjacent chunks it straddles."""
    if quote_found(quote, piece.text):
        return True
    for other in context:
        if other.doc_id != piece.doc_id or abs(other.position - piece.position) != 1:
            continue
        if quote_found(quote, other.text):
            continue  # the neighbour holds it alone; this passage is not needed
        first, second = sorted((piece, other), key=lambda p: p.position)
        if quote_found(quote, _join(first.text, second.text)):
            return True
    return False


def citation_precision(quotes: Sequence[str], answer: Answer) -> float | None:
    """Share of the passages an answer cites that hold an evidence quote.

    A cited passage counts when it holds any of the row's quotes (for a multi row, either), alone
    or as one of two adjacent chunks a quote straddles. A citation whose chunk is not among the
    answer's passages counts as wrong.

    Returns:
        A share in [0, 1], or None when the answer cites nothing.
    """
    cited = list(dict.fromkeys(c.chunk_id for c in answer.citations))
    if not cited:
        return None
    context = _pieces(answer.passages)
    by_id = dict(zip((p.chunk.chunk_id for p in answer.passages), context, strict=True))
    normalised = [normalise_for_match(q) for q in quotes]
    good = 0
    for chunk_id in cited:
        piece = by_id.get(chunk_id)
        if piece is not None and any(_holds(q, piece, context) for q in normalised):
            good += 1
    return good / len(cited)


def refusal_recall(refused: Sequence[bool]) -> float | None:
    """Share of unanswerable questions that were refused; None without any."""
    return sum(refused) / len(refused) if refused else None


def false_refusal_rate(refused: Sequence[bool]) -> float | None:
    """Share of answerable questions that were refused; None without any."""
    return sum(refused) / len(refused) if refused else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- aggregation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionScore:
    """What one question scored. Retrieval and answer fields are None for unanswerable rows."""

    id: str
    kind: str
    lang: str
    answerable: bool
    refused: bool
    latency_ms: float
    evidence_rank: int | None = None
    recall: dict[int, float] = field(default_factory=dict)  # budget -> context recall
    context_recall_answer: float | None = None  # within the passages handed to the answerer
    answer_contains: bool | None = None
    citation_precision: float | None = None


def score_question(
    *,
    id: str,
    kind: str,
    lang: str,
    quotes: Sequence[str],
    must_contain: Sequence[str],
    answer: Answer,
    candidates: Sequence[Passage],
    contexts: Mapping[int, Sequence[Passage]],
    latency_ms: float,
) -> QuestionScore:
    """Score one answered question.

    Args:
        id: The row id.
        kind: The row kind.
        lang: The question's language.
        quotes: Evidence quotes; empty for an unanswerable row.
        must_contain: Strings a correct answer contains.
        answer: What the pipeline answered.
        candidates: The ranked passages retrieval returned, before the context budget (ranks).
        contexts: Per budget in ``BUDGETS``, the passages the answerer would get with that
            budget; they are cut at the budget again, so ranked candidates may be given.
        latency_ms: Wall time of answering.
    """
    if not quotes:
        return QuestionScore(id, kind, lang, False, answer.refused, latency_ms)
    return QuestionScore(
        id=id,
        kind=kind,
        lang=lang,
        answerable=True,
        refused=answer.refused,
        latency_ms=latency_ms,
        evidence_rank=evidence_rank(quotes, candidates),
        recall={b: context_recall(quotes, contexts[b], b) for b in BUDGETS},
        context_recall_answer=context_recall(quotes, answer.passages),
        answer_contains=answer_contains(must_contain, answer.text),
        citation_precision=citation_precision(quotes, answer),
    )


def summarise(scores: Sequence[QuestionScore]) -> dict[str, float | None]:
    """Headline metrics of a set of scored questions; None where no question applies.

    Retrieval, answer-contains and citation metrics are over answerable questions; refusal
    recall over unanswerable ones; latency over all.
    """
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    out: dict[str, float | None] = {"n": float(len(scores))}
    for budget in BUDGETS:
        out[f"context_recall_{budget}"] = mean(s.recall.get(budget) for s in answerable)
    out["context_recall_answer"] = mean(s.context_recall_answer for s in answerable)
    ranks = [s.evidence_rank for s in answerable]
    for k in HIT_KS:
        out[f"hit_at_{k}"] = mean(float(r is not None and r <= k) for r in ranks)
    out["mrr"] = mean(0.0 if r is None else 1.0 / r for r in ranks)
    out["answer_contains"] = mean(float(bool(s.answer_contains)) for s in answerable)
    out["citation_precision"] = mean(s.citation_precision for s in answerable)
    out["refusal_recall"] = refusal_recall([s.refused for s in unanswerable])
    out["false_refusal_rate"] = false_refusal_rate([s.refused for s in answerable])
    latencies = [s.latency_ms for s in scores]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    return out


def breakdown(
    scores: Sequence[QuestionScore], key: Callable[[QuestionScore], str]
) -> dict[str, dict[str, float | None]]:
    """Headline metrics per group, e.g. ``key=lambda s: s.kind``; groups in first-seen order."""
    groups: dict[str, list[QuestionScore]] = defaultdict(list)
    for s in scores:
        groups[key(s)].append(s)
    return {name: summarise(members) for name, members in groups.items()}
