"""Clean extracted document text into structural blocks: headings, paragraphs, list items, rows.

The rules are written for text extracted from PDF reports and slide decks: words hyphenated
across lines, page starts marked by a leading space, HTML cells inside tab-separated tables,
Markdown emphasis and repeated slide banners.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from core.types import YEAR, Block

PAGE_BREAK = "\f"

# Words that follow a suspended hyphen ("hälso- och sjukvård"): the hyphen must stay.
_SUSPENDED_FOLLOWERS = frozenset(
    {"och", "eller", "samt", "respektive", "resp", "till", "som", "men", "&", "/", "utan"}
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•–]|\d{1,2}[.)]|[a-zA-Z]\))\s+")
_BULLET = re.compile(r"^\s*[-*•–]\s+")
_ENUMERATED = re.compile(r"^(?:\d{1,2}[.)]|[a-zA-Z]\))\s")
_SEPARATOR = re.compile(r"^[\s\-=:|]*-{2,}[\s\-=:|]*$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_WHOLE_LINE_EMPHASIS = re.compile(r"^\s*(\*{2,3}|_{2,3})(?P<t>[^*_].*?)\1\s*$")
_HTML_TAG = re.compile(r"<[^>]+>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff\u00ad]")
_YEAR_SPAN = re.compile(r"\b(?:19|20)\d{2}\s?[-–]\s?(?:19|20)\d{2}\b")


@dataclass(slots=True)
class _Line:
    text: str
    page: int


def normalise_unicode(text: str) -> str:
    """NFC, Unix newlines, no control characters, soft hyphens or non-breaking spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2009", " ")
    # Form feeds are page breaks from the PDF loader; keep them, drop other controls.
    return _CONTROL.sub("", text)


def _is_page_start(line: str) -> bool:
    # PDF extracts here start each page with one space; nested list items use "  -" or " -".
    return len(line) > 1 and line[0] == " " and not line[1].isspace() and line[1] not in "-*"


def _should_join_hyphen(prev: str, nxt: str) -> bool:
    """Whether ``prev`` ends with a line-break hyphen that joins onto ``nxt``."""
    if len(prev) < 2 or not prev.endswith("-") or prev.endswith("--"):
        return False
    before = prev[-2]
    first = nxt.lstrip()
    if not before.isalpha() or before.isupper() or not first or not first[0].islower():
        return False
    first_word = re.split(r"[\s,.;:]", first, maxsplit=1)[0]
    return first_word not in _SUSPENDED_FOLLOWERS


def _continues_after_gap(prev: str, nxt: str) -> bool:
    """Whether ``nxt``, after a blank line, goes on with the sentence that ``prev`` left open.

    Page breaks in the extracts leave a blank line inside sentences ("samtliga" / blank /
    "verksamhetsområden i ..."): an open line followed by a lowercase line is one paragraph.
    """
    first = nxt.lstrip()
    return (
        bool(re.search(r"[^\W\d_],?$", prev))
        and bool(first)
        and first[0].islower()
        and "\t" not in prev + nxt
        and not _MD_HEADING.match(prev.strip())
        and not _LIST_ITEM.match(nxt)
    )


def join_lines(raw: str, detect_pages: bool) -> list[_Line]:
    """Split into lines with page numbers, joining words hyphenated across line breaks."""
    lines: list[_Line] = []
    page = 1
    for segment_no, segment in enumerate(raw.split(PAGE_BREAK)):
        if segment_no:
            page += 1
        originals = segment.split("\n")
        for i, original in enumerate(originals):
            # Trailing tabs stay: they are the empty last cells of a table row.
            line = original.rstrip(" ")
            if (
                not line.strip()
                and lines
                and i + 1 < len(originals)
                and (
                    _should_join_hyphen(lines[-1].text, originals[i + 1])
                    or _continues_after_gap(lines[-1].text, originals[i + 1])
                )
            ):
                continue  # "Om resul-" / blank line / "tatet": the text goes on after the gap
            if detect_pages and lines and _is_page_start(line):
                page += 1
            line_page = page
            if lines and _should_join_hyphen(lines[-1].text, line):
                lines[-1].text = lines[-1].text[:-1] + line.strip()
                continue
            if lines and re.search(r"\d-$", lines[-1].text) and re.match(r"\s*\d", line):
                lines[-1].text = lines[-1].text + line.strip()
                continue
            lines.append(_Line(line, line_page))
            if original.endswith("  ") and line.strip():
                lines.append(_Line("", line_page))  # Markdown hard line break
    return lines


def strip_markup(text: str) -> str:
    """Remove HTML tags and Markdown emphasis, keep the words; unescape entities."""
    text = re.sub(r"</?(?:p|div|br|tr)\b[^>]*>", " ", text, flags=re.I)
    text = re.sub(r"<li\b[^>]*>", " ", text, flags=re.I)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [text](link) -> text
    text = re.sub(r"~~(.+?)~~", r"\1", text)
    text = re.sub(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<!\w)\*{1,3}|\*{1,3}(?!\w)", "", text)  # unmatched emphasis marks
    text = re.sub(r"(?<=\d)--(?=\d)", "–", text)
    text = re.sub(r"\s+--\s+", " – ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _cells(line: str) -> list[str]:
    cells = [strip_markup(c) for c in line.split("\t")]
    # Navigation noise on slides: expand/collapse markers as whole cells.
    return [c for c in cells if c not in {"+", "-", "–"}] if len(cells) > 1 else cells


def _is_header_row(cells: list[str]) -> bool:
    filled = [c for c in cells if c]
    if len(filled) < 2:
        return False
    for cell in filled:
        if len(cell) > 40 or cell.endswith(":"):
            return False
        if re.search(r"\d", cell) and not YEAR.fullmatch(cell):
            return False
    return True


def table_rows(lines: list[str]) -> list[str]:
    """Turn tab-separated rows into text rows that keep their column headers.

    A first row of short, non-numeric cells (or years) is taken as the header, so a cell under
    "2024" reads "2024: ..." wherever the row ends up.
    """
    rows = [_cells(line) for line in lines if not _SEPARATOR.match(line)]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    header: list[str] = []
    if len(rows) > 1 and _is_header_row(rows[0]):
        header, rows = rows[0], rows[1:]
    out: list[str] = []
    for row in rows:
        if header:
            parts = []
            for i, cell in enumerate(row):
                if not cell:
                    continue
                name = header[i] if i < len(header) else ""
                parts.append(f"{name}: {cell}" if name else cell)
            out.append(" | ".join(parts))
        else:
            out.append(" | ".join(c for c in row if c))
    return [r for r in out if r]


@dataclass(slots=True)
class _Para:
    kind: str
    text: str
    page: int
    level: int = 0
    at_page_start: bool = False


def _paragraphs(lines: list[_Line], detect_pages: bool) -> list[_Para]:
    """Group lines into paragraphs, list items, table rows and Markdown headings."""
    paras: list[_Para] = []
    buf: list[_Line] = []
    table: list[_Line] = []

    def flush_text() -> None:
        if not buf:
            return
        # A short title line glued to the body below it ("Uppdraget\nRegeringen har ...").
        first = buf[0].text.strip()
        if (
            len(buf) > 1
            and len(first) <= 50
            and len(buf[1].text.strip()) >= 55
            and first[-1] not in ".,;:-"
            and first[0].isupper()
            and buf[1].text.strip()[0].isupper()
        ):
            title = strip_markup(first)
            starts_page = detect_pages and _is_page_start(buf[0].text)
            paras.append(_Para("paragraph", title, buf[0].page, at_page_start=starts_page))
            paras[-1].level = -1  # marks a forced title; see structure()
            del buf[0]
        text = strip_markup(" ".join(x.text.strip() for x in buf))
        if text:
            starts_page = detect_pages and _is_page_start(buf[0].text)
            paras.append(_Para("paragraph", text, buf[0].page, at_page_start=starts_page))
        buf.clear()

    def flush_table() -> None:
        if not table:
            return
        page = table[0].page
        rows = table_rows([x.text for x in table])
        for row in rows:
            paras.append(_Para("table_row" if "|" in row else "list_item", row, page))
        table.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        text = line.text
        if not text.strip():
            flush_text()
            # A table continues over blank lines when its next line is a row again.
            if table:
                j = i + 1
                while j < len(lines) and not lines[j].text.strip():
                    j += 1
                if j >= len(lines) or "\t" not in lines[j].text:
                    flush_table()
            i += 1
            continue
        if "\t" in text or (table and _SEPARATOR.match(text)):
            flush_text()
            table.append(line)
            i += 1
            continue
        flush_table()
        heading = _MD_HEADING.match(text.strip())
        emphasised = _WHOLE_LINE_EMPHASIS.match(text)
        if heading or (emphasised and not buf and _next_is_blank(lines, i)):
            flush_text()
            level = len(heading.group(1)) if heading else 3
            title = strip_markup(heading.group(2) if heading else text)
            if title:
                paras.append(_Para("heading", title, line.page, level=level))
            i += 1
            continue
        if _SEPARATOR.match(text):
            flush_text()
            i += 1
            continue
        # In a paged extract a leading space opens a page, which may start with a bullet but
        # otherwise with ordinary text ("1 Inledning"); elsewhere it indents a nested item.
        at_page_start = detect_pages and _is_page_start(text)
        if _LIST_ITEM.match(text) and (not at_page_start or text.lstrip()[0] == "•"):
            flush_text()
            # Bullets go, enumerators stay: "2." or "b)" is part of what the item says.
            parts = [_BULLET.sub("", text, count=1).strip()]
            i += 1
            # Continuation lines of a wrapped list item belong to it.
            while (
                i < len(lines)
                and lines[i].text.strip()
                and "\t" not in lines[i].text
                and not _LIST_ITEM.match(lines[i].text)
                and not _MD_HEADING.match(lines[i].text.strip())
            ):
                parts.append(lines[i].text.strip())
                i += 1
            item = strip_markup(" ".join(parts))
            if item:
                paras.append(_Para("list_item", item, line.page))
            continue
        # A new page starts a new paragraph unless it goes on with a sentence in lowercase.
        if buf and line.page != buf[-1].page and not text.lstrip()[:1].islower():
            flush_text()
        buf.append(line)
        i += 1
    flush_text()
    flush_table()
    return paras


def _next_is_blank(lines: list[_Line], i: int) -> bool:
    return i + 1 >= len(lines) or not lines[i + 1].text.strip()


def _is_banner(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 6 and all(c.isupper() for c in letters)


def _looks_like_heading(para: _Para) -> bool:
    text = para.text
    if para.kind != "paragraph" or len(text) > 90 or len(text) < 3:
        return False
    if para.level == -1:
        return True
    if text[-1] in ".,;:!?" or not any(c.isalpha() for c in text) or "@" in text:
        return False
    # Amounts and other long figures are content ("Totalt: 300 000 kr"), not section titles.
    if re.search(r"\d[\d ]{3,}\d", text) and not re.fullmatch(r".*\b(19|20)\d{2}\b.*", text):
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    # A line of mostly figures is content ("Välfärdsrådet 250213"), not a section title;
    # a span of years does not count ("Aktiviteter 2019-2020" is a chapter).
    digits = sum(c.isdigit() for c in _YEAR_SPAN.sub("", text))
    return digits <= len(text) // 3


def structure(raw: str) -> tuple[str, list[Block]]:
    """Clean raw extracted text and cut it into blocks with heading paths and page locators.

    Args:
        raw: Text as extracted; form feeds separate pages when the loader knows them.

    Returns:
        The cleaned text and its blocks; each block's ``start``/``end`` index the cleaned text.
    """
    raw = normalise_unicode(raw)
    # A leading space marks page starts only in PDF-style extracts that have several.
    page_starts = sum(1 for line in raw.split("\n") if _is_page_start(line))
    detect_pages = PAGE_BREAK in raw or page_starts >= 3
    has_pages = detect_pages
    # A document that marks its headings (Markdown, or HTML/Word through the loaders) is
    # trusted: its plain lines are not guessed to be headings (a letterhead is no section).
    explicit_headings = any(_MD_HEADING.match(line.strip()) for line in raw.split("\n"))
    paras = _paragraphs(join_lines(raw, detect_pages), detect_pages)

    counts = Counter(p.text for p in paras if p.kind == "paragraph")
    path: list[tuple[int, str]] = []
    blocks: list[Block] = []
    pieces: list[str] = []
    offset = 0
    after_banner = False
    period = ""
    for para in paras:
        # A line that is only a year ("2024" ... "2025" in a slide deck, a plan's "2021") opens
        # a period: what follows is about that year until the next such line.
        if para.kind == "paragraph" and YEAR.fullmatch(para.text):
            period = para.text
        if para.kind == "paragraph" and _is_banner(para.text) and counts[para.text] >= 2:
            after_banner = True  # repeated slide banner: noise, but it opens a new section
            continue
        kind, level = para.kind, para.level
        if kind == "paragraph" and not explicit_headings and _looks_like_heading(para):
            kind = "heading"
            level = 1 if (after_banner or para.at_page_start) else 2
            if not path and level == 2:
                level = 1
        after_banner = False if kind != "paragraph" or para.text else after_banner
        if kind == "heading":
            path = [(lv, t) for lv, t in path if lv < level] + [(level, para.text)]
            if level == 1:
                period = ""  # a new top-level section is no longer about the year before
        heading_path = tuple(t for _, t in path)
        if period and not any(period in t for t in heading_path):
            heading_path += (period,)  # the year the text is about, for search and citations
        locator = f"sida {para.page}" if has_pages else ""
        sep = "\n\n" if pieces and (kind == "heading" or blocks[-1].kind == "heading") else "\n"
        if pieces:
            offset += len(sep)
            pieces.append(sep)
        text = para.text
        if kind == "list_item" and not _ENUMERATED.match(text):
            text = "- " + text  # a list item reads as one, not as a title line
        start = offset
        pieces.append(text)
        offset += len(text)
        blocks.append(Block(kind, text, start, offset, heading_path, locator, level))
    return "".join(pieces), blocks
