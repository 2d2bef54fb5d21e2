"""Split a question that asks two things ("När beslutades X, och vem leder arbetet?").

Each part is searched and answered on its own as well as the whole, so the passage and the
sentence for the second part are not crowded out by those for the first.
"""

from __future__ import annotations

import re

# A conjunction followed by a new question word starts a new part. A comma alone does not:
# ", vilket innebär ..." and ", which was ..." are relative clauses, not questions. After a
# comma, a conjunction and a verb start a yes/no question (", och ska de ...?", ", and does a
# service have to ...?"); without the comma they mostly go on the same clause.
_SPLIT = re.compile(
    r",?\s+(?:och|samt|and)\s+(?=(?:vad|vem|vilken|vilket|vilka|när|hur|var|varför|"
    r"what|who|whom|which|when|how|where|why)\b)"
    r"|,\s+(?:och|and)\s+(?=(?:ska|skall|är|finns|fanns|kan|får|fick|har|hade|behöver|måste|"
    r"blir|gäller|should|is|are|does|do|did|can|could|will|would|was|were|has|have|must)\b)",
    re.IGNORECASE,
)
_MIN_WORDS = 3
_MAX_PARTS = 3


def split_compound(question: str) -> list[str]:
    """The parts of a compound question, each ending with "?"; [] when it asks one thing.

    Parts must have at least three words ("När och var hölls mötet?" stays whole); at most
    three parts are returned.
    """
    pieces = [p.strip(" ,;?") for p in _SPLIT.split(question.strip())]
    pieces = [p for p in pieces if p]
    if len(pieces) < 2 or any(len(p.split()) < _MIN_WORDS for p in pieces):
        return []
    return [f"{p[0].upper()}{p[1:]}?" for p in pieces[:_MAX_PARTS]]
