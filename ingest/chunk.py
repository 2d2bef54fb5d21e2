"""Cut a cleaned document into chunks that follow its structure, sized in embedder tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from core.types import YEAR, Block, Chunk, Document, period_of

TokenCounter = Callable[[str], int]

# A piece of a table cell too long for one chunk repeats the cell's column name with this.
CONTINUED = "(forts.)"
_LABEL_RESERVE = 12
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-ZÅÄÖ0-9•\-–(\"”])")


@dataclass(frozen=True, slots=True)
class _Unit:
    """A block, or a piece of an oversized block, with its token count."""

    block: Block
    text: str
    start: int
    end: int
    tokens: int


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    return [(a, b) for a, b in spans if b > a]


def _sentence_spans(block: Block) -> list[tuple[int, int]]:
    """Sentence spans of a block; a table row is cut at its cells first, so that every piece
    of a long row starts with its column name ("2024: ...")."""
    cells: list[tuple[int, int]] = []
    pos = 0
    if block.kind == "table_row":
        for match in re.finditer(r" \| ", block.text):
            cells.append((pos, match.start()))
            pos = match.end()
    cells.append((pos, len(block.text)))
    return [(a + x, a + y) for a, b in cells for x, y in split_sentences(block.text[a:b])]


def _split_block(block: Block, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    """Split a block over ``max_tokens`` at cells and sentence ends, at words if a sentence is
    too long."""
    if block.kind == "table_row":
        max_tokens -= _LABEL_RESERVE  # room for the column name a continued cell repeats
    pieces: list[tuple[int, int]] = []
    for a, b in _sentence_spans(block):
        if count(block.text[a:b]) <= max_tokens:
            pieces.append((a, b))
            continue
        # A run-on "sentence": cut at spaces into windows that fit.
        words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", block.text[a:b])]
        step = max(1, max_tokens // 3)  # Swedish words take about 1.5-3 e5 tokens
        for i in range(0, len(words), step):
            group = words[i : i + step]
            pieces.append((group[0][0], group[-1][1]))
    spans: list[tuple[int, int]] = []
    cur_a, cur_b, cur_tokens = -1, -1, 0
    for a, b in pieces:
        tokens = count(block.text[a:b])
        if cur_a >= 0 and cur_tokens + tokens > max_tokens:
            spans.append((cur_a, cur_b))
            cur_a, cur_tokens = -1, 0
        if cur_a < 0:
            cur_a = a
        cur_b = b
        cur_tokens += tokens
    if cur_a >= 0:
        spans.append((cur_a, cur_b))
    units = []
    for a, b in spans:
        text = block.text[a:b]
        label = _cell_label(block, a) if block.kind == "table_row" else ""
        if label:
            text = f"{label} {CONTINUED}: {text}"
        units.append(_Unit(block, text, block.start + a, block.start + b, count(text)))
    return units


def _cell_label(block: Block, a: int) -> str:
    """The column name of the row cell that position ``a`` falls inside (not at its start)."""
    cell_start = block.text.rfind(" | ", 0, a)
    cell_start = 0 if cell_start < 0 else cell_start + 3
    if cell_start == a:
        return ""  # the piece opens the cell, column name and all
    name, colon, _ = block.text[cell_start:a].partition(": ")
    return name if colon and 0 < len(name) <= 40 else ""


def _size(units: list[_Unit]) -> int:
    return sum(u.tokens for u in units)


def _joined(first: list[_Unit], second: list[_Unit]) -> list[_Unit]:
    # The overlap unit may end one group and open the next: keep it once.
    return first + [u for u in second if u not in first]


def _merge_small(groups: list[list[_Unit]], min_tokens: int, max_tokens: int) -> list[list[_Unit]]:
    """Fold chunks too small to say anything (a lone title) into a neighbour they fit in."""
    merged: list[list[_Unit]] = []
    pending: list[_Unit] = []

    def keep_pending() -> None:
        if merged and _size(_joined(merged[-1], pending)) <= max_tokens:
            merged[-1] = _joined(merged[-1], pending)
        else:
            merged.append(pending)

    for group in groups:
        if pending:
            if _size(_joined(pending, group)) <= max_tokens:
                group = _joined(pending, group)
            else:
                keep_pending()
            pending = []
        if _size(group) < min_tokens:
            pending = group
            continue
        merged.append(group)
    if pending:
        keep_pending()
    return merged


def _locator(units: list[_Unit], heading_path: tuple[str, ...]) -> str:
    pages = [u.block.locator for u in units if u.block.locator]
    parts: list[str] = []
    if pages:
        first, last = pages[0], pages[-1]
        parts.append(first if first == last else f"{first}–{last.removeprefix('sida ')}")
    titles = [h for h in heading_path if not YEAR.fullmatch(h)]
    years = [h for h in heading_path if YEAR.fullmatch(h)]
    if titles:
        parts.append(f"avsnitt ”{titles[-1]}”" + (f" ({years[-1]})" if years else ""))
    elif years:
        parts.append(f"avsnitt ”{years[-1]}”")
    return ", ".join(parts)


def _content_hash(heading_path: tuple[str, ...], text: str) -> str:
    payload = " > ".join(heading_path) + "\n" + text
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    target_tokens: int = 260,
    max_tokens: int = 350,
    overlap_tokens: int = 40,
) -> list[Chunk]:
    """Pack a document's blocks into chunks.

    A new chunk starts at a section heading once the current one has reached about half the
    target, and whenever the next block would push it over ``max_tokens``. A short closing
    block of the previous chunk is repeated at the start of the next (bounded overlap), but
    never across a heading. Table rows carry their column headers in their text already.

    Args:
        doc: The cleaned document.
        count_tokens: The embedder's token counter.
        target_tokens: Size a chunk aims at.
        max_tokens: Size no chunk exceeds (the heading path prefix aside).
        overlap_tokens: Largest block repeated from the previous chunk.

    Returns:
        The chunks in document order, with stable ids.
    """
    # The counter includes what the model adds to every input (special tokens, the e5
    # "passage: " prefix); summed block by block that would inflate a chunk several tokens a
    # block, so blocks are measured without it and the chunk's budget leaves room for it once.
    overhead = max(0, 2 * count_tokens("a") - count_tokens("a a"))

    def content_tokens(text: str) -> int:
        return max(1, count_tokens(text) - overhead)

    max_tokens = max_tokens - overhead
    units: list[_Unit] = []
    for block in doc.blocks:
        tokens = content_tokens(block.text)
        if tokens > max_tokens:
            units.extend(_split_block(block, content_tokens, max_tokens))
        else:
            units.append(_Unit(block, block.text, block.start, block.end, tokens))

    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        is_heading = unit.block.kind == "heading"
        starts_section = is_heading and (
            size >= target_tokens // 2 or (unit.block.level <= 1 and size > 0)
        )
        # A new year ("2024" ... "2025" on a slide) opens a chunk: one year's figures per chunk.
        if current and period_of(unit.block.heading_path) != period_of(
            current[-1].block.heading_path
        ):
            starts_section = True
        if current and (size + unit.tokens > max_tokens or starts_section):
            groups.append(current)
            carry = current[-1]
            overlap = (
                not is_heading
                and carry.block.kind != "heading"
                and carry.tokens <= overlap_tokens
                and carry.block.heading_path == unit.block.heading_path
            )
            current = [carry] if overlap else []
            size = carry.tokens if overlap else 0
        current.append(unit)
        size += unit.tokens
    if current:
        groups.append(current)
    groups = _merge_small(groups, min_tokens=max(20, target_tokens // 5), max_tokens=max_tokens)

    chunks: list[Chunk] = []
    meta = doc.meta
    for position, group in enumerate(groups):
        body = [u for u in group if u.block.kind != "heading"] or group
        heading_path = body[0].block.heading_path
        periods = {period_of(u.block.heading_path) for u in body} - {""}
        if not period_of(heading_path) and len(periods) == 1:
            # A title folded into the text of one year is about that year.
            heading_path += (periods.pop(),)
        # List items carry their dash from cleaning, so the answerer can tell an item from a
        # title line, and the text still maps onto the cleaned document.
        text = "\n".join(u.text for u in group)
        digest = _content_hash(heading_path, text)
        chunks.append(
            Chunk(
                chunk_id=f"{meta.doc_id}:{position:04d}:{digest[:12]}",
                doc_id=meta.doc_id,
                title=meta.title,
                text=text,
                heading_path=heading_path,
                locator=_locator(group, heading_path),
                start=group[0].start,
                end=group[-1].end,
                position=position,
                n_tokens=count_tokens(text),
                content_hash=digest,
                publisher=meta.publisher,
                date=meta.date,
                doc_type=meta.doc_type,
                groups=meta.groups,
            )
        )
    return chunks
