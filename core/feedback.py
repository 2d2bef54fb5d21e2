"""Answer feedback in SQLite: personal data masked before storing, old rows deleted, and export.

Each row holds the question, the answer, its citations (JSON), a thumbs up or down, an optional
comment and the time. Swedish personal identity numbers and e-mail addresses are masked in every
text before it reaches the database; rows older than the retention period are deleted.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.types import Citation

RATING_UP = 1
RATING_DOWN = 0
PERSONNUMMER_MASK = "[personnummer]"
EMAIL_MASK = "[e-post]"
EVIDENCE_MAX_CHARS = 300

# YYYYMMDD-XXXX, YYMMDD-XXXX, YYMMDD+XXXX (100 years or older), with or without the separator;
# the day may be a samordningsnummer day (61-91). Digits on either side rule a match out, so
# amounts and reference numbers of other lengths are left alone.
_PERSONNUMMER = re.compile(
    r"(?<![\d])(?:(?:19|20)?\d{2})(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"
    r"[-+]?\d{4}(?![\d])"
)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (0, 1)),
    comment TEXT NOT NULL DEFAULT '',
    refused INTEGER NOT NULL DEFAULT 0,
    mode TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_created_at ON feedback (created_at);
"""


def mask_personal_data(text: str) -> str:
    """Replace Swedish personal identity numbers and e-mail addresses in a text.

    Args:
        text: Any text a user or a document may have put personal data in.

    Returns:
        The text with each personnummer (10 or 12 digits, with or without "-" or "+") replaced
        by ``[personnummer]`` and each e-mail address by ``[e-post]``.
    """
    return _PERSONNUMMER.sub(PERSONNUMMER_MASK, _EMAIL.sub(EMAIL_MASK, text))


def _mask_json(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {k: _mask_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One stored piece of feedback (texts already masked)."""

    id: int
    created_at: str
    question: str
    answer: str
    citations: tuple[dict[str, Any], ...]
    rating: int
    comment: str
    refused: bool
    mode: str

    @property
    def rating_label(self) -> str:
        """``"up"`` or ``"down"``."""
        return "up" if self.rating == RATING_UP else "down"


class FeedbackStore:
    """The SQLite file of answer feedback; one short connection per call, safe across threads."""

    def __init__(self, path: Path, retention_days: int = 365) -> None:
        """Open (and create when needed) the feedback database.

        Args:
            path: The SQLite file, e.g. ``settings.feedback_db``.
            retention_days: Rows older than this many days are deleted; 0 or less keeps all.
        """
        self.path = path
        self.retention_days = retention_days
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            yield conn

    def add(
        self,
        question: str,
        answer: str,
        citations: Sequence[Citation | dict[str, Any]],
        rating: int,
        comment: str = "",
        *,
        refused: bool = False,
        mode: str = "",
        now: datetime | None = None,
    ) -> int:
        """Store one rating of an answer, masked, and delete rows past the retention period.

        Args:
            question: The question as asked.
            answer: The answer text shown.
            citations: The answer's citations.
            rating: ``RATING_UP`` (1) or ``RATING_DOWN`` (0).
            comment: The user's optional comment.
            refused: Whether the answer was a refusal.
            mode: The answering mode.
            now: The time to record (default: now, UTC).

        Returns:
            The new row's id.

        Raises:
            ValueError: the rating is neither 0 nor 1.
        """
        if rating not in (RATING_UP, RATING_DOWN):
            raise ValueError(f"rating must be {RATING_UP} or {RATING_DOWN}, not {rating!r}")
        when = (now or datetime.now(UTC)).astimezone(UTC)
        cited = [asdict(c) if isinstance(c, Citation) else dict(c) for c in citations]
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO feedback "
                "(created_at, question, answer, citations, rating, comment, refused, mode) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    when.isoformat(timespec="seconds"),
                    mask_personal_data(question),
                    mask_personal_data(answer),
                    json.dumps(_mask_json(cited), ensure_ascii=False),
                    rating,
                    mask_personal_data(comment.strip()),
                    int(refused),
                    mode,
                ),
            )
            row_id = int(cursor.lastrowid or 0)
        self.purge(now=when)
        return row_id

    def purge(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period.

        Returns:
            The number of rows deleted.
        """
        if self.retention_days <= 0:
            return 0
        cutoff = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=self.retention_days)
        with self._connect() as conn:
            cursor = conn.execute(
                "DELETE FROM feedback WHERE created_at < ?", (cutoff.isoformat(timespec="seconds"),)
            )
            return int(cursor.rowcount)

    def rows(self) -> list[FeedbackRow]:
        """Every stored row, oldest first."""
        with self._connect() as conn:
            records = conn.execute(
                "SELECT id, created_at, question, answer, citations, rating, comment, refused, "
                "mode FROM feedback ORDER BY id"
            ).fetchall()
        return [
            FeedbackRow(
                id=int(r[0]),
                created_at=str(r[1]),
                question=str(r[2]),
                answer=str(r[3]),
                citations=tuple(json.loads(r[4])),
                rating=int(r[5]),
                comment=str(r[6]),
                refused=bool(r[7]),
                mode=str(r[8]),
            )
            for r in records
        ]


def candidate_rows(
    rows: Sequence[FeedbackRow], source_for: Callable[[str], str] | None = None
) -> list[dict[str, Any]]:
    """Feedback as candidate rows of ``evals/dataset.jsonl``, for a maintainer to curate.

    Every row is exported with its rating and comment; source and evidence come from the first
    citation. The kind is ``"fact"`` throughout: deciding what a question really is (and whether
    a refusal was right) is the curator's job.

    Args:
        rows: Stored feedback.
        source_for: Maps a cited document id to its corpus file name; the id is kept without it.

    Returns:
        Dicts with the dataset keys (id, question, answer, must_contain, source, evidence, kind,
        lang) plus rating, comment, refused and feedback_at.
    """
    out: list[dict[str, Any]] = []
    for row in rows:
        first = row.citations[0] if row.citations else None
        source = evidence = None
        if first is not None:
            doc_id = str(first.get("doc_id", ""))
            source = source_for(doc_id) if source_for else doc_id
            evidence = str(first.get("quote", "")).split(" … ")[0][:EVIDENCE_MAX_CHARS] or None
        out.append(
            {
                "id": f"feedback-{row.id:05d}",
                "question": row.question,
                "answer": row.answer,
                "must_contain": [],
                "source": source,
                "evidence": evidence,
                "kind": "fact",
                "lang": "sv",
                "rating": row.rating_label,
                "comment": row.comment,
                "refused": row.refused,
                "feedback_at": row.created_at,
            }
        )
    return out
