"""How `underlag ask` prints an answer in the terminal."""

from __future__ import annotations

from cli import format_answer
from core.types import Answer, Citation


def test_an_answer_prints_its_notice_unverified_sentences_and_sources() -> None:
    answer = Answer(
        question="Hur mycket fick Dalarna?",
        text="Dalarna fick 5 400 000 kr [1]. Beslutet togs i maj [1].",
        citations=(
            Citation(
                n=1,
                chunk_id="c1",
                doc_id="rss",
                title="Rapporter",
                locator="sida 3",
                quote="Dalarna fick 5 400 000 kr.",
                publisher="RSS",
                date="2024-06-12",
            ),
        ),
        refused=False,
        mode="llm",
        notice="1 mening kunde inte verifieras mot källorna.",
        unverified=("Beslutet togs i maj [1].",),
    )
    assert format_answer(answer).splitlines() == [
        "Dalarna fick 5 400 000 kr [1]. Beslutet togs i maj [1].",
        "",
        "(1 mening kunde inte verifieras mot källorna.)",
        "⚠ ej verifierad: Beslutet togs i maj [1].",
        "",
        "[1] Rapporter (RSS 2024-06-12), sida 3",
        "    ”Dalarna fick 5 400 000 kr.”",
    ]
