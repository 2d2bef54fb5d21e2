"""Cut a cleaned document into chunks that follow its structure, sized in embedder tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from core.types import Block, Chunk, Document

TokenCounter = Callable[[str], int]

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


def _split_block(block: Block, count: TokenCounter, max_tokens: int) -> list[_Unit]:
    """Split a block over ``max_tokens`` at sentence ends, and at words if a sentence is too long."""
    pieces: list[tuple[int, int]] = []
    for a, b in split_sentences(block.text):
        if count(block.text[a:b]) <= max_tokens:
            pieces.append((a, b))
            continue
        # A run-on "sentence": cut at spaces into windows that fit.
        words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", block.text[a:b])]
        step = max(1, max_tokens // 3)  # Swedish words take about 1.5-3 e5 tokens
        for i in range(0, len(words), step):
            group = words[i : i + step]
            pieces.append((group[0][0], group[-1][1]))
    units: list[_Unit] = []
    cur_a, cur_b, cur_tokens = -1, -1, 0
    for a, b in pieces:
        tokens = count(block.text[a:b])
        if cur_a >= 0 and cur_tokens + tokens > max_tokens:
            units.append(_make_unit(block, cur_a, cur_b, cur_tokens))
            cur_a, cur_tokens = -1, 0
        if cur_a < 0:
            cur_a = a
        cur_b = b
        cur_tokens += tokens
    if cur_a >= 0:
        units.append(_make_unit(block, cur_a, cur_b, cur_tokens))
    return units


def _make_unit(block: Block, a: int, b: int, tokens: int) -> _Unit:
    return _Unit(block, block.text[a:b], block.start + a, block.start + b, tokens)


def _merge_small(groups: list[list[_Unit]], min_tokens: int, max_tokens: int) -> list[list[_Unit]]:
    """Fold chunks too small to say anything (a lone title) into their neighbour."""
    merged: list[list[_Unit]] = []
    pending: list[_Unit] = []
    for group in groups:
        if pending:
            group = pending + [u for u in group if u not in pending]
            pending = []
        if sum(u.tokens for u in group) < min_tokens:
            pending = group
            continue
        merged.append(group)
    if pending:
        if merged and sum(u.tokens for u in merged[-1] + pending) <= max_tokens + min_tokens:
            merged[-1] = merged[-1] + [u for u in pending if u not in merged[-1]]
        else:
            merged.append(pending)
    return merged


def _locator(units: list[_Unit], heading_path: tuple[str, ...]) -> str:
    pages = [u.block.locator for u in units if u.block.locator]
    parts: list[str] = []
    if pages:
        first, last = pages[0], pages[-1]
        parts.append(first if first == last else f"{first}–{last.removeprefix('sida ')}")
    if heading_path:
        parts.append(f"avsnitt ”{heading_path[-1]}”")
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
    units: list[_Unit] = []
    for block in doc.blocks:
        tokens = count_tokens(block.text)
        if tokens > max_tokens:
            units.extend(_split_block(block, count_tokens, max_tokens))
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
                n_tokens=sum(u.tokens for u in group),
                content_hash=digest,
                publisher=meta.publisher,
                date=meta.date,
                doc_type=meta.doc_type,
                groups=meta.groups,
            )
        )
    return chunks
