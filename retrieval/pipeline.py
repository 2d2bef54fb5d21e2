"""The question-answering chain every entry point uses: rewrite, retrieve, answer, cite."""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.config import Settings
from core.embedders import Embedder, make_embedder
from core.errors import ConfigError, InputError, LLMUnavailable
from core.llms import make_chat_model
from core.store import ChunkStore
from core.types import Answer, Chunk, DocumentMeta, Filters, Passage, Turn
from retrieval.citations import REFUSAL_TEXT, build_extractive_answer
from retrieval.compound import split_compound
from retrieval.definitions import (
    Definition,
    asked_acronym,
    asks_description,
    find_definition,
    meaning_line,
    term_definition,
)
from retrieval.english import load_terms
from retrieval.extractive import (
    ExtractiveAnswerer,
    ScoredSentence,
    Selection,
    Sentence,
    chunk_words,
    has_content,
    mentions,
    names_word,
    proper_nouns,
    question_names,
    with_names_capitalised,
)
from retrieval.followup import rewrite_followup
from retrieval.generate import refusal_answer, rewrite_question, stream_answer
from retrieval.glossary import GlossaryEntry, restrict_glossary
from retrieval.index_sync import load_glossary_for, load_lexical_index
from retrieval.lexical import LexicalIndex
from retrieval.refusal import RefusalModel, ruled_out
from retrieval.search import (
    HybridRetriever,
    PartResult,
    SearchResult,
    fit_context,
    rerank_by_sentences,
    with_parts,
)
from retrieval.sentence_model import PRIOR
from retrieval.sentence_vectors import SentenceVectors
from retrieval.swedish import expand_chat_words

log = logging.getLogger(__name__)

# Control characters that are not white space (C0 but tab, newlines, vertical tab and form
# feed; DEL; C1): no typed or pasted question holds them.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
MODES = ("extractive", "llm")
LLM_UNAVAILABLE_NOTICE = "Språkmodellen svarar inte just nu; här är citat ur underlaget i stället."
_ANALYSIS_CACHE = 50_000  # analysed texts kept (corpus sentences, headings, questions)
_MAX_GROUP_SETS = 64  # distinct access-group sets whose glossary and retriever are kept


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What the page shows about the index."""

    documents: int
    chunks: int
    embedder: str
    ingested_at: str
    generation: str


def clean_question(question: str, max_chars: int) -> str:
    """Check a question and collapse its white space.

    Raises:
        InputError: the question is empty, longer than ``max_chars`` or holds control
            characters.
    """
    text = re.sub(r"\s+", " ", question or "").strip()
    if not text:
        raise InputError("Skriv en fråga först.")
    if len(text) > max_chars:
        raise InputError(
            f"Frågan är för lång ({len(text)} tecken). Korta ner den till högst {max_chars} tecken."
        )
    if _CONTROL.search(text):
        raise InputError(
            "Frågan innehåller osynliga styrtecken. Skriv den eller klistra in den som vanlig text."
        )
    return text


# Thanks and greetings, with nothing asked: "Tack!", "Hej", "Thanks".
_THANKS = re.compile(
    r"^\s*(?:tack(?:\s+så\s+mycket|\s+för\s+hjälpen|\s+ska\s+du\s+ha)?|tackar|stort\s+tack|"
    r"thanks?(?:\s+a\s+lot)?|thank\s+you(?:\s+very\s+much)?)\s*[!.]*\s*$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(?:hej(?:san)?|hallå|god\s+(?:morgon|dag|kväll)|tjena|hi|hello|hey)\s*[!.]*\s*$",
    re.IGNORECASE,
)


def reject_small_talk(question: str) -> None:
    """Answer thanks and greetings with a line that invites a question, not with a search: a
    follow-up "Tack!" would otherwise be joined to the question before it and answered again.

    Raises:
        InputError: the question is only thanks or a greeting.
    """
    if _THANKS.match(question):
        raise InputError("Varsågod! Ställ gärna en ny fråga om dokumenten.")
    if _GREETING.match(question):
        raise InputError("Hej! Ställ en fråga om dokumenten, till exempel ”Vad betyder SIP?”.")


def require_content(standalone: str) -> None:
    """Refuse a question with nothing to search for, even with the conversation before it.

    Raises:
        InputError: the question holds only small words (", och vad", "What and how?").
    """
    if not has_content(standalone):
        raise InputError(
            "Frågan innehåller inga ord att söka på. Skriv vad du vill veta, till exempel "
            "”Vad betyder SIP?”."
        )


def recent_history(
    history: Sequence[Turn], max_turns: int, max_question_chars: int, max_answer_chars: int
) -> list[Turn]:
    """The last ``max_turns`` turns of a conversation, each cut to a bounded length.

    A longer conversation is not an error: only its end is used. A user turn is cut to the
    question limit and an assistant turn to ``max_answer_chars``, so a caller cannot slip an
    over-long text in through the history.
    """
    turns = list(history)[-max_turns:] if max_turns > 0 else []
    limit = {"user": max_question_chars}
    return [replace(t, content=t.content[: limit.get(t.role, max_answer_chars)]) for t in turns]


class Pipeline:
    """Retrieval and answers over one index, built once and shared by the page and the CLI."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: ChunkStore,
        lexical: LexicalIndex,
        chunks: Sequence[Chunk],
        glossary: dict[str, GlossaryEntry],
        refusal: RefusalModel,
        llm: Any = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.glossary = glossary
        self.refusal = refusal
        self.llm = llm
        self._chunks = {c.chunk_id: c for c in chunks}
        self._by_position = {(c.doc_id, c.position): c for c in chunks}
        # Each chunk's words as a question's names are looked for in them (`unknown_names`).
        self._words = {c.chunk_id: chunk_words(c) for c in chunks}
        # The names the documents write (`proper_nouns`), to read a question typed in lower case.
        self._names = proper_nouns(c.text for c in chunks)
        # English -> Swedish words for English questions (retrieval/en_sv_terms.tsv): the
        # lexical search, the answerer and the names of an English question use them.
        self._english_terms = load_terms() if settings.use_english_terms else None
        self.retriever = self._make_retriever(glossary)
        # Per set of access groups: the glossary they may see and a retriever expanding with it.
        self._by_groups: dict[frozenset[str], tuple[dict[str, GlossaryEntry], HybridRetriever]] = {}
        self._groups_lock = threading.Lock()
        self.sentence_vectors = SentenceVectors(settings.sentence_vectors_path, embedder)
        df: Counter[str] = Counter()
        for chunk in chunks:
            df.update(set(lexical.query_terms(chunk.embed_text)))
        n = max(1, len(chunks))
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._idf_unknown = math.log(1 + (n + 0.5) / 0.5)
        # The answerer analyses the same corpus sentences question after question: remember them.
        analyse = functools.lru_cache(maxsize=_ANALYSIS_CACHE)(
            lambda text: tuple(lexical.query_terms(text))
        )
        self.answerer = ExtractiveAnswerer(
            lambda text: list(analyse(text)),
            lambda term: self._idf.get(term, self._idf_unknown),
            embed_sentences=self.sentence_vectors.vectors_for,
            heading_weight=settings.sentence_heading_weight,
            english_terms=self._english_terms,
            model=None if settings.fitted_sentence_model else PRIOR,
            with_asked_fact=settings.answer_with_asked_fact,
            whole_lists=settings.answer_whole_lists,
        )

    @classmethod
    def from_settings(cls, settings: Settings, llm: Any = None) -> Pipeline:
        """Open the index the settings point at.

        Args:
            settings: Where the index is and how to answer.
            llm: A LangChain chat model for the "llm" mode; by default the one the settings
                configure (``core.llms.make_chat_model``), or none.

        Raises:
            ConfigError: the configured language model is unknown or incomplete.
            IndexMissingError: nothing has been ingested yet.
            IndexMismatchError: the index was built with another embedder.
            IndexUnavailableError: the Chroma server cannot be reached.
        """
        embedder = make_embedder(settings.embedder, settings.embedder_model)
        store = ChunkStore.from_settings(settings, embedder.id)
        store.metadata()  # raises IndexMissingError / IndexMismatchError early
        lexical, chunks = load_lexical_index(settings, store)
        glossary = load_glossary_for(settings, chunks)
        if llm is None:
            llm = make_chat_model(settings)
        return cls(settings, embedder, store, lexical, chunks, glossary, RefusalModel.load(), llm)

    # -- information for the page ---------------------------------------------------------
    def status(self) -> IndexStatus:
        """Documents, chunks, embedder and last ingest of the index."""
        meta = self.store.metadata()
        return IndexStatus(
            documents=len({c.doc_id for c in self._chunks.values()}),
            chunks=len(self._chunks),
            embedder=str(meta.get("embedder", self.embedder.id)),
            ingested_at=str(meta.get("ingested_at", "")),
            generation=str(meta.get("generation", "")),
        )

    def documents(self, groups: Sequence[str] = ()) -> list[DocumentMeta]:
        """One entry per indexed document the groups may see, in title order."""
        seen: dict[str, DocumentMeta] = {}
        for chunk in self._chunks.values():
            if groups and not set(groups) & set(chunk.groups):
                continue
            if chunk.doc_id not in seen:
                seen[chunk.doc_id] = DocumentMeta(
                    doc_id=chunk.doc_id,
                    source="",
                    title=chunk.title,
                    publisher=chunk.publisher,
                    date=chunk.date,
                    doc_type=chunk.doc_type,
                    groups=chunk.groups,
                )
        return sorted(seen.values(), key=lambda d: d.title)

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A chunk by id."""
        return self._chunks.get(chunk_id)

    def glossary_for(self, groups: Sequence[str] = ()) -> dict[str, GlossaryEntry]:
        """The glossary for users of these access groups: the acronyms their documents define
        and the curated ones, none drawn from a document outside their groups.

        Question expansion uses the same glossary, so a search never carries words from a
        document the user may not read. No groups means no restriction.
        """
        return self._for_groups(groups)[0]

    def _for_groups(
        self, groups: Sequence[str]
    ) -> tuple[dict[str, GlossaryEntry], HybridRetriever]:
        if not groups:
            return self.glossary, self.retriever
        key = frozenset(groups)
        with self._groups_lock:
            found = self._by_groups.get(key)
        if found is not None:
            return found
        visible: dict[str, list[str]] = {}
        hidden: dict[str, list[str]] = {}
        readable: list[Chunk] = []
        for chunk in self._chunks.values():
            side = visible if key & set(chunk.groups) else hidden
            if side is visible:
                readable.append(chunk)
            for name in (chunk.doc_id, chunk.title):
                side.setdefault(name, []).append(chunk.text)
        if hidden:
            glossary = restrict_glossary(
                load_glossary_for(self.settings, readable),
                {name: "\n".join(texts) for name, texts in visible.items()},
                {name: "\n".join(texts) for name, texts in hidden.items()},
            )
            found = glossary, self._make_retriever(glossary)
        else:
            found = self.glossary, self.retriever
        with self._groups_lock:
            if len(self._by_groups) >= _MAX_GROUP_SETS:
                self._by_groups.clear()
            return self._by_groups.setdefault(key, found)

    def _make_retriever(self, glossary: dict[str, GlossaryEntry]) -> HybridRetriever:
        settings = self.settings
        return HybridRetriever(
            self.store,
            self.embedder,
            self.lexical,
            self._chunks,
            glossary,
            dense_k=settings.dense_k,
            lexical_k=settings.lexical_k,
            rrf_k=settings.rrf_k,
            use_dense=settings.use_dense,
            use_lexical=settings.use_lexical,
            use_glossary=settings.use_glossary,
            dense_weight=settings.dense_weight,
            dense_weight_english=settings.dense_weight_english,
            english_terms=self._english_terms,
        )

    def _retriever_for(self, filters: Filters | None) -> HybridRetriever:
        return self._for_groups(filters.groups if filters else ())[1]

    def _recent(self, history: Sequence[Turn]) -> list[Turn]:
        settings = self.settings
        return recent_history(
            history, settings.max_history_turns, settings.max_question_chars, settings.context_chars
        )

    # -- answering ------------------------------------------------------------------------
    def _read(self, question: str, filters: Filters | None) -> tuple[str, str]:
        """A question as typed (checked, its white space collapsed: `clean_question`) and as
        read (`_as_read`), for `ask` and the "llm" mode.

        Raises:
            InputError: the question is empty, too long, or only thanks or a greeting.
        """
        typed = clean_question(question, self.settings.max_question_chars)
        reject_small_talk(typed)
        return typed, self._as_read(typed, filters)

    def _as_read(self, question: str, filters: Filters | None = None) -> str:
        """The question with the short forms of chat Swedish written out (`expand_chat_words`:
        "hur mkt") and the names of the documents the filters allow capitalised where it
        writes them in lower case (`with_names_capitalised`): "hur mkt får mora kommun?" is read
        as "hur mycket får Mora kommun?"."""
        allowed = self._retriever_for(filters).allowed_chunk_ids(filters)
        words = None if allowed is None else self._allowed_words(allowed)

        def is_name(word: str) -> bool:
            if word not in self._names:
                return False
            return words is None or any(names_word(word, w) for w in words)

        return with_names_capitalised(expand_chat_words(question), is_name)

    def standalone(self, question: str, history: Sequence[Turn] = ()) -> str:
        """The question made standalone from the conversation (deterministic rule)."""
        return rewrite_followup(question, history)

    def retrieve(self, question: str, filters: Filters | None = None) -> list[Passage]:
        """Ranked candidate passages of the search, before the context budget and before the
        re-ranking by best sentence that `context` applies."""
        return self._retriever_for(filters).search(question, self.settings.top_k, filters).passages

    def context(
        self, question: str, filters: Filters | None = None
    ) -> tuple[list[Passage], SearchResult]:
        """The passages handed to the answerer and the raw search result."""
        retriever = self._retriever_for(filters)
        result = retriever.search(question, self.settings.top_k, filters)
        parts = split_compound(question) if self.settings.split_compound_questions else []
        if parts:
            searched = [
                PartResult(part, retriever.search(part, self.settings.top_k, filters))
                for part in parts
            ]
            result = with_parts(
                result, searched, self.settings.top_k, self.settings.rrf_k, question
            )
        if self.settings.rerank_by_sentences:
            best = self.answerer.passage_scores(question, result.passages, result.query_vector)
            result = rerank_by_sentences(result, best, self.settings.sentence_rerank_k, question)
        allowed = retriever.allowed_chunk_ids(filters)
        unknown = self.unknown_names(question, allowed, filters.groups if filters else ())
        result = replace(result, unknown_names=unknown, named=self.named(question, allowed))
        passages = fit_context(
            result.passages,
            self.settings.context_chars,
            self._by_position if self.settings.use_neighbours else None,
            allowed,
        )
        return passages, result

    def unknown_names(
        self, question: str, allowed: set[str] | None = None, groups: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """The names of a question (`question_names`, an English question's with the English
        term list) that no chunk the filters allow mentions and that are not acronyms of the
        glossary the groups see (a curated acronym is searched by its expansion): "Vem vann
        Allsvenskan 2023?" -> ("allsvenskan",)."""
        glossary = self.glossary_for(groups)
        acronyms = {a.lower() for e in glossary.values() for a in (e.acronym, *e.aliases)}
        names = [n for n in question_names(question, self._english_terms) if n not in acronyms]
        if not names:
            return ()
        words = self._allowed_words(allowed)
        return tuple(n for n in names if not any(mentions(n, w) for w in words))

    def named(self, question: str, allowed: set[str] | None = None) -> tuple[str, ...]:
        """The names of a question (`question_names`, an English question's with the English
        term list) that a chunk the filters allow has as a word (`names_word`): "Hur mycket får
        Mora kommun?" -> ("mora",); "How much of that goes to Falun?" -> ("falun",)."""
        words = self._allowed_words(allowed)
        names = question_names(question, self._english_terms)
        return tuple(n for n in names if any(names_word(n, w) for w in words))

    def _allowed_words(self, allowed: set[str] | None) -> list[str]:
        """The words (`chunk_words`) of the chunks the filters allow; all when ``allowed`` is
        None."""
        return [w for cid, w in self._words.items() if allowed is None or cid in allowed]

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer a question with citations, or refuse when the documents do not say.

        Args:
            question: The question as typed.
            history: Earlier turns of the conversation, oldest first.
            filters: Documents, types, years and access groups allowed.
            mode: "extractive" or "llm"; by default the settings' ``answer_mode``. Without a
                language model, or when it fails, "llm" gives the extractive answer with a notice.

        Raises:
            InputError: the question is empty, too long or holds nothing to search for.
            ConfigError: the mode is unknown.
        """
        if self._mode(mode) == "llm":
            final = None
            for item in self._stream_llm(question, history, filters):
                if isinstance(item, Answer):
                    final = item
            assert final is not None
            return final
        started = time.perf_counter()
        typed, question = self._read(question, filters)
        history = self._recent(history)
        standalone = self._as_read(self.standalone(question, history), filters)
        require_content(standalone)
        t0 = time.perf_counter()
        passages, result = self.context(standalone, filters)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        answer = self._extractive(question, standalone, passages, result, filters)
        answer_ms = (time.perf_counter() - t0) * 1000
        self._save_sentence_vectors()
        timings = {
            **result.timings,
            "retrieve_ms": retrieve_ms,
            "answer_ms": answer_ms,
            "total_ms": (time.perf_counter() - started) * 1000,
        }
        # The answer keeps the question as typed; `standalone_question` is how it was read.
        return replace(answer, question=typed, timings=timings)

    def _save_sentence_vectors(self) -> None:
        # Sentences embedded on the fly (e.g. after a re-ingest from the page) are kept.
        try:
            self.sentence_vectors.save()
        except OSError as exc:
            log.warning("Could not save sentence vectors: %s", exc)

    def _extractive(
        self,
        question: str,
        standalone: str,
        passages: list[Passage],
        result: SearchResult,
        filters: Filters | None = None,
    ) -> Answer:
        selection = self._select(question, standalone, passages, result)
        if result.parts and selection.sentences:
            selection = self._with_part_answers(selection, passages, result.parts)
        refused = not selection.sentences or self.refusal.refuses(selection.features)
        entry = asked_acronym(standalone, self.glossary_for(filters.groups if filters else ()))
        if entry is not None:
            return self._meaning_answer(
                question, standalone, passages, selection if not refused else None, entry, filters
            )
        # A term the documents define is answered by its definition, never refused.
        term = term_definition(standalone, passages, self._allowed_chunks(filters))
        if term is not None:
            chosen, passages = _definition_first(term, selection if not refused else None, passages)
            return build_extractive_answer(
                question, standalone, Selection(chosen, selection.features), passages
            )
        if refused:
            return Answer(
                question=question,
                text=REFUSAL_TEXT,
                citations=(),
                refused=True,
                mode="extractive",
                passages=tuple(passages),
                standalone_question=standalone,
            )
        return build_extractive_answer(question, standalone, selection, passages)

    def _allowed_chunks(self, filters: Filters | None) -> Iterator[Chunk]:
        """The chunks the asker may read, in index order; the filter is read at the first one
        asked for (most answers never look past the context)."""
        allowed = self._retriever_for(filters).allowed_chunk_ids(filters)
        yield from (c for c in self._chunks.values() if allowed is None or c.chunk_id in allowed)

    def _meaning_answer(
        self,
        question: str,
        standalone: str,
        passages: list[Passage],
        selection: Selection | None,
        entry: GlossaryEntry,
        filters: Filters | None,
    ) -> Answer:
        """The answer to "Vad betyder LVU?": what the acronym stands for, cited by the sentence
        that defines it (found in the context, else in the other chunks the asker may read,
        whose passage then joins the context), then the sentences chosen for the question
        (none when the answerer would refuse, and none after a defining sentence when only
        the meaning of the letters is asked: "Vad betyder LVU?"). Never a refusal: the glossary
        knows the acronym, and without a defining sentence the answer says it comes from the
        glossary (`retrieval.definitions`)."""
        definition = find_definition(entry, passages, self._allowed_chunks(filters))
        chosen = list(selection.sentences) if selection else []
        source = None
        if definition is not None:
            more = selection if asks_description(standalone) else None
            chosen, passages = _definition_first(definition, more, passages)
            source = definition.sentence.passage.chunk.chunk_id
        return build_extractive_answer(
            question,
            standalone,
            Selection(chosen, selection.features if selection else {}),
            passages,
            opening=meaning_line(standalone, entry, cited=source is not None),
            opening_source=source,
        )

    def _with_part_answers(
        self, selection: Selection, passages: list[Passage], parts: Sequence[PartResult]
    ) -> Selection:
        """Add each part's answer to the whole question's: the first three sentences the
        answerer chooses for the part (`ExtractiveAnswerer.select`) that are not chosen yet."""
        chosen = list(selection.sentences)
        seen = {s.sentence.text for s in chosen}
        for part in parts:
            found = self.answerer.select(
                part.question,
                passages,
                dense_scores=part.result.dense,
                query_vector=part.result.query_vector,
            ).sentences
            for scored in [f for f in found if f.sentence.text not in seen][:3]:
                chosen.append(scored)
                seen.add(scored.sentence.text)
        return Selection(chosen, selection.features)

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as they are ready, then the final Answer.

        The final Answer is authoritative: in "llm" mode its text may differ from the pieces
        (verification removes bad markers; a failed model gives the extractive answer).
        """
        if self._mode(mode) == "llm":
            yield from self._stream_llm(question, history, filters)
            return
        answer = self.ask(question, history, filters, "extractive")
        yield answer.text
        yield answer

    def _mode(self, mode: str | None) -> str:
        chosen = mode or self.settings.answer_mode
        if chosen not in MODES:
            raise ConfigError(f"Okänt svarsläge {chosen!r}; giltiga är: {', '.join(MODES)}.")
        return chosen

    def _stream_llm(
        self, question: str, history: Sequence[Turn], filters: Filters | None
    ) -> Iterator[str | Answer]:
        """The "llm" mode: LLM rewrite, retrieval, generation and verification, with fallback."""
        started = time.perf_counter()
        typed, question = self._read(question, filters)
        history = self._recent(history)
        llm_up = self.llm is not None
        rule = self._as_read(rewrite_followup(question, history), filters)
        require_content(rule)
        rewritten: str | None = None
        t0 = time.perf_counter()
        if llm_up and rule != question:
            try:
                rewritten = rewrite_question(self.llm, question, history)
            except LLMUnavailable as exc:
                log.warning("language model unavailable for the rewrite: %s", exc)
                llm_up = False
        standalone = rewritten or rule
        rewrite_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        passages, result = self.context(standalone, filters)
        timings = {**result.timings, "rewrite_ms": rewrite_ms}
        timings["retrieve_ms"] = (time.perf_counter() - t0) * 1000

        def extractive() -> Answer:
            answer = self._extractive(question, standalone, passages, result, filters)
            self._save_sentence_vectors()
            return answer

        t0 = time.perf_counter()
        answer: Answer | None = None
        if llm_up and self._ruled_out(question, standalone, passages, result):
            # The passages report other years, or other regions and names; the model would
            # answer with their figures.
            answer = refusal_answer(question, passages, standalone)
            timings["first_token_ms"] = (time.perf_counter() - started) * 1000
            yield answer.text
        elif llm_up:
            # The model reads its own rewrite; the rule's joined text would confuse it, so a
            # follow-up the model could not rewrite is shown with the earlier question.
            earlier = ""
            if rewritten is None and rule != question:
                earlier = next((t.content for t in reversed(history) if t.role == "user"), "")
            try:
                for item in stream_answer(
                    self.llm,
                    question,
                    passages,
                    extractive=extractive,
                    prompt_question=rewritten or question,
                    earlier=earlier,
                    standalone=standalone,
                ):
                    if isinstance(item, Answer):
                        answer = item
                        continue
                    timings.setdefault("first_token_ms", (time.perf_counter() - started) * 1000)
                    yield item
            except LLMUnavailable as exc:
                log.warning("language model unavailable: %s", exc)
                answer = None
        if answer is None:
            answer = replace(extractive(), notice=LLM_UNAVAILABLE_NOTICE)
            timings.setdefault("first_token_ms", (time.perf_counter() - started) * 1000)
            yield answer.text
        timings["answer_ms"] = (time.perf_counter() - t0) * 1000
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        yield replace(answer, question=typed, timings=timings)

    def _ruled_out(
        self, question: str, standalone: str, passages: list[Passage], result: SearchResult
    ) -> bool:
        """Whether a refusal rule of the extractive mode holds (`retrieval.refusal.RULES`: a
        year the best passages do not name, a name no document mentions), for the generative
        mode."""
        return ruled_out(self._select(question, standalone, passages, result).features)

    def refusal_features(
        self, question: str, history: Sequence[Turn] = (), filters: Filters | None = None
    ) -> dict[str, float]:
        """The refusal model's inputs for a question, read as `ask` reads it (for calibration):
        made standalone from the conversation, its own words weighing most."""
        question = self._as_read(
            clean_question(question, self.settings.max_question_chars), filters
        )
        standalone = self._as_read(self.standalone(question, self._recent(history)), filters)
        passages, result = self.context(standalone, filters)
        return self._select(question, standalone, passages, result).features

    def sentence_candidates(
        self, question: str, history: Sequence[Turn] = ()
    ) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences of the context `ask` would hand to the answerer, with their
        sentence-model features (for calibration)."""
        question = self._as_read(clean_question(question, self.settings.max_question_chars))
        standalone = self._as_read(self.standalone(question, self._recent(history)))
        passages, result = self.context(standalone)
        return self.answerer.candidate_features(
            standalone,
            passages,
            focus=question if standalone != question else None,
            query_vector=result.query_vector,
        )

    def _select(
        self, question: str, standalone: str, passages: list[Passage], result: SearchResult
    ) -> Selection:
        """The answerer's sentences and features for a question as typed and made standalone:
        the typed words weigh most when the two differ."""
        return self.answerer.select(
            standalone,
            passages,
            focus=question if standalone != question else None,
            dense_scores=result.dense,
            query_vector=result.query_vector,
            unknown_names=result.unknown_names,
            named=result.named,
            spelled_out=result.spelled_out,
        )


def _definition_first(
    definition: Definition, selection: Selection | None, passages: list[Passage]
) -> tuple[list[ScoredSentence], list[Passage]]:
    """An answer's sentences with a defining sentence first, then ``selection``'s others (none
    without one), and its context with the definition's passage when the search left it out."""
    chosen = list(selection.sentences) if selection else []
    found = definition.sentence
    best = chosen[0].score if chosen else 0.0
    sentences = [
        ScoredSentence(found, best, 1.0),
        *(c for c in chosen if c.sentence.text != found.text),
    ]
    return sentences, passages if definition.in_context else [*passages, found.passage]
