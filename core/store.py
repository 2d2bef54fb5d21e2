"""The chunk store: a Chroma collection (embedded or server) that records its embedder."""

from __future__ import annotations

import errno
import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

from core.config import Settings
from core.errors import (
    ConfigError,
    IndexMismatchError,
    IndexMissingError,
    IndexUnavailableError,
    IngestError,
    UnderlagError,
)
from core.types import Chunk

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_PAGE = 500  # rows per get() call; keeps memory flat on large collections
# What SQLite, Chroma and the OS say when a write cannot be made: a full disk, a file past the
# size limit, a read-only file system or database.
_WRITE_FAILURE_WORDS = (
    "disk i/o error",
    "disk is full",
    "readonly database",
    "read-only file system",
    "no space left",
    "file too large",
)
_WRITE_FAILURE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)


def _bound_http_timeout(client: Any, seconds: float) -> None:
    """Give chromadb's HTTP session a timeout, so a hung server fails instead of hanging."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)
    else:  # a chromadb release that builds its client differently: say so, keep working
        log.warning("Kunde inte sätta tidsgräns för Chroma-klienten (okänd chromadb-version).")


def make_client(settings: Settings) -> Any:
    """A Chroma client: ``HttpClient`` when a server URL is set, else ``PersistentClient``.

    Raises:
        ConfigError: the URL cannot be parsed.
        IndexUnavailableError: the server does not answer, or the local index cannot be
            opened (Chroma writes even to read: a read-only directory or a full disk stops it).
    """
    import chromadb

    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(
                f"UNDERLAG_CHROMA_URL={settings.chroma_url!r} är ingen URL (t.ex. http://127.0.0.1:8000)."
            )
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            # chromadb's HTTP client waits forever (timeout=None) and already talks to the
            # server while it is built: probe first with a bound, then bound its session.
            httpx.get(
                f"{url.scheme}://{url.hostname}:{port}/api/v2/heartbeat",
                timeout=settings.chroma_timeout_s,
            ).raise_for_status()
            client = chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https")
            _bound_http_timeout(client, settings.chroma_timeout_s)
            client.heartbeat()
        except Exception as exc:  # chromadb raises plain Exception/ValueError/httpx errors
            raise IndexUnavailableError(
                f"Chroma-servern på {settings.chroma_url} svarar inte ({exc.__class__.__name__}). "
                "Starta den med `chroma run` eller kontrollera UNDERLAG_CHROMA_URL."
            ) from exc
        return client
    try:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.index_dir))
    except Exception as exc:  # chromadb raises its own InternalError for SQLite failures
        hint = (
            "Mappen är skrivskyddad eller disken är full; Chroma måste kunna skriva där även "
            "för att söka. Frigör utrymme eller kontrollera behörigheterna."
            if is_write_failure(exc)
            else "Kör `underlag ingest --rebuild` om indexet är skadat."
        )
        raise IndexUnavailableError(
            f"Indexet i {settings.index_dir} kan inte öppnas ({_detail(exc)}). {hint}"
        ) from exc


def is_write_failure(exc: BaseException) -> bool:
    """Whether an error says the disk is full or the index cannot be written to."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_FAILURE_ERRNOS:
        return True
    text = str(exc).lower()
    return any(words in text for words in _WRITE_FAILURE_WORDS)


def chunk_metadata(chunk: Chunk, doc_signature: str, doc_chunks: int) -> dict[str, Any]:
    """Flat Chroma metadata for a chunk (Chroma stores scalars only)."""
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "heading_path": " > ".join(chunk.heading_path),
        "locator": chunk.locator,
        "start": chunk.start,
        "end": chunk.end,
        "position": chunk.position,
        "n_tokens": chunk.n_tokens,
        "content_hash": chunk.content_hash,
        "publisher": chunk.publisher,
        "date": chunk.date,
        "doc_type": chunk.doc_type,
        "year": chunk.year or 0,
        "groups": "|" + "|".join(chunk.groups) + "|",
        "doc_signature": doc_signature,
        "doc_chunks": doc_chunks,
    }


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    """Rebuild a Chunk from what Chroma stores."""
    heading = str(meta.get("heading_path") or "")
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta.get("title", "")),
        text=text,
        heading_path=tuple(heading.split(" > ")) if heading else (),
        locator=str(meta.get("locator", "")),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        position=int(meta.get("position", 0)),
        n_tokens=int(meta.get("n_tokens", 0)),
        content_hash=str(meta.get("content_hash", "")),
        publisher=str(meta.get("publisher", "")),
        date=str(meta.get("date", "")),
        doc_type=str(meta.get("doc_type", "")),
        groups=tuple(g for g in str(meta.get("groups", "|alla|")).split("|") if g),
    )


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """What the store holds of one document."""

    doc_id: str
    signatures: frozenset[str]
    expected_chunks: int
    chunk_ids: frozenset[str]


class ChunkStore:
    """Read and write chunks of one Chroma collection that records the embedder that built it."""

    def __init__(
        self,
        client: Any,
        collection_name: str,
        embedder_id: str,
        exact_search_max_chunks: int = 50_000,
    ) -> None:
        self._client = client
        self._name = collection_name
        self._embedder_id = embedder_id
        self._collection: Any = None
        self._exact_max = exact_search_max_chunks
        self._exact: _ExactIndex | None = None
        self._exact_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, embedder_id: str) -> ChunkStore:
        """A store on the client the settings ask for."""
        return cls(
            make_client(settings),
            settings.collection,
            embedder_id,
            settings.exact_search_max_chunks,
        )

    @property
    def embedder_id(self) -> str:
        """The embedder this store expects."""
        return self._embedder_id

    def _get(self, create: bool) -> Any:
        if self._collection is not None:
            return self._collection
        try:
            if create:
                col = self._client.get_or_create_collection(
                    self._name,
                    metadata={"embedder": self._embedder_id, "schema": SCHEMA_VERSION},
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
            else:
                col = self._client.get_collection(self._name, embedding_function=None)
        except Exception as exc:
            if not create and "does not exist" in str(exc).lower():
                raise IndexMissingError(
                    "Det finns inget index ännu. Kör `underlag ingest` (eller `make run`)."
                ) from exc
            raise _unavailable(exc, writing=create) from exc
        built_with = (col.metadata or {}).get("embedder")
        if built_with and built_with != self._embedder_id:
            raise IndexMismatchError(
                f"Indexet byggdes med embeddern {built_with!r} men {self._embedder_id!r} är vald. "
                "Kör `underlag ingest --rebuild` för att bygga om indexet."
            )
        self._collection = col
        return col

    def exists(self) -> bool:
        """Whether the collection exists (and so an ingest has run)."""
        try:
            self._get(create=False)
        except IndexMissingError:
            return False
        return True

    def ensure(self) -> None:
        """Create the collection if needed and check its embedder."""
        self._get(create=True)

    def drop(self) -> None:
        """Delete the whole collection (for a rebuild)."""
        try:
            self._client.delete_collection(self._name)
        except Exception as exc:
            if "does not exist" not in str(exc).lower():
                raise _unavailable(exc, writing=True) from exc
        self._collection = None

    def metadata(self) -> dict[str, Any]:
        """The collection's metadata: embedder, schema, generation, last ingest time."""
        return dict(self._get(create=False).metadata or {})

    def set_metadata(self, **values: Any) -> None:
        """Merge values into the collection metadata."""
        col = self._get(create=True)
        merged = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
        merged.update(values)
        try:
            col.modify(metadata=merged)
        except Exception as exc:
            raise _unavailable(exc, writing=True) from exc

    def count(self) -> int:
        """Number of stored chunks."""
        return int(self._get(create=False).count())

    def _pages(self, include: list[str], where: dict[str, Any] | None = None) -> Any:
        col = self._get(create=False)
        offset = 0
        while True:
            try:
                page = col.get(include=include, where=where, limit=_PAGE, offset=offset)
            except Exception as exc:
                raise _unavailable(exc) from exc
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def documents(self) -> dict[str, StoredDocument]:
        """What is stored per document: signatures, expected chunk count, chunk ids."""
        found: dict[str, tuple[set[str], int, set[str]]] = {}
        for page in self._pages(["metadatas"]):
            for chunk_id, meta in zip(page["ids"], page["metadatas"], strict=True):
                sigs, expected, ids = found.setdefault(str(meta["doc_id"]), (set(), 0, set()))
                sigs.add(str(meta.get("doc_signature", "")))
                ids.add(chunk_id)
                found[str(meta["doc_id"])] = (sigs, int(meta.get("doc_chunks", 0)), ids)
        return {
            doc_id: StoredDocument(doc_id, frozenset(s), n, frozenset(ids))
            for doc_id, (s, n, ids) in found.items()
        }

    def embeddings_by_hash(self, doc_id: str) -> dict[str, list[float]]:
        """Stored vectors of a document keyed by chunk content hash, to reuse on re-ingest."""
        vectors: dict[str, list[float]] = {}
        for page in self._pages(["metadatas", "embeddings"], where={"doc_id": doc_id}):
            for meta, vector in zip(page["metadatas"], page["embeddings"], strict=True):
                vectors[str(meta.get("content_hash", ""))] = [float(x) for x in vector]
        return vectors

    def upsert(
        self,
        chunks: Sequence[Chunk],
        vectors: Sequence[list[float]],
        signature: str,
        doc_chunks: int,
    ) -> None:
        """Write chunks of one document with their vectors; same ids overwrite, never duplicate.

        Args:
            chunks: Chunks of one document (a batch of it).
            vectors: Their embeddings, in order.
            signature: The document version they belong to.
            doc_chunks: How many chunks the whole document version has.
        """
        if not chunks:
            return
        col = self._get(create=True)
        try:
            col.upsert(
                ids=[c.chunk_id for c in chunks],
                embeddings=[list(v) for v in vectors],
                documents=[c.text for c in chunks],
                metadatas=[chunk_metadata(c, signature, doc_chunks) for c in chunks],
            )
        except Exception as exc:
            raise _unavailable(exc, writing=True) from exc

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Delete chunks by id."""
        if not ids:
            return
        col = self._get(create=False)
        for i in range(0, len(ids), _PAGE):
            try:
                col.delete(ids=list(ids[i : i + _PAGE]))
            except Exception as exc:
                raise _unavailable(exc, writing=True) from exc

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, in document and position order."""
        chunks = [
            chunk_from_record(cid, text, meta)
            for page in self._pages(["documents", "metadatas"])
            for cid, text, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            )
        ]
        return sorted(chunks, key=lambda c: (c.doc_id, c.position))

    def dense_search(
        self, vector: list[float], k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest chunk ids with cosine similarity, optionally within documents.

        Up to ``exact_search_max_chunks`` chunks the search is exact over the collection's
        vectors, read once from Chroma: Chroma's HNSW graph is rebuilt differently each time an
        index is opened, so its approximate top list changed from one process to the next (the
        same question got other passages after a restart). Beyond that size, Chroma's HNSW
        search. Either way one call reaches Chroma per question, so an unreachable server is
        noticed at once.
        """
        col = self._get(create=False)
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids is not None else None
        if doc_ids is not None and not doc_ids:
            return []
        try:
            count = int(col.count())
        except Exception as exc:
            raise _unavailable(exc) from exc
        if count <= self._exact_max:
            return self._exact_index(count).search(vector, k, doc_ids)
        try:
            res = col.query(
                query_embeddings=[vector], n_results=k, where=where, include=["distances"]
            )
        except Exception as exc:
            raise _unavailable(exc) from exc
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    def _exact_index(self, count: int) -> _ExactIndex:
        with self._exact_lock:
            if self._exact is None or len(self._exact.ids) != count:
                ids: list[str] = []
                docs: list[str] = []
                vectors: list[Any] = []
                for page in self._pages(["embeddings", "metadatas"]):
                    ids.extend(page["ids"])
                    docs.extend(str((m or {}).get("doc_id", "")) for m in page["metadatas"])
                    vectors.extend(page["embeddings"])
                self._exact = _ExactIndex.build(ids, docs, vectors)
            return self._exact


@dataclass(frozen=True, slots=True)
class _ExactIndex:
    """Unit-length chunk vectors in memory, for exact and repeatable cosine search."""

    ids: list[str]
    doc_ids: np.ndarray
    matrix: np.ndarray

    @classmethod
    def build(cls, ids: list[str], doc_ids: list[str], vectors: list[Any]) -> _ExactIndex:
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return cls(ids, np.asarray(doc_ids, dtype=object), matrix / norms)

    def search(
        self, vector: Sequence[float], k: int, doc_ids: Sequence[str] | None
    ) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        scores = self.matrix @ query
        rows = np.arange(len(self.ids))
        if doc_ids is not None:
            rows = rows[np.isin(self.doc_ids, list(doc_ids))]
        if len(rows) > k:  # the k best (and any tied with the k-th), without a full sort
            kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
            rows = rows[scores[rows] >= kth]
        # Best first; equal scores in id order, so the order never depends on the load.
        order = sorted(rows.tolist(), key=lambda i: (-float(scores[i]), self.ids[i]))[:k]
        return [(self.ids[i], float(scores[i])) for i in order]


def _detail(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {str(exc)[:200]}"


def _unavailable(exc: Exception, writing: bool = False) -> UnderlagError:
    """The error to raise for a failed store call; a failed write of an ingest is an
    IngestError that says the disk is full or the index read-only."""
    if is_write_failure(exc):
        message = (
            f"Indexet kunde inte skrivas ({_detail(exc)}): disken är full eller mappen är "
            "skrivskyddad. Frigör utrymme eller kontrollera behörigheterna och försök igen."
        )
        return IngestError(message) if writing else IndexUnavailableError(message)
    return IndexUnavailableError(
        f"Indexet kan inte nås ({_detail(exc)}). "
        "Kontrollera att Chroma-servern kör, eller kör `underlag ingest` igen."
    )


def remove_local_index(settings: Settings) -> None:
    """Delete the embedded Chroma directory (for a rebuild of a damaged local index)."""
    if settings.index_dir.exists():
        shutil.rmtree(settings.index_dir)
