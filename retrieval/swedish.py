"""Swedish text analysis for lexical search: normalising, tokens, stopwords, stems, compounds.

The same `analyse` is applied to chunks and to questions, so a question that says "delegationen
för samsjuklighet" meets a chunk that says "samsjuklighetsdelegationen" on the stems of its parts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

import Stemmer

# Bump when tokens, stopwords, stemming or splitting change: persisted indexes become stale.
ANALYSER_VERSION = "sv-1"
NGRAM_PREFIX = "#ngr:"

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_QUOTES = {
    **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e"), '"'),
    **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u00b4\u0060"), "'"),
}
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\u200a"), " ")
_TRANSLATE = {**_DASHES, **_QUOTES, **_INVISIBLE, **_SPACES}

# Words after which a line-final hyphen is a suspended compound ("hälso-\noch sjukvård").
_SUSPENDED_FOLLOWERS = frozenset(
    {"och", "eller", "samt", "respektive", "resp", "till", "som", "men", "utan"}
)
_LINE_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\n(?:[ \t]*\n)?[ \t]*(?=([^\W\d_]+))")
# Swedish thousands separators: "21 724 099" is one number. Spaces are already unified.
_GROUPED_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d])")
# Inflection after a colon on acronyms and numbers: "SKR:s", "SIP:en", "VIP:arna", "LÖK:ar".
_COLON_INFLECTION = re.compile(
    r"(?<=[^\W_]):(?:s|n|na|en|et|ens|ets|ar|arna|arnas|er|erna|ernas|or|orna|ns)\b"
)
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_DOUBLE_FINAL = re.compile(r"([bdfgjklmnprstv])\1$")
# Endings Snowball leaves on: definite "-an" (hälsan), neuter "-et" (hemmet), adjective "-t".
_LEFT_ENDING = re.compile(r"(?:an|et|(?<=m|v|l)t|(?<=sk)t)$")

# Endings that are never a compound's last part on their own ("verksam|het", "placer|ing").
_SUFFIX_PARTS_TEXT = """
    ande ende ens ans are aren arens ares ars arna arnas erna ernas orna ornas ade ades
    ing ingar ingarna ingen ingens ning ningar ningen het heten hetens heter heterna hets
    lig liga ligt ligen ligare ligast lighet ligheten ligheter ligheterna
    else elsen ser sen ses sens tas tar tat ter ger get per let mit lär nad naden nader
    ation ationen tion ism ist isk iska iskt skap skapet skapen dom domen sam samt samma
    bar bart erad erat erade era ering
"""
SUFFIX_PARTS = frozenset(_SUFFIX_PARTS_TEXT.split())

# Endings a word drops when it stands first in a compound: "skola" -> "skol|läkare".
_MODIFIER_ENDINGS = ("a", "e", "s", "ar", "er", "or", "en", "an", "et")
# Linking morphemes (fogemorfem) that may sit between compound parts, most common first.
LINKING_MORPHEMES = ("s", "e", "a", "u", "o")
_VOWELS = frozenset("aeiouyåäöéü")
# A first part and an unknown rest, for compounds whose last part never stands alone.
_KNOWN_MODIFIER_MIN = 5
_UNKNOWN_HEAD_MIN = 7
_SUFFIX_STARTS = ("ning", "lighet", "heten", "heter", "arna", "erna")
# First parts with these endings take a linking "s": "utvecklings|arbete", "kunskaps|lucka".
_S_TAKING_ENDINGS = (
    "ning",
    "ing",
    "het",
    "tion",
    "sion",
    "skap",
    "dom",
    "else",
    "nad",
    "itet",
    "ande",
    "ende",
    "ism",
    "ör",
    "ad",
)

# Function words, auxiliaries and the question words people use but passages rarely need.
_STOPWORDS_TEXT = """
    all alla allt alltså andra annan annat att av bara bland blev bli blir blivit bör både
    de dem den denna deras dess dessa det detta dig din dina ditt du där därför då
    efter eftersom ej eller en ens er era ert ett fast fick finns fanns fram från får fått
    för förr först genom gick gjorde gjort gå går göra gör ha hade haft han hans har hela
    hen henne hennes hit hon honom hur hos här i ibland icke ifrån igen in inom inte inuti
    ja jag ju kan kanske kom komma kommer kunde kunna kunnat kring man med mellan men mer
    mest mig min mina mitt mot mycket många måste nog nu när någon något några ni nej
    och också om oss på redan sa sade samma sedan sig sin sina sitt själv skall ska skulle
    slags som står stå så sådan sådana sådant till tills tillsammans under upp ut utan
    utom vad var vara varför varit varje vars vem vems vi vid vilka vilken vilket vill
    ville visst vår våra vårt än ännu är ändå åt över
    dvs etc bl ex exempelvis ca dock även emellertid samt resp respektive
    berätta beskriv förklara undrar vet veta finnas gäller hurdan
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def unify_text(text: str) -> str:
    """Unify a text without changing its case: NFC, one kind of dash, quote and space.

    Words hyphenated across a line break are joined ("Insti-\\ntutionsstyrelse"), but a
    suspended compound keeps its hyphen ("hälso-\\noch sjukvård").

    Args:
        text: Any text, cleaned or raw extract.

    Returns:
        The unified text.
    """
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    return _LINE_HYPHEN.sub(_join_line_hyphen, text)


def _join_line_hyphen(match: re.Match[str]) -> str:
    follower = match.group(1)
    if follower[0].isupper() or follower.lower() in _SUSPENDED_FOLLOWERS:
        return "- "
    return ""


# Short forms of chat Swedish, written out: "hur mkt", "finns det ngn", "vem e ordförande".
_CHAT_WORDS = {
    "mkt": "mycket",
    "ngn": "någon",
    "ngt": "något",
    "nån": "någon",
    "nåt": "något",
    "nåra": "några",
}
_CHAT_WORD = re.compile(rf"\b({'|'.join(_CHAT_WORDS)})\b", re.IGNORECASE)
# "e" for "är" after a question word, "va" for "vad" opening a question.
_CHAT_IS = re.compile(
    r"\b(vad|vem|vilka|vilken|vilket|när|var|hur|vart|varför)\s+e\b(?!-)", re.IGNORECASE
)
_CHAT_WHAT = re.compile(r"^va\b(?=\s)", re.IGNORECASE)


def expand_chat_words(question: str) -> str:
    """A question with the short forms of chat Swedish written out ("hur mkt" -> "hur
    mycket", "vem e" -> "vem är", "va kostar" -> "vad kostar"), so that what it asks for is
    read as in the written form."""

    def written(match: re.Match[str]) -> str:
        word = match.group()
        full = _CHAT_WORDS[word.lower()]
        return full.capitalize() if word[0].isupper() else full

    question = _CHAT_WORD.sub(written, question)
    question = _CHAT_IS.sub(lambda m: f"{m.group(1)} är", question)
    return _CHAT_WHAT.sub(lambda m: "Vad" if m.group()[0] == "V" else "vad", question)


def normalise(text: str) -> str:
    """Normalise text for matching: `unify_text`, then lowercase.

    Args:
        text: Any text.

    Returns:
        The lowercased, unified text.
    """
    return unify_text(text).lower()


def tokenize(text: str) -> list[str]:
    """Split text into lowercase word and number tokens.

    Letters include å, ä, ö, é, ü and other Unicode letters; letters and digits never share a
    token. Digit groups separated by single spaces ("21 724 099") are one number
    ("21724099"). Acronyms are kept and an inflection after a colon is dropped ("SKR:s" ->
    "skr").

    Args:
        text: Any text.

    Returns:
        The tokens in order.
    """
    text = normalise(text)
    text = _GROUPED_NUMBER.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _COLON_INFLECTION.sub("", text)
    return _TOKEN.findall(text)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    # One Snowball stemmer per process; PyStemmer keeps its own cache of recent words.
    stemmer = Stemmer.Stemmer("swedish")
    stemmer.maxCacheSize = 50_000
    return stemmer


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (Swedish) stem of a lowercase word, with two of its gaps closed.

    Snowball leaves some endings on ("hälsan", "ungdomshemmet", "gemensamt") and a final double
    consonant ("gemensamma" -> "gemensamm"); both are taken off so that the forms of a word
    meet ("hälsa", "ungdomshem", "gemensam").

    Args:
        word: A lowercase token.

    Returns:
        Its stem; numbers are returned unchanged.
    """
    if not word.isalpha():
        return word
    stemmed: str = _stemmer().stemWord(word)
    if len(stemmed) >= 6:
        stemmed = _LEFT_ENDING.sub("", stemmed)
    if len(stemmed) > 3:
        stemmed = _DOUBLE_FINAL.sub(r"\1", stemmed)
    return stemmed


def char_ngrams(word: str, n: int = 4) -> list[str]:
    """Character n-grams of a word with boundary marks, e.g. "<sis>" -> "<sis", "sis>".

    Args:
        word: A lowercase token.
        n: The n-gram length.

    Returns:
        The n-grams in order; a word shorter than ``n - 1`` gives its padded form.
    """
    padded = f"<{word}>"
    if len(padded) <= n:
        return [padded]
    return [padded[i : i + n] for i in range(len(padded) - n + 1)]


def is_vocabulary_word(token: str, min_length: int = 3) -> bool:
    """Whether a token may be a compound part: a letter word, long enough, not a stopword."""
    return len(token) >= min_length and token.isalpha() and token not in STOPWORDS


def vocabulary_from_texts(texts: Iterable[str], min_length: int = 3) -> Counter[str]:
    """Count the words of texts that may serve as compound parts.

    Acronyms written only in capitals ("SIP", "RSS") are left out: as parts they would split
    ordinary words at random letters.

    Args:
        texts: Chunk texts.
        min_length: Shortest word kept.

    Returns:
        Lowercase word -> number of occurrences.
    """
    counts: Counter[str] = Counter()
    capital_only: set[str] = set()
    seen_lower: set[str] = set()
    for text in texts:
        for raw in _TOKEN.findall(unify_text(text)):
            word = raw.lower()
            if not is_vocabulary_word(word, min_length):
                continue
            counts[word] += 1
            if raw.isupper() and len(raw) <= 6:
                capital_only.add(word)
            else:
                seen_lower.add(word)
    for word in capital_only - seen_lower:
        del counts[word]
    return counts


class CompoundSplitter:
    """Splits Swedish compounds into parts known from a vocabulary.

    The vocabulary is learned from the indexed text itself (every word of at least
    ``min_part`` letters, with its frequency), so nothing about a particular corpus is
    hard-coded. A split prefers the fewest parts, then the most frequent ones. Between parts
    it accepts a linking morpheme (``s``, ``e``, ``a``, ``u``, ``o``); a first part may drop its
    final vowel or ending ("skola" -> "skol|läkare"); the last part may be any inflection of a
    known word. Inflectional endings ("het", "ing", "arna") are never parts, and parts of
    ``min_part`` letters must occur at least twice in the vocabulary.
    """

    def __init__(
        self,
        vocabulary: Iterable[str] | Mapping[str, int],
        *,
        min_part: int = 3,
    ) -> None:
        """Build the splitter.

        Args:
            vocabulary: Words (repeated words count as more frequent) or word -> count.
            min_part: Shortest part accepted.
        """
        counts: Counter[str] = Counter()
        if isinstance(vocabulary, Mapping):
            for word, count in vocabulary.items():
                counts[word.lower()] += int(count)
        else:
            counts.update(word.lower() for word in vocabulary)
        self.min_part = min_part
        self.counts: dict[str, int] = {
            word: count for word, count in counts.items() if is_vocabulary_word(word, min_part)
        }
        self._stems: dict[str, int] = {}
        # Known words less a final vowel or ending: "skola" -> "skol" as in "skolläkare",
        # with the most frequent full word each comes from, to name the part.
        self._truncated: dict[str, int] = {}
        self._source: dict[str, tuple[int, str]] = {}
        for word, count in self.counts.items():
            stemmed = stem(word)
            if len(stemmed) >= min_part and stemmed not in STOPWORDS:
                self._stems[stemmed] = self._stems.get(stemmed, 0) + count
            for ending in _MODIFIER_ENDINGS:
                if word.endswith(ending) and len(word) - len(ending) > min_part:
                    short = word[: -len(ending)]
                    self._truncated[short] = self._truncated.get(short, 0) + count
                    if self._source.get(short, (0, ""))[0] < count:
                        self._source[short] = (count, word)
        # How many known words begin with each four letters, to place a linking "s".
        self._onsets = Counter(word[:4] for word in self.counts if len(word) >= 4)
        self._cache: dict[str, tuple[str, ...]] = {}
        self._parts_cache: dict[str, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.counts)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and (word in self.counts or word in self._stems)

    def _full_form(self, part: str) -> str:
        """The word a first part stands for: "skol" -> "skola", "hälso" -> "hälsa"."""
        if part not in self.counts and part in self._source:
            return self._source[part][1]
        if part[-1] in "oeua" and part[:-1] in self._source:
            return self._source[part[:-1]][1]
        return part

    def _modifier_weight(self, part: str) -> float:
        """Log-frequency of a non-final part, or -1 when it may not be one."""
        if part in SUFFIX_PARTS:
            return -1.0
        if len(part) <= self.min_part:
            # Short parts must be words the corpus uses often: "län", "hem", not "ans".
            count = self.counts.get(part, 0)
            return math.log1p(count) if count >= 2 else -1.0
        count = self.counts.get(part, 0) or self._truncated.get(part, 0)
        return math.log1p(count) if count else -1.0

    def _head_weight(self, part: str) -> float:
        """Log-frequency of a final part (any inflection of a known word), or -1."""
        if part in SUFFIX_PARTS:
            return -1.0
        if len(part) <= self.min_part:
            count = self.counts.get(part, 0)
            return math.log1p(count) if count >= 2 else -1.0
        count = self.counts.get(part, 0) or self._stems.get(part, 0)
        if not count:
            stemmed = stem(part)
            if stemmed not in SUFFIX_PARTS and (
                len(stemmed) > self.min_part or self.counts.get(stemmed, 0) >= 2
            ):
                count = self._stems.get(stemmed, 0)
        return math.log1p(count) if count else -1.0

    def split(self, word: str) -> list[str]:
        """Split a compound into known parts, without linking morphemes.

        Args:
            word: A lowercase token.

        Returns:
            At least two parts, e.g. "samsjuklighetsdelegationen" -> ["samsjuklighet",
            "delegationen"]; an empty list when the word is not a compound of known words.
        """
        cached = self._cache.get(word)
        if cached is None:
            cached = self._split(word)
            self._cache[word] = cached
        return list(cached)

    def _split(self, word: str) -> tuple[str, ...]:
        n = len(word)
        low = self.min_part
        if n < 2 * low or not word.isalpha():
            return ()
        # best[i]: (parts, -weight, parts list) of the best split of word[:i] into modifiers.
        best: list[tuple[int, float, tuple[str, ...]] | None] = [None] * (n + 1)
        best[0] = (0, 0.0, ())
        final: tuple[int, float, tuple[str, ...]] | None = None
        for i in range(n - low + 1):
            state = best[i]
            if state is None:
                continue
            count, neg_weight, parts = state
            if i > 0:
                head = word[i:]
                weight = self._head_weight(head)
                if weight >= 0:
                    candidate = (count + 1, neg_weight - weight, (*parts, head))
                    if final is None or candidate[:2] < final[:2]:
                        final = candidate
            for j in range(i + low, n - low + 1):
                part = word[i:j]
                weight = self._modifier_weight(part)
                if weight < 0:
                    continue
                for link in ("", *LINKING_MORPHEMES):
                    k = j + len(link)
                    if k > n - low or (link and not word.startswith(link, j)):
                        continue
                    candidate = (count + 1, neg_weight - weight, (*parts, part))
                    current = best[k]
                    if current is None or candidate[:2] < current[:2]:
                        best[k] = candidate
        if final is not None:
            *modifiers, head = final[2]
            return (*(self._full_form(part) for part in modifiers), head)
        return self._split_unknown_head(word)

    def _split_unknown_head(self, word: str) -> tuple[str, ...]:
        """Split off a frequent first word when the rest is long but unknown.

        "suicidprevention" -> ("suicid", "prevention") although "prevention" never occurs on
        its own. Only a well-attested first part of five letters or more and a rest of at
        least seven letters; an "s" after the first part is taken as the linking "s"
        ("arbets|terapeut", then six letters suffice), and without it the rest must start
        with a consonant ("kommun|ikation" is no compound).
        """
        for j in range(len(word) - _UNKNOWN_HEAD_MIN + 1, _KNOWN_MODIFIER_MIN - 1, -1):
            part = word[:j]
            if part in SUFFIX_PARTS or part in STOPWORDS:
                continue
            if (self.counts.get(part, 0) or self._truncated.get(part, 0)) < 3:
                continue
            linked = word.startswith("s", j) and self._takes_linking_s(part, word[j + 1 :])
            head = word[j + 1 :] if linked else word[j:]
            if len(head) < _UNKNOWN_HEAD_MIN - linked or head.startswith(_SUFFIX_STARTS):
                continue
            if linked or head[0] not in _VOWELS:
                return (self._full_form(part), head)
        return ()

    def _takes_linking_s(self, part: str, rest: str) -> bool:
        """Whether the "s" between ``part`` and ``rest`` links them ("ungdom|s|mottagning")
        rather than begins the rest ("kommun|storlek").

        The vocabulary decides when it can: which of "mott..." and "smot..." begins more known
        words. Otherwise the grammar rule: a first part ending in -ning, -het, -tion, -skap and
        the like, or one that has dropped its final vowel ("arbet|s"), takes a linking "s".
        """
        linked = self._onsets.get(rest[:4], 0)
        unlinked = self._onsets.get("s" + rest[:3], 0)
        if linked != unlinked:
            return linked > unlinked
        return part.endswith(_S_TAKING_ENDINGS) or part not in self.counts

    def parts(self, word: str) -> list[str]:
        """All parts of a compound, its parts' parts included, without the word itself.

        "suicidpreventionssamordnare" gives "suicidprevention" and "samordnare", and also
        "suicid" and "prevention" when those are known.

        Args:
            word: A lowercase token.

        Returns:
            The distinct parts, outermost first; empty for a word that is not a compound.
        """
        cached = self._parts_cache.get(word)
        if cached is None:
            found: list[str] = []
            for part in self.split(word):
                if part not in found:
                    found.append(part)
                for sub in self.parts(part):
                    if sub not in found:
                        found.append(sub)
            cached = tuple(found)
            self._parts_cache[word] = cached
        return list(cached)


def split_compound(word: str, splitter: CompoundSplitter) -> list[str]:
    """Split one compound with a splitter; see `CompoundSplitter.split`.

    Args:
        word: The word, any case.
        splitter: The vocabulary-backed splitter.

    Returns:
        The parts, or an empty list when the word is not a compound of known words.
    """
    return splitter.split(normalise(word).strip())


def iter_terms(
    tokens: Iterable[str],
    *,
    stem_words: bool = True,
    compounds: CompoundSplitter | None = None,
    ngrams: bool = False,
    ngram_size: int = 4,
) -> Iterator[tuple[str, str]]:
    """The analysed terms of tokens with their kind: ``"word"``, ``"part"`` or ``"ngram"``."""
    for token in tokens:
        if token in STOPWORDS or (len(token) < 2 and not token.isdigit()):
            continue
        yield (stem(token) if stem_words else token), "word"
        if not token.isalpha():
            continue
        if compounds is not None:
            for part in compounds.parts(token):
                yield (stem(part) if stem_words else part), "part"
        if ngrams:
            for gram in char_ngrams(token, ngram_size):
                yield NGRAM_PREFIX + gram, "ngram"


def weighted_terms(
    text: str,
    *,
    stem: bool = True,
    compounds: CompoundSplitter | None = None,
    ngrams: bool = False,
    ngram_size: int = 4,
    weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The terms of a question with a weight per term, for scoring against analysed chunks.

    A compound part or an n-gram is weaker evidence than a whole word, so each kind of term
    adds its own weight (by default 1 for words, as given in ``weights`` otherwise).

    Args:
        text: The question.
        stem: As for `analyse`.
        compounds: As for `analyse`.
        ngrams: As for `analyse`.
        ngram_size: As for `analyse`.
        weights: Weight per kind: ``"word"``, ``"part"``, ``"ngram"``.

    Returns:
        Term -> summed weight.
    """
    kind_weights = {"word": 1.0, "part": 1.0, "ngram": 1.0, **(weights or {})}
    result: dict[str, float] = {}
    for term, kind in iter_terms(
        tokenize(text), stem_words=stem, compounds=compounds, ngrams=ngrams, ngram_size=ngram_size
    ):
        result[term] = result.get(term, 0.0) + kind_weights[kind]
    return result


def analyse(
    text: str,
    *,
    stem: bool = True,
    compounds: CompoundSplitter | None = None,
    ngrams: bool = False,
    ngram_size: int = 4,
) -> list[str]:
    """The term stream of a text for BM25; documents and questions go through the same one.

    Tokens minus stopwords, stemmed; for each compound also the stems of its parts; optionally
    character n-grams of each word, prefixed with `NGRAM_PREFIX` so they never meet words.

    Args:
        text: A chunk or a question.
        stem: Whether to reduce words to Snowball stems.
        compounds: A splitter built from the indexed vocabulary, or None to not split.
        ngrams: Whether to add character n-grams.
        ngram_size: The n-gram length.

    Returns:
        The terms in text order, repeated as often as they occur.
    """
    terms = iter_terms(
        tokenize(text), stem_words=stem, compounds=compounds, ngrams=ngrams, ngram_size=ngram_size
    )
    return [term for term, _ in terms]
