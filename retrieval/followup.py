"""Turn a follow-up question into a standalone one from the conversation, by a fixed rule."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.types import YEAR_IN_TEXT, Turn

_FOLLOWUP_OPENERS = re.compile(
    r"^(och|men|samt|också|även|dessutom|vad sägs om|hur är det med|gäller det|and|but|"
    r"what about|how about|also)\b",
    re.IGNORECASE,
)
_PRONOUNS = frozenset(
    [
        "den",
        "det",
        "de",
        "dem",
        "dess",
        "deras",
        "denna",
        "detta",
        "dessa",
        "han",
        "hon",
        "hans",
        "hennes",
        "där",
        "dit",
        "då",
        "sådan",
        "sådana",
        "it",
        "they",
        "them",
        "their",
        "its",
        "there",
        "he",
        "she",
        "his",
        "her",
        "this",
        "that",
        "these",
        "those",
    ]
)


def needs_context(question: str) -> bool:
    """Whether a question leans on the conversation: short, opened by "och", or with pronouns."""
    words = re.findall(r"\w+", question.lower())
    if not words:
        return False
    if _FOLLOWUP_OPENERS.match(question.strip()):
        return True
    if len(words) <= 4:
        return True
    return len(words) <= 9 and any(w in _PRONOUNS for w in words)


def rewrite_followup(question: str, history: Sequence[Turn]) -> str:
    """A standalone question for retrieval, built from the last user question when needed.

    The rule: a question that does not need context is returned as it is. Otherwise, when both
    carry a year, the earlier question is repeated with the new year ("och 2024?"); else the
    follow-up is placed before the earlier question so both sets of words are searched, the
    follow-up's first.

    Args:
        question: The question as typed.
        history: Earlier turns, oldest first.

    Returns:
        The question to search with.
    """
    # Resolve earlier follow-ups first, so a chain of short questions keeps its subject.
    previous = ""
    for turn in history:
        if turn.role == "user":
            previous = _rewrite_one(turn.content, previous)
    return _rewrite_one(question, previous)


def _rewrite_one(question: str, previous: str) -> str:
    if not previous or not needs_context(question):
        return question
    new_years = YEAR_IN_TEXT.findall(question)
    rest = YEAR_IN_TEXT.sub("", question)
    if new_years and YEAR_IN_TEXT.search(previous) and len(re.findall(r"\w+", rest)) <= 3:
        year = YEAR_IN_TEXT.search(question)
        assert year is not None
        return YEAR_IN_TEXT.sub(year.group(0), previous)
    return f"{question.strip()} {previous.strip()}"
