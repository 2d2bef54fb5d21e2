"""Pipeline types: Path -> Document -> Chunk -> Passage -> Answer, with Citation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """Catalog facts about one document; derived from the file when not catalogued."""

    doc_id: str
    source: str
    title: str
    publisher: str = ""
    date: str = ""
    doc_type: str = "dokument"
    groups: tuple[str, ...] = ("alla",)
    description: str = ""

    @property
    def year(self) -> int | None:
        """The year of the document's date, when the date has one."""
        return int(self.date[:4]) if self.date[:4].isdigit() else None


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit of a cleaned document: a paragraph, list item, table row or heading."""

    kind: str  # "heading" | "paragraph" | "table_row" | "list_item"
    text: str
    start: int
    end: int
    heading_path: tuple[str, ...]
    locator: str
    level: int = 0  # heading level, 0 for non-headings


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded and cleaned document: its text, its blocks and its catalog metadata."""

    meta: DocumentMeta
    text: str
    blocks: tuple[Block, ...]
    sha256: str

    @property
    def doc_id(self) -> str:
        """The document's stable id."""
        return self.meta.doc_id


# A year as a text of its own ("2024"): a line of a slide deck or plan that opens that year's part.
YEAR = re.compile(r"(?:19|20)\d{2}")
YEAR_IN_TEXT = re.compile(r"\b(?:19|20)\d{2}\b")  # a year anywhere in a text


def period_of(heading_path: tuple[str, ...]) -> str:
    """The year a heading path places its text in, "" for none (see ingest.clean)."""
    return next((h for h in reversed(heading_path) if YEAR.fullmatch(h)), "")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one document, sized for the embedder, with where it came from."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    heading_path: tuple[str, ...]
    locator: str
    start: int
    end: int
    position: int
    n_tokens: int
    content_hash: str
    publisher: str = ""
    date: str = ""
    doc_type: str = ""
    groups: tuple[str, ...] = ("alla",)

    @property
    def embed_text(self) -> str:
        """The text that is embedded: the heading path, then the chunk text."""
        if not self.heading_path:
            return self.text
        return " > ".join(self.heading_path) + "\n" + self.text

    @property
    def year(self) -> int | None:
        """The year of the document's date, when known."""
        return int(self.date[:4]) if self.date[:4].isdigit() else None


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk with its fused score and rank (1 = best)."""

    chunk: Chunk
    score: float
    rank: int


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source of an answer: which passage, where in the document, and what it says."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    locator: str
    quote: str
    publisher: str = ""
    date: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """What every answering mode returns."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    mode: str
    passages: tuple[Passage, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    notice: str = ""
    standalone_question: str = ""
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions on what may be retrieved; empty means no restriction."""

    doc_ids: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    groups: tuple[str, ...] = ()

    def allows(self, chunk: Chunk) -> bool:
        """Whether a chunk passes every filter."""
        if self.doc_ids and chunk.doc_id not in self.doc_ids:
            return False
        if self.doc_types and chunk.doc_type not in self.doc_types:
            return False
        if self.years and chunk.year not in self.years:
            return False
        return not (self.groups and not set(self.groups) & set(chunk.groups))


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation."""

    role: str  # "user" | "assistant"
    content: str
