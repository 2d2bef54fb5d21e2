"""Check a generated answer against the passages it was given: citation numbers and every figure.

Rules:

* A citation ``[n]`` must name a passage that was given (1..N). Others are removed from the text,
  and the answer's notice says so.
* Each sentence cites the passages of its own markers. A sentence without markers takes those of
  the nearest cited sentence after it on the same line (a citation at the end of a run of
  sentences), else the nearest before it. A sentence still without one is *attributed*: it gets
  the marker of the given passage that holds every figure of the sentence (and, for a sentence
  without figures, at least 60 % of its words), added to the text. Small models often state a
  correct figure and forget the marker; attribution cites the passage that proves it, and
  never lends a sentence a figure, since the passage must hold every one. A sentence whose only
  markers named passages that were not given is never attributed.
* Every figure in a sentence (number, amount, percentage, date) must occur in a passage the
  sentence cites, after normalising Swedish and English forms: "21 724 099 kr" = "21724099" =
  "21,724,099"; "15 miljoner kronor" = 15 000 000 ("21,7 miljoner" matches 21 724 099: a figure
  given with a scale word may be rounded to the digits it states); "9 procent" = "9 %";
  "30 september 2025" = "2025-09-30" = "250930" ("220901" = 1 september 2022). A date must match
  to the precision it is written with (day, month and year; month and year; day and month).
  Spelled-out numbers ("fyra") and list enumerators ("1.") are not checked.
* A sentence fails when it cites no given passage or holds a figure no cited passage has.

What this does not check: meaning. A sentence that cites a given passage and holds no foreign
figure passes even when it misreads the passage (a name given for the wrong role, say).

Policy (the choice the issue leaves open): failing sentences are **marked**, not dropped. They stay
in the text, are listed verbatim in ``Answer.unverified`` for the page to flag, and the notice says
how many. A small model often gets one figure wrong among several right sentences; marking keeps
the rest and shows the reader exactly what to distrust. When **no** sentence passes, there is
nothing supported left to show, and the whole answer falls back to the extractive one (with a
notice); see ``Verification.falls_back``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

# --- text normalisation -------------------------------------------------------------------

_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\u200a"), " ")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_TRANSLATE = {**_SPACES, **_DASHES}
_CONSUMED = "\x00"  # stands in for characters already read as part of a date


def _normalise(text: str) -> str:
    return text.translate(_TRANSLATE)


# --- citation markers ---------------------------------------------------------------------

CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;-]\s*\d{1,3})*)\]")
_MAX_RANGE = 20


def marker_numbers(inside: str) -> list[int]:
    """The passage numbers of one marker's inside: "1, 3" -> [1, 3]; "2-4" -> [2, 3, 4]."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", _normalise(inside).strip()):
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            if lo <= hi and hi - lo <= _MAX_RANGE:
                numbers.extend(range(lo, hi + 1))
            else:
                numbers.extend((lo, hi))
        elif part:
            numbers.append(int(part))
    return numbers


def remove_invalid_citations(text: str, n_passages: int) -> tuple[str, tuple[int, ...]]:
    """Drop the numbers of markers that name no given passage.

    Args:
        text: The generated answer.
        n_passages: How many passages were given (numbered 1..n).

    Returns:
        The text with every marker naming only given passages, and the numbers removed.
    """
    removed: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = marker_numbers(match.group(1))
        valid = list(dict.fromkeys(n for n in numbers if 1 <= n <= n_passages))
        removed.extend(n for n in numbers if not 1 <= n <= n_passages)
        if len(valid) == len(numbers):
            return match.group(0)
        return f"[{', '.join(map(str, valid))}]" if valid else ""

    cleaned = CITATION.sub(fix, text)
    if removed:
        cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)  # "kronor [9]." -> "kronor."
        cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return cleaned.strip(), tuple(dict.fromkeys(removed))


# --- sentences ----------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    re.findall(
        r"\S+",
        "t.ex bl.a s.k kl nr ca dvs d.v.s m.m osv resp jfr st e.g i.e etc p.g.a pga enl milj ang "
        "fr.o.m t.o.m f.d mr dr prop",
    )
)
_SENTENCE_END = re.compile(r"[.!?]+(?:\s*\[[\d,;\s-]+\])*(?=\s+\S|\s*$)")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an answer, as written, with the line it stands on."""

    text: str
    line: int
    markers: tuple[int, ...]


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of an answer: each line is split after ".", "!" or "?" and their markers."""
    sentences: list[Sentence] = []
    for line_no, line in enumerate(text.splitlines()):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            before = line[start : match.start()].rsplit(None, 1)
            word = before[-1].lower() if before else ""
            if match.group(0).startswith(".") and word.rstrip(".") in _ABBREVIATIONS:
                continue
            sentences.append(_sentence(line[start : match.end()], line_no))
            start = match.end()
        if line[start:].strip():
            sentences.append(_sentence(line[start:], line_no))
    return [s for s in sentences if s.text]


def _sentence(text: str, line: int) -> Sentence:
    markers = [n for m in CITATION.finditer(text) for n in marker_numbers(m.group(1))]
    return Sentence(text.strip(), line, tuple(dict.fromkeys(markers)))


# --- figures ------------------------------------------------------------------------------

_MONTHS = {
    "januari": 1, "january": 1, "jan": 1,
    "februari": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "maj": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6,
    "juli": 7, "july": 7, "jul": 7,
    "augusti": 8, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
_MONTH = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?::[ae])?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("d", rf"\b{_YEAR}-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}})\b"),
        ("d", rf"\b{_DAY}\s+{_MONTH}\s+{_YEAR}\b"),
        ("d", rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}\b"),
        ("d", rf"\b(?P<day>\d{{1,2}})/(?P<month>\d{{1,2}})(?:/|\s+){_YEAR}\b"),
        ("ym", rf"\b{_MONTH}\s+{_YEAR}\b"),
        ("md", rf"\b{_DAY}\s+{_MONTH}(?!\w)"),
        ("md", rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?![\s,]*\d)"),
    )
)
_SCALES = {
    "miljarder": 10**9, "miljard": 10**9, "mdkr": 10**9, "mdr": 10**9,
    "billions": 10**9, "billion": 10**9, "bn": 10**9,
    "miljoner": 10**6, "miljon": 10**6, "milj.": 10**6, "milj": 10**6, "mnkr": 10**6,
    "mkr": 10**6, "mn": 10**6, "millions": 10**6, "million": 10**6,
    "tusen": 10**3, "tkr": 10**3, "thousand": 10**3,
}  # fmt: skip
_SCALE = "|".join(re.escape(s) for s in sorted(_SCALES, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<num>"
    r"\d{1,3}(?: \d{3})+(?:,\d+)?"  # 21 724 099 | 1 234,5
    r"|\d{1,3}(?:\.\d{3})+(?:,\d+)?"  # 21.724.099
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 21,724,099
    r"|\d+(?:[,.]\d+)?"  # 21724099 | 9,5 | 9.5
    rf")(?!\d)(?:\s*(?P<scale>{_SCALE})(?!\w))?(?:\s*(?P<pct>%|procent|percent|per cent))?",
    re.IGNORECASE,
)
_ENUMERATOR = re.compile(r"^\s*(?:[-*•]\s*)?\d{1,2}[.)]\s+", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure written in an answer, with every value it can be read as."""

    surface: str
    numbers: frozenset[Decimal] = frozenset()
    dates: frozenset[str] = frozenset()  # "d:2025-09-30", "ym:2025-09", "md:09-30"
    tolerance: Decimal = Decimal(0)  # a rounded amount ("21,7 miljoner") may differ this much


@dataclass(frozen=True, slots=True)
class Facts:
    """Every value a passage holds, read leniently (every reading of every figure)."""

    numbers: frozenset[Decimal]
    dates: frozenset[str]


def _date_keys(year: int | None, month: int, day: int | None) -> set[str]:
    try:
        date(year or 2000, month, day or 1)
    except ValueError:
        return set()
    if year is None:
        return {f"md:{month:02d}-{day:02d}"}
    if day is None:
        return {f"ym:{year}-{month:02d}"}
    return {
        f"d:{year}-{month:02d}-{day:02d}",
        f"ym:{year}-{month:02d}",
        f"md:{month:02d}-{day:02d}",
    }


def _compact_date(digits: str) -> set[str]:
    """Dates of "220901" (yymmdd) and "20220901" (yyyymmdd)."""
    if len(digits) == 6:
        year, rest = 2000 + int(digits[:2]), digits[2:]
    elif len(digits) == 8 and digits[:2] in {"19", "20"}:
        year, rest = int(digits[:4]), digits[4:]
    else:
        return set()
    return _date_keys(year, int(rest[:2]), int(rest[2:]))


def _readings(raw: str) -> set[Decimal]:
    """Every value a written number can mean: "1.500" is 1 500 or 1,5; "21 724 099" one value."""
    s = raw.replace(" ", "")
    try:
        if s.isdigit():
            return {Decimal(s)}
        if "," in s and "." in s:  # the last separator is the decimal one
            if s.rfind(",") > s.rfind("."):
                return {Decimal(s.replace(".", "").replace(",", "."))}
            return {Decimal(s.replace(",", ""))}
        sep = "," if "," in s else "."
        parts = s.split(sep)
        if len(parts) > 2:
            return {Decimal("".join(parts))}
        whole, frac = parts
        values = {Decimal(f"{whole}.{frac}")}
        if len(frac) == 3:
            values.add(Decimal(whole + frac))
        return values
    except InvalidOperation:
        return set()


def _dates_in(text: str) -> Iterable[tuple[re.Match[str], set[str], tuple[int, ...]]]:
    """Each date match with its keys and the plain numbers it is written with."""
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            month = _MONTHS[groups["mon"].lower()] if groups.get("mon") else int(groups["month"])
            year = int(groups["year"]) if kind != "md" else None
            day = int(groups["day"]) if kind != "ym" else None
            keys = _date_keys(year, month, day)
            if keys:
                yield match, keys, tuple(x for x in (year, day) if x is not None)


def _number_figure(match: re.Match[str], text: str) -> Figure:
    raw = match.group("num")
    values = _readings(raw)
    start = match.start("num")
    # "2023/24": the second year written short.
    if (
        len(raw) == 2
        and start >= 5
        and text[start - 1] == "/"
        and text[start - 5 : start - 1].isdigit()
    ):
        values.add(Decimal(text[start - 5 : start - 3] + raw))
    dates = _compact_date(raw) if raw.isdigit() else set()
    tolerance = Decimal(0)
    scale_word = match.group("scale")
    if scale_word:
        scale = _SCALES[scale_word.lower()]
        exponent = min(int(v.as_tuple().exponent) for v in values) if values else 0
        tolerance = Decimal(scale) * Decimal(10) ** exponent / 2
        values = {v * scale for v in values}
    return Figure(match.group(0).strip(), frozenset(values), frozenset(dates), tolerance)


def extract_figures(text: str) -> list[Figure]:
    """The figures of an answer sentence, each read whole ("30 september 2025" is one date).

    Citation markers and list enumerators are not figures. A number joined to a word by a hyphen
    ("covid-19") is part of a name, not a figure.
    """
    text = _ENUMERATOR.sub(" ", CITATION.sub(" ", _normalise(text)))
    figures: list[tuple[int, Figure]] = []
    chars = list(text)
    for match, keys, _ in _dates_in(text):
        if _CONSUMED in "".join(chars[match.start() : match.end()]):
            continue
        figures.append((match.start(), Figure(match.group(0).strip(), dates=frozenset(keys))))
        chars[match.start() : match.end()] = _CONSUMED * (match.end() - match.start())
    rest = "".join(chars)
    for match in _NUMBER.finditer(rest):
        start = match.start()
        if start >= 2 and rest[start - 1] == "-" and rest[start - 2].isalpha():
            continue
        figures.append((start, _number_figure(match, rest)))
    return [f for _, f in sorted(figures, key=lambda item: item[0])]


def passage_facts(text: str) -> Facts:
    """Every number and date a passage holds, in every reading (scaled and unscaled)."""
    text = _normalise(text)
    numbers: set[Decimal] = set()
    dates: set[str] = set()
    for _, keys, parts in _dates_in(text):
        dates.update(keys)
        numbers.update(Decimal(p) for p in parts)
    for match in _NUMBER.finditer(text):
        figure = _number_figure(match, text)
        numbers.update(figure.numbers)
        numbers.update(_readings(match.group("num")))  # "15 miljoner" also holds 15
        dates.update(figure.dates)
    return Facts(frozenset(numbers), frozenset(dates))


def figure_supported(figure: Figure, facts: Facts) -> bool:
    """Whether a passage's facts hold the figure in any of its readings."""
    if figure.dates & facts.dates:
        return True
    if figure.tolerance:
        return any(abs(v - n) <= figure.tolerance for v in figure.numbers for n in facts.numbers)
    return bool(figure.numbers & facts.numbers)


def verify_numbers(sentence: str, passages: Sequence[Facts]) -> tuple[str, ...]:
    """The figures of a sentence that none of the given passages hold, as written."""
    return tuple(
        f.surface
        for f in extract_figures(sentence)
        if not any(figure_supported(f, facts) for facts in passages)
    )


# --- the whole answer ---------------------------------------------------------------------

_NO_SUPPORT = re.compile(
    r"hittar (inget|inte något|inga) stöd|inget stöd för|finns ingen information|"
    r"(framgår|nämns|anges|står) inte|saknas (uppgifter|information)|inga uppgifter om|"
    r"no support|no information|(is|are) not mentioned|(do|does) not (mention|say|contain|state)",
    re.IGNORECASE,
)


def says_no_support(text: str) -> bool:
    """Whether a text says the sources do not answer ("Jag hittar inget stöd för det ...")."""
    return bool(_NO_SUPPORT.search(text))


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """What verification found for one sentence."""

    text: str
    cites: tuple[int, ...]
    figures: int
    missing: tuple[str, ...]  # figures no cited passage holds
    claim: bool = True  # False for lead-ins ("Beloppen är:") and "no support" sentences
    attributed: bool = False  # the model gave no marker; verification added one

    @property
    def verified(self) -> bool:
        """Whether the sentence cites a given passage and every figure is found in one."""
        return not self.claim or (bool(self.cites) and not self.missing)


@dataclass(frozen=True, slots=True)
class Verification:
    """The checked answer: its text with bad markers removed, and every sentence's result."""

    text: str
    sentences: tuple[SentenceCheck, ...]
    removed: tuple[int, ...]

    @property
    def claims(self) -> tuple[SentenceCheck, ...]:
        """The sentences that state something (lead-ins and "no support" sentences excluded)."""
        return tuple(s for s in self.sentences if s.claim)

    @property
    def unverified(self) -> tuple[str, ...]:
        """The failing sentences, verbatim as they stand in ``text``."""
        return tuple(s.text for s in self.sentences if not s.verified)

    @property
    def cited(self) -> tuple[int, ...]:
        """Passage numbers cited in the text, in order of first appearance."""
        found = (n for m in CITATION.finditer(self.text) for n in marker_numbers(m.group(1)))
        return tuple(dict.fromkeys(found))

    @property
    def figures_checked(self) -> int:
        """How many figures were compared with the passages."""
        return sum(s.figures for s in self.claims)

    @property
    def figures_caught(self) -> int:
        """How many figures no cited passage holds."""
        return sum(len(s.missing) for s in self.claims)

    @property
    def attributed(self) -> int:
        """How many sentences got their marker from verification rather than from the model."""
        return sum(s.attributed for s in self.claims)

    @property
    def falls_back(self) -> bool:
        """Whether nothing in the answer is supported, so the extractive answer is given."""
        return not any(s.verified for s in self.claims)


def verify_answer(text: str, passages: Sequence[str]) -> Verification:
    """Check every citation and figure of a generated answer.

    Args:
        text: The answer as generated, with [n] markers.
        passages: The texts of the passages given to the model; passage n is ``passages[n-1]``.

    Returns:
        The verification: cleaned text, one check per sentence, and the removed numbers.
    """
    n = len(passages)
    cleaned, removed = remove_invalid_citations(text, n)
    facts = [passage_facts(p) for p in passages]
    # Split the text as written, so a sentence whose only marker named no passage is known:
    # it cites nothing and borrows nothing.
    written = split_sentences(text)
    sentences = [
        Sentence(
            remove_invalid_citations(s.text, n)[0],
            s.line,
            tuple(m for m in s.markers if 1 <= m <= n),
        )
        for s in written
    ]
    words = [_content_words(p) for p in passages]
    checks: list[SentenceCheck] = []
    attributed: list[tuple[str, int]] = []
    for i, (sentence, original) in enumerate(zip(sentences, written, strict=True)):
        bare = CITATION.sub(" ", sentence.text).strip()
        if not re.search(r"\w", bare):
            continue  # markers only: nothing is claimed
        figures = extract_figures(sentence.text)
        claim = not (
            (bare.endswith(":") and not figures) or (not original.markers and says_no_support(bare))
        )
        source = None
        if sentence.markers:
            cites = sentence.markers
        elif original.markers:
            cites = ()  # every marker named a passage that was not given
        else:
            cites = _borrowed_markers(sentences, i)
            if not cites and claim:
                source = _attribute(bare, figures, facts, words)
                cites = (source,) if source else ()
        missing = verify_numbers(sentence.text, [facts[c - 1] for c in cites])
        text_now = f"{sentence.text} [{source}]" if source else sentence.text
        if source:
            attributed.append((sentence.text, source))
        checks.append(SentenceCheck(text_now, cites, len(figures), missing, claim, bool(source)))
    return Verification(_add_markers(cleaned, attributed), tuple(checks), removed)


_WORD = re.compile(r"[^\W\d_]{4,}")
_MIN_WORD_SHARE = 0.6


def _content_words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def _attribute(
    sentence: str,
    figures: Sequence[Figure],
    facts: Sequence[Facts],
    words: Sequence[frozenset[str]],
) -> int | None:
    """The passage a sentence without markers rests on: it holds every figure of the sentence
    and, for a sentence without figures, at least 60 % of its words (at least two); else None."""
    own = _content_words(sentence)
    best: tuple[float, int] | None = None
    for n, (passage_facts_, passage_words) in enumerate(zip(facts, words, strict=True), start=1):
        if not all(figure_supported(f, passage_facts_) for f in figures):
            continue
        share = len(own & passage_words) / len(own) if own else 0.0
        if not figures and (len(own) < 2 or share < _MIN_WORD_SHARE):
            continue
        if best is None or share > best[0]:
            best = (share, n)
    return best[1] if best else None


def _add_markers(text: str, attributed: Sequence[tuple[str, int]]) -> str:
    """Append " [n]" to each attributed sentence where it stands, in order."""
    cursor = 0
    for sentence, n in attributed:
        at = text.find(sentence, cursor)
        if at < 0:
            continue
        end = at + len(sentence)
        text = f"{text[:end]} [{n}]{text[end:]}"
        cursor = end
    return text


def _borrowed_markers(sentences: Sequence[Sentence], i: int) -> tuple[int, ...]:
    line = sentences[i].line
    after = (s for s in sentences[i + 1 :] if s.line == line and s.markers)
    before = (s for s in reversed(sentences[:i]) if s.line == line and s.markers)
    for s in (*after, *before):
        return s.markers
    return ()


def verification_notice(verification: Verification) -> str:
    """The Swedish notice of an answer that passed verification only in part; "" when clean."""
    parts: list[str] = []
    failing = len(verification.unverified)
    if failing == 1:
        parts.append("En mening i svaret kunde inte styrkas av källorna och är markerad.")
    elif failing:
        parts.append(
            f"{failing} meningar i svaret kunde inte styrkas av källorna; de är markerade."
        )
    if verification.removed:
        numbers = ", ".join(f"[{n}]" for n in verification.removed)
        parts.append(f"Hänvisningar till källor som inte fanns med ({numbers}) har tagits bort.")
    return " ".join(parts)
