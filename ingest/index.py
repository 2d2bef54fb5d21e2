"""Incremental, crash-safe ingest of a corpus folder into the chunk store.

Each document version has a signature (file bytes, catalog entry, chunking settings, embedder).
A document whose stored chunks all carry its current signature, and are all there, is skipped.
Otherwise its new chunks are upserted (deterministic ids, vectors reused by content hash) and
only then are its stale chunks deleted, so an ingest killed at any point leaves a state that the
next run completes: no duplicates (ids are deterministic) and no orphans (stale ids are deleted).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from core.config import Settings
from core.embedders import Embedder
from core.errors import IngestError, IngestLockedError
from core.store import ChunkStore, StoredDocument
from core.types import Chunk, Document
from ingest.chunk import chunk_document
from ingest.load import Catalog, list_corpus, load_catalog, load_document, slugify

log = logging.getLogger(__name__)

CHUNKER_VERSION = "5"
EMBED_BATCH = 16

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class IngestReport:
    """What an ingest did, document by document."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    generation: str = ""
    finished_at: str = ""
    embedder: str = ""
    corpus_fingerprint: str = ""

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"Dokument: {len(self.added)} nya, {len(self.updated)} uppdaterade, "
            f"{len(self.unchanged)} oförändrade, {len(self.removed)} borttagna, "
            f"{len(self.failed)} misslyckade; {self.chunks_total} chunkar "
            f"({self.chunks_embedded} nya vektorer) på {self.seconds:.1f} s"
        )


def document_signature(doc: Document, settings: Settings, embedder_id: str) -> str:
    """A hash of everything that decides a document's chunks and vectors."""
    payload = json.dumps(
        {
            "sha256": doc.sha256,
            "meta": asdict(doc.meta),
            "chunker": CHUNKER_VERSION,
            "target": settings.chunk_target_tokens,
            "max": settings.chunk_max_tokens,
            "overlap": settings.chunk_overlap_tokens,
            "embedder": embedder_id,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def corpus_fingerprint(corpus_dir: Path) -> str:
    """A cheap fingerprint of the corpus folder (names, sizes, modification times)."""
    digest = hashlib.sha256()
    if corpus_dir.is_dir():
        for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(
                f"{path.relative_to(corpus_dir)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()[:20]


def _is_current(stored: StoredDocument | None, signature: str) -> bool:
    return (
        stored is not None
        and stored.signatures == frozenset({signature})
        and len(stored.chunk_ids) == stored.expected_chunks
    )


def _write_document(
    store: ChunkStore,
    embedder: Embedder,
    chunks: list[Chunk],
    signature: str,
    stored: StoredDocument | None,
    progress: Progress | None,
) -> int:
    """Upsert a document's chunks, then delete its stale ones. Returns vectors computed."""
    reuse = store.embeddings_by_hash(chunks[0].doc_id) if stored else {}
    embedded = 0
    for i in range(0, len(chunks), EMBED_BATCH):
        batch = chunks[i : i + EMBED_BATCH]
        missing = [c for c in batch if c.content_hash not in reuse]
        if missing:
            fresh = embedder.embed_documents([c.embed_text for c in missing])
            reuse.update({c.content_hash: v for c, v in zip(missing, fresh, strict=True)})
            embedded += len(missing)
        store.upsert(batch, [reuse[c.content_hash] for c in batch], signature, len(chunks))
        if progress:
            progress(chunks[0].doc_id, min(i + EMBED_BATCH, len(chunks)), len(chunks))
    if stored:
        keep = {c.chunk_id for c in chunks}
        store.delete_ids(sorted(stored.chunk_ids - keep))
    return embedded


def run_ingest(
    settings: Settings,
    embedder: Embedder,
    store: ChunkStore,
    corpus_dir: Path | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the store in line with the corpus folder, holding the ingest lock.

    Args:
        settings: Settings (chunk sizes, data directory, lock timeout).
        embedder: The embedder that the store records.
        store: The chunk store to write.
        corpus_dir: The folder to ingest; defaults to ``settings.corpus_dir``.
        rebuild: Drop the collection first and embed everything again.
        progress: Called with (doc_id, chunks done, chunks of the document).

    Raises:
        IngestLockedError: another ingest holds the lock.
        IngestError: the corpus folder or its catalog cannot be read, or the data directory
            cannot be written (a full disk, a read-only directory); what was stored before
            stays searchable.
    """
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(settings.lock_path), timeout=settings.ingest_lock_timeout_s)
        lock.acquire()
    except Timeout as exc:
        raise IngestLockedError(
            f"En annan inläsning pågår redan (lås: {settings.lock_path}). "
            "Vänta tills den är klar och försök igen."
        ) from exc
    except OSError as exc:
        raise _write_error(settings, exc) from exc
    try:
        return _ingest_locked(
            settings, embedder, store, corpus_dir or settings.corpus_dir, rebuild, progress
        )
    except OSError as exc:  # unreadable files are reported per file; this is a failed write
        raise _write_error(settings, exc) from exc
    finally:
        lock.release()


def _write_error(settings: Settings, exc: OSError) -> IngestError:
    reasons = {
        errno.ENOSPC: "disken är full",
        errno.EDQUOT: "diskkvoten är slut",
        errno.EFBIG: "filen blev större än vad som tillåts",
        errno.EROFS: "filsystemet är skrivskyddat",
        errno.EACCES: "behörighet saknas",
        errno.EPERM: "behörighet saknas",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or exc.__class__.__name__)
    return IngestError(
        f"Inläsningen avbröts: det gick inte att skriva i {settings.data_dir} ({reason}; "
        f"{exc.__class__.__name__}: {exc}). Frigör utrymme eller kontrollera behörigheterna och "
        "kör `underlag ingest` igen; det som redan fanns i indexet går fortfarande att söka i."
    )


def _ingest_locked(
    settings: Settings,
    embedder: Embedder,
    store: ChunkStore,
    corpus_dir: Path,
    rebuild: bool,
    progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport(embedder=embedder.id)
    files, skipped = list_corpus(corpus_dir)
    report.skipped = [p.name for p in skipped]
    catalog: Catalog = load_catalog(corpus_dir)
    if rebuild:
        store.drop()
    store.ensure()
    stored_docs = store.documents()
    seen: set[str] = set()
    for path in files:
        try:
            doc = load_document(path, catalog, max_chars=settings.max_document_chars)
        except IngestError as exc:
            report.failed.append((path.name, str(exc).removeprefix(f"{path.name}: ")))
            continue
        except (OSError, ValueError) as exc:  # unreadable file: report it, keep going
            report.failed.append((path.name, f"kunde inte läsas ({exc.__class__.__name__}: {exc})"))
            continue
        doc_id = doc.doc_id
        if doc_id in seen:
            report.failed.append(
                (path.name, f"dokument-id {doc_id!r} används redan av en annan fil")
            )
            continue
        seen.add(doc_id)
        signature = document_signature(doc, settings, embedder.id)
        stored = stored_docs.get(doc_id)
        if _is_current(stored, signature):
            report.unchanged.append(path.name)
            report.chunks_total += len(stored.chunk_ids) if stored else 0
            continue
        chunks = chunk_document(
            doc,
            embedder.count_tokens,
            target_tokens=settings.chunk_target_tokens,
            max_tokens=settings.chunk_max_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
        report.chunks_embedded += _write_document(
            store, embedder, chunks, signature, stored, progress
        )
        report.chunks_total += len(chunks)
        (report.updated if stored else report.added).append(path.name)
    # A document that failed to load keeps its previous chunks: nothing is lost by one bad file.
    failed_ids = {
        doc_id for doc_id in stored_docs if _failed_source(doc_id, report, catalog, files)
    }
    for doc_id, stored in stored_docs.items():
        if doc_id not in seen and doc_id not in failed_ids:
            store.delete_ids(sorted(stored.chunk_ids))
            report.removed.append(doc_id)
    for doc_id in failed_ids:
        report.chunks_total += len(stored_docs[doc_id].chunk_ids)
    report.generation = uuid.uuid4().hex[:12]
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    report.corpus_fingerprint = corpus_fingerprint(corpus_dir)
    report.seconds = time.perf_counter() - started
    store.set_metadata(generation=report.generation, ingested_at=report.finished_at)
    write_state(settings, report)
    return report


def _failed_source(doc_id: str, report: IngestReport, catalog: Catalog, files: list[Path]) -> bool:
    """Whether a stored document comes from a file that exists but failed to load this time."""
    failed_names = {name for name, _ in report.failed}
    for path in files:
        if path.name in failed_names:
            entry = catalog.entries.get(path.name, {})
            if str(entry.get("id") or slugify(path.stem)) == doc_id:
                return True
    return False


def write_state(settings: Settings, report: IngestReport) -> None:
    """Record the last ingest next to the index, atomically."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.state_path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, settings.state_path)
    except BaseException:
        with contextlib.suppress(OSError):  # a full disk must not leave half a file behind
            tmp.unlink(missing_ok=True)
        raise


def read_state(settings: Settings) -> dict[str, Any] | None:
    """The last ingest's report, or None before the first ingest."""
    try:
        return dict(json.loads(settings.state_path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
