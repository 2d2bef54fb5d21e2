"""The evaluation set: one validated row per known question, read from a JSONL file.

Also the text normalisation that evidence and expected facts are matched with.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core.errors import UnderlagError

Kind = Literal["fact", "number", "list", "table", "multi", "unanswerable"]
KINDS: tuple[str, ...] = ("fact", "number", "list", "table", "multi", "unanswerable")

_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_LINE_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\n\s*(?=[^\W\d_])")


class DatasetError(UnderlagError):
    """An evaluation set cannot be read; the message names the file and line."""


class HistoryTurn(BaseModel):
    """One earlier message of a follow-up question's conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant"]
    content: str


class EvalRow(BaseModel):
    """One known question with its expected answer, facts and evidence (see evals/DATASET.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    answer: str
    must_contain: list[str]
    source: str | None
    evidence: str | None
    kind: Kind
    lang: Literal["sv", "en"]
    source_2: str | None = None
    evidence_2: str | None = None
    history: list[HistoryTurn] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalRow:
        if not self.question.strip():
            raise ValueError("question is empty")
        if self.kind == "unanswerable":
            if self.source or self.evidence or self.source_2 or self.evidence_2:
                raise ValueError("an unanswerable row has no source or evidence")
            if self.must_contain:
                raise ValueError("an unanswerable row has an empty must_contain")
            return self
        if not self.source or not self.evidence:
            raise ValueError(f"kind {self.kind!r} needs source and evidence")
        if bool(self.source_2) != bool(self.evidence_2):
            raise ValueError("source_2 and evidence_2 go together")
        if any(not s.strip() for s in self.must_contain):
            raise ValueError("must_contain holds an empty string")
        return self

    @property
    def answerable(self) -> bool:
        """Whether the documents hold the answer."""
        return self.kind != "unanswerable"

    @property
    def evidence_quotes(self) -> tuple[str, ...]:
        """The evidence quotes of the row: ``evidence`` and, for multi rows, ``evidence_2``."""
        return tuple(q for q in (self.evidence, self.evidence_2) if q)

    @property
    def sources(self) -> tuple[str, ...]:
        """The corpus file names the evidence comes from."""
        return tuple(s for s in (self.source, self.source_2) if s)


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def load_dataset(path: Path) -> list[EvalRow]:
    """Read and validate an evaluation set.

    Args:
        path: A JSONL file, one row per line; blank lines are skipped.

    Returns:
        The rows in file order.

    Raises:
        DatasetError: the file is missing or empty, or a line is not a valid row; the message
            names the line.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Kan inte läsa utvärderingsmängden {path}: {exc}") from exc
    rows: list[EvalRow] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: ogiltig JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise DatasetError(f"{path}:{lineno}: raden är inget JSON-objekt")
        try:
            row = EvalRow.model_validate(data)
        except ValidationError as exc:
            name = data.get("id", "?")
            raise DatasetError(f"{path}:{lineno} ({name}): {_first_problem(exc)}") from None
        if row.id in seen:
            raise DatasetError(f"{path}:{lineno}: id {row.id!r} finns redan på rad {seen[row.id]}")
        seen[row.id] = lineno
        rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: utvärderingsmängden är tom")
    return rows


def normalise_for_match(text: str) -> str:
    """Reduce text to lowercase letters and digits, so matching survives cleaning.

    Unicode compatibility forms are folded (ligatures, non-breaking spaces), HTML entities are
    decoded and tags dropped, words hyphenated across line breaks are joined; then everything
    but letters and digits goes: whitespace, punctuation, table and Markdown markup.
    ``"21 724 099"`` becomes ``"21724099"`` and ``"ut-\\nveckling"`` becomes ``"utveckling"``.
    """
    text = unicodedata.normalize("NFKC", html.unescape(_TAG.sub(" ", text)))
    text = _LINE_HYPHEN.sub("", text.lower())
    return "".join(ch for ch in text if ch.isalnum())
