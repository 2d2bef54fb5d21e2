"""The feedback store: masking of personal data, retention, and export as evaluation candidates."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cli
from core.feedback import (
    EMAIL_MASK,
    PERSONNUMMER_MASK,
    RATING_DOWN,
    RATING_UP,
    FeedbackStore,
    candidate_rows,
    mask_personal_data,
)
from core.types import Citation

REPO = Path(__file__).resolve().parents[1]

CITATION = Citation(
    n=1,
    chunk_id="rss-dalarna-lchnv-2024-06-12:0007",
    doc_id="rss-dalarna-lchnv-2024-06-12",
    title="RSS Dalarna – rapporter till länschefsnätverket (LCHNV) 12 juni 2024",
    locator="avsnitt ”MiniMaria”",
    quote="Projektledare Carina Wadås, utvecklingsledare beroende och samsjuklighet. … Andra",
    publisher="RSS Dalarna",
    date="2024-06-12",
)


@pytest.mark.parametrize(
    "number",
    [
        "19850709-1234",
        "198507091234",
        "850709-1234",
        "850709+1234",
        "8507091234",
        "20010131-9876",
        "850769-1234",  # samordningsnummer: day + 60
    ],
)
def test_every_form_of_personnummer_is_masked(number: str) -> None:
    masked = mask_personal_data(f"Mitt nummer är {number}, ring mig.")

    assert masked == f"Mitt nummer är {PERSONNUMMER_MASK}, ring mig."


@pytest.mark.parametrize(
    "text",
    [
        "Beloppet är 21 724 099 kr.",
        "Totalt 2 913 808 kronor",
        "Diarienummer 2024-000123",
        "Telefon 023-49 00 00",
        "Den 20240612 hölls mötet",
        "Konto 12345678901234",
    ],
)
def test_amounts_dates_and_other_numbers_are_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


def test_email_addresses_are_masked() -> None:
    text = "Skriv till anna.svensson@region-dalarna.se eller rss.dalarna@regiondalarna.se."

    assert mask_personal_data(text) == f"Skriv till {EMAIL_MASK} eller {EMAIL_MASK}."


def test_add_masks_every_text_before_it_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite"
    store = FeedbackStore(db)
    store.add(
        question="Gäller det 19850709-1234?",
        answer="Kontakta per@example.se",
        citations=[replace(CITATION, quote="Ring 850709-1234")],
        rating=RATING_UP,
        comment="  Mejla mig på kalle@example.com, pnr 8507091234  ",
    )

    with closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT question, answer, citations, comment FROM feedback")
        question, answer, citations, comment = stored.fetchone()
    assert question == f"Gäller det {PERSONNUMMER_MASK}?"
    assert answer == f"Kontakta {EMAIL_MASK}"
    assert json.loads(citations)[0]["quote"] == f"Ring {PERSONNUMMER_MASK}"
    assert comment == f"Mejla mig på {EMAIL_MASK}, pnr {PERSONNUMMER_MASK}"
    assert "1234" not in question + answer + citations + comment


def test_rows_round_trip_with_rating_time_and_citations(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    row_id = store.add(
        "Vem leder arbetsgruppen för MiniMaria?",
        "Projektledare Carina Wadås [1]",
        [CITATION],
        RATING_DOWN,
        "saknar kontaktuppgifter",
        refused=False,
        mode="extractive",
        now=when,
    )

    [row] = store.rows()
    assert row.id == row_id
    assert row.created_at == "2026-03-01T12:00:00+00:00"
    assert row.rating == RATING_DOWN
    assert row.rating_label == "down"
    assert row.citations[0]["doc_id"] == CITATION.doc_id
    assert row.citations[0]["title"] == CITATION.title
    assert row.comment == "saknar kontaktuppgifter"
    assert row.mode == "extractive"


def test_a_rating_other_than_up_or_down_is_refused(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")

    with pytest.raises(ValueError, match="rating"):
        store.add("fråga", "svar", [], 5)
    assert store.rows() == []


def test_rows_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite", retention_days=30)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    store.add("gammal", "svar", [], RATING_UP, now=now - timedelta(days=31))
    store.add("nästan gammal", "svar", [], RATING_UP, now=now - timedelta(days=29))

    store.add("ny", "svar", [], RATING_DOWN, now=now)

    assert [r.question for r in store.rows()] == ["nästan gammal", "ny"]
    assert store.purge(now=now + timedelta(days=30)) == 1
    assert [r.question for r in store.rows()] == ["ny"]


def test_retention_of_zero_keeps_everything(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite", retention_days=0)
    store.add("uråldrig", "svar", [], RATING_UP, now=datetime(2000, 1, 1, tzinfo=UTC))

    assert store.purge() == 0
    assert len(store.rows()) == 1


def test_candidates_have_the_dataset_keys_and_the_rating(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.add("Vem leder MiniMaria?", "Carina Wadås [1]", [CITATION], RATING_UP, "bra")
    store.add("Vad kostar SIP?", "Jag hittar inget stöd för det i underlaget.", [], RATING_DOWN)
    files = {CITATION.doc_id: "rss_dalarna_lchnv_rapporter_2024-06-12.txt"}

    up, down = candidate_rows(store.rows(), files.get)

    dataset_keys = {"id", "question", "answer", "must_contain", "source", "evidence", "kind"}
    assert dataset_keys | {"lang"} <= set(up)
    assert up["source"] == "rss_dalarna_lchnv_rapporter_2024-06-12.txt"
    assert (
        up["evidence"]
        == "Projektledare Carina Wadås, utvecklingsledare beroende och samsjuklighet."
    )
    assert (up["kind"], up["lang"], up["must_contain"]) == ("fact", "sv", [])
    assert (up["rating"], up["comment"]) == ("up", "bra")
    assert (down["rating"], down["source"], down["evidence"]) == ("down", None, None)
    assert up["id"] != down["id"]


def test_cli_feedback_export_writes_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("UNDERLAG_DATA_DIR", str(data))
    monkeypatch.setenv("UNDERLAG_CORPUS_DIR", str(REPO / "corpus"))
    monkeypatch.chdir(tmp_path)  # no .env of the working copy
    store = FeedbackStore(data / "feedback.sqlite")
    store.add("Vem leder MiniMaria?", "Carina Wadås [1]", [CITATION], RATING_UP)
    store.add("Ring 850709-1234", "svar", [], RATING_DOWN)
    out = tmp_path / "candidates.jsonl"

    assert cli.main(["feedback", "export", "--out", str(out)]) == 0

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in rows] == ["up", "down"]
    assert rows[0]["source"] == "rss_dalarna_lchnv_rapporter_2024-06-12.txt"
    assert rows[1]["question"] == f"Ring {PERSONNUMMER_MASK}"
