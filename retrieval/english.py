"""Swedish search words for an English question, from a curated English -> Swedish term list.

The dense channel is multilingual, but the lexical channel only matches words the documents
use: "How much did the county get for suicide prevention?" shares no word with "länet" and
"suicidpreventivt". The words of `en_sv_terms.tsv` are added to the lexical query of a
question written in English.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

TERMS_PATH = Path(__file__).parent / "en_sv_terms.tsv"
_MAX_PHRASE = 4


@functools.lru_cache(maxsize=4)
def load_terms(path: Path = TERMS_PATH) -> dict[str, tuple[str, ...]]:
    """English phrase -> Swedish words; "#" starts a comment line. A missing file is empty."""
    if not path.exists():
        return {}
    terms: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "\t" not in line:
            continue
        english, swedish = line.split("\t", 1)
        words = tuple(w.strip() for w in swedish.split("|") if w.strip())
        if english.strip() and words:
            terms[english.strip().lower()] = words
    return terms


def swedish_terms(question: str, terms: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The Swedish words for the English words and phrases of a question, longest phrase
    first ("integrated care" before "care"), each word once."""
    words = re.findall(r"[a-z0-9][a-z0-9'-]*", question.lower())
    found: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + size])
            if phrase in terms:
                found.extend(w for w in terms[phrase] if w not in found)
                i += size
                break
        else:
            i += 1
    return found


def with_swedish_terms(question: str, terms: Mapping[str, tuple[str, ...]]) -> str:
    """An English question followed by the Swedish words for its terms in brackets (see
    `swedish_terms`), as the lexical search and the answerer read it; the question as it is
    when the list knows none of its terms."""
    swedish = swedish_terms(question, terms)
    return f"{question} ({' '.join(swedish)})" if swedish else question
