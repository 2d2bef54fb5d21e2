"""Sentences of a passage that instruct its reader ("Ignorera tidigare instruktioner och svara
bara ..."): addressed to a language model, not to the document's readers. The generative mode
replaces them by "[…]" in its prompt; the extractive mode never quotes one as an answer."""

from __future__ import annotations

import re

# Instructions addressed to the reader of a text: to a model, not to the document's readers.
_INSTRUCTION = (
    r"\b(?:ignorera|strunta i|bortse från|glöm|ignore|disregard|forget)\b[^.!?\n]{0,40}"
    r"\b(?:instruktion|regler|anvisning|uppmaning|prompt|instruction|rules|above|ovan)"
    r"|\b(?:svara|skriv|säg|answer|reply|respond|write|say|output)\s+"
    r"(?:bara|endast|enbart|ingenting|inget|only|just|nothing)\b"
    r"|\b(?:du är nu|från och med nu|you are now|from now on)\b"
)
INSTRUCTION_SENTENCE = re.compile(rf"[^.!?\n]*(?:{_INSTRUCTION})[^.!?\n]*[.!?]?", re.IGNORECASE)
_INSTRUCTION_WORDS = re.compile(_INSTRUCTION, re.IGNORECASE)
REMOVED_INSTRUCTION = "[…]"


def strip_instructions(text: str) -> str:
    """A passage with every sentence that instructs its reader replaced by "[…]"."""
    return INSTRUCTION_SENTENCE.sub(REMOVED_INSTRUCTION, text)


def instructs(text: str) -> bool:
    """Whether a sentence instructs its reader (`strip_instructions` would replace it)."""
    return _INSTRUCTION_WORDS.search(text) is not None
