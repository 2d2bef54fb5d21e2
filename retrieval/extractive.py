"""Extractive answers: pick the sentences of the retrieved passages that answer the question.

Nothing is written that is not in a passage: the answer is the chosen sentences, verbatim, each
followed by its citation number. Whether to answer at all is decided by the refusal model in
`retrieval.refusal`, from features this module computes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.types import YEAR_IN_TEXT, Chunk, Passage
from retrieval.asked_kinds import (
    EMAIL,
    PHONE,
    SWEDISH_MONTHS,
    asked_kinds,
    asks_post_holder,
    first_names,
    names_person,
)
from retrieval.english import load_terms, with_swedish_terms
from retrieval.instructions import instructs
from retrieval.sentence_model import (
    FEATURES,
    PRIOR,
    Candidate,
    SentenceModel,
    coverage,
    feature_matrix,
)
from retrieval.swedish import NGRAM_PREFIX, STOPWORDS, stem, tokenize

Analyser = Callable[[str], list[str]]
TermWeight = Callable[[str], float]
SentenceEmbedder = Callable[[list[str]], np.ndarray]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9\"”(•–-])")
_AMOUNT = re.compile(
    r"\d[\d  ]*(?:,\d+)?\s*(?:kr\b|kronor|miljoner|miljarder|mnkr|tkr|msek|sek\b)"
    r"|\d{1,3}(?: \d{3})+",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"\d+(?:,\d+)?\s*(?:%|procent)", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:19|20)\d{2}\b|\b\d{6,8}\b|\b\d{1,2}\s+(?:jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)"
    rf"|\b(?:{SWEDISH_MONTHS}|våren|hösten|vår|höst)\b",
    re.IGNORECASE,
)
_PERSON = re.compile(r"\b[A-ZÅÄÖ][a-zåäöé]+(?:-[A-ZÅÄÖ][a-zåäöé]+)? [A-ZÅÄÖ][a-zåäöé]{2,}\b")
_NUMBER = re.compile(r"\d")
_ENUMERATOR = re.compile(r"\(?(?:\d{1,3}|[a-zA-Z])[.)]")
# What a sentence holding each kind of fact asked for matches (`answer_types`).
_FACT_PATTERNS = {
    "amount": _AMOUNT,
    "count": _NUMBER,
    "percent": _PERCENT,
    "date": _DATE,
    "person": _PERSON,
}

_ASKS = {
    "amount": re.compile(
        r"\b(hur mycket|belopp\w*|summa\w*|kostn\w*|kostar|kosta|kronor|pengar|medel|budget\w*|"
        r"tilldela\w*|beviljade?s?|how much|amount|funding|money|budget|granted|allocated)\b",
        re.IGNORECASE,
    ),
    "count": re.compile(r"\b(hur många|antal\w*|how many|number of)\b", re.IGNORECASE),
    "percent": re.compile(
        r"\b(andel\w*|procent\w*|hur stor del|percentage|share|proportion)\b", re.IGNORECASE
    ),
    "date": re.compile(
        r"\b(när|datum|vilket år|vilken dag|tidpunkt|senast|deadline|when|what date|which year|"
        r"by what date)\b",
        re.IGNORECASE,
    ),
    "person": re.compile(r"\b(vem|vilka personer|vem är|who|whom|contact)\b", re.IGNORECASE),
    "list": re.compile(
        r"\b(vilka|vad ingår|lista|räkna upp|which|what are|list|name the)\b", re.IGNORECASE
    ),
    "reason": re.compile(r"\b(varför|av vilken anledning|vad beror|why)\b", re.IGNORECASE),
    "meaning": re.compile(
        r"\b(vad (?:menas|avses|innebär|betyder)|vad är en|what is meant|what does .* mean)\b",
        re.IGNORECASE,
    ),
    "purpose": re.compile(
        r"\b(syfte\w*|tanken med|vad ska .* användas till|till vad|purpose|aim of|"
        r"what .* used for)\b",
        re.IGNORECASE,
    ),
}
# What a sentence that gives a reason, a meaning or a purpose says it with: "... då många
# verksamheter är involverade", "Med integrerad vård avses ...", "Syftet är ...". A question
# that asks why, what something means or what it is for prefers such a sentence by
# `_CUE_BONUS` on the sentence model's scale (log-odds between sentences). Of the 9 such
# answerable calibration and validation questions whose context holds their evidence, the
# evidence sentence holds the cue in 6, against about one in six of the ten best other
# candidates; the bonus answers one more validation question (60 -> 61 of 90), and the
# calibration and evaluation sets the same.
_CUES = {
    "reason": re.compile(
        r"\b(eftersom|därför|då|på grund av|beror|orsak\w*|skäl\w*|till följd av|leder till|"
        r"med anledning av)\b",
        re.IGNORECASE,
    ),
    "meaning": re.compile(
        r"\b(avses|menas|innebär|definieras|betyder|dvs|det vill säga|är en|kallas)\b",
        re.IGNORECASE,
    ),
    "purpose": re.compile(
        r"\b(syfte\w*|syftar|för att|ändamål\w*|ska användas till|avsikten)\b", re.IGNORECASE
    ),
}
_CUE_BONUS = 2.0
# The asking phrases of a question for a fact of a definite form (`missing_fact`). Stricter
# than `_ASKS`, which reads "medel" or "budget" anywhere in a question as asking for an amount:
# here the question itself must ask how much, what something costs, how many, which date, how
# long, or for a phone number or an e-mail address.
_SUM_WORDS = r"(?:budget|summa|kostnad|ersättning|belopp|bidrag|anslag|avgift|investering)\w*"
_ASKS_SUM = re.compile(
    r"\b(hur mycket|vad kosta(?:r|de)?|vilket belopp|vilken summa|how much|which amount|"
    r"what amount|what (?:does|did|will) [\w ]+ cost|"
    rf"hur (?:stor|stort|höga?) (?:(?:är|var|blir|blev) (?:\w+ ){{0,3}}?)?{_SUM_WORDS})\b",
    re.IGNORECASE,
)
# "Hur mycket högre ...", "hur mycket tid ...": any figure answers, not only a sum of money.
_ASKS_ANY_FIGURE = re.compile(
    r"\b(?:hur mycket|how much) (?:\w+re|mer|mindre|tid|higher|lower|larger|bigger|greater|more|"
    r"less|longer|time)\b",
    re.IGNORECASE,
)
_ASKS_NUMBER = re.compile(r"\b(hur många|how many)\b", re.IGNORECASE)
# Only the phrases that ask for a date: "när" and "when" are answered by a condition as often
# ("när den enskilde har behov av insatser från båda huvudmännen").
_ASKS_DATE = re.compile(
    r"\b(vilket datum|vilken dag|vilket år|vilket årtal|what date|which date|which year|"
    r"what year)\b",
    re.IGNORECASE,
)
# At the start only: "Måste man ange hur lång uppsägningen är?" asks whether, not how long.
_ASKS_DURATION = re.compile(r"^(?:och |and )?(hur lång|hur länge|how long)\b", re.IGNORECASE)
# The number or address itself, not "telefonrådgivning" or "e-posten".
_ASKS_CONTACT = re.compile(
    r"\b(telefonnummer\w*|telefonnumret|phone number|e-postadress\w*|mejladress\w*|"
    r"e-?mail address)\b|^(?:och |and )?(?:telefon|phone|e-post|e-?mail)\b",
    re.IGNORECASE,
)
# Years and dates ("2024", "2023–2024", "2024-06-12", "20210430"), law references
# ("2024:79"), list numbers ("2. En mer sammanhållen ...") and references to the sources
# ("kriterierna [3]", "[3, 4]") are not the number asked for.
_NOT_A_COUNT = re.compile(
    r"\b\d{4}:\d+\b|\b(?:19|20)\d{2}(?:[–-]\d{2}[–-]\d{2}|[–-](?:19|20)?\d{2})?\b|\b\d{8}\b"
    r"|(?:^|(?<=\s))\(?\d{1,2}[.)](?=\s)|\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\]"
)
_NUMBER_WORD = re.compile(
    r"\b(två|tre|fyra|fem|sex|sju|åtta|nio|tio|elva|tolv|tjugo|hundra|tusen|hälften|dubbelt|"
    r"two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|half|twice)\b",
    re.IGNORECASE,
)
# A number in digits or in words.
_A_NUMBER = rf"(?:\b\d+\b|{_NUMBER_WORD.pattern})"
_DURATION = re.compile(
    r"\b(?:\d+(?:[,.]\d+)?|en|ett|två|tre|fyra|fem|sex|one|two|three|four|five|six)\s*"
    r"(?:dagar|dag|dygn|veckor|vecka|månader|månad|år|timmar|timme|tim|h|minuter|min|days?|"
    r"weeks?|months?|years?|hours?)\b",
    re.IGNORECASE,
)
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "what",
        "which",
        "who",
        "how",
        "when",
        "where",
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "of",
        "for",
        "to",
        "in",
        "and",
        "much",
        "many",
        "by",
        "with",
        "on",
        "from",
        "that",
        "this",
        "there",
        "their",
        "about",
    ]
)


_SWEDISH_WORDS = frozenset(
    [
        "och",
        "att",
        "det",
        "som",
        "en",
        "ett",
        "är",
        "av",
        "på",
        "för",
        "med",
        "till",
        "hur",
        "vad",
        "vilka",
        "vilken",
        "vilket",
        "vem",
        "när",
        "var",
        "har",
        "fick",
        "får",
        "om",
        "inte",
        "den",
        "de",
        "ska",
        "kan",
        "under",
        "från",
        "eller",
        "vid",
    ]
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A candidate sentence (or list item, or table row) of a passage."""

    passage: Passage
    text: str
    line: int
    kind: str  # "text" | "item" | "row" | "heading"


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    """A candidate with its score and how well it covers the question's terms."""

    sentence: Sentence
    score: float
    coverage: float
    similarity: float = 0.0


@dataclass(slots=True)
class Selection:
    """The chosen sentences and the features the refusal model reads."""

    sentences: list[ScoredSentence]
    features: dict[str, float] = field(default_factory=dict)


def is_english(question: str) -> bool:
    """Whether a question is written in English: more English than Swedish function words.

    Swedish names ("Västra Götaland", "Region Östergötland") do not make an English question
    Swedish.
    """
    words = re.findall(r"[a-zåäöé]+", question.lower())
    english = sum(1 for w in words if w in _ENGLISH_WORDS)
    swedish = sum(1 for w in words if w in _SWEDISH_WORDS)
    return english >= 2 and english > swedish


def has_content(question: str) -> bool:
    """Whether a question holds anything to search for: a figure or a word that is neither a
    Swedish stop word nor an English function word (", och vad" and "What and how?" do not)."""
    return any(t not in STOPWORDS and t not in _ENGLISH_WORDS for t in tokenize(question))


def answer_types(question: str) -> set[str]:
    """What kind of fact a question asks for: amount, count, percent, date, person, list; or
    a reason, a meaning or a purpose."""
    return {name for name, pattern in _ASKS.items() if pattern.search(question)}


def _states_sum(text: str, question: str) -> bool:
    return bool(_AMOUNT.search(text) or _PERCENT.search(text))


# "Hur många dagar ...": the thing counted, skipping "av de" ("Hur många av de 41 indikatorerna").
# A verb there ("Hur många går till övriga?", "How many were ...") names no thing.
_COUNT_VERBS = (
    r"(?:går|gick|får|fick|har|hade|kom|kommer|deltog|deltar|sökte|söker|var|är|blir|blev|"
    r"finns|fanns|ska|skulle|kan|kunde|were|are|was|did|do|does|have|has|had|will|can)\b"
)
_COUNTED = re.compile(
    rf"\b(?:hur många|how many)\s+(?:(?:av|of|de|the|\d+)\s+)*(?!{_COUNT_VERBS})"
    r"([a-zåäöé]{3,})"
    # The word after it, when that word is the thing counted (`_counted_noun`).
    rf"(?:\s+(?!{_COUNT_VERBS})([a-zåäöé]{{3,}}))?",
    re.IGNORECASE,
)
# A Swedish plural adjective before the thing counted: "centrala förutsättningar", "ytterligare
# aktiviteter", "olika upplägg". A plural noun seldom ends so, but for the definite form in -na
# ("Hur många av regionerna låg rätt ...?").
_PLURAL_ADJECTIVE = re.compile(r"[a-zåäöé]+(?:[^n]a|are)", re.IGNORECASE)


def _not_counts(text: str, question: str) -> str:
    """The text without its sums, shares, dates, list numbers and the question's own numbers."""
    rest = _NOT_A_COUNT.sub(" ", _PERCENT.sub(" ", _AMOUNT.sub(" ", text)))
    for number in set(re.findall(r"\d+", question)):
        rest = re.sub(rf"\b{number}\b", " ", rest)
    return rest


def _states_count(text: str, question: str) -> bool:
    """A number other than a sum, a share, a date or a list number, and other than the
    question's own numbers ("Hur många av de 41 indikatorerna ..." is not answered by "41")."""
    rest = _not_counts(text, question)
    return bool(_NUMBER.search(rest) or _NUMBER_WORD.search(rest))


def _counted_noun(question: str) -> str | None:
    """The thing a question counts, lower-cased ("Hur många bilagor ...?" -> "bilagor"; past an
    adjective: "Hur många ytterligare aktiviteter ...?" -> "aktiviteter"); None when it counts
    nothing."""
    counted = _COUNTED.search(question)
    if counted is None:
        return None
    first, after = counted.group(1), counted.group(2)
    if after and not is_english(question) and _PLURAL_ADJECTIVE.fullmatch(first):
        return after.lower()
    return first.lower()


# "Vilka mål har strategin?", "Vilka tre typer av risker ...?", "Which goals ...?": the things a
# question asks to be listed, past a number or an adjective ("Vilka centrala förutsättningar").
_LISTED = re.compile(
    rf"\b(?:vilka|which)\s+(?:{_A_NUMBER}\s+)?(?!{_COUNT_VERBS})(?P<first>[a-zåäöé]{{3,}})"
    rf"(?:\s+(?!{_COUNT_VERBS})(?P<after>[a-zåäöé]{{3,}}))?(?:\s+(?:av|of)\s+(?P<of>[a-zåäöé]{{3,}}))?",
    re.IGNORECASE,
)
# Words for a kind of the thing listed: "Vilka typer av risker" lists risks.
_KIND_WORDS = frozenset({"typer", "slags", "sorters", "kinds", "types", "sorts"})


def _listed_noun(question: str) -> str | None:
    """The things a question asks to be listed, lower-cased ("Vilka mål har strategin?" ->
    "mål", "Vilka tre typer av risker ...?" -> "risker"); None when it asks for no list of
    things ("Vilka ska ...?", "Vilka personer ...?" asks for people)."""
    listed = _LISTED.search(question)
    if listed is None:
        return None
    first, after, of = listed.group("first", "after", "of")
    if first.lower() in _KIND_WORDS and of:
        return of.lower()
    if after and not is_english(question) and _PLURAL_ADJECTIVE.fullmatch(first):
        return after.lower()
    return None if first.lower() in {"personer", "people", "persons"} else first.lower()


def _counted_stem(question: str) -> str | None:
    """The stem of the thing a question counts ("dagar" -> "daga", "bilagor" -> "bilag"), which
    every form of the word holds ("kalenderdagar", "Bilagor"); None when it counts nothing."""
    noun = _counted_noun(question)
    return None if noun is None else _noun_stem(noun)


def _noun_stem(noun: str) -> str:
    """The part of a noun that every form of it holds ("bilagor" -> "bilag", "mål" -> "mål")."""
    return noun[: max(4, len(noun) - 2)]


@functools.lru_cache(maxsize=256)
def _count_of_patterns(question: str) -> tuple[re.Pattern[str], ...]:
    """What a number of the thing a question counts looks like, before or after it; () when it
    counts nothing. Built once per question: the answerer tries every candidate against it."""
    stem = _counted_stem(question)
    if stem is None:
        return ()
    stem = re.escape(stem)
    return (
        re.compile(rf"{_A_NUMBER}\s+(?:\w+\s+)?\w*{stem}", re.IGNORECASE),
        re.compile(rf"\w*{stem}\w*\b.*?{_A_NUMBER}", re.IGNORECASE),
    )


def _states_count_of(text: str, question: str) -> bool:
    """A number of the thing counted, before or after it: "två kalenderdagar" for "Hur många
    dagar ...", "antalet regioner ... till fyra" for "Hur många regioner ...". "två av de tre
    senaste månaderna" states a number of something else."""
    patterns = _count_of_patterns(question)
    if not patterns:
        return False
    rest = _not_counts(text, question)
    return any(pattern.search(rest) for pattern in patterns)


# People counted: "Hur många personer/ungdomar/deltagare ...?", "How many young people ...?".
# A head count answers such a question, or a share of a group ("40 procent av barnen"); a list
# of items does not, as it may for "Hur många delmål ...?".
_PEOPLE = (
    r"personer|person|människor|ungdom(?:ar|arna|en)?|unga|barn(?:en)?|flick(?:a|or|orna)|"
    r"pojk(?:e|ar|arna)|kvinn(?:a|or|orna)|män|deltagar(?:e|na)|patient(?:er|erna)?|"
    r"elev(?:er|erna)?|anställda|medarbetar(?:e|na)|brukar(?:e|na)|invånar(?:e|na)|"
    r"klient(?:er|erna)?|individ(?:er|erna)?|besökar(?:e|na)|användar(?:e|na)|\w*klassar(?:e|na)|"
    r"people|persons|children|kids|young|youths?|adolescents|girls|boys|women|"
    r"participants|attendees|patients|pupils|students|staff|employees|residents|users|"
    r"individuals|clients|visitors"
)
_COUNTS_PEOPLE = re.compile(rf"(?:{_PEOPLE})", re.IGNORECASE)
_HEAD_COUNT = re.compile(
    rf"{_A_NUMBER}\s+(?:[\w-]+\s+){{0,2}}?(?:{_PEOPLE})\b"
    rf"|\b(?:{_PEOPLE})\s+(?:[\w-]+\s+){{0,3}}?{_A_NUMBER}"
    r"|\b\d+\b\s+(?:deltog|deltar|närvarade|anmälde|attended|took part|participated)\b",
    re.IGNORECASE,
)
# A school year is no head count: "alla elever i åk 9".
_SCHOOL_YEAR = re.compile(r"\b(?:åk|årskurs|klass|grade|year)\s*\d+\b", re.IGNORECASE)
# A share of a group of people: "40 procent av barnen och de unga"; it answers how many of a
# group ("Hur många av ungdomarna ...?").
_ASKS_PART_OF = re.compile(r"\b(?:hur många|how many)\s+(?:av|of)\b", re.IGNORECASE)
_SHARE_OF_PEOPLE = re.compile(
    rf"{_PERCENT.pattern}\s+(?:av|of)\s+(?:[\w-]+\s+){{0,2}}?(?:{_PEOPLE})\b", re.IGNORECASE
)


def asks_head_count(question: str) -> bool:
    """Whether a question counts people ("Hur många personer sitter i SUS-gruppen?", "How many
    young people use the app?"): the thing it counts (`_counted_noun`) is a word for people."""
    noun = _counted_noun(question)
    return noun is not None and bool(_COUNTS_PEOPLE.fullmatch(noun))


def states_head_count(text: str, question: str) -> bool:
    """Whether a text states a number of people (a number next to a word for people, or before
    "deltog"; not a sum, a date, a school year or the question's own numbers), or, when the
    question asks how many of a group ("Hur många av ungdomarna ...?"), a share of people ("40
    procent av barnen").
    A share does not count a group ("How many girls were cared for ...?"), and a share of
    something else ("9 procent av platserna") is no answer."""
    if _ASKS_PART_OF.search(question) and _SHARE_OF_PEOPLE.search(text):
        return True
    return bool(_HEAD_COUNT.search(_SCHOOL_YEAR.sub(" ", _not_counts(text, question))))


def _states_figure(text: str, question: str) -> bool:
    return _states_sum(text, question) or _states_count(text, question)


def _states_date(text: str, question: str) -> bool:
    return bool(_DATE.search(text))


def _states_duration(text: str, question: str) -> bool:
    """A length of time, or the period or date that bounds it ("Under 2022-2024 ...")."""
    return bool(_DURATION.search(text) or _DATE.search(text))


# A phone number asked for is not answered by an e-mail address ("What is Alma Haracic's phone
# number?" when the documents give her address), nor an address by a phone number; a date
# written with dashes ("01-01-2025") is no phone number.
_ASKS_PHONE = re.compile(
    r"\b(telefonnummer\w*|telefonnumret|phone number)\b|^(?:och |and )?(?:telefon|phone)\b",
    re.IGNORECASE,
)
_ASKS_EMAIL = re.compile(
    r"\b(e-postadress\w*|mejladress\w*|e-?mail address)\b|^(?:och |and )?(?:e-post|e-?mail)\b",
    re.IGNORECASE,
)
_DASHED_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}\b")


def _states_contact(text: str, question: str) -> bool:
    phone = bool(PHONE.search(_DASHED_DATE.sub(" ", text)))
    email = bool(EMAIL.search(text))
    asks_phone, asks_email = bool(_ASKS_PHONE.search(question)), bool(_ASKS_EMAIL.search(question))
    if asks_phone != asks_email:
        return phone if asks_phone else email
    return phone or email


# What a question asks for, and whether a text states it; the first phrase found decides.
_FactTable = tuple[tuple[re.Pattern[str], Callable[[str, str], bool]], ...]
_ASKED_FACTS: _FactTable = (
    (_ASKS_ANY_FIGURE, _states_figure),
    (_ASKS_SUM, _states_sum),
    (_ASKS_NUMBER, _states_count),
    (_ASKS_DATE, _states_date),
    (_ASKS_DURATION, _states_duration),
    (_ASKS_CONTACT, _states_contact),
)


def missing_fact(question: str, texts: Sequence[str]) -> float:
    """1.0 when the question asks for a fact of a definite form and none of the texts states
    one: a sum ("Hur mycket kostar ...", "Hur stor budget ...": an amount or a share), a number
    ("Hur många ...": not a sum, date or list number), a difference ("Hur mycket högre ...": any
    figure), a date ("Från vilket datum ..."), a duration ("Hur länge ...") or a phone number or
    e-mail address.

    The answerer applies it to its whole context: when no passage states such a fact, the
    documents describe the subject but not the fact ("Vilket telefonnummer har RSS Dalarna?").
    Applied to the answer's chosen sentences instead, it refused more unanswerable calibration
    questions (63 of 107 in all, against 49), but on the evaluation set it also refused
    answerable questions whose sum a passage held and the chooser had missed. The answerer
    also uses it on its chosen sentences, to add one that states the fact
    (`ExtractiveAnswerer._with_asked_fact`)."""
    states = _asked_fact(question)
    return 1.0 if states is not None and not states(" ".join(texts)) else 0.0


def _known_name_phrases(question: str, named: Sequence[str]) -> list[list[str]]:
    """The question's names (`_name_phrases`), each by the words of it that the documents have
    (``named``); names the documents do not have are left out."""
    phrases = [[n for n in phrase if n in named] for phrase in _name_phrases(question)]
    return [phrase for phrase in phrases if phrase]


def fact_not_about_names(
    question: str, chunks: Sequence[Chunk], named: Sequence[str], asked_in: str | None = None
) -> float:
    """1.0 when the question asks for a fact of a definite form (`missing_fact`) about a name
    the documents name, and no passage of the context that states such a fact mentions that
    name by any of its words: its figures are about something else. "Hur mycket kostade
    instruktörsutbildningen i Mental Health First Aid?": a passage names the training, the
    passages with sums do not.

    Args:
        question: The question as typed.
        chunks: The context.
        named: The question's names that a document the asker may read has as a word
            (`names_word`); a name found only inside another word ("vgr" in "avgränsning")
            gives no evidence either way. An English question's names are its capitalised
            words the English term list does not know (`question_names`).
        asked_in: Where the fact asked for is read, when not in ``question``: the standalone
            form of a follow-up that names only whom it is about ("What about Region Skåne?"
            after "How much does Västra Götaland get?").
    """
    states = _asked_fact(asked_in or question)
    if states is None:
        return 0.0
    phrases = _known_name_phrases(question, named)
    if not phrases:
        return 0.0
    stating = [_words_about(c) for c in chunks if states(c.text)]
    # Each name in some passage that states a fact (a question comparing two regions finds
    # each one's figure in its own passage), by one of its words: a section on "Cosmic Link"
    # may call it "Link".
    found = all(any(mentions(n, words) for n in phrase for words in stating) for phrase in phrases)
    return 0.0 if found else 1.0


def no_head_count(question: str, chunks: Sequence[Chunk]) -> float:
    """1.0 when the question counts people (`asks_head_count`: "Hur många ungdomar deltog i
    piloten 2021?") and no passage of the context states a number of people or a share
    (`states_head_count`): the documents describe the group without counting it."""
    if not asks_head_count(question):
        return 0.0
    return 0.0 if any(states_head_count(c.text, question) for c in chunks) else 1.0


# "Vad kostar X?", "Hur mycket kostade X?": the thing whose cost is asked, past articles and
# "det att" ("Vad kostar det att delta i länsdialogen?" -> "delta"). A pronoun ("Hur mycket
# kostade den?") names no thing.
_ASKS_COST_OF = re.compile(
    r"\b(?:vad|hur mycket)\s+(?:kostar|kostade|kostat|kosta)\s+"
    r"(?:(?:det|att|en|ett|gång|man|vi|ni|de)\s+)*([a-zåäöé]{3,})",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"den", "det", "de", "dem", "denna", "detta", "dessa", "han", "hon"})
# A line that speaks of a cost: "Pris: Självkostnadspris, ungefär 500 kr per deltagare",
# "Engångskostnad för installation ...: ca 54 000 kr".
_COST_WORD = re.compile(r"kostnad|kosta|pris|avgift", re.IGNORECASE)
_MIN_COST_STEM = 5


def _cost_stem(question: str) -> str | None:
    """What every form of the thing whose cost a Swedish question asks holds ("abonnemanget"
    -> "abonneman", "föreläsningsfilmerna" -> "föreläsningsfil"); None when it asks no cost of
    a thing. English questions are left out: their thing is not in the Swedish passages, and
    a rule on cost lines alone refused no unanswerable English question more."""
    asked = _ASKS_COST_OF.search(question)
    if asked is None or asked.group(1).lower() in _PRONOUNS or is_english(question):
        return None
    word = stem(asked.group(1).lower())
    return word if len(word) <= _MIN_COST_STEM else word[: max(_MIN_COST_STEM, len(word) - 1)]


def cost_not_about_thing(question: str, chunks: Sequence[Chunk]) -> float:
    """1.0 when a Swedish question asks what a thing costs ("Vad kostar ett abonnemang hos
    Hjälpmedel Dalarna?"), no passage of the context that states a sum mentions the thing, and
    no line with a sum speaks of a cost or a price: the passages' sums are what others were
    granted, not what the thing costs. A passage that mentions the thing may hold its sum in a
    table under its heading ("Kunskapsstyrning i samverkan ... 300 000 kr")."""
    thing = _cost_stem(question)
    if thing is None:
        return 0.0
    stating = [c.text for c in chunks if _AMOUNT.search(c.text)]
    if any(thing in text.lower() for text in stating):
        return 0.0
    lines = (line for text in stating for line in text.splitlines())
    return 0.0 if any(_AMOUNT.search(line) and _COST_WORD.search(line) for line in lines) else 1.0


# The post a Swedish question asks about, without its definite or plural ending: "ordföranden"
# -> "ordförande", "samordnaren" -> "samordnare".
_SWEDISH_POST = re.compile(
    r"\b(ordförande|\w*chef|\w*ledare|\w*samordnare|kontaktperson|\w*direktör|\w*utredare|"
    r"\w*minister)(?:en|n|er|na)?\b",
    re.IGNORECASE,
)


def no_post_holder(question: str, chunks: Sequence[Chunk], named: Sequence[str] = ()) -> float:
    """1.0 when the question asks who holds a post (`asks_post_holder`: "Vem är ordförande i
    Välfärdsrådet?") and no passage of the context may name a person (`may_name_person`): the
    documents may speak of the post, not of who holds it.

    A Swedish question that names the post ("ordförande", "verksamhetschef") wants the name
    by it: a person named on the line that names the post, or the line before or after it
    ("Uppdragsledare Robin Ström"; a signature "Olivia Wigzell" over "Generaldirektör"). Names
    elsewhere in the context are of other people ("Vem är ordförande i Välfärdsrådet i
    Dalarna?" when the passages name members of a network, no chair). When it names whose post
    it is (``named``, as in `fact_not_about_names`), the passage of that line must mention them
    by a word of each name, or be published by them: Socialstyrelsen's director-general is not
    the one asked for in "Vem är generaldirektör för Statens institutionsstyrelse (SiS)?"."""
    if not asks_post_holder(question):
        return 0.0
    texts = [c.text for c in chunks]
    lower = frozenset(w for t in texts for w in _LOWER_WORD.findall(t))
    post = None if is_english(question) else _SWEDISH_POST.search(question)
    if post is None:
        return 0.0 if any(may_name_person(t, lower) for t in texts) else 1.0
    names_post = re.compile(rf"\w*{re.escape(post.group(1))}", re.IGNORECASE)
    phrases = _known_name_phrases(question, named)
    for chunk in chunks:
        words = _words_about(chunk)
        if not all(any(mentions(n, words) for n in phrase) for phrase in phrases):
            continue
        lines = [line for line in chunk.text.split("\n") if line.strip()]
        for i, line in enumerate(lines):
            if names_post.search(line) and may_name_person(
                "\n".join(lines[max(0, i - 1) : i + 2]), lower
            ):
                return 0.0
    return 1.0


def may_name_person(text: str, lower: frozenset[str]) -> bool:
    """Whether a text may name a person: by a known first name (`names_person`), or by two
    capitalised words in a row that read as a name the first-name list does not know
    ("Gunvor Stenlund"). A rule that refuses must not miss such a name, so this errs towards
    yes. Not a name: a pair either of whose words the texts write in lower case (``lower``:
    "Projekt Blåklint" when they also write "projekt"), English words ("Mental Health First
    Aid"), a known first name second ("Mini Maria"), the second word continuing the first
    ("Processbild Processbilden"), or an organisation ("Västra Götalandsregionen")."""
    if names_person(text):
        return True
    english = _english_words()
    for first, last in _CAPITALISED_PAIR.findall(text):
        words = [first.split("-")[0].lower(), last.lower()]
        if any(w in lower or w in english for w in words):
            continue
        if last in first_names() or words[1].startswith(words[0]):
            continue
        if _ORGANISATION_END.search(words[1]):
            continue
        return True
    return False


@functools.cache
def _english_words() -> frozenset[str]:
    """The words of the English term list's phrases (`retrieval.english.load_terms`)."""
    return frozenset(word for phrase in load_terms() for word in phrase.split())


_LOWER_WORD = re.compile(r"\b[a-zåäöéü]+\b")
# Two capitalised words in a row, one space apart: a name may be written so.
_CAPITALISED_PAIR = re.compile(
    r"\b([A-ZÅÄÖ][a-zåäöéü]+(?:-[A-ZÅÄÖ][a-zåäöéü]+)?) ([A-ZÅÄÖ][a-zåäöéü]{2,})\b"
)
# How the names of organisations end: "Västra Götalandsregionen", "Statens Institutionsstyrelse".
_ORGANISATION_END = re.compile(
    r"(?:region|regionen|styrelse|styrelsen|rådet|kommun|kommunen|förbundet|nätverket|"
    r"delegationen|utredningen|utredningens|myndigheten|verket|institutet|departementet)$"
)


# What ends a sentence before a word: "?" or "!", or a full stop after a word of four letters
# or more (not "t.ex." or "ca.").
_SENTENCE_BEFORE = re.compile(r"(?:[?!]|\w{4,}\.)\s*$")


def _name_phrases(question: str) -> list[list[str]]:
    """The capitalised words of a question that do not open one of its sentences (its names,
    lower-cased), as written together: "Hur mycket kostar Cosmic Link i Region Dalarna?" ->
    [["cosmic", "link"], ["region", "dalarna"]]. Common English words ("What", "How") are not
    names, nor is the first word of a question a follow-up was joined to ("och slutversionen?
    När ska ...?")."""
    phrases: list[list[str]] = []
    previous = -2
    words = list(re.finditer(r"[A-Za-zÅÄÖåäöé][\wåäöÅÄÖé-]*", question))
    for i, match in enumerate(words):
        word = match.group()
        opens = i == 0 or bool(_SENTENCE_BEFORE.search(question[: match.start()]))
        if not opens and word[0].isupper() and word.lower() not in _ENGLISH_WORDS and len(word) > 2:
            if i == previous + 1:
                phrases[-1].append(word.lower())
            else:
                phrases.append([word.lower()])
            previous = i
    return phrases


# A capitalised word inside a sentence: after a lower-case word or a comma, and a space.
_MID_CAPITALISED = re.compile(r"(?<=[a-zåäöé,] )([A-ZÅÄÖ][a-zåäöé]{2,})\b")


def proper_nouns(texts: Iterable[str]) -> frozenset[str]:
    """The words the texts write capitalised inside a sentence and never in lower case,
    lower-cased: their names ("falun", "mora", "välfärdsrådet"). A heading's or a sentence's
    first word is capitalised whatever it is, and is not counted."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        capitalised.update(word.lower() for word in _MID_CAPITALISED.findall(text))
        lower.update(_LOWER_WORD.findall(text))
    return frozenset(capitalised - lower)


def with_names_capitalised(question: str, is_name: Callable[[str], bool]) -> str:
    """A question typed in lower case with its words that are names (``is_name``) capitalised:
    "hur många platser har falun på länsdialogen?" is read for its names as "hur många platser
    har Falun på länsdialogen?". Staff type chat questions so; the names decide which rows and
    passages answer them. A question that writes a name with a capital (`_name_phrases`) is
    left as typed: its writer capitalises names, and a lower-case word of it is no name. English
    words are no names ("mental health" though the documents write "Mental Health First Aid")."""
    if _name_phrases(question):
        return question
    english = _english_words()

    def capitalise(match: re.Match[str]) -> str:
        word = match.group()
        if word in _ENGLISH_WORDS or word in english or not is_name(word):
            return word
        return word[0].upper() + word[1:]

    return _LOWER_WORD.sub(capitalise, question)


def names_word(name: str, folded: str) -> bool:
    """Whether a word of a folded text (`chunk_words`) starts with the name, or with the name
    less a genitive s ("dalarnas" -> "dalarna")."""
    name = _fold(name)
    forms = [name, name[:-1]] if len(name) > 4 and name.endswith("s") else [name]
    return any(re.search(r"\b" + re.escape(form), folded) for form in forms)


# Stricter forms of an asked fact, preferred when a candidate states one: the thing counted
# with its number, a length of time rather than a date that bounds it.
_PREFERRED_FACTS: _FactTable = (
    (_COUNTED, _states_count_of),
    (_ASKS_DURATION, lambda text, question: bool(_DURATION.search(text))),
)


def _asked_fact(
    question: str,
    facts: _FactTable = _ASKED_FACTS,
) -> Callable[[str], bool] | None:
    """Whether a text states the fact of definite form the question asks for (`_ASKED_FACTS`,
    or the stricter `_PREFERRED_FACTS`); None when the question asks for no such fact."""
    for asks, states in facts:
        if asks.search(question):
            return lambda text: states(text, question)
    return None


def specific_terms(question: str) -> list[str]:
    """Figures and proper names of a question: an answer must be about exactly these."""
    terms = [re.sub(r"\s", "", n) for n in re.findall(r"\d[\d ]*\d|\d", question)]
    return terms + [word for phrase in _name_phrases(question) for word in phrase]


_NUMBERED = re.compile(r"\d{1,2}[.)]\s+\S")


def numbered_line(sentence: Sentence) -> bool:
    """A text line of a numbered list: "7. Stärkt kunskapsutveckling ..."."""
    return sentence.kind == "text" and bool(_NUMBERED.match(sentence.text))


# The shortest part of a counted compound a list must hold ("avtal" of "delavtal", not "del").
_MIN_COUNTED_PART = 4
# A sentence that opens by referring back to the one before it (`_continuation`).
_REFERS_BACK = re.compile(
    r"(?:det (?:gäller|handlar om|innebär|betyder|rör)|detta|dessa|de är|this|these|that means)\b",
    re.IGNORECASE,
)


def question_names(
    question: str, english_terms: Mapping[str, tuple[str, ...]] | None = None
) -> list[str]:
    """The proper names of a question (`specific_terms` without its figures):
    "Hur mycket fick Region Uppsala?" -> ["region", "uppsala"].

    The capitalised words of an English question are often English words ("Welfare Council",
    "March", "Norwegian") the documents write in Swedish: it gives none without
    ``english_terms`` (`retrieval.english.load_terms`), and with them only the capitalised words
    the list does not know as English: "What's the weather forecast for Linköping tomorrow?" ->
    ["linköping"]; "How much does Region Värmland get?" -> ["värmland"].
    """
    if not is_english(question):
        return [t for t in specific_terms(question) if not t.isdigit()]
    if not english_terms:
        return []
    known = {word for phrase in english_terms for word in phrase.split()} | _ENGLISH_NOT_NAMES
    return [w for phrase in _name_phrases(question) for w in phrase if w not in known]


# Capitalised English words that are no names, besides the term list's: "in May 2024".
_ENGLISH_NOT_NAMES = frozenset({"may"})


def chunk_words(chunk: Chunk) -> str:
    """A chunk's title, date, headings and text as names are looked for in them (`mentions`)."""
    return _fold(f"{chunk.title} {chunk.date} {' '.join(chunk.heading_path)} {chunk.text}")


def _words_about(chunk: Chunk) -> str:
    """What a passage is about, for a name asked about (`mentions`): its words (`chunk_words`)
    and its publisher. A document's figures and signatures are its publisher's when they name
    no one else: RSS Dalarna's "Regionen 7 790 015 kr" is Region Dalarna's."""
    return f"{chunk_words(chunk)} {_fold(chunk.publisher)}"


def mentions(name: str, folded: str) -> bool:
    """Whether a text (`chunk_words`) names ``name``, in the forms `_present` accepts or by one
    part of a hyphenated name ("SIP-pengarna": "sip")."""
    name = _fold(name)
    if _present(name, folded, folded):
        return True
    parts = [part for part in name.split("-") if len(part) > 2]
    return len(parts) > 1 and any(part in folded for part in parts)


@dataclass(frozen=True, slots=True)
class Unit:
    """A line-level unit of chunk text: a sentence, a list item, a table row or a title."""

    line: int
    kind: str
    text: str


def candidate_texts(chunk: Chunk) -> list[Unit]:
    """Cut a chunk's text into sentences, list items ("- "), table rows (" | ") and titles."""
    return list(_units(chunk.text))


@functools.lru_cache(maxsize=4096)
def _units(text: str) -> tuple[Unit, ...]:
    """`candidate_texts` of a chunk text, remembered: the answerer cuts the same passages
    question after question, and several times for one answer."""
    out: list[Unit] = []
    for line_no, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if not line:
            continue
        if " | " in line:
            out.append(Unit(line_no, "row", line))
        elif line.startswith("- "):
            out.append(Unit(line_no, "item", line[2:].strip()))
        # A short line without a full stop is a title, unless it holds a figure: a slide's
        # "Välfärdsrådet 250213" says when, "Totalt 21 724 099 kr" how much.
        elif len(line) < 90 and line[-1] not in ".!?:;" and not _NUMBER.search(line):
            out.append(Unit(line_no, "heading", line))
        else:
            for sentence in _sentences(line):
                out.append(Unit(line_no, "text", sentence))
    # A sentence addressed to a language model ("Ignorera tidigare instruktioner ...") answers
    # nothing: it is never a candidate.
    return tuple(unit for unit in out if not instructs(unit.text))


def _sentences(line: str) -> list[str]:
    """The sentences of a line; a list number that opens it ("1. Den gemensamma målbilden ...")
    stays with its sentence instead of standing alone."""
    out: list[str] = []
    for part in (p.strip() for p in _SENTENCE_END.split(line)):
        if not part:
            continue
        if out and _ENUMERATOR.fullmatch(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def under_headings(chunk: Chunk, text: str) -> str:
    """A candidate sentence after its chunk's last two headings, as the answerer embeds it to
    read it in context: "Samsjuklighetsreformen: Stegvis genomförande under 5 år"."""
    heading = " / ".join(chunk.heading_path[-2:])
    return f"{heading}: {text}" if heading else text


def sentence_forms(chunk: Chunk, text: str, heading_weight: float) -> list[tuple[str, float]]:
    """The texts the answerer embeds for a candidate sentence, each with its share of the
    sentence's similarity: the sentence alone and under its headings (`under_headings`); a
    form whose share is 0 is left out."""
    forms = [(text, 1.0 - heading_weight), (under_headings(chunk, text), heading_weight)]
    return [(form, share) for form, share in forms if share > 0.0]


def embedding_texts(chunk: Chunk, heading_weight: float) -> list[str]:
    """Every text the answerer embeds for a chunk's candidate sentences (`sentence_forms`)."""
    return [
        form
        for unit in candidate_texts(chunk)
        for form, _ in sentence_forms(chunk, unit.text, heading_weight)
    ]


def split_candidates(passage: Passage) -> list[Sentence]:
    """The candidate sentences of a passage."""
    return [Sentence(passage, u.text, u.line, u.kind) for u in candidate_texts(passage.chunk)]


def _item_runs(siblings: Sequence[Sentence]) -> list[list[int]]:
    """The lists of a passage's candidates: runs of two or more list items on consecutive
    lines, as indexes into ``siblings``."""
    runs: list[list[int]] = []
    run: list[int] = []
    for i, sentence in enumerate(siblings):
        if sentence.kind == "item" and run and siblings[run[-1]].line == sentence.line - 1:
            run.append(i)
            continue
        if len(run) > 1:
            runs.append(run)
        run = [i] if sentence.kind == "item" else []
    if len(run) > 1:
        runs.append(run)
    return runs


# How much holding, or not holding, the kind of fact asked for adds to `_type_fit`.
_TYPE_FIT = {
    "amount": (0.5, -0.4),
    "count": (0.4, -0.3),
    "percent": (0.5, -0.3),
    "date": (0.4, -0.3),
    "person": (0.5, -0.3),
}


# How many lines under a title its list may start: "Sammanfattande bild av SIP-processen" is
# followed by "SIP Samordnad individuell plan" and "Bildtext:" before the steps.
_TITLE_REACH = 3


def list_under_title(title: Sentence, siblings: Sequence[Sentence]) -> int | None:
    """The line where the list under a title starts: the first list item, or numbered line,
    within `_TITLE_REACH` lines below it with only titles and lead-ins ("Bildtext:") between;
    None when no list starts there."""
    for sib in siblings:
        if sib.line <= title.line:
            continue
        if sib.line > title.line + _TITLE_REACH:
            return None
        if sib.kind == "item" or numbered_line(sib):
            return sib.line
        if sib.kind != "heading" and not sib.text.endswith(":"):
            return None
    return None


def _type_fit(types: set[str], text: str) -> float:
    """How well a sentence holds the kind of fact asked for (an amount, a date, a name ...)."""
    return sum(
        (
            held if _FACT_PATTERNS[kind].search(text) else missing
            for kind, (held, missing) in _TYPE_FIT.items()
            if kind in types
        ),
        0.0,
    )


def opens_parenthesis(text: str) -> bool:
    """Whether a text opens more parentheses than it closes."""
    return text.count("(") > text.count(")")


def closes_parenthesis(text: str) -> bool:
    """Whether a text closes more parentheses than it opens."""
    return text.count(")") > text.count("(")


def _next_candidate(sentence: Sentence, scored: Sequence[ScoredSentence]) -> ScoredSentence | None:
    """The scored candidate that follows a sentence in its passage; None when the sentence is
    its passage's last or the next one is not among ``scored``."""
    siblings = split_candidates(sentence.passage)
    at = next(
        (i for i, s in enumerate(siblings) if s.line == sentence.line and s.text == sentence.text),
        None,
    )
    if at is None or at + 1 >= len(siblings):
        return None
    after = siblings[at + 1]
    return next(
        (
            c
            for c in scored
            if c.sentence.passage is sentence.passage
            and c.sentence.line == after.line
            and c.sentence.text == after.text
        ),
        None,
    )


def _closing_parts(
    chosen: list[ScoredSentence], scored: list[ScoredSentence]
) -> list[ScoredSentence]:
    """The chosen sentences, each that opens a parenthesis followed by the candidate that closes
    it, when that is the next one of its passage: the sentence splitter cuts a parenthesis that
    holds a full stop. "2. Insatser som främjar ... (Kommunerna får stöd för ... folkhälsoarbete."
    goes on "Sammanlagt 8 006 024 kr)", the sum the item is about."""
    out: list[ScoredSentence] = []
    for cand in chosen:
        out.append(cand)
        if not opens_parenthesis(cand.sentence.text):
            continue
        closing = _next_candidate(cand.sentence, scored)
        if (
            closing is not None
            and closes_parenthesis(closing.sentence.text)
            and all(closing is not c for c in chosen)
        ):
            out.append(closing)
    return out


def _rows_about(
    chosen: list[ScoredSentence], best: ScoredSentence, named: Sequence[str]
) -> list[ScoredSentence]:
    """The chosen sentences without the rows of the best one's table that name none of the
    names asked about, when the best is a row that names one.

    "Hur många platser har Malung-Sälens kommun fått?" is answered by the row
    "Kommun: Malung-Sälén | Antal platser: 5"; the rows of Borlänge and Region Dalarna score
    close to it (same table, same words) but answer for others. A question naming two
    ("Falun respektive Borlänge") keeps both rows."""
    if best.sentence.kind != "row" or not named:
        return chosen

    def names_one(text: str) -> bool:
        folded = _fold(text)
        return any(names_word(n, folded) for n in named)

    if not names_one(best.sentence.text):
        return chosen
    return [
        c
        for c in chosen
        if c is best
        or c.sentence.kind != "row"
        or c.sentence.passage is not best.sentence.passage
        or names_one(c.sentence.text)
    ]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


class ExtractiveAnswerer:
    """Scores candidate sentences against the question and selects the answering ones."""

    def __init__(
        self,
        analyse: Analyser,
        weight: TermWeight,
        embed_sentences: SentenceEmbedder | None = None,
        max_sentences: int = 3,
        max_list_items: int = 8,
        heading_weight: float = 0.0,
        english_terms: Mapping[str, tuple[str, ...]] | None = None,
        model: SentenceModel | None = None,
        with_asked_fact: bool = True,
        whole_lists: bool = True,
    ) -> None:
        self._analyse = analyse
        # How candidate sentences are scored (`retrieval.sentence_model`): fitted on the
        # calibration questions, or the prior weights before any fit.
        self.model = model or SentenceModel.load()
        # How passages are scored by their best sentence for re-ranking the search's top 20
        # (`passage_scores`): the prior weights. The fitted model's features compare a sentence
        # with the other candidates, and it is fitted on a context's candidates, not on those
        # of 20 passages; on the calibration questions the two give the same context recall.
        self.passage_model = PRIOR
        # English -> Swedish words (retrieval/en_sv_terms.tsv): an English question's words are
        # looked for in the Swedish sentences by their Swedish forms.
        self._english_terms = english_terms or {}
        self._weight = weight
        self._embed_sentences = embed_sentences
        self._max_sentences = max_sentences
        self._max_list_items = max_list_items
        # How far under the best sentence's score a further sentence may be and still be kept
        # (on the model's scale: log-odds between sentences for the fitted model). The sentence
        # after the best one in its passage:
        self.continuation_margin = self.model.continuation_margin
        # Any other sentence: a wider margin for the best sentence's own passage, whose
        # citation the answer has anyway.
        self.margin = self.model.margin
        self.same_passage_margin = self.model.same_passage_margin
        # A sentence's similarity to the question mixes the sentence alone and the sentence under
        # its headings (`under_headings`), which gives a short line its context; this is the
        # share of the second.
        self.heading_weight = heading_weight
        # A sentence stating the fact asked for joins an answer without one (`_with_asked_fact`).
        self.with_asked_fact = with_asked_fact
        # Two chosen items of one list bring the rest of it (`_whole_lists`).
        self.whole_lists = whole_lists

    def select(
        self,
        question: str,
        passages: Sequence[Passage],
        focus: str | None = None,
        dense_scores: dict[str, float] | None = None,
        query_vector: Sequence[float] | None = None,
        unknown_names: Sequence[str] = (),
        named: Sequence[str] = (),
        spelled_out: Sequence[tuple[str, str]] = (),
    ) -> Selection:
        """Choose the sentences that answer ``question`` and compute refusal features.

        Args:
            question: The standalone question.
            passages: The context, best first.
            focus: The question as typed, when it was rewritten from a follow-up; its words
                weigh more than the words brought in from the conversation.
            dense_scores: Cosine similarity of each chunk id to the question.
            query_vector: The question's embedding, to compare with sentence embeddings.
            unknown_names: The question's names that no document the asker may read mentions
                (`Pipeline.unknown_names`).
            named: The question's names that a document the asker may read has as a word
                (`Pipeline.named`).
            spelled_out: The question's acronyms with what they stand for
                (`SearchResult.spelled_out`): a passage that writes the name mentions them.

        Returns:
            The selected sentences, best first, and the features for the refusal model.
        """
        query = self._query(question, focus)
        types = answer_types(focus or question)
        scored = self._score(query, types, passages, query_vector)
        features = self._features(question, query, passages, scored, dense_scores, spelled_out)
        # A name the documents never mention ("Region Uppsala", "Vasaloppet"): what they say
        # is about others.
        features["unknown_name"] = 1.0 if unknown_names else 0.0
        chosen = self._choose(scored, types, focus or question, named) if scored else []
        chunks = [p.chunk for p in passages]
        # The question asks for a sum, a number or a date that no passage states.
        features["missing_fact"] = missing_fact(focus or question, [c.text for c in chunks])
        # ... or states it only in passages about something other than the names asked about.
        # A follow-up that only names whom it is about asks the fact of the question before.
        features["fact_not_about_names"] = fact_not_about_names(
            focus or question,
            chunks,
            named,
            asked_in=question if focus and _asked_fact(focus) is None else None,
        )
        # ... or asks who holds a post, and no passage names anyone.
        features["no_post_holder"] = no_post_holder(focus or question, chunks, named)
        # ... or counts people, and no passage counts any.
        features["no_head_count"] = no_head_count(focus or question, chunks)
        # ... or asks what a thing costs, and no passage with a sum mentions it or a cost.
        features["cost_not_about_thing"] = cost_not_about_thing(focus or question, chunks)
        return Selection(chosen, features)

    def passage_scores(
        self,
        question: str,
        passages: Sequence[Passage],
        query_vector: Sequence[float] | None = None,
    ) -> dict[str, float]:
        """Each passage's best sentence score for ``question`` (chunk id -> score) by
        ``passage_model``; a passage without candidate sentences is left out."""
        types = answer_types(question)
        candidates, features = self._described(self._query(question), types, passages, query_vector)
        scores = self.passage_model.scores(features)
        scored = sorted(zip(candidates, scores, strict=True), key=lambda c: -c[1])
        best: dict[str, float] = {}
        for sentence, score in scored:  # best first
            best.setdefault(sentence.passage.chunk.chunk_id, float(score))
        return best

    def _query(self, question: str, focus: str | None = None) -> dict[str, float]:
        """The question's terms with their weights; the typed words of a rewritten follow-up
        (``focus``) weigh more than the words brought in from the conversation. An English
        question also holds the Swedish words for its terms ("staff canteen" ->
        "personalrestaurang"), as its lexical search does."""
        if self._english_terms and is_english(question):
            question = with_swedish_terms(question, self._english_terms)
            if focus:
                focus = with_swedish_terms(focus, self._english_terms)
        query: dict[str, float] = {}
        for term in set(self._analyse(question)):
            query[term] = self._weight(term)
        if focus and focus != question:
            for term in set(self._analyse(focus)):
                query[term] = query.get(term, self._weight(term)) * 1.6
        return query

    def candidate_features(
        self,
        question: str,
        passages: Sequence[Passage],
        focus: str | None = None,
        query_vector: Sequence[float] | None = None,
    ) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences of the passages and their `retrieval.sentence_model`
        features, as `select` scores them (for fitting the sentence model)."""
        query = self._query(question, focus)
        return self._described(query, answer_types(focus or question), passages, query_vector)

    def _described(
        self,
        query: dict[str, float],
        types: set[str],
        passages: Sequence[Passage],
        query_vector: Sequence[float] | None,
    ) -> tuple[list[Sentence], np.ndarray]:
        candidates = [s for p in passages for s in split_candidates(p)]
        semantic = np.zeros(len(candidates), dtype=np.float32)
        if candidates and self._embed_sentences is not None and query_vector is not None:
            semantic = self._similarities(candidates, np.asarray(query_vector, dtype=np.float32))
        rank = {id(p): i for i, p in enumerate(passages)}
        described = [
            Candidate(
                text=sent.text,
                kind=sent.kind,
                line=sent.line,
                chunk_id=sent.passage.chunk.chunk_id,
                terms=frozenset(self._analyse(sent.text)),
                heading_terms=frozenset(self._analyse(" ".join(sent.passage.chunk.heading_path))),
                passage_score=sent.passage.score,
                passage_rank=rank[id(sent.passage)],
                similarity=float(semantic[i]),
            )
            for i, sent in enumerate(candidates)
        ]
        return candidates, feature_matrix(query, types, described, _FACT_PATTERNS)

    def _score(
        self,
        query: dict[str, float],
        types: set[str],
        passages: Sequence[Passage],
        query_vector: Sequence[float] | None,
    ) -> list[ScoredSentence]:
        """Every candidate sentence of the passages, scored by the sentence model, best first
        (and by the cue of a reason, a meaning or a purpose asked for: `_CUES`)."""
        candidates, features = self._described(query, types, passages, query_vector)
        scores = self.model.scores(features)
        cues = [_CUES[kind] for kind in _CUES if kind in types]
        if cues:
            said = [any(c.search(sent.text) for c in cues) for sent in candidates]
            scores = scores + _CUE_BONUS * np.asarray(said, dtype=np.float64)
        coverages = features[:, FEATURES.index("coverage")]
        similarities = features[:, FEATURES.index("similarity")]
        scored = [
            ScoredSentence(sent, float(scores[i]), float(coverages[i]), float(similarities[i]))
            for i, sent in enumerate(candidates)
        ]
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored

    def _similarities(self, candidates: list[Sentence], query: np.ndarray) -> np.ndarray:
        """Cosine of each candidate to the question: its forms' (`sentence_forms`), weighted by
        their shares."""
        assert self._embed_sentences is not None
        forms = [sentence_forms(c.passage.chunk, c.text, self.heading_weight) for c in candidates]
        cosines = iter(self._embed_sentences([text for fs in forms for text, _ in fs]) @ query)
        return np.asarray(
            [sum(share * float(next(cosines)) for _, share in fs) for fs in forms],
            dtype=np.float32,
        )

    def _with_asked_fact(
        self, chosen: list[ScoredSentence], scored: list[ScoredSentence], question: str
    ) -> list[ScoredSentence]:
        """The answer with the best candidate that states the fact the question asks for (a
        sum, a number, a date, a duration, a contact: `missing_fact`) second in it, when none
        of the chosen sentences states one.

        "Hur mycket pengar om året räknar regeringen med ...?" must be answered with a sum; the
        sentence that best matches the question's words often describes the fund without its
        sum, which a table row or the next paragraph gives. When no candidate of the context
        states such a fact, the answerer refuses anyway (`missing_fact` as a refusal rule).

        The same holds for a person, an address, a day or a time asked for
        (`retrieval.asked_kinds`: "Vem leder arbetsgruppen?" is answered by a sentence naming
        someone). For these a short line counts too: a signature ("Olivia Wigzell
        Generaldirektör") or an address line is written as one.

        A stricter form of the fact comes first when a candidate states it
        (`_PREFERRED_FACTS`): "Vid hur många dagar ...?" is answered by "två kalenderdagar",
        not by the chosen "två av de tre senaste månaderna"."""
        if not self.with_asked_fact:
            return chosen
        asked = [
            (states, False)
            for states in (_asked_fact(question, _PREFERRED_FACTS), _asked_fact(question))
            if states is not None
        ]
        asked += [(kind.states, True) for kind in asked_kinds(question)]
        for states, short_lines in asked:
            if states(" ".join(c.sentence.text for c in chosen)):
                continue
            for cand in scored:  # best first
                if (short_lines or cand.sentence.kind != "heading") and states(cand.sentence.text):
                    chosen = [chosen[0], cand, *chosen[1:]]
                    break
        return chosen

    def _choose(
        self,
        scored: list[ScoredSentence],
        types: set[str],
        question: str,
        named: Sequence[str] = (),
    ) -> list[ScoredSentence]:
        lead = self._counted_list(scored, question) or self._titled_list(scored, question)
        if lead is not None:
            scored = [lead, *(s for s in scored if s is not lead)]
            types = types | {"list"}
        best = scored[0]
        chosen = [best]
        for cand in scored[1:]:
            if len(chosen) >= self._max_sentences:
                break
            same = cand.sentence.passage is best.sentence.passage
            margin = self.same_passage_margin if same else self.margin
            if cand.score < best.score - margin or cand.sentence.kind == "heading":
                continue
            if repeats(cand.sentence.text, [c.sentence.text for c in chosen]):
                continue
            chosen.append(cand)
        chosen = self._with_asked_fact(chosen, scored, question)
        chosen = self._whole_lists(self._with_list_items(chosen, types))
        chosen = _closing_parts(chosen, scored)
        follow = self._continuation(best, scored)
        if follow is not None and not repeats(
            follow.sentence.text, [c.sentence.text for c in chosen]
        ):
            chosen.append(follow)
        return _rows_about(chosen, best, named)

    def _counted_list(self, scored: list[ScoredSentence], question: str) -> ScoredSentence | None:
        """The line that leads in a list of the things a question counts, when no candidate
        states their number: the best-scored one naming them whose next line is an item or a
        row of its passage. None otherwise.

        "Hur många bilagor hör till överenskommelsen?" is answered by the list under
        "Bilagor till överenskommelsen", which the reader counts; a sentence with some other
        number ("Uppdrag till läkare ... före 240531") does not answer it. When no line naming
        them leads in a list, the best candidate does if it is an item of a list about them
        (`_in_list_of`): "Hur många delavtal ligger under huvudavtalet?" best matches the item
        "Huvudavtal" of the list under "Avtal", which holds the others."""
        stem = _counted_stem(question)
        if not self.with_asked_fact or stem is None:
            return None
        if any(_states_count_of(s.sentence.text, question) for s in scored):
            return None
        names = re.compile(rf"\w*{re.escape(stem)}", re.IGNORECASE)
        for cand in scored:  # best first
            s = cand.sentence
            if not names.search(s.text):
                continue
            following = [u for u in split_candidates(s.passage) if u.line == s.line + 1]
            if following and (following[0].kind in {"item", "row"} or numbered_line(following[0])):
                return cand
        # No line names them and leads in a list: the best candidate, when it is an item of a
        # list about the things counted, brings its list.
        if scored and self._in_list_of(scored[0].sentence, question):
            return scored[0]
        return None

    def _titled_list(self, scored: list[ScoredSentence], question: str) -> ScoredSentence | None:
        """The title of a list of the things a question asks to be listed: the best-scored title
        naming them with a list under it (`list_under_title`). None otherwise, or when the best
        candidate is in a list or leads one already.

        "Vilka mål har den nationella strategin?" best matches a sentence that names the
        strategy's "vision, mål och delmål"; the slide lists the goals under the title "Mål"."""
        noun = _listed_noun(question)
        if not self.with_asked_fact or noun is None or not scored or self._leads_list(scored[0]):
            return None
        # An English question's word, in the documents' Swedish: the term list's first word
        # for it ("goals" -> "mål").
        noun = self._english_terms.get(noun, (noun,))[0] if is_english(question) else noun
        names = re.compile(rf"\b{re.escape(_noun_stem(noun))}", re.IGNORECASE)
        for cand in scored:  # best first
            s = cand.sentence
            if s.kind == "heading" and names.search(s.text) and self._leads_list(cand):
                return cand
        return None

    @staticmethod
    def _leads_list(cand: ScoredSentence) -> bool:
        """Whether a candidate is in a list or leads one: an item or a row, a lead-in ending in
        a colon, or a title with a list under it (`list_under_title`)."""
        s = cand.sentence
        if s.kind in {"item", "row"} or s.text.endswith(":"):
            return True
        return s.kind == "heading" and list_under_title(s, split_candidates(s.passage)) is not None

    def _in_list_of(self, sentence: Sentence, question: str) -> bool:
        """Whether a candidate is an item of a list whose lines (items and the line before them)
        hold a word of the thing the question counts (the compound's parts too: "delavtal" is
        in the list under "Avtal")."""
        noun = _counted_noun(question)
        if noun is None or sentence.kind != "item":
            return False
        words = {
            t
            for t in self._analyse(noun)
            if len(t) >= _MIN_COUNTED_PART and not t.startswith(NGRAM_PREFIX)
        }
        siblings = split_candidates(sentence.passage)
        for run in _item_runs(siblings):
            if sentence.line not in {siblings[i].line for i in run}:
                continue
            lines = [siblings[i].text for i in run]
            if run[0] > 0:
                lines.append(siblings[run[0] - 1].text)
            return any(words & set(self._analyse(line)) for line in lines)
        return False

    def _continuation(
        self, best: ScoredSentence, scored: list[ScoredSentence]
    ) -> ScoredSentence | None:
        """The sentence that follows the best one in its passage, when it scores close to it.

        The best match often introduces what the next sentence says: "Region Skåne anger att
        olika personalgrupper kommer att vara företrädda i projektgruppen. Det gäller läkare
        ..." The next sentence is kept in the answer, under the same citation; one that refers
        back to the best ("Det gäller ...", "Dessa ...", "Detta innebär ...") whatever its
        score, since it says what the best one only announces.
        """
        follow = _next_candidate(best.sentence, scored)
        if follow is None or follow.sentence.kind == "heading":
            return None
        floor = best.score - self.continuation_margin
        return follow if follow.score >= floor or _REFERS_BACK.match(follow.sentence.text) else None

    def _with_list_items(
        self, chosen: list[ScoredSentence], types: set[str]
    ) -> list[ScoredSentence]:
        """A list answer: the items that follow a chosen lead-in ("Följande aspekter ska ...:"),
        or the best sentence when a list is asked for, in the same passage (bullets and rows, or
        the numbered lines of a numbered list). When a list is asked for and the best sentence is
        an item of one, the answer is that list from its lead-in; when it is a title, the list
        that starts a few lines under it (`list_under_title`)."""
        out: list[ScoredSentence] = []
        seen: list[str] = []
        expanded = False
        extra = 0  # sentences kept after a list: one, from another passage
        for i, cand in enumerate(chosen):
            if i == 0 and "list" in types:
                cand = self._from_lead_in(cand)
            lead = cand.sentence
            if repeats(lead.text, seen):
                continue
            if expanded and not lead.text.endswith(":"):
                if extra or any(lead.passage is o.sentence.passage for o in out):
                    continue
                extra += 1
            out.append(cand)
            seen.append(lead.text)
            if not (lead.text.endswith(":") or (i == 0 and "list" in types)):
                continue
            items: list[ScoredSentence] = []
            siblings = split_candidates(lead.passage)
            expected = lead.line + 1
            if i == 0 and "list" in types and lead.kind == "heading":
                expected = list_under_title(lead, siblings) or expected
            # A numbered list ("1. ...", "2. ...") is written as text lines: its lines count as
            # items when the line after the lead-in is one.
            numbered = any(sib.line == expected and numbered_line(sib) for sib in siblings)
            for sib in siblings:
                if sib.line <= lead.line or not (
                    sib.kind in {"item", "row"} or (numbered and numbered_line(sib))
                ):
                    continue
                if sib.line != expected or len(items) >= self._max_list_items:
                    break
                expected += 1
                if not repeats(sib.text, seen):
                    items.append(ScoredSentence(sib, cand.score, cand.coverage, cand.similarity))
                    seen.append(sib.text)
            out.extend(items)
            expanded = expanded or bool(items)
        return out

    def _whole_lists(self, chosen: list[ScoredSentence]) -> list[ScoredSentence]:
        """The answer with every item of a list two or more of its chosen sentences are items
        of, and the line that leads the list in, placed before the first of them.

        "Vad har pengarna för suicidprevention gått till under 2024?" matches several items of
        the list of what the money went to; the items it matches less well belong to the
        answer as much. A list longer than ``max_list_items`` is left as chosen."""
        if not self.whole_lists:
            return chosen
        out = list(chosen)
        passages = {id(c.sentence.passage): c.sentence.passage for c in chosen}
        for passage in passages.values():
            siblings = split_candidates(passage)
            for run in _item_runs(siblings):
                lines = {siblings[i].line for i in run}
                members = [
                    c
                    for c in out
                    if c.sentence.passage is passage
                    and c.sentence.kind == "item"
                    and c.sentence.line in lines
                ]
                if len(members) < 2 or len(run) > self._max_list_items:
                    continue
                lead = [run[0] - 1] if run[0] > 0 else []
                have = [c.sentence.text for c in out]
                first = members[0]
                added = [
                    ScoredSentence(siblings[i], first.score, first.coverage, first.similarity)
                    for i in (*lead, *run)
                    if not repeats(siblings[i].text, have)
                ]
                at = min(out.index(m) for m in members)
                out[at:at] = added
        return out

    def _from_lead_in(self, best: ScoredSentence) -> ScoredSentence:
        """The line that leads in the list a best item or row belongs to, in its place, when the
        item is among the first ``max_list_items`` of the list; otherwise the item itself.

        The lead-in is the line just before the items: a sentence ending in a colon ("...
        följande villkor:"), or a title or sentence without one ("Arbetsgrupp MiniMaria",
        "2. Redovisade insatser ... (totalt 7 605 166 kr)"), as slides and reports introduce
        lists. Only a question that asks for a list gets here."""
        if best.sentence.kind not in {"item", "row"}:
            return best
        siblings = split_candidates(best.sentence.passage)
        by_line = {s.line: s for s in siblings}
        line = best.sentence.line
        position = 0
        while (before := by_line.get(line - 1)) is not None and before.kind in {"item", "row"}:
            line -= 1
            position += 1
        lead = by_line.get(line - 1)
        if lead is None or position >= self._max_list_items:
            return best
        return ScoredSentence(lead, best.score, best.coverage, best.similarity)

    def _features(
        self,
        question: str,
        query: dict[str, float],
        passages: Sequence[Passage],
        scored: list[ScoredSentence],
        dense_scores: dict[str, float] | None,
        spelled_out: Sequence[tuple[str, str]] = (),
    ) -> dict[str, float]:
        top = list(passages[:3])
        # Each passage's terms (text and headings), analysed once for the features below.
        passage_terms = [
            set(self._analyse(p.chunk.text + " " + " ".join(p.chunk.heading_path)))
            for p in passages
        ]
        context_terms: set[str] = set().union(*passage_terms[:3])
        specific = specific_terms(question)
        best_chunk = scored[0].sentence.passage.chunk if scored else None
        answering = [c for c in (passages[0].chunk if passages else None, best_chunk) if c]
        dense = dense_scores or {}
        types = answer_types(question)
        dense_top = max((dense.get(p.chunk.chunk_id, 0.0) for p in passages), default=0.0)
        ten_best = sorted(dense.values(), reverse=True)[:10]
        return {
            "dense_top": dense_top,
            # How far the best passage stands out from the ten best found by meaning.
            "dense_gap": dense_top - float(np.median(ten_best)) if ten_best else 0.0,
            "best_coverage": max((s.coverage for s in scored), default=0.0),
            "best_score": scored[0].score if scored else 0.0,
            "best_similarity": max((s.similarity for s in scored), default=0.0),
            "context_coverage": coverage(query, context_terms),
            "missing_specific": _missing_share(specific, [p.chunk for p in top], spelled_out),
            "missing_specific_best": _missing_share(
                specific, [best_chunk] if best_chunk else [], spelled_out
            ),
            # A year asked for that neither the best passage nor the passage of the best sentence
            # names (text, headings, title, date): the documents report other years.
            "missing_year": _missing_year_share(asked_years(question), answering),
            "type_fit_best": _type_fit(types, scored[0].sentence.text) if scored else -1.0,
            "english": 1.0 if is_english(question) else 0.0,
            "no_question_word": self._no_question_word(question, query, passages, passage_terms),
        }

    def _no_question_word(
        self,
        question: str,
        query: dict[str, float],
        passages: Sequence[Passage],
        passage_terms: Sequence[set[str]],
    ) -> float:
        """1.0 when a Swedish question has two or more words besides its names, figures and
        stop words, and no passage of the context (text, headings, title) holds any of them:
        "Vad blir det för väder i Falun i helgen?" finds passages about Falun, none about the
        weather. An English question's words are looked for in Swedish passages: it is left
        to the refusal score. ``passage_terms`` are each passage's analysed text and headings."""
        if is_english(question):
            return 0.0
        names = {t for term in specific_terms(question) for t in self._analyse(term)}
        words = {
            t
            for t in query
            if len(t) > 2 and not t.startswith(NGRAM_PREFIX) and not t.isdigit() and t not in names
        }
        if len(words) < 2:
            return 0.0
        for p, terms in zip(passages, passage_terms, strict=True):
            if words & terms or words & set(self._analyse(p.chunk.title)):
                return 0.0
        return 1.0


def asked_years(question: str) -> list[tuple[str, ...]]:
    """The years a question asks about, each a tuple of the years that answer for it: a year
    alone, or every year of a range ("pilotprojektet 2021–2025", "2023-24"), which names a
    period a passage about any of its years is about."""
    groups: list[tuple[str, ...]] = []
    for match in _YEAR_RANGE.finditer(question):
        first, end = int(match.group(1)), match.group(2)
        last = int(end) if len(end) == 4 else int(match.group(1)[:2] + end)
        # "2024-06-12" is a day, not the years 2024 to 2006.
        years = range(first, last + 1) if first < last <= first + _MAX_RANGE_YEARS else [first]
        groups.append(tuple(str(year) for year in years))
    groups += [(year,) for year in YEAR_IN_TEXT.findall(_YEAR_RANGE.sub(" ", question))]
    return groups


_YEAR_RANGE = re.compile(r"\b((?:19|20)\d{2})\s*[–-]\s*((?:19|20)?\d{2})\b")
_MAX_RANGE_YEARS = 30


def _missing_year_share(groups: Sequence[tuple[str, ...]], chunks: Sequence[Chunk]) -> float:
    """Share of the years asked (`asked_years`) of which the chunks (title, date, headings,
    text) name none."""
    if not groups:
        return 0.0
    text = " ".join(chunk_words(c) for c in chunks)
    return sum(1 for group in groups if not any(year in text for year in group)) / len(groups)


def _missing_share(
    terms: list[str], chunks: Sequence[Chunk], spelled_out: Sequence[tuple[str, str]] = ()
) -> float:
    """Share of a question's figures and names found in none of the chunks (title, headings).
    An acronym is found where the name it stands for is (``spelled_out``: "VGR-underlaget" in a
    passage that writes "Västra Götalandsregionen" and "underlaget")."""
    if not terms:
        return 0.0
    text = " ".join(chunk_words(c) for c in chunks)
    flat = re.sub(r"\s", "", text)
    missing = [
        t
        for t in terms
        if not _present(_fold(t), text, flat) and not _spelled_out(_fold(t), text, spelled_out)
    ]
    return len(missing) / len(terms)


def _spelled_out(term: str, text: str, spelled_out: Sequence[tuple[str, str]]) -> bool:
    """Whether a folded term that is an acronym, or holds one as a hyphenated part ("vgr",
    "vgr:s", "vgr-underlaget"), is in the folded text as the name it stands for, with its
    other parts."""
    parts = term.split("-")
    for acronym, expansion in spelled_out:
        short = _fold(acronym)

        def is_acronym(part: str, short: str = short) -> bool:
            return part in (short, short + "s") or part.startswith(short + ":")

        if not any(is_acronym(p) for p in parts) or _fold(expansion) not in text:
            continue
        if all(p in text for p in parts if not is_acronym(p) and len(p) > 2):
            return True
    return False


def repeats(text: str, others: Sequence[str]) -> bool:
    """Whether a sentence says again what one of ``others`` says: the same words, or the words
    of one opening the other. A report repeats its commission in the foreword and in the first
    chapter, once with its reference numbers ("... psykiatrisk vård (S2019/00643/FST).");
    a slide title opens the sentence under it. Such a sentence is not kept twice in an answer.
    A line of three words or fewer ("- Kommun") repeats only its exact equal."""
    words = _WORD.findall(_fold(text))
    for other in others:
        theirs = _WORD.findall(_fold(other))
        short, long = sorted((words, theirs), key=len)
        if short == long or (len(short) > 3 and long[: len(short)] == short):
            return True
    return False


_WORD = re.compile(r"\w+")


def _fold(text: str) -> str:
    """Lower case, accents other than å, ä, ö dropped ("Sälén" in a scan is "Sälen")."""
    return text.lower().translate(_ACCENTS)


_ACCENTS = str.maketrans("éèêëáàüú", "eeeeaauu")


def _present(term: str, text: str, flat: str) -> bool:
    """Whether a name or figure of a question is in the text: as asked, without the genitive s
    ("Malung-Sälens kommun" -> "malung-sälen"), or as its hyphenated parts
    ("MiniMaria-gruppen": "minimaria" and "gruppen")."""
    forms = [term, term[:-1]] if len(term) > 4 and term.endswith("s") else [term]
    if any(f in text or f in flat for f in forms):
        return True
    parts = [p for p in term.split("-") if len(p) > 2]
    return len(parts) > 1 and all(p in text for p in parts)
