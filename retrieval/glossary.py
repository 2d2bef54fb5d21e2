"""Acronyms of the corpus: found in its definitions, curated in a TOML file, used both ways.

A question that says "SiS" also searches for "Statens institutionsstyrelse", and a question that
says "samordnad individuell plan" also searches for "SIP".
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from retrieval.swedish import analyse, unify_text

logger = logging.getLogger(__name__)

# An acronym: 2-8 letters, at least two capitals ("SiS", "SoL", "BISAM", "RÖK").
_ACRONYM = r"[A-ZÅÄÖ](?=(?:[a-zåäö]{0,2}[A-ZÅÄÖ]))[A-Za-zÅÄÖåäö]{1,7}"
# "Long form (SIP)" and "SIP (Long form)".
_PAREN_AFTER = re.compile(rf"\(\s*(?P<acr>{_ACRONYM})\s*\)")
_PAREN_BEFORE = re.compile(rf"(?<![\w-])(?P<acr>{_ACRONYM})\s*\((?P<long>[^()\n]{{3,100}})\)")
# "long form, SIP" and "long form, förkortad LPT"; OCR may split capitals: "L VU".
_COMMA_AFTER = re.compile(
    r",[ \t\n]+(?:förkortad[ \t\n]+|förk\.[ \t\n]+)?"
    r"(?P<acr>[A-ZÅÄÖ](?: ?[A-ZÅÄÖ]){1,6}|" + _ACRONYM + r")(?![\w-])"
)
# "SIP - Samordnad individuell plan" at the start of a line.
_DASH_AFTER = re.compile(rf"^\s*(?P<acr>{_ACRONYM})\s+[-:]\s+(?P<long>[^\n]{{3,100}})$", re.M)
_SENTENCE_END = re.compile(r"(?:[.!?;•|\t\[\]]|\n\s*\n|\s-\s|^\s*-\s)", re.M)
_NUMBERISH = re.compile(r"^[\W\d_]*$")
_WORD_EDGE = re.compile(r"^[^\w]+|[^\w]+$")

# Words a long form may pass over without a letter of the acronym.
_LINK_WORDS = frozenset(
    {"och", "för", "i", "av", "om", "med", "på", "till", "vid", "eller", "de", "det", "den"}
)
_LAW_WORDS = frozenset({"lag", "lagen", "lagar"})
_MAX_WORDS = 12


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """An acronym, its full Swedish name and where the corpus defines it."""

    acronym: str
    expansion: str
    source: str = ""
    quote: str = ""
    defined_in_corpus: bool = True
    aliases: tuple[str, ...] = ()
    # Also an ordinary word in lower case (LAG, RÖK, SoL): match only as written.
    ambiguous: bool = False


def _letters(acronym: str) -> str:
    return "".join(ch for ch in acronym.lower() if ch.isalpha())


def _align_cost(letters: str, words: list[str]) -> float | None:
    """How badly ``words`` spell ``letters``; None when they cannot.

    The first letter must begin the first word. Later letters cost nothing at the start of a
    word and one inside a word ("institutions|s|tyrelse"); a word that gives no letter costs
    nothing when it is a link word or number, else two (one in the name of a law, where
    "lagen med särskilda bestämmelser om vård av unga" gives LVU).
    """
    if not words or not letters or words[0][:1] != letters[0]:
        return None
    skip_content = 1.0 if words[0] in _LAW_WORDS else 2.0

    def skip_cost(word: str) -> float:
        return 0.0 if word in _LINK_WORDS or _NUMBERISH.match(word) else skip_content

    @cache
    def best(li: int, wi: int, ci: int, hit: bool) -> float:
        if li == len(letters):
            rest = sum(skip_cost(w) for w in words[wi + 1 :])
            return rest + (0.0 if hit else skip_cost(words[wi]))
        word = words[wi]
        result = float("inf")
        for pos in range(ci, len(word)):
            if word[pos] == letters[li]:
                cost = 0.0 if pos == 0 else 1.0
                result = min(result, cost + best(li + 1, wi, pos + 1, True))
        if wi + 1 < len(words):
            result = min(result, (0.0 if hit else skip_cost(word)) + best(li, wi + 1, 0, False))
        return result

    cost = best(1, 0, 1, True)
    return None if cost == float("inf") else cost


def _long_form_words(text: str) -> list[str]:
    return [w for w in (_WORD_EDGE.sub("", raw) for raw in text.split()) if w]


def _best_long_form(acronym: str, before: str) -> tuple[str, float] | None:
    """The shortest well-aligned run of words at the end of ``before`` that spells ``acronym``."""
    letters = _letters(acronym)
    raw_words = before.split()[-_MAX_WORDS:]
    best: tuple[str, float] | None = None
    for start in range(len(raw_words) - 1, -1, -1):
        raw = raw_words[start:]
        words = [w.lower() for w in _long_form_words(" ".join(raw))]
        if acronym.lower() in words:
            break  # "SOU 2021:93, SOU 2023:5" is a list, not a definition
        cost = _align_cost(letters, words)
        if cost is None or cost > max(1.0, len(letters) - 1.0):
            continue
        if best is None or cost < best[1]:
            best = (_tidy_expansion(" ".join(raw)), cost)
    return best


def _tidy_expansion(text: str) -> str:
    text = re.sub(r"\(\s*[\d\s:]+\)", " ", text)  # law numbers: "lagen (1990:52) med ..."
    text = " ".join(text.split()).strip(" ,;:-(")
    if text.isupper():
        text = text.lower()
    return text


def _quote(text: str, start: int, end: int) -> str:
    """The sentence around a definition, cut to about 280 characters around it."""
    left = max(text.rfind("\n\n", 0, start), text.rfind(". ", 0, start), start - 170)
    stops = [i for i in (text.find("\n\n", end), text.find(". ", end)) if i >= 0]
    right = min([*stops, end + 110, len(text)])
    quote = " ".join(text[max(left, 0) : right + 1].split()).lstrip(". ")
    if left == start - 170:
        quote = "..." + quote.split(" ", 1)[-1]
    return quote


def _context_before(text: str, position: int) -> str:
    window = text[max(0, position - 200) : position]
    cut = 0
    for match in _SENTENCE_END.finditer(window):
        cut = match.end()
    # An opening parenthesis left open belongs to something else: "(t.ex. Statens ...".
    before = window[cut:]
    if before.count("(") > before.count(")"):
        before = before[before.rfind("(") + 1 :]
    return before


def extract_glossary(texts: Iterable[tuple[str, str]]) -> dict[str, GlossaryEntry]:
    """Find acronym definitions in documents.

    Recognised: "Statens institutionsstyrelse (SiS)", "SIP (Samordnad individuell plan)",
    "samordnad individuell plan, SIP", "... psykiatrisk tvångsvård, förkortad LPT" and
    "SIP - Samordnad individuell plan". The long form is the run of words whose initials, or
    the starts of their compound parts, spell the acronym ("Regional Samverkans- och
    Stödstruktur" -> RSS, "hem för vård eller boende" -> HVB).

    Args:
        texts: ``(source, text)`` pairs, the source being the document id or title.

    Returns:
        Acronym -> entry; when an acronym is defined several times, the best-aligned
        definition that was found most often wins.
    """
    found: dict[str, list[tuple[float, int, GlossaryEntry]]] = {}
    order = 0
    for source, raw_text in texts:
        text = unify_text(raw_text)
        for acronym, expansion, cost, start, end in _definitions(text):
            entry = GlossaryEntry(
                acronym=acronym,
                expansion=expansion,
                source=source,
                quote=_quote(text, start, end),
            )
            found.setdefault(acronym, []).append((cost, order, entry))
            order += 1
    glossary: dict[str, GlossaryEntry] = {}
    for acronym, candidates in found.items():
        counts: dict[str, int] = {}
        for _, _, entry in candidates:
            key = entry.expansion.lower()
            counts[key] = counts.get(key, 0) + 1
        _, _, best = min(candidates, key=lambda c: (c[0], -counts[c[2].expansion.lower()], c[1]))
        glossary[acronym] = best
    return glossary


def _definitions(text: str) -> Iterable[tuple[str, str, float, int, int]]:
    """Yield ``(acronym, expansion, cost, start, end)`` for each definition in ``text``."""
    for match in _PAREN_AFTER.finditer(text):
        acronym = match.group("acr")
        long_form = _best_long_form(acronym, _context_before(text, match.start()))
        if long_form:
            yield acronym, long_form[0], long_form[1], match.start(), match.end()
    for match in _COMMA_AFTER.finditer(text):
        acronym = match.group("acr").replace(" ", "")
        if not re.fullmatch(_ACRONYM, acronym):
            continue
        long_form = _best_long_form(acronym, _context_before(text, match.start()))
        if long_form:
            yield acronym, long_form[0], long_form[1], match.start(), match.end()
    for pattern in (_PAREN_BEFORE, _DASH_AFTER):
        for match in pattern.finditer(text):
            acronym = match.group("acr")
            words = [w.lower() for w in _long_form_words(match.group("long"))]
            cost = _align_cost(_letters(acronym), words)
            if cost is not None and cost <= max(1.0, len(_letters(acronym)) - 1.0):
                expansion = _tidy_expansion(match.group("long"))
                yield acronym, expansion, cost, match.start(), match.end()


def load_glossary(path: Path) -> dict[str, GlossaryEntry]:
    """Read a curated glossary TOML file.

    The file holds ``[[entry]]`` tables with ``acronym`` and ``expansion`` and optionally
    ``source``, ``quote``, ``defined_in_corpus``, ``aliases`` and ``ambiguous``.

    Args:
        path: The TOML file, e.g. ``corpus/glossary.toml``.

    Returns:
        Acronym -> entry; empty when the file does not exist.

    Raises:
        ConfigError: When the file is not valid TOML or an entry lacks its acronym or
            expansion.
    """
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: ogiltig ordlista ({error}); rätta filen.") from error
    glossary: dict[str, GlossaryEntry] = {}
    for number, table in enumerate(data.get("entry", []), start=1):
        glossary_entry = _entry_from_table(table, path, number)
        glossary[glossary_entry.acronym] = glossary_entry
    logger.debug("Read %d glossary entries from %s", len(glossary), path)
    return glossary


def _entry_from_table(table: Mapping[str, Any], path: Path, number: int) -> GlossaryEntry:
    acronym = str(table.get("acronym", "")).strip()
    expansion = str(table.get("expansion", "")).strip()
    if not acronym or not expansion:
        raise ConfigError(
            f"{path}: post {number} saknar acronym eller expansion; komplettera posten."
        )
    return GlossaryEntry(
        acronym=acronym,
        expansion=expansion,
        source=str(table.get("source", "")),
        quote=str(table.get("quote", "")),
        defined_in_corpus=bool(table.get("defined_in_corpus", True)),
        aliases=tuple(str(a) for a in table.get("aliases", ())),
        ambiguous=bool(table.get("ambiguous", False)),
    )


def merge_glossaries(
    extracted: Mapping[str, GlossaryEntry], curated: Mapping[str, GlossaryEntry]
) -> dict[str, GlossaryEntry]:
    """Combine what the corpus defines with the curated file; the curated wording wins.

    Args:
        extracted: From `extract_glossary`.
        curated: From `load_glossary`.

    Returns:
        Every acronym of either; a curated entry keeps the corpus source and quote when it
        has none of its own, and counts as defined in the corpus when a definition was found.
    """
    merged = dict(extracted)
    for acronym, entry in curated.items():
        found = extracted.get(acronym)
        if found is not None:
            entry = replace(
                entry,
                source=entry.source or found.source,
                quote=entry.quote or found.quote,
                defined_in_corpus=True,
            )
        merged[acronym] = entry
    return merged


def _comparable(text: str) -> str:
    return " ".join(unify_text(text).split()).lower()


def restrict_glossary(
    glossary: Mapping[str, GlossaryEntry],
    visible: Mapping[str, str],
    hidden: Mapping[str, str],
) -> dict[str, GlossaryEntry]:
    """The entries a reader of only some documents may be given: none drawn from the others.

    An entry is left out when its source names a hidden document and no visible one, or when
    its quote stands in a hidden document and in no visible one (a curated entry may name its
    document by file name, which only the quote then gives away). Entries from no document
    (no source, no quote found anywhere) are kept.

    Args:
        glossary: Acronym -> entry.
        visible: Every name of a readable document (id, title, file stem) -> its text.
        hidden: The same for the documents the reader may not see.

    Returns:
        The entries the reader may see, in glossary order.
    """
    visible_texts = [_comparable(t) for t in dict.fromkeys(visible.values())]
    hidden_texts = [_comparable(t) for t in dict.fromkeys(hidden.values())]
    kept: dict[str, GlossaryEntry] = {}
    for acronym, entry in glossary.items():
        if entry.source and entry.source in hidden and entry.source not in visible:
            continue
        quote = _comparable(entry.quote.replace("...", " "))
        if (
            quote
            and any(quote in text for text in hidden_texts)
            and not any(quote in text for text in visible_texts)
        ):
            continue
        kept[acronym] = entry
    return kept


@lru_cache(maxsize=4096)
def _form_pattern(form: str, ignore_case: bool) -> re.Pattern[str]:
    flags = re.IGNORECASE if ignore_case else 0
    # An acronym may carry an inflection: "SIP:en", "SKR:s", "HVB-hem", "SiS-hem".
    return re.compile(rf"(?<![\w-]){re.escape(form)}(?![^\W_])", flags)


def mentions_acronym(question: str, entry: GlossaryEntry) -> bool:
    """Whether a text uses the acronym (or an alias), inflected or not ("SIP:en", "SiS-hem");
    in lower case too unless the acronym is also an ordinary word."""
    forms = {entry.acronym, entry.acronym.upper(), *entry.aliases}
    if any(_form_pattern(form, False).search(question) for form in forms):
        return True
    # Lower case ("sip", "hvb") only for acronyms that are not ordinary words.
    return not entry.ambiguous and bool(_form_pattern(entry.acronym, True).search(question))


def _contains_run(terms: list[str], run: list[str]) -> bool:
    if not run or len(run) > len(terms):
        return False
    return any(terms[i : i + len(run)] == run for i in range(len(terms) - len(run) + 1))


@lru_cache(maxsize=1024)
def _expansion_terms(expansion: str) -> tuple[str, ...]:
    return tuple(analyse(expansion))


def glossary_matches(
    question: str, glossary: Mapping[str, GlossaryEntry]
) -> list[tuple[GlossaryEntry, str]]:
    """The glossary entries a question mentions, and what it mentions of each.

    Args:
        question: The user's question.
        glossary: Acronym -> entry.

    Returns:
        ``(entry, "acronym")`` when the question uses the acronym, ``(entry, "expansion")``
        when it spells out the name (compared on stems, so "samordnade individuella planer"
        counts); in glossary order.
    """
    terms = analyse(question)
    matches: list[tuple[GlossaryEntry, str]] = []
    for entry in glossary.values():
        if mentions_acronym(question, entry):
            matches.append((entry, "acronym"))
        elif _contains_run(terms, list(_expansion_terms(entry.expansion))):
            matches.append((entry, "expansion"))
    return matches


def expand_query(question: str, glossary: Mapping[str, GlossaryEntry]) -> str:
    """Add what an acronym stands for, and the acronym of a spelled-out name, to a question.

    Only what the question lacks is added, so no word is counted twice: "Vad gör SiS?" gets
    "(SiS = Statens institutionsstyrelse)" and "Vad är en samordnad individuell plan?" gets
    "(SIP)".

    Args:
        question: The user's question.
        glossary: Acronym -> entry, e.g. `merge_glossaries` of the extracted and curated ones.

    Returns:
        The question with the additions in parentheses; unchanged when it mentions no
        glossary entry.
    """
    additions: list[str] = []
    for entry, mentioned in glossary_matches(question, glossary):
        spellings: dict[str, str] = {}
        for name in (entry.acronym, *entry.aliases):
            spellings.setdefault(name.upper(), name)
        names = " ".join(spellings.values())
        additions.append(f"{names} = {entry.expansion}" if mentioned == "acronym" else names)
    if not additions:
        return question
    return f"{question} ({'; '.join(additions)})"
