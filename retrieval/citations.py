"""Numbered citations, the extractive answer text, and the JSON form of an Answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.types import Answer, Citation, Passage
from retrieval.extractive import (
    ScoredSentence,
    Selection,
    Sentence,
    closes_parenthesis,
    numbered_line,
    opens_parenthesis,
)

REFUSAL_TEXT = "Jag hittar inget stöd för det i underlaget."
# A document's own reference numbers ("… platser [2].") would read as our citation markers.
_SOURCE_REFERENCE = re.compile(r"\s*\[\d{1,3}\]")


def shown(sentence: str) -> str:
    """A quoted sentence as the answer text shows it: without the document's own reference
    numbers, so every [n] in an answer is one of its citations. The citation keeps the quote
    verbatim."""
    return _SOURCE_REFERENCE.sub("", sentence).strip()


def citation_for(n: int, passage: Passage, quote: str) -> Citation:
    """A citation of a passage with the quoted sentence(s)."""
    chunk = passage.chunk
    return Citation(
        n=n,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        locator=chunk.locator,
        quote=quote,
        publisher=chunk.publisher,
        date=chunk.date,
    )


def _reading_order(chosen: Sequence[ScoredSentence]) -> list[ScoredSentence]:
    """The passage of the best sentence first, then the other passages in the order their first
    sentence was chosen (``chosen`` is best first); within a passage, the order of the text
    (line, then place in line). The answer opens with what answers the question, and each
    passage reads as it is written."""
    first: dict[str, int] = {}
    for i, s in enumerate(chosen):
        first.setdefault(s.sentence.passage.chunk.chunk_id, i)
    return sorted(
        chosen,
        key=lambda s: (
            first[s.sentence.passage.chunk.chunk_id],
            s.sentence.line,
            _offset_in_line(s),
        ),
    )


def _offset_in_line(scored: ScoredSentence) -> int:
    """Where a sentence starts within its line (several sentences share a line)."""
    lines = scored.sentence.passage.chunk.text.split("\n")
    line = lines[scored.sentence.line] if scored.sentence.line < len(lines) else ""
    return max(0, line.find(scored.sentence.text))


def _closes(previous: Sentence, sent: Sentence) -> bool:
    """Whether a sentence closes the parenthesis the previous one (on its line or the line before
    it, in the same passage) opened: "... (Kommunerna får stöd ... folkhälsoarbete." and
    "Sammanlagt 8 006 024 kr)"."""
    return (
        sent.passage is previous.passage
        and sent.line - previous.line in (0, 1)
        and opens_parenthesis(previous.text)
        and closes_parenthesis(sent.text)
    )


def build_extractive_answer(
    question: str,
    standalone: str,
    selection: Selection,
    passages: Sequence[Passage],
    opening: str = "",
    opening_source: str | None = None,
) -> Answer:
    """Join the selected sentences into an answer with one number per cited passage.

    Args:
        question: The question as typed.
        standalone: The question as searched.
        selection: The chosen sentences.
        passages: The context given to the answerer.
        opening: A line that opens the answer, above the sentences ("SiS står för Statens
            institutionsstyrelse": `retrieval.definitions`).
        opening_source: The chunk id of the chosen sentence that states the opening, whose
            citation number the opening carries.

    Returns:
        The extractive Answer; the same passage cited twice keeps one number.
    """
    numbers: dict[str, int] = {}
    quotes: dict[str, list[str]] = {}
    by_chunk: dict[str, Passage] = {}
    parts: list[str] = []
    previous: Sentence | None = None
    for scored in _reading_order(selection.sentences):
        sent = scored.sentence
        cid = sent.passage.chunk.chunk_id
        if cid not in numbers:
            numbers[cid] = len(numbers) + 1
            by_chunk[cid] = sent.passage
        marker = f"[{numbers[cid]}]"
        if previous is not None and _closes(previous, sent):
            # The rest of a parenthesis the sentence splitter cut: one sentence, one marker.
            parts[-1] = parts[-1].removesuffix(f" {marker}") + f" {shown(sent.text)} {marker}"
            if sent.line == previous.line:
                quotes[cid][-1] += " " + sent.text
            else:
                quotes[cid].append(sent.text)
            previous = sent
            continue
        quotes.setdefault(cid, []).append(sent.text)
        previous = sent
        if sent.kind in {"item", "row"}:
            parts.append(f"\n- {shown(sent.text)} {marker}")
        elif numbered_line(sent):
            # A line of a numbered list keeps its own number, on a line of its own.
            parts.append(f"\n{shown(sent.text)} {marker}")
        else:
            # After a list item the next sentence starts a new paragraph; else it follows on.
            if not parts:
                sep = ""
            elif parts[-1].startswith("\n"):
                sep = "\n\n"
            else:
                sep = " "
            parts.append(f"{sep}{shown(sent.text)} {marker}")
    text = "".join(parts).strip()
    if opening:
        marker = f" [{numbers[opening_source]}]" if opening_source in numbers else ""
        text = f"{opening.rstrip('.')}{marker}.\n\n{text}".strip()
    citations = tuple(
        citation_for(n, by_chunk[cid], " … ".join(quotes[cid])) for cid, n in numbers.items()
    )
    return Answer(
        question=question,
        text=text,
        citations=citations,
        refused=False,
        mode="extractive",
        passages=tuple(passages),
        standalone_question=standalone,
    )


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """The JSON shape of `underlag ask --json`."""
    return {
        "answer": answer.text,
        "refused": answer.refused,
        "mode": answer.mode,
        "citations": [
            {
                "n": c.n,
                "doc_id": c.doc_id,
                "title": c.title,
                "locator": c.locator,
                "quote": c.quote,
                "chunk_id": c.chunk_id,
            }
            for c in answer.citations
        ],
        "passages": [
            {
                "chunk_id": p.chunk.chunk_id,
                "doc_id": p.chunk.doc_id,
                "text": p.chunk.text,
                "score": round(p.score, 6),
            }
            for p in answer.passages
        ],
        "timings_ms": {k.removesuffix("_ms"): round(v, 1) for k, v in answer.timings.items()},
    }
