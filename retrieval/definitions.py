"""What an acronym stands for: "Vad betyder LVU?", "Vad står SiS för?", "What does SIP stand for?"

A new employee's first questions. The glossary (`retrieval.glossary`) knows the expansion; the
answer opens with it, cited by the sentence of the documents that defines the acronym, and goes
on with what the documents say about it. An acronym the documents use but never spell out (a
curated entry) is explained from the curated glossary, and the answer says so.

What a term means ("Vad menas med integrerad vård?") is answered first by the sentence that
defines it ("Med integrerad vård avses ..."), wherever the search ranked its passage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.types import Chunk, Passage
from retrieval.extractive import Sentence, is_english, split_candidates
from retrieval.glossary import GlossaryEntry, mentions_acronym
from retrieval.swedish import analyse

# The whole question asks what one word means; the named group that matched holds the word
# as written.
_ASKS_MEANING = re.compile(
    # A polite lead-in: "Kan du berätta vad SiS är?", "Jag undrar vad LVU betyder".
    r"^\s*(?:(?:kan\s+du\s+|skulle\s+du\s+kunna\s+)?(?:berätta|förklara)\s+(?:för\s+mig\s+)?"
    r"|jag\s+undrar\s+|vet\s+du\s+)?(?:"
    r"vad\s+(?:förkortningen\s+)?(?P<sv_sub>\S+?)\s+(?:är|betyder|innebär|står\s+för)"
    r"|vad\s+(?:betyder|innebär|är|menas\s+med)\s+(?:förkortningen\s+)?(?:en\s+|ett\s+)?(?P<sv>\S+?)"
    r"(?:\s+för\s+något)?"
    r"|vad\s+står\s+(?:förkortningen\s+)?(?P<sv_for>\S+?)\s+för"
    r"|vad\s+är\s+förkortningen\s+(?P<sv_abbr>\S+?)"
    r"|what\s+(?:does|do)\s+(?:the\s+)?(?:acronym\s+|abbreviation\s+)?(?P<en>\S+?)\s+"
    r"(?:stand\s+for|mean)"
    r"|what(?:\s+is|'s)\s+(?:an?\s+|the\s+)?(?:meaning\s+of\s+)?(?P<en_is>\S+?)"
    r"|what\s+is\s+meant\s+by\s+(?P<en_by>\S+?)"
    r"|(?P<alone>\S+?)"
    r")\s*\?*\s*$",
    re.IGNORECASE,
)


def asked_acronym(question: str, glossary: Mapping[str, GlossaryEntry]) -> GlossaryEntry | None:
    """The glossary entry whose meaning the question asks for, as the whole question: "Vad
    betyder LVU?", "Vad står SiS för?", "Vad är SIP?", "What does RSS stand for?", "HVB?".
    None for any other question ("Vad gör SiS?", "Vad är SIP-mötet?")."""
    match = _ASKS_MEANING.match(question)
    if match is None:
        return None
    word = next(w for w in match.groups() if w)
    for entry in glossary.values():
        if word in (entry.acronym, *entry.aliases):
            return entry
        # In any case ("sip", "Sis") unless the acronym is also an ordinary word ("LAG").
        if not entry.ambiguous and word.lower() == entry.acronym.lower():
            return entry
    return None


# "Vad är SIP?", "Vad innebär LVU?", "What is SIP?" ask what it is, not only what it is called.
_ASKS_DESCRIPTION = re.compile(
    r"^\s*(?:vad\s+(?:är|innebär)|what(?:\s+is|'s))\s+(?!förkortningen|meaning|meant)",
    re.IGNORECASE,
)


def asks_description(question: str) -> bool:
    """Whether a question about an acronym (`asked_acronym`) asks what the thing is ("Vad är
    SIP?"), which the documents' sentences about it answer, rather than only what the letters
    stand for ("Vad betyder SIP?", "Vad står SIP för?", "What does SIP stand for?")."""
    return bool(_ASKS_DESCRIPTION.match(question))


def defines(sentence: str, entry: GlossaryEntry) -> bool:
    """Whether a sentence names the acronym together with every word of its expansion (on
    stems: "lagen (1990:52) med särskilda bestämmelser om vård av unga, L VU")."""
    if not mentions_acronym(sentence, entry):
        return False
    return set(analyse(entry.expansion)) <= set(analyse(sentence))


@dataclass(frozen=True, slots=True)
class Definition:
    """Where the documents define an acronym: the sentence and its passage (which may have to
    join the context)."""

    sentence: Sentence
    in_context: bool


def find_definition(
    entry: GlossaryEntry, passages: Sequence[Passage], chunks: Iterable[Chunk]
) -> Definition | None:
    """The first sentence that defines the acronym (`defines`): in the context, best passage
    first, else in the other chunks the asker may read, in the order given. None when the
    documents never spell it out."""
    return _first_defining(
        passages,
        chunks,
        lambda text: defines(text, entry),
        lambda text: mentions_acronym(text, entry),
    )


# "Vad menas med integrerad vård ...?", "Vad avses med särskilda resursbehov?": the meaning of
# a term, which a report gives as "Med integrerad vård avses bland annat att ...".
_ASKS_TERM = re.compile(r"\bvad\s+(?:menas|avses)\s+med\b", re.IGNORECASE)
_DEFINES_TERM = re.compile(r"\bmed\s+(?P<term>[\w -]{3,80}?)\s+(?:avses|menas)\b", re.IGNORECASE)


def defines_term(sentence: str, question: str) -> bool:
    """Whether a sentence says what a term means ("Med X avses ...", "Med X menas ...") and
    every word of the term is a word of the question (on stems)."""
    match = _DEFINES_TERM.search(sentence)
    return match is not None and set(analyse(match.group("term"))) <= set(analyse(question))


def term_definition(
    question: str, passages: Sequence[Passage], chunks: Iterable[Chunk]
) -> Definition | None:
    """The sentence that says what the term a question asks about means (`defines_term`), when
    it asks what a term means: "Vad menas med integrerad vård i det här utvecklingsarbetet?"
    is answered by "Med integrerad vård avses bland annat att den sociala och psykiatriska
    vården ges samtidigt ...", wherever the search ranked its passage. In the context first,
    else in the other chunks the asker may read. None otherwise."""
    if not _ASKS_TERM.search(question):
        return None
    return _first_defining(
        passages,
        chunks,
        lambda text: defines_term(text, question),
        lambda text: _DEFINES_TERM.search(text) is not None,
    )


def _first_defining(
    passages: Sequence[Passage],
    chunks: Iterable[Chunk],
    is_definition: Callable[[str], bool],
    may_hold: Callable[[str], bool],
) -> Definition | None:
    """The first sentence that is a definition: in the context, best passage first, else in
    the other chunks whose text ``may_hold`` one, in the order given."""
    for passage in passages:
        for sentence in split_candidates(passage):
            if is_definition(sentence.text):
                return Definition(sentence, in_context=True)
    seen = {p.chunk.chunk_id for p in passages}
    for chunk in chunks:
        if chunk.chunk_id in seen or not may_hold(chunk.text):
            continue
        passage = Passage(chunk, score=0.0, rank=len(passages) + 1)
        for sentence in split_candidates(passage):
            if is_definition(sentence.text):
                return Definition(sentence, in_context=False)
    return None


def meaning_line(question: str, entry: GlossaryEntry, *, cited: bool) -> str:
    """The answer's opening line: what the acronym stands for. Without a defining sentence to
    cite, the line says that it comes from the glossary, and, for a curated acronym the corpus
    never defines, that the documents do not spell it out (a filter may only hide the
    documents that do)."""
    english = is_english(question)
    if english:
        line = f"{entry.acronym} stands for “{entry.expansion}”"
    else:
        line = f"{entry.acronym} står för {entry.expansion}"
    if cited:
        return line
    if english:
        note = "the documents do not spell it out" if not entry.defined_in_corpus else ""
        return f"{line} (from the glossary{'; ' + note if note else ''})."
    note = "dokumenten skriver inte ut den" if not entry.defined_in_corpus else ""
    return f"{line} (enligt ordlistan{'; ' + note if note else ''})."
