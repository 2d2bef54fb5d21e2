"""What an answer must name besides a figure: a person, an address to write to, a day, a time.

"Vem leder arbetsgruppen?" is answered by a sentence that names a person, "Vart skickas
ansökan?" by one with an e-mail address, "Var på nätet finns mallarna?" by one with a web
address, "Vilket datum ...?" by one with a day. The extractive
answerer makes sure its answer holds such a sentence (`ExtractiveAnswerer._with_asked_fact`);
the sums, numbers and durations a question asks for are read in `retrieval.extractive`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FIRST_NAMES_PATH = Path(__file__).parent / "first_names.txt"

_MONTHS = (
    r"(?:jan(?:uari)?|feb(?:ruari)?|mars?|apr(?:il)?|maj|juni?|juli?|aug(?:usti)?|"
    r"sept?(?:ember)?|okt(?:ober)?|nov(?:ember)?|dec(?:ember)?|january|february|march|"
    r"may|june|july|august|october)"
)
# A day: "20 april 2020", "1 mars", "2024-06-12", and the compact "220923" (yymmdd) or
# "20210430" (yyyymmdd) that minutes and slides use.
_DAY = re.compile(
    rf"\b\d{{1,2}}\s+{_MONTHS}\b|\b(?:19|20)\d{{2}}-[01]\d-[0-3]\d\b"
    r"|\b\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b"
    r"|\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b",
    re.IGNORECASE,
)
# The Swedish month names in full, as an alternation; `retrieval.extractive` reads them too.
SWEDISH_MONTHS = (
    "januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"
)
# A time finer than a year: a month or a season ("i september 2023", "hösten 2024"). Month
# names in full: the English "may" is mostly a verb.
_MONTH_OR_SEASON = re.compile(
    rf"\b(?:{SWEDISH_MONTHS}|january|february|march|june|july|august|october|våren|hösten|"
    r"sommaren|vintern|årsskiftet|spring|autumn|summer|winter)\b",
    re.IGNORECASE,
)
# An e-mail address; `retrieval.extractive` reads it too.
EMAIL = re.compile(r"\b[\w.-]+@[\w-]+(?:\.[\w-]+)+")
_WEB = re.compile(r"\bwww\.[\w-]+\.\w+|\bhttps?://\S+|\b[\w-]+\.(?:se|nu|com|org|eu)/\S*", re.I)
# A Swedish phone number ("023-49 00 00", "+46 23 49 00 00"); `retrieval.extractive` reads it too.
PHONE = re.compile(r"(?:\+46|\b0\d{1,3})[-–\s]?\d{2,3}[\s-]?\d{2}[\s-]?\d{2}\b")
_CAPITALISED = re.compile(r"[A-ZÅÄÖ][a-zåäöéü]+(?:-[A-ZÅÄÖ][a-zåäöéü]+)?")
_EMAIL_NAME = re.compile(r"\b([a-zåäöé]+)(?:\.[a-zåäöé]+)+@", re.IGNORECASE)

# A person is asked for by "vem" or "who", or by a role: "vilken chef", "which police
# representative".
_ROLES = (
    r"chef\w*|\w*ledare\w*|ordförande\w*|handläggare\w*|\w*samordnare\w*|representant\w*|"
    r"företrädare\w*|\w*direktör\w*|representatives?|managers?|leaders?|directors?|officers?|"
    r"coordinators?|chair\w*|heads?|"
    r"läkare\w*|\w*sekreterare\w*|psykolog\w*|sjuksköterska\w*|kurator\w*|"
    r"doctors?|physicians?|nurses?|psychologists?|social workers?"
)
_ASKS_PERSON = re.compile(
    r"\b(vem|vems|vilka personer|vilken person|kontaktperson\w*|who|whom|whose)\b"
    r"|\bvilka (?:\w+ ){0,2}kontakta\b"
    rf"|\b(?:vilken|vilka|which|what)\s+(?:\w+\s+){{0,2}}?(?:{_ROLES})\b",
    re.IGNORECASE,
)
# A person asked for by a post that one person holds: "Vem är ordförande i Välfärdsrådet?",
# "Vem är SiS kontaktperson ...?", "Who chairs the delegation?". Not "Vem leder arbetet ...?"
# nor "Vem ansvarar för ...?": an organisation often does ("RSS får i uppdrag att leda arbetet").
_POSTS = (
    r"ordförande\w*|\w*chef(?:en)?|\w*ledare(?:n)?|\w*samordnare(?:n)?|kontaktperson\w*|"
    r"\w*direktör\w*|\w*utredare(?:n)?|\w*minister(?:n)?|chair\w*|heads?|coordinators?|"
    r"contact person|leaders?|managers?|directors?|investigators?|ministers?"
)
_ASKS_POST_HOLDER = re.compile(
    rf"\b(?:vem|vilken person|who)\b.*\b(?:{_POSTS})\b|\b(?:{_POSTS})\b.*\b(?:vem|who)\b"
    r"|\bwho (?:chairs|heads)\b",
    re.IGNORECASE,
)
# Who leads something: "Vem leder arbetsgruppen för MiniMaria?", "Who leads the project?".
_ASKS_LEADER = re.compile(
    r"\b(?:vem|who)\b.*\b(?:leder|ledde|ska leda|leads|led|heads|chairs)\b", re.IGNORECASE
)
# A line that says who leads: the verb ("RSS får i uppdrag att leda arbetet", "leds av"), or
# a leading post by a person's name ("Projektledare Carina Wadås", "Uppdragsledare Robin
# Ström"). "Utvecklingsledare" and "verksamhetschef" are titles, not the lead of a group.
_LEADS_VERB = re.compile(r"\b(?:led(?:a|er|de|s|des)|leads?|chairs?|chaired)\b", re.IGNORECASE)
_LEADING_POST = re.compile(
    r"\b(?:projektledare|uppdragsledare|gruppledare|ordförande|sammankallande|"
    r"project (?:manager|leader)|chair(?:person|man|woman)?)\b",
    re.IGNORECASE,
)
_ASKS_ADDRESS = re.compile(
    r"\b(vart (?:ska|skall|skickas|skickar|skicka|vänder)|e-post\w*|e-?mail|mejl\w*|"
    r"mailadress\w*|adress\w*|kontakta|contact|send|på nätet|på webben|webbplats\w*|"
    r"webbsida\w*|hemsida\w*|länk(?:en)? till|website|web ?page|online|link to)\b",
    re.IGNORECASE,
)
_ASKS_DAY = re.compile(
    r"\b(vilket datum|vilken dag|datum\w*|what date|which date|which day|deadline|sista dag\w*)\b",
    re.IGNORECASE,
)
# "När" asks when only where it opens a question or a clause of one ("Var och när hålls ...?");
# elsewhere it is as often a conjunction ("... när den enskilde har behov").
_ASKS_WHEN = re.compile(r"(?:^|[,;]\s*|\boch\s+|\band\s+)(när|when)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AskedKind:
    """A kind of fact a question asks for, and whether a sentence states one."""

    name: str  # "leader" | "person" | "address" | "day" | "time"
    states: Callable[[str], bool]


@functools.cache
def first_names(path: Path = FIRST_NAMES_PATH) -> frozenset[str]:
    """The first names of ``path`` (words after '#' on a line are a comment)."""
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words.update(line.split("#", 1)[0].split())
    return frozenset(words)


def names_person(text: str) -> bool:
    """Whether a text names a person: a known first name followed by a capitalised surname
    ("Projektledare Carina Wadås", "Olivia Wigzell Generaldirektör"), or an e-mail address
    made of a first name and a surname ("alma.haracic@socialstyrelsen.se").

    "Mini Maria- uppstart" and "Region Dalarna" name nobody."""
    names = first_names()
    words = list(_CAPITALISED.finditer(text))
    for word, after in zip(words, words[1:], strict=False):
        adjacent = after.start() == word.end() + 1 and text[word.end()] == " "
        if adjacent and word.group().split("-")[0] in names and len(after.group()) > 2:
            return True
    return any(m.group(1).capitalize() in names for m in _EMAIL_NAME.finditer(text))


def states_address(text: str) -> bool:
    """Whether a text holds an e-mail address, a phone number or a web address."""
    return bool(EMAIL.search(text) or PHONE.search(text) or _WEB.search(text))


def states_day(text: str) -> bool:
    """Whether a text names a day ("20 april 2020", "2024-06-12", "220923")."""
    return bool(_DAY.search(text))


def states_time(text: str) -> bool:
    """Whether a text names a time finer than a year: a day, a month or a season."""
    return bool(_DAY.search(text) or _MONTH_OR_SEASON.search(text))


def names_leader(text: str) -> bool:
    """Whether a text says who leads: by the verb ("RSS får i uppdrag att leda arbetet"), or
    by a leading post with a person's name ("Projektledare Carina Wadås, ...")."""
    return bool(_LEADS_VERB.search(text)) or bool(_LEADING_POST.search(text) and names_person(text))


def asked_kinds(question: str) -> list[AskedKind]:
    """The kinds of fact of this module a question asks for, in this order: who leads ("Vem
    leder arbetsgruppen?"), before a person ("Vem ...?", "Vilka kan jag kontakta?"), else an
    address ("Vart ska ansökan skickas?"); a day ("Vilket datum ...?"), else a time ("När
    beslutade ...?").

    A person named in the answer may be a member of the group asked about, not its lead; the
    line that says who leads comes first when a candidate has one."""
    kinds: list[AskedKind] = []
    if _ASKS_LEADER.search(question):
        kinds.append(AskedKind("leader", names_leader))
    if _ASKS_PERSON.search(question):
        kinds.append(AskedKind("person", names_person))
    elif _ASKS_ADDRESS.search(question):
        kinds.append(AskedKind("address", states_address))
    if _ASKS_DAY.search(question):
        kinds.append(AskedKind("day", states_day))
    elif _ASKS_WHEN.search(question):
        kinds.append(AskedKind("time", states_time))
    return kinds


def asks_post_holder(question: str) -> bool:
    """Whether a question asks who holds a post ("Vem är ordförande i Välfärdsrådet?", "Vem är
    suicidpreventionssamordnare i Dalarna?", "Who chairs the new delegation?"): a person's name
    answers it, and a passage that names nobody does not."""
    return bool(_ASKS_POST_HOLDER.search(question))
