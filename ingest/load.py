"""Load documents from files (.txt, .md, .html, .pdf, .docx) with their catalog metadata."""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from core.errors import IngestError
from core.types import Document, DocumentMeta
from ingest.clean import PAGE_BREAK, structure

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_CHARS = 2_000_000
CATALOG_NAME = "catalog.toml"
# Files in the corpus folder that describe the corpus rather than belong to it.
RESERVED_NAMES = frozenset({CATALOG_NAME, "glossary.toml", "README.md"})


@dataclass(frozen=True, slots=True)
class Catalog:
    """The entries of ``corpus/catalog.toml`` keyed by file name."""

    entries: dict[str, dict[str, object]]

    def meta_for(self, path: Path, text: str) -> DocumentMeta:
        """Catalog metadata for a file, or metadata derived from the file when not catalogued."""
        entry = self.entries.get(path.name)
        if entry is None:
            return derive_meta(path, text)
        listed = entry.get("groups") or ["alla"]
        # groups = "chefer" is one group, not six letters.
        groups = listed if isinstance(listed, list | tuple) else [listed]
        return DocumentMeta(
            doc_id=str(entry.get("id") or slugify(path.stem)),
            source=path.name,
            title=str(entry.get("title") or derive_title(path, text)),
            publisher=str(entry.get("publisher", "")),
            date=str(entry.get("date", "")),
            doc_type=str(entry.get("type", "dokument")),
            groups=tuple(str(g) for g in groups),
            description=str(entry.get("description", "")),
        )


def load_catalog(corpus_dir: Path) -> Catalog:
    """Read ``catalog.toml`` of a corpus folder; a missing catalog is an empty one.

    Raises:
        IngestError: the catalog exists but is not valid TOML.
    """
    path = corpus_dir / CATALOG_NAME
    if not path.exists():
        return Catalog({})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: ogiltig katalog ({exc}); rätta filen och kör igen.") from exc
    docs = data.get("documents", {})
    return Catalog({str(name): dict(entry) for name, entry in docs.items()})


def slugify(name: str) -> str:
    """A file-system and URL safe id from a file name."""
    table = str.maketrans("åäöÅÄÖéü", "aaoAAOeu")
    slug = re.sub(r"[^a-z0-9]+", "-", name.translate(table).lower()).strip("-")
    return slug or "dokument"


def derive_title(path: Path, text: str) -> str:
    """The first line of the text that reads like a title, else the file name."""
    for line in text.splitlines():
        line = re.sub(r"[#*_]", "", line).strip()
        if 3 <= len(line) <= 120 and any(c.isalpha() for c in line):
            return line
    return path.stem.replace("_", " ").replace("-", " ")


def derive_meta(path: Path, text: str) -> DocumentMeta:
    """Metadata for a document that is not in the catalog: title, date from the file name."""
    date = ""
    found = re.search(r"(20\d{2}|19\d{2})(?:[-_]?([01]\d)(?:[-_]?([0-3]\d))?)?", path.stem)
    if found:
        date = "-".join(p for p in found.groups() if p)
    return DocumentMeta(
        doc_id=slugify(path.stem),
        source=path.name,
        title=derive_title(path, text),
        date=date,
    )


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes of a text file: UTF-8 first, else the detected Swedish-friendly charset.

    Raises:
        IngestError: the bytes are not text (binary junk named .txt).
    """
    if b"\x00" in data[:8192]:
        raise IngestError(f"{name}: filen är binär, inte text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000], cp_isolation=["cp1252", "latin_1", "iso8859_15", "utf_16"])
    match = best.best()
    encoding = match.encoding if match else "cp1252"
    if encoding in {"ascii", "utf_8"}:
        encoding = "cp1252"
    text = data.decode(encoding, errors="replace")
    control = sum(1 for c in text[:20_000] if ord(c) < 32 and c not in "\n\r\t\f")
    if control > 20 or text.count("\ufffd") > max(10, len(text) // 100):
        raise IngestError(f"{name}: filen går inte att läsa som text")
    return text


def _read_text(path: Path) -> str:
    return decode_text(path.read_bytes(), path.name)


_HTML_NOISE = [
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "template",
    "svg",
    "iframe",
]
_HTML_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HTML_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "blockquote",
        "pre",
        "dl",
        "dd",
        "dt",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "form",
        "fieldset",
        "center",
        "body",
        "html",
    }
)


def _read_html(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes(), path.name), "lxml")
    for tag in soup(_HTML_NOISE):
        tag.decompose()
    lines: list[str] = []
    _html_lines(soup.body or soup, lines)
    return "\n".join(lines)


def _html_list(tag: Any, lines: list[str], depth: int) -> None:
    """Append a list's items as "- " lines; a nested list's items indented under their parent."""
    for item in tag.find_all("li", recursive=False):
        nested = [sub.extract() for sub in item.find_all(["ul", "ol"], recursive=False)]
        text = " ".join(item.get_text(" ", strip=True).split())
        if text:
            lines.append("  " * depth + "- " + text)
        for sub in nested:
            _html_list(sub, lines, depth + 1)


def _html_lines(node: Any, lines: list[str], depth: int = 0) -> None:
    """Append the text of an HTML element in document order: headings as Markdown headings,
    list items as "- " lines, table rows as tab-separated cells, any other text as paragraphs."""
    from bs4 import NavigableString, Tag

    inline: list[str] = []

    def flush() -> None:
        text = " ".join("".join(inline).split())
        inline.clear()
        if text:
            lines.extend([text, ""])

    for child in node.children:
        if type(child) is NavigableString:  # comments, doctypes and the like are no text
            inline.append(str(child))
        elif not isinstance(child, Tag):
            continue
        elif child.name in _HTML_HEADINGS:
            flush()
            text = child.get_text(" ", strip=True)
            if text:
                lines.extend(["", "#" * int(child.name[1]) + " " + text, ""])
        elif child.name == "table":
            flush()
            for row in child.find_all("tr"):
                lines.append(
                    "\t".join(c.get_text(" ", strip=True) for c in row.find_all(["th", "td"]))
                )
            lines.append("")
        elif child.name in {"ul", "ol"}:
            flush()
            _html_list(child, lines, depth)
            lines.append("")
        elif child.name == "br":
            flush()
        elif child.name in _HTML_BLOCKS:
            flush()
            _html_lines(child, lines, depth)
        else:  # inline markup: <b>, <a>, <span> ...
            inline.append(child.get_text(" "))
    flush()


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # a damaged PDF makes pypdf raise almost any kind of error
        raise IngestError(f"{path.name}: PDF-filen är trasig ({exc})") from exc
    if not any(p.strip() for p in pages):
        raise IngestError(f"{path.name}: PDF-filen saknar textlager (skannad bild?)")
    return PAGE_BREAK.join(pages)


def _read_docx(path: Path) -> str:
    from docx import Document as DocxDocument

    try:
        doc = DocxDocument(str(path))
    except Exception as exc:  # not a zip, no Word package inside, broken XML: all one failure
        raise IngestError(f"{path.name}: Word-filen är trasig ({exc})") from exc
    from docx.table import Table

    lines: list[str] = []
    # Paragraphs and tables in document order, so a table stays under its heading.
    for part in doc.iter_inner_content():
        if isinstance(part, Table):
            lines.append("")
            for row in part.rows:
                lines.append("\t".join(" ".join(cell.text.split()) for cell in row.cells))
            lines.append("")
            continue
        text = part.text.strip()
        if not text:
            continue
        style = (part.style.name if part.style is not None else "") or ""
        level = re.search(r"(?:Heading|Rubrik)\s*(\d)", style)
        if level:
            lines.extend(["", "#" * int(level.group(1)) + " " + text, ""])
        elif style in {"Title", "Rubrik"}:
            lines.extend(["", "# " + text, ""])
        elif "list" in style.lower():  # "List Bullet", "Punktlista", "Numrerad lista" ...
            lines.append("- " + text)
        else:
            lines.extend([text, ""])
    return "\n".join(lines)


LOADERS: dict[str, Callable[[Path], str]] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}


def supported(path: Path) -> bool:
    """Whether a file has a loader."""
    return path.suffix.lower() in LOADERS


def list_corpus(corpus_dir: Path) -> tuple[list[Path], list[Path]]:
    """The loadable files of a corpus folder and the files that are skipped, both sorted."""
    if not corpus_dir.is_dir():
        raise IngestError(f"Korpusmappen {corpus_dir} finns inte; ange --corpus MAPP.")
    files = sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )
    wanted = [p for p in files if p.name not in RESERVED_NAMES and supported(p)]
    skipped = [p for p in files if p.name not in RESERVED_NAMES and not supported(p)]
    return wanted, skipped


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _grouped(number: int) -> str:
    """A number with Swedish digit grouping: 2 000 000."""
    return f"{number:,}".replace(",", " ")


def load_document(path: Path, catalog: Catalog, max_chars: int = DEFAULT_MAX_CHARS) -> Document:
    """Read, clean and structure one file.

    Args:
        path: The file.
        catalog: Catalog metadata of the corpus.
        max_chars: Longest extracted text accepted; longer files are reported, not indexed.

    Raises:
        IngestError: the file is empty, too large, unreadable or of an unsupported type.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise IngestError(f"{path.name}: filtypen {path.suffix or '(ingen)'} stöds inte")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{path.name}: filen är tom")
    if size > MAX_FILE_BYTES:
        raise IngestError(f"{path.name}: filen är för stor ({size // 1_000_000} MB)")
    raw = loader(path)
    if len(raw) > max_chars:
        raise IngestError(
            f"{path.name}: texten är för lång ({_grouped(len(raw))} tecken, gränsen är "
            f"{_grouped(max_chars)}); dela upp filen eller höj UNDERLAG_MAX_DOCUMENT_CHARS"
        )
    if not raw.strip():
        raise IngestError(f"{path.name}: filen innehåller ingen text")
    text, blocks = structure(raw)
    if not blocks:
        raise IngestError(f"{path.name}: filen innehåller ingen text")
    meta = catalog.meta_for(path, text)
    return Document(meta=meta, text=text, blocks=tuple(blocks), sha256=file_sha256(path))
