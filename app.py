"""Underlag's web page: a chat with cited sources, an onboarding view and the evaluation scores.

Streamlit only: builds Settings, caches the Pipeline and renders Answers. Every user-facing text
is Swedish, and document text is always shown as text (escaped Markdown), never as HTML.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from core.auth import User, resolve_user
from core.config import Settings
from core.errors import (
    IndexMismatchError,
    IndexMissingError,
    IndexUnavailableError,
    IngestLockedError,
    InputError,
    LLMUnavailable,
    UnderlagError,
)
from core.feedback import RATING_DOWN, RATING_UP, FeedbackStore
from core.types import Answer, Citation, DocumentMeta, Filters, Turn

log = logging.getLogger("underlag.app")

TITLE = "Underlag"
SUBTITLE = "Frågor och svar om organisationens dokument – varje svar visar var det står."
VIEWS = ("Chatt", "Kom igång", "Utvärdering")
MODES = {"Citat": "extractive", "AI-sammanfattat svar": "llm"}
SEARCHING = "Söker i underlaget …"
UNVERIFIED_MARK = "⚠ ej verifierad"
CHAT_PLACEHOLDER = "Skriv din fråga om dokumenten …"
MAX_MESSAGES = 200  # older messages are dropped from the page; the pipeline sees fewer anyway
MAX_SUGGESTIONS = 8
MAX_COMMENT_CHARS = 1000
RATE_WINDOW_S = 60.0

# Questions a new employee might ask, each with a fact its answer must hold (checked by reading
# the documents). The page shows only those the pipeline answers with that fact right now.
SUGGESTED_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("Vem leder arbetsgruppen för MiniMaria i Dalarna?", "Carina Wadås"),
    ("Vad står SiS för?", "Statens institutionsstyrelse"),
    ("Vilket system används för att rapportera avvikelser i Dalarna?", "Synergi"),
    (
        "Hur mycket pengar får Västra Götaland 2024 för samverkan kring personer med "
        "samsjuklighet?",
        "29 276 915",
    ),
    (
        "Vem är projektledare för regeringsuppdraget om integrerad vård vid SiS?",
        "Pär Alexandersson",
    ),
    ("Vilka regioner fick statsbidrag till pilotprojektet om integrerad vård?", "Skåne"),
    (
        "Från vilket datum gäller Dalarnas nya rutin för hälsoundersökning av placerade barn?",
        "1 juli 2024",
    ),
    (
        "Hur mycket länsgemensamma medel hade Dalarna inom överenskommelsen om psykisk hälsa 2024?",
        "21 724 099",
    ),
    ("Hur många förslag lägger Narkotikautredningen fram?", "64"),
    ("Vad kostar fjärråtkomsten till Cosmic Link för kommunerna?", "363 280"),
    ("Vem är uppdragsledare för Cosmic Link?", "Robin Ström"),
    (
        "Vilken tidsperiod gäller den nationella strategin för psykisk hälsa och suicidprevention?",
        "2025-2035",
    ),
    ("Vem håller i föreläsningen om de nya SIP-mallarna?", "Amanda Jones"),
    ("När ska regionerna redovisa hur statsbidraget har använts?", "1 mars"),
    (
        "Hur delas medlen för handlingsplanen psykisk hälsa upp mellan länsnivå och delregional "
        "nivå?",
        "1 600 000",
    ),
)

# Settings that do not change what the pipeline is (users, feedback, limits).
_NOT_FOR_PIPELINE = frozenset(
    {
        "auth_header",
        "groups_header",
        "dev_user",
        "dev_groups",
        "feedback_retention_days",
        "requests_per_minute",
        "llm_api_key",
    }
)

# --- text as text -----------------------------------------------------------------------------

# Every character Markdown (and Streamlit's directives, LaTeX and emoji) could give meaning to.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:=^\"'@%])")
_HIGHLIGHT_START = "\x02"
_HIGHLIGHT_END = "\x03"
_QUOTE_SEPARATOR = " … "


# Markdown turns some plain words into links or icons after parsing, so escaping cannot stop it:
# e-mail addresses, www. and scheme: addresses, and :shortcodes:. An invisible word joiner
# (U+2060) after the trigger keeps them text.
_WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGERS = re.compile(
    r"@|(?i:\bwww)(?=\.)|(?i:\b(?:https?|ftp|mailto|xmpp))(?=:)|:(?=[^\W\d_])"
)


def _defuse(text: str) -> str:
    return _AUTOLINK_TRIGGERS.sub(lambda m: m.group(0) + _WORD_JOINER, text)


def escape_md(text: str) -> str:
    """One line of text as Markdown that renders exactly as the text: no markup, no HTML,
    no links or icons made from it."""
    text = text.replace(_HIGHLIGHT_START, "").replace(_HIGHLIGHT_END, "")
    return _MD_SPECIAL.sub(r"\\\1", _defuse(" ".join(text.split())))


def text_md(text: str) -> str:
    """Multi-line text as Markdown that renders as the text: lines kept, paragraphs kept,
    table cells separated by a bar, nothing interpreted."""
    paragraphs: list[str] = []
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.replace("\t", " | ").strip()
        if not line:
            if lines:
                paragraphs.append("  \n".join(lines))
                lines = []
            continue
        lines.append(_MD_SPECIAL.sub(r"\\\1", _defuse(" ".join(line.split()))))
    if lines:
        paragraphs.append("  \n".join(lines))
    return "\n\n".join(paragraphs)


def quote_spans(text: str, quote: str) -> tuple[list[tuple[int, int]], list[str]]:
    """Where the quoted sentences of a citation stand in a passage.

    Returns:
        The (start, end) spans found, in text order, and the sentences not found.
    """
    spans: list[tuple[int, int]] = []
    missing: list[str] = []
    for sentence in (s.strip() for s in quote.split(_QUOTE_SEPARATOR)):
        words = sentence.split()
        if not words:
            continue
        pattern = r"\s+".join(re.escape(w) for w in words)
        found = re.search(pattern, text)
        if found is None:
            missing.append(sentence)
        elif not any(s < found.end() and found.start() < e for s, e in spans):
            spans.append((found.start(), found.end()))
    return sorted(spans), missing


def highlight_md(text: str, quote: str) -> tuple[str, list[str]]:
    """A passage as escaped Markdown with its quoted sentences in bold.

    Returns:
        The Markdown, and the quoted sentences that could not be found in the passage.
    """
    spans, missing = quote_spans(text, quote)
    marked: list[str] = []
    pos = 0
    for start, end in spans:
        marked.append(text[pos:start])
        marked.append(_HIGHLIGHT_START + " ".join(text[start:end].split()) + _HIGHLIGHT_END)
        pos = end
    marked.append(text[pos:])
    rendered = text_md("".join(marked))
    return rendered.replace(_HIGHLIGHT_START, "**").replace(_HIGHLIGHT_END, "**"), missing


def answer_md(answer: Answer) -> str:
    """The answer text as Markdown: the answerer's list items as bullets, everything else as
    text with its lines and paragraphs kept (a numbered list's lines one under the other), and
    each unverified sentence followed by a visible marker."""
    text = answer.text
    for sentence in answer.unverified:
        if sentence and sentence in text:
            text = text.replace(sentence, f"{sentence} ({UNVERIFIED_MARK})", 1)
    out = ""
    previous = ""  # "item" or "text": the kind of the line before
    blank = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            blank = True
            continue
        kind = "item" if line.startswith("- ") else "text"
        md = "- " + escape_md(line[2:]) if kind == "item" else escape_md(line)
        if not out:
            out = md
        elif blank or kind != previous:
            out += "\n\n" + md  # a new paragraph, or a list begins or ends
        else:
            out += ("\n" if kind == "item" else "  \n") + md  # next item, or a line break
        previous, blank = kind, False
    return out


def normalised(text: str) -> str:
    """Lower case without white space, for checking that an answer holds a fact."""
    return "".join(text.lower().split())


# --- settings, user, pipeline -----------------------------------------------------------------


def pipeline_key(settings: Settings) -> str:
    """The cache key of a pipeline: every setting that changes what the pipeline is."""
    values = settings.model_dump(mode="json", exclude=set(_NOT_FOR_PIPELINE))
    secret = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    values["llm_api_key_hash"] = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return json.dumps(values, sort_keys=True, default=str)


@st.cache_resource(show_spinner=False, max_entries=3)
def load_pipeline(_settings: Settings, key: str) -> Any:
    """The pipeline over the index the settings point at; ``key`` only keys the cache."""
    from retrieval.pipeline import Pipeline

    return Pipeline.from_settings(_settings)


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: no login configured
        return False


def current_user(settings: Settings) -> User | None:
    """The signed-in user (OIDC or proxy header) or the development user."""
    configured = _oidc_configured()
    claims: dict[str, Any] | None = None
    if configured:
        claims = dict(st.user.to_dict()) if hasattr(st.user, "to_dict") else dict(st.user)
    try:
        headers: Mapping[str, str] = dict(st.context.headers)
    except Exception:  # no request (bare mode)
        headers = {}
    return resolve_user(settings, oidc_configured=configured, oidc_user=claims, headers=headers)


# --- ingest -----------------------------------------------------------------------------------


def request_ingest() -> None:
    """Button callback: ingest at the start of the next run, before the pipeline is loaded."""
    st.session_state["ingest_requested"] = True


def run_page_ingest(settings: Settings) -> None:
    """Ingest the corpus as `underlag ingest` does, then forget the cached pipeline."""
    from core.embedders import make_embedder
    from core.store import ChunkStore
    from ingest.index import run_ingest
    from retrieval.index_sync import refresh_search_indexes

    with st.spinner("Läser in dokumenten … det kan ta några minuter."):
        try:
            embedder = make_embedder(settings.embedder, settings.embedder_model)
            store = ChunkStore.from_settings(settings, embedder.id)
            report = run_ingest(settings, embedder, store)
            refresh_search_indexes(settings, store, embedder)
        except IngestLockedError:
            st.warning(
                "En annan inläsning pågår redan. Vänta tills den är klar och ladda om sidan."
            )
            return
        except UnderlagError as exc:
            log.warning("ingest from the page failed: %s", exc)
            st.error(f"Inläsningen misslyckades: {exc}")
            return
        except Exception:
            log.exception("ingest from the page failed")
            st.error("Inläsningen misslyckades av ett oväntat skäl. Se loggen för detaljer.")
            return
        finally:
            load_pipeline.clear()
            verified_suggestions.clear()
    failed = f" Misslyckades: {', '.join(n for n, _ in report.failed)}." if report.failed else ""
    st.session_state["ingest_message"] = report.summary() + "." + failed


# --- chat -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One entry of the conversation: a question, an answer, or a message instead of one."""

    id: str
    role: str  # "user" | "assistant"
    text: str = ""
    answer: Answer | None = None
    question: str = ""
    notice_kind: str = ""  # "warning" | "error" for messages that are not answers


def _messages() -> list[Message]:
    messages: list[Message] = st.session_state.setdefault("messages", [])
    return messages


def history_turns(messages: Sequence[Message]) -> list[Turn]:
    """The conversation as Turns for the pipeline: each answered question and its answer
    (a question that got a message instead, such as "too long", is left out)."""
    turns: list[Turn] = []
    for message in messages:
        if message.answer is not None:
            turns += [Turn("user", message.question), Turn("assistant", message.answer.text)]
    return turns


def clear_conversation() -> None:
    """Button callback: forget the conversation and its feedback state."""
    st.session_state["messages"] = []
    st.session_state["feedback_done"] = {}


def within_rate_limit(limit: int) -> bool:
    """Count a question against the per-session limit per minute; False when over it."""
    now = time.monotonic()
    recent = [t for t in st.session_state.get("asked_at", []) if now - t < RATE_WINDOW_S]
    if limit > 0 and len(recent) >= limit:
        st.session_state["asked_at"] = recent
        return False
    st.session_state["asked_at"] = [*recent, now]
    return True


def answer_question(
    pipeline: Any, question: str, history: Sequence[Turn], filters: Filters, mode: str
) -> Answer:
    """Ask the pipeline, showing the spinner while it searches and streaming generative text."""
    if mode != "llm":
        with st.spinner(SEARCHING):
            answer: Answer = pipeline.ask(question, history=history, filters=filters, mode=mode)
        return answer
    placeholder = st.empty()
    pieces: Iterator[str | Answer] = pipeline.stream(
        question, history=history, filters=filters, mode=mode
    )
    with st.spinner(SEARCHING):
        first = next(pieces, None)
    shown = ""
    final: Answer | None = None
    for piece in itertools.chain([] if first is None else [first], pieces):
        if isinstance(piece, Answer):
            final = piece
        else:
            shown += piece
            placeholder.markdown(text_md(shown) + " ▌")
    placeholder.empty()
    if final is None:
        raise RuntimeError("the pipeline's stream ended without an Answer")
    return final


def handle_question(
    pipeline: Any, settings: Settings, question: str, filters: Filters, mode: str
) -> None:
    """Answer one question inside the chat, turning every failure into a Swedish message."""
    messages = _messages()
    history = history_turns(messages)
    shown = question
    if len(shown) > settings.max_question_chars:
        shown = shown[: settings.max_question_chars] + " … (förkortad här)"
    messages.append(Message(id=uuid.uuid4().hex, role="user", text=shown))
    with st.chat_message("user"):
        st.markdown(text_md(shown))
    with st.chat_message("assistant"):
        message = _answer_or_notice(pipeline, settings, question, history, filters, mode)
        render_message(message, pipeline, settings)
    messages.append(message)
    del messages[:-MAX_MESSAGES]


def _answer_or_notice(
    pipeline: Any,
    settings: Settings,
    question: str,
    history: Sequence[Turn],
    filters: Filters,
    mode: str,
) -> Message:
    msg_id = uuid.uuid4().hex

    def notice(text: str, kind: str = "warning") -> Message:
        asked = question[: settings.max_question_chars]
        return Message(id=msg_id, role="assistant", text=text, question=asked, notice_kind=kind)

    if not within_rate_limit(settings.requests_per_minute):
        return notice(
            f"Du har ställt många frågor på kort tid (högst {settings.requests_per_minute} i "
            "minuten). Vänta en stund och försök sedan igen."
        )
    try:
        answer = answer_question(pipeline, question, history, filters, mode)
    except InputError as exc:
        return notice(str(exc))
    except IndexUnavailableError:
        return notice(
            "Sökindexet går inte att nå just nu (Chroma-servern svarar inte). Försök igen om en "
            "stund; kontakta den som förvaltar Underlag om felet består.",
            "error",
        )
    except IndexMissingError:
        return notice(
            "Sökindexet saknas. Läs in dokumenten med knappen i sidofältet eller kommandot "
            "`underlag ingest`.",
            "error",
        )
    except LLMUnavailable:
        return notice(
            "Språkmodellen svarar inte just nu. Välj svarsläget Citat och försök igen.", "error"
        )
    except Exception:
        log.exception("answering a question failed")
        return notice(
            "Något gick fel när frågan skulle besvaras. Försök igen, eller formulera om frågan.",
            "error",
        )
    return Message(id=msg_id, role="assistant", answer=answer, question=question)


def render_message(message: Message, pipeline: Any, settings: Settings) -> None:
    """Draw one assistant message: an answer with its sources and feedback, or a notice."""
    if message.answer is None:
        (st.error if message.notice_kind == "error" else st.warning)(message.text)
        return
    answer = message.answer
    if answer.notice:
        st.info(answer.notice)
    if answer.standalone_question and answer.standalone_question != answer.question:
        # How a follow-up, or a question in chat Swedish or lower case, was read and searched.
        st.caption("Sökt som: " + escape_md(answer.standalone_question))
    st.markdown(answer_md(answer))
    missing = [s for s in answer.unverified if s and s not in answer.text]
    if answer.unverified:
        st.markdown(
            f"**{UNVERIFIED_MARK}**: meningen kunde inte beläggas i källorna. Kontrollera den "
            "i dokumentet innan du använder den."
        )
        for sentence in missing:
            st.markdown(f"- {escape_md(sentence)} ({UNVERIFIED_MARK})")
    if answer.refused:
        st.markdown(
            "Prova att formulera om frågan, ta bort en avgränsning i sidofältet, eller se "
            "exempel på frågor under *Kom igång*."
        )
    if answer.citations:
        render_sources(answer.citations, pipeline, message.id)
    render_feedback(message, settings)


def render_sources(citations: Sequence[Citation], pipeline: Any, msg_id: str) -> None:
    """Each source under an answer: number, title, publisher, date and place, with the passage
    and the quoted sentence highlighted in an expander."""
    with st.container(border=True):
        st.markdown("**Källor**")
        for citation in citations:
            details = [citation.publisher, citation.date, citation.locator]
            line = " · ".join(escape_md(d) for d in details if d)
            st.markdown(
                f"**\\[{citation.n}\\] {escape_md(citation.title)}**"
                + (f"  \n{line}" if line else "")
            )
            with st.expander(f"Visa textavsnittet för källa {citation.n}"):
                chunk = pipeline.chunk(citation.chunk_id) if pipeline is not None else None
                passage = chunk.text if chunk is not None else citation.quote
                rendered, missing = highlight_md(passage, citation.quote)
                st.markdown("Det citerade står i **fetstil**.")
                if missing:
                    st.markdown("**Citerat:** " + escape_md(_QUOTE_SEPARATOR.join(missing)))
                st.markdown(rendered)


def submit_feedback(message: Message, settings: Settings, rating: int) -> None:
    """Form callback: store the rating and the comment before the page is drawn again."""
    if message.answer is None:
        return
    answer = message.answer
    try:
        FeedbackStore(settings.feedback_db, settings.feedback_retention_days).add(
            question=message.question,
            answer=answer.text,
            citations=answer.citations,
            rating=rating,
            comment=str(st.session_state.get(f"comment-{message.id}") or ""),
            refused=answer.refused,
            mode=answer.mode,
        )
    except Exception:
        log.exception("storing feedback failed")
        st.session_state.setdefault("feedback_failed", set()).add(message.id)
        return
    st.session_state.setdefault("feedback_done", {})[message.id] = (
        "Tack! Din återkoppling är sparad."
    )


def render_feedback(message: Message, settings: Settings) -> None:
    """Thumbs up or down with an optional comment, stored in SQLite, then a thank-you."""
    done: dict[str, str] = st.session_state.setdefault("feedback_done", {})
    if message.id in done:
        st.success(done[message.id])
        return
    failed: set[str] = st.session_state.setdefault("feedback_failed", set())
    if message.id in failed:
        failed.discard(message.id)
        st.error("Återkopplingen kunde inte sparas just nu. Försök igen senare.")
    with st.form(key=f"feedback-{message.id}", border=False, enter_to_submit=False):
        st.text_input(
            "Kommentar till svaret (valfritt)",
            key=f"comment-{message.id}",
            max_chars=MAX_COMMENT_CHARS,
            placeholder="Vad var bra, vad saknades?",
        )
        with st.container(horizontal=True, gap="small"):
            for label, icon, rating, key in (
                ("Bra svar", ":material/thumb_up:", RATING_UP, "up"),
                ("Inte bra", ":material/thumb_down:", RATING_DOWN, "down"),
            ):
                st.form_submit_button(
                    label,
                    key=f"{key}-{message.id}",
                    icon=icon,
                    on_click=submit_feedback,
                    args=(message, settings, rating),
                )


def render_chat(
    pipeline: Any, settings: Settings, filters: Filters, question: str | None, ready: bool
) -> None:
    """The chat view: the conversation so far, then the new question's answer."""
    mode = settings.answer_mode if settings.answer_mode in MODES.values() else "extractive"
    if pipeline is not None and getattr(pipeline, "llm", None) is not None:
        labels = list(MODES)
        default = labels[list(MODES.values()).index(mode)]
        choice = st.radio(
            "Svarsläge",
            labels,
            index=labels.index(default),
            horizontal=True,
            key="mode",
            help="Citat visar meningar ur dokumenten. AI-sammanfattat svar låter en "
            "språkmodell formulera svaret utifrån samma källor.",
        )
        mode = MODES[choice]
    else:
        mode = "extractive"
    messages = _messages()
    if not messages and question is None and ready:
        st.markdown(
            "Ställ en fråga i rutan längst ned. Svaren är hämtade ur dokumenten, med källa. "
            "Under *Kom igång* finns exempel på frågor och en ordlista."
        )
    active = _active_filters(filters)
    if active:
        st.markdown(f"Sökningen är avgränsad: {escape_md(active)}.")
    for message in messages:
        with st.chat_message(message.role):
            if message.role == "user":
                st.markdown(text_md(message.text))
            else:
                render_message(message, pipeline, settings)
    if question is not None and ready:
        handle_question(pipeline, settings, question, filters, mode)


def _active_filters(filters: Filters) -> str:
    parts: list[str] = []
    if filters.doc_ids:
        parts.append(f"{len(filters.doc_ids)} valda dokument")
    if filters.doc_types:
        parts.append("typ " + ", ".join(filters.doc_types))
    if filters.years:
        parts.append("år " + ", ".join(str(y) for y in filters.years))
    return "; ".join(parts)


# --- sidebar ----------------------------------------------------------------------------------


def render_filters(documents: Sequence[DocumentMeta], groups: tuple[str, ...]) -> Filters:
    """Document, type and year filters; the user's groups always apply."""
    st.header("Avgränsa sökningen")
    titles = {d.doc_id: d.title for d in documents}
    doc_ids = st.multiselect(
        "Dokument",
        list(titles),
        format_func=lambda doc_id: titles.get(doc_id, doc_id),
        key="filter_docs",
        placeholder="Alla dokument",
    )
    types = st.multiselect(
        "Dokumenttyp",
        sorted({d.doc_type for d in documents if d.doc_type}),
        key="filter_types",
        placeholder="Alla typer",
    )
    years = st.multiselect(
        "År",
        sorted({d.year for d in documents if d.year is not None}, reverse=True),
        key="filter_years",
        placeholder="Alla år",
    )
    return Filters(
        doc_ids=tuple(d for d in doc_ids if d in titles),
        doc_types=tuple(types),
        years=tuple(int(y) for y in years),
        groups=groups,
    )


def _local_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso or "okänd tid"
    try:
        return moment.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M")
    except ZoneInfoNotFoundError:
        return moment.strftime("%Y-%m-%d %H:%M UTC")


def render_index_status(pipeline: Any, settings: Settings) -> None:
    """The index: last ingest, embedder, counts; a re-ingest button, pointed out when the corpus
    folder changed since the last ingest."""
    from ingest.index import corpus_fingerprint, read_state

    st.header("Dokumentindex")
    state = read_state(settings) or {}
    changed = state.get("corpus_fingerprint") != corpus_fingerprint(settings.corpus_dir)
    if pipeline is not None:
        status = pipeline.status()
        st.markdown(
            f"Senast inläst: {escape_md(_local_time(status.ingested_at))}  \n"
            f"Inbäddningsmodell: {escape_md(status.embedder)}  \n"
            f"{status.documents} dokument, {status.chunks} textavsnitt"
        )
    else:
        st.markdown("Inget index är inläst.")
    if changed and state:
        st.warning("Dokumentmappen har ändrats sedan senaste inläsningen. Läs in igen.")
    st.button(
        "Läs in dokumenten igen",
        key="reingest",
        on_click=request_ingest,
        type="primary" if changed else "secondary",
        help="Lägger till, uppdaterar och tar bort det som ändrats i dokumentmappen.",
    )


# --- onboarding -------------------------------------------------------------------------------


def catalog_descriptions(corpus_dir: Path) -> dict[str, str]:
    """Document id -> the catalog's description."""
    from ingest.load import load_catalog, slugify

    try:
        catalog = load_catalog(corpus_dir)
    except UnderlagError as exc:
        log.warning("catalog unreadable: %s", exc)
        return {}
    return {
        str(entry.get("id") or slugify(Path(name).stem)): str(entry.get("description", ""))
        for name, entry in catalog.entries.items()
    }


def source_doc_ids(corpus_dir: Path) -> dict[str, str]:
    """Every name a glossary entry may give as its source -> document id (ids, file stems)."""
    from ingest.load import list_corpus, load_catalog, slugify

    try:
        catalog = load_catalog(corpus_dir)
    except UnderlagError:
        return {}
    names: dict[str, str] = {}
    if corpus_dir.is_dir():  # files outside the catalog get their id from the file name
        for path in list_corpus(corpus_dir)[0]:
            names.update({path.stem: slugify(path.stem), path.name: slugify(path.stem)})
    for name, entry in catalog.entries.items():
        doc_id = str(entry.get("id") or slugify(Path(name).stem))
        names.update({doc_id: doc_id, Path(name).stem: doc_id, name: doc_id})
    return names


@st.cache_data(show_spinner=False, max_entries=32)
def verified_suggestions(
    _pipeline: Any, key: str, generation: str, groups: tuple[str, ...]
) -> list[str]:
    """The suggested questions that the pipeline answers, with their fact, for these groups."""
    shown: list[str] = []
    for question, fact in SUGGESTED_QUESTIONS:
        try:
            answer = _pipeline.ask(question, filters=Filters(groups=groups), mode="extractive")
        except Exception:
            log.exception("checking a suggested question failed")
            continue
        if not answer.refused and answer.citations and normalised(fact) in normalised(answer.text):
            shown.append(question)
            if len(shown) >= MAX_SUGGESTIONS:
                break
    return shown


def ask_suggestion(question: str) -> None:
    """Button callback: switch to the chat and ask the suggested question."""
    st.session_state["pending_question"] = question
    st.session_state["view"] = VIEWS[0]


def render_onboarding(pipeline: Any, settings: Settings, user: User) -> None:
    """What the corpus holds, questions to start with, and the glossary."""
    st.header("Kom igång")
    st.markdown(
        "Underlag svarar på frågor om organisationens dokument. Svaren är meningar ur "
        "dokumenten, och under varje svar står källorna: dokument, utgivare, datum och var i "
        "dokumentet det står. När dokumenten inte säger något svarar Underlag *Jag hittar "
        "inget stöd för det i underlaget.*"
    )
    if pipeline is None:
        st.markdown("Dokumenten visas här när de har lästs in.")
        return
    documents = pipeline.documents(user.groups)
    descriptions = catalog_descriptions(settings.corpus_dir)
    st.subheader("Dokumenten")
    for doc in documents:
        with st.container(border=True):
            details = " · ".join(escape_md(x) for x in (doc.publisher, doc.date, doc.doc_type) if x)
            st.markdown(f"**{escape_md(doc.title)}**  \n{details}")
            description = descriptions.get(doc.doc_id) or doc.description
            if description:
                st.markdown(text_md(description))
    st.subheader("Frågor att börja med")
    generation = pipeline.status().generation
    with st.spinner("Väljer frågor som dokumenten kan besvara …"):
        questions = verified_suggestions(pipeline, pipeline_key(settings), generation, user.groups)
    if questions:
        st.markdown("Klicka på en fråga för att ställa den i chatten.")
        for i, question in enumerate(questions):
            st.button(question, key=f"suggestion-{i}", on_click=ask_suggestion, args=(question,))
    else:
        st.markdown("Inga exempelfrågor kan besvaras med de dokument du har tillgång till.")
    render_glossary(pipeline, settings, documents, user.groups)


def render_glossary(
    pipeline: Any, settings: Settings, documents: Sequence[DocumentMeta], groups: tuple[str, ...]
) -> None:
    """The acronyms with their full names and where they are defined: the pipeline's glossary
    for the user's groups, and never an entry whose source is a document outside them."""
    import pandas as pd

    st.subheader("Ordlista")
    visible = {d.doc_id: d for d in documents}
    indexed = {d.doc_id for d in pipeline.documents()}
    names = source_doc_ids(settings.corpus_dir)
    glossary = pipeline.glossary_for(groups)
    rows: list[dict[str, str]] = []
    for acronym in sorted(glossary, key=str.lower):
        entry = glossary[acronym]
        where = quote = ""
        doc_id = names.get(entry.source, entry.source) if entry.source else ""
        if doc_id in visible:
            where = visible[doc_id].title
            quote = entry.quote if entry.defined_in_corpus else ""
        elif doc_id in indexed:
            continue  # drawn from a document outside the user's groups
        if not entry.defined_in_corpus:
            where = "Skrivs inte ut i dokumenten"
        rows.append(
            {
                "Förkortning": escape_md(entry.acronym),
                "Betydelse": escape_md(entry.expansion),
                "Definieras i": escape_md(where or "–"),
                "Citat": escape_md(quote),
            }
        )
    if not rows:
        st.markdown("Ordlistan är tom.")
        return
    st.table(pd.DataFrame(rows), hide_index=True)


# --- evaluation -------------------------------------------------------------------------------

METRIC_LABELS = {
    "n": "Antal frågor",
    "context_recall_4000": "Belägg i kontexten (4 000 tecken)",
    "hit_at_5": "Belägg bland de 5 första",
    "mrr": "MRR",
    "answer_contains": "Svaret har fakta",
    "citation_precision": "Källprecision",
    "refusal_recall": "Vägrar rätt",
    "false_refusal_rate": "Vägrar fel (lägre är bättre)",
    "latency_p50_ms": "Svarstid p50 (ms)",
    "latency_p95_ms": "Svarstid p95 (ms)",
}
CHART_METRICS = ("context_recall_4000", "answer_contains", "citation_precision", "hit_at_5")
KIND_LABELS = {
    "fact": "fakta",
    "number": "tal",
    "list": "lista",
    "table": "tabell",
    "multi": "flera källor",
    "unanswerable": "obesvarbar",
}


def render_evaluation(pipeline: Any, settings: Settings, user: User) -> None:
    """The latest evaluation by kind (table and chart), the history, and failing questions."""
    import altair as alt
    import pandas as pd
    from pydantic import ValidationError

    from evals.run import HISTORY, LATEST, EvalReport, read_history

    st.header("Utvärdering")
    path = settings.eval_dir / LATEST
    if not path.exists():
        st.markdown(
            "Ingen utvärdering har körts ännu. Kör `underlag eval` så visas resultatet här."
        )
        return
    try:
        report = EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        log.warning("unreadable evaluation report %s: %s", path, exc)
        st.error("Den senaste utvärderingsrapporten går inte att läsa. Kör `underlag eval` igen.")
        return
    commit = f", version {report.commit[:10]}" if report.commit else ""
    st.markdown(
        f"Senaste körning: {escape_md(_local_time(report.created_at))}, svarsläge "
        f"{escape_md(report.mode)}, {len(report.questions)} frågor{escape_md(commit)}."
    )
    st.subheader("Resultat per frågetyp")
    rows = {"alla": report.metrics, **report.by_kind}
    table = pd.DataFrame(
        [
            {"Mått": label}
            | {
                KIND_LABELS.get(kind, kind): _metric_cell(name, m.get(name))
                for kind, m in rows.items()
            }
            for name, label in METRIC_LABELS.items()
        ]
    )
    st.table(table, hide_index=True)
    long = pd.DataFrame(
        [
            {"Frågetyp": KIND_LABELS.get(kind, kind), "Mått": METRIC_LABELS[name], "Värde": value}
            for kind, metrics in report.by_kind.items()
            for name in CHART_METRICS
            if (value := metrics.get(name)) is not None
        ]
    )
    if not long.empty:
        bars = (
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X("Värde:Q", scale=alt.Scale(domain=[0, 1]), title=None),
                y=alt.Y("Frågetyp:N", title=None, sort=None, axis=alt.Axis(labelOverlap=False)),
                tooltip=["Mått", "Frågetyp", alt.Tooltip("Värde:Q", format=".2f")],
            )
            .properties(width=220, height=alt.Step(22))
        )
        st.altair_chart(
            bars.facet(facet=alt.Facet("Mått:N", title=None, sort=None), columns=2).resolve_axis(
                y="independent"
            ),
            width="content",
            alt="Stapeldiagram över måtten per frågetyp; samma värden står i tabellen ovan.",
        )
    st.subheader("Utveckling över körningar")
    history = pd.DataFrame(
        [
            {"Körning": _local_time(str(run.get("timestamp", ""))), "Mått": METRIC_LABELS[name]}
            | {"Värde": value}
            for run in read_history(settings.eval_dir)
            for name, value in (run.get("metrics") or {}).items()
            if name in CHART_METRICS and isinstance(value, int | float)
        ]
    )
    if not history.empty:
        # Each measure has its own point shape as well as its own colour.
        lines = (
            alt.Chart(history)
            .mark_line(point=alt.OverlayMarkDef(size=60, filled=True))
            .encode(
                x=alt.X("Körning:O", sort=None, axis=alt.Axis(labelAngle=-30)),
                y=alt.Y("Värde:Q", scale=alt.Scale(domain=[0, 1]), title="Värde (0–1)"),
                color=alt.Color("Mått:N", legend=alt.Legend(orient="bottom", columns=2)),
                shape=alt.Shape("Mått:N"),
                tooltip=["Mått", "Körning", alt.Tooltip("Värde:Q", format=".2f")],
            )
        )
        st.altair_chart(lines, alt="Linjediagram över måtten i varje utvärderingskörning.")
    else:
        st.markdown(f"Ingen historik ännu ({escape_md(HISTORY)} saknas).")
    render_failures(report, pipeline, user)


def _metric_cell(name: str, value: float | None) -> str:
    if value is None:
        return "–"
    if name == "n" or name.startswith("latency"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def render_failures(report: Any, pipeline: Any, user: User) -> None:
    """The failing questions with what was retrieved; only for users who may read every
    document, since the report quotes all of them."""
    import pandas as pd

    failures = [q for q in report.questions if q.problems]
    st.subheader(f"Frågor med problem ({len(failures)} av {len(report.questions)})")
    if pipeline is None:
        st.markdown("Visas när dokumentindexet är inläst.")
        return
    everything = {d.doc_id: d.title for d in pipeline.documents()}
    if set(everything) - {d.doc_id for d in pipeline.documents(user.groups)}:
        st.markdown(
            "Frågorna visar text ur alla dokument och visas bara för den som har tillgång till "
            "samtliga dokument."
        )
        return
    if not failures:
        st.markdown("Alla frågor klarade sig.")
        return
    for result in failures:
        label = f"{result.id} · {KIND_LABELS.get(result.kind, result.kind)} · {result.question}"
        with st.expander(escape_md(label[:140])):
            st.markdown("**Problem:** " + escape_md("; ".join(result.problems)))
            if result.standalone_question and result.standalone_question != result.question:
                st.markdown("**Sökt som:** " + escape_md(result.standalone_question))
            st.markdown("**Förväntat svar:** " + escape_md(result.expected))
            st.markdown("**Underlags svar:**")
            st.markdown(text_md(result.got) or "–")
            if result.top_passages:
                st.markdown("**Hämtade textavsnitt:**")
                st.table(
                    pd.DataFrame(
                        [
                            {
                                "Plats": str(p.rank),
                                "Dokument": escape_md(everything.get(p.doc_id, p.doc_id)),
                                "Var": escape_md(p.locator),
                                "Början av texten": escape_md(p.text),
                            }
                            for p in result.top_passages
                        ]
                    ),
                    hide_index=True,
                )


# --- the page ---------------------------------------------------------------------------------


def main() -> None:
    """Render the page."""
    st.set_page_config(page_title=TITLE, page_icon="📄", layout="centered")
    settings = Settings()
    user = current_user(settings)
    if user is None:
        st.title(TITLE)
        st.markdown(SUBTITLE)
        st.info("Logga in för att använda Underlag.")
        if _oidc_configured():
            st.button("Logga in", on_click=st.login)
        st.stop()
        return
    if not user.groups:
        st.title(TITLE)
        st.error(
            "Ditt konto har inga behörighetsgrupper, så det finns inga dokument att visa. "
            "Kontakta den som förvaltar Underlag."
        )
        st.stop()
        return

    if st.session_state.pop("ingest_requested", False):
        run_page_ingest(settings)
    pipeline, problem = _open_pipeline(settings)

    with st.sidebar:
        filters = render_filters(pipeline.documents(user.groups) if pipeline else [], user.groups)
        render_index_status(pipeline, settings)
        st.header("Samtal")
        st.button("Rensa samtalet", key="clear", on_click=clear_conversation)
        st.markdown(f"Inloggad som {escape_md(user.name)}.")

    st.title(TITLE)
    st.markdown(SUBTITLE)
    if message := st.session_state.pop("ingest_message", None):
        st.success(message)
    if problem:
        problem()

    pending = st.session_state.pop("pending_question", None)
    chat, onboarding, evaluation = st.tabs(list(VIEWS), key="view", on_change="rerun")
    if chat.open:
        # Pinned to the bottom of the page, and only in the chat view.
        question = st.chat_input(CHAT_PLACEHOLDER, key="question", disabled=pipeline is None)
        with chat:
            render_chat(pipeline, settings, filters, question or pending, pipeline is not None)
    if onboarding.open:
        with onboarding:
            render_onboarding(pipeline, settings, user)
    if evaluation.open:
        with evaluation:
            render_evaluation(pipeline, settings, user)


def _open_pipeline(settings: Settings) -> tuple[Any, Any]:
    """The cached pipeline, or None and a function that shows why not (in Swedish)."""

    def no_index() -> None:
        st.error(
            "Det finns inget dokumentindex ännu. Läs in dokumenten med knappen nedan, eller kör "
            "kommandot `underlag ingest` i projektmappen."
        )
        st.button("Läs in dokumenten", key="ingest-now", on_click=request_ingest, type="primary")

    from ingest.index import read_state

    # The last ingest's generation is part of the key, so an ingest from the command line while
    # the page runs is picked up at the next question.
    generation = str((read_state(settings) or {}).get("generation", ""))
    try:
        return load_pipeline(settings, f"{pipeline_key(settings)}|{generation}"), None
    except IndexMissingError:
        return None, no_index
    except IndexUnavailableError:
        url = escape_md(settings.chroma_url or "")
        return None, lambda: st.error(
            f"Sökindexet går inte att nå: Chroma-servern {url} svarar inte. Starta servern "
            "(`chroma run`) eller kontrollera inställningen UNDERLAG\\_CHROMA\\_URL, och ladda "
            "sedan om sidan."
        )
    except IndexMismatchError:
        return None, lambda: st.error(
            "Dokumentindexet byggdes med en annan inbäddningsmodell än den som är inställd. "
            "Bygg om det med `underlag ingest --rebuild`."
        )
    except UnderlagError as exc:
        log.warning("pipeline unavailable: %s", exc)
        reason = str(exc)
        return None, lambda: st.error(f"Underlag kan inte starta: {reason}")
    except Exception:
        log.exception("loading the pipeline failed")
        return None, lambda: st.error(
            "Underlag kan inte starta just nu. Se loggen för detaljer och ladda om sidan."
        )


if __name__ == "__main__":
    main()
