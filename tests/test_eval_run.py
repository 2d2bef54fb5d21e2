"""The evaluation runner: real pipeline runs (slow), the gate, the report files and the table."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import clear_chroma_cache
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from core.config import Settings
from core.errors import ConfigError
from evals.dataset import EvalRow, load_dataset
from evals.run import (
    DEFAULT_DATASET,
    DEFAULT_THRESHOLDS,
    HISTORY,
    LATEST,
    EvalReport,
    QuestionResult,
    Thresholds,
    check_thresholds,
    current_commit,
    eval_command,
    format_table,
    llm_judge,
    load_thresholds,
    read_history,
    register_eval_command,
    run_eval,
    save_run,
)
from retrieval.pipeline import Pipeline


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="underlag")
    register_eval_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *argv])


def subset(rows: list[EvalRow]) -> list[EvalRow]:
    """Two rows of every kind, plus follow-ups and English questions."""
    picked: dict[str, EvalRow] = {}
    for kind in ("fact", "number", "list", "table", "multi", "unanswerable"):
        for row in [r for r in rows if r.kind == kind][:2]:
            picked[row.id] = row
    for row in [r for r in rows if r.history][:2] + [r for r in rows if r.lang == "en"][:2]:
        picked[row.id] = row
    return list(picked.values())


# --- on the real pipeline -----------------------------------------------------------------


@pytest.fixture
def eval_settings(ingested_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The ingested corpus copied to tmp_path, so the run's reports land there."""
    data_dir = tmp_path / "data"
    shutil.copytree(ingested_settings.data_dir, data_dir)
    yield ingested_settings.model_copy(update={"data_dir": data_dir})
    clear_chroma_cache()


@pytest.mark.slow
def test_run_eval_on_a_subset_writes_latest_and_history(
    eval_settings: Settings, tmp_path: Path
) -> None:
    rows = subset(load_dataset(DEFAULT_DATASET))
    pipeline = Pipeline.from_settings(eval_settings)
    report = run_eval(pipeline, rows, "extractive", dataset="subset")

    assert [q.id for q in report.questions] == [r.id for r in rows]
    assert report.metrics["n"] == len(rows)
    assert set(report.by_kind) == {"fact", "number", "list", "table", "multi", "unanswerable"}
    assert set(report.by_lang) == {"sv", "en"}
    for name, value in report.metrics.items():
        if name not in {"n", "latency_p50_ms", "latency_p95_ms", "faithfulness"}:
            assert value is not None
            assert 0.0 <= value <= 1.0, name
    assert report.metrics["faithfulness"] is None  # no judge: skipped, never gated
    follow = next(q for q in report.questions if q.id == next(r.id for r in rows if r.history))
    assert follow.standalone_question != follow.question
    assert report.failures == [q.id for q in report.failing_questions()]
    for q in report.failing_questions():
        assert q.got
        assert all(len(p.text) <= 200 for p in q.top_passages)

    save_run(report, tmp_path)
    save_run(report, tmp_path)
    latest = json.loads((tmp_path / LATEST).read_text(encoding="utf-8"))
    assert latest["metrics"] == report.metrics
    assert len(latest["questions"]) == len(rows)
    assert latest["failures"] == report.failures
    history = read_history(tmp_path)
    assert len(history) == 2
    assert history[0]["metrics"]["mrr"] == report.metrics["mrr"]
    assert history[0]["mode"] == "extractive"


@pytest.mark.slow
def test_eval_command_gate_passes_on_the_full_set(eval_settings: Settings, tmp_path: Path) -> None:
    out = io.StringIO()
    settings = eval_settings
    code = eval_command(parse("--gate", "--json", str(tmp_path / "r.json")), settings, out)
    text = out.getvalue()
    assert "UNDER TRÖSKELN" not in text, text
    assert code == 0
    assert "alla" in text
    assert "unanswerable" in text
    report = EvalReport.model_validate_json((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report.metrics["n"] == len(load_dataset(DEFAULT_DATASET))
    assert (settings.eval_dir / LATEST).exists()
    assert (settings.eval_dir / HISTORY).exists()


@pytest.mark.slow
def test_degraded_retrieval_fails_the_gate_naming_the_metric(eval_settings: Settings) -> None:
    degraded = eval_settings.model_copy(
        update={"use_lexical": False, "use_neighbours": False, "top_k": 1}
    )
    out = io.StringIO()
    code = eval_command(parse("--gate"), degraded, out)
    failing = [
        line.removeprefix("UNDER TRÖSKELN: ")
        for line in out.getvalue().splitlines()
        if line.startswith("UNDER TRÖSKELN: ")
    ]
    assert code == 1
    names = {line.split()[0] for line in failing}
    assert {"context_recall_4000", "mrr"} <= names, failing


# --- the gate, the files and the table ----------------------------------------------------


def report_with(**metrics: float | None) -> EvalReport:
    base: dict[str, float | None] = {
        "n": 3.0,
        "context_recall_2000": 0.8,
        "context_recall_4000": 0.9,
        "context_recall_8000": 0.95,
        "hit_at_5": 0.9,
        "mrr": 0.7,
        "answer_contains": 0.8,
        "citation_precision": 0.75,
        "refusal_recall": 0.9,
        "false_refusal_rate": 0.05,
        "latency_p50_ms": 42.0,
        "latency_p95_ms": 120.0,
        "faithfulness": None,
    }
    base.update(metrics)
    question = QuestionResult(
        id="q1",
        kind="fact",
        lang="sv",
        question="Vem?",
        standalone_question="Vem?",
        expected="Pär",
        must_contain=["Pär"],
        got="Jag hittar inget stöd för det i underlaget.",
        refused=True,
        latency_ms=42.0,
        evidence_rank=None,
        context_recall={"4000": 0.0},
        context_recall_answer=0.0,
        answer_contains=False,
        citation_precision=None,
        problems=["vägrade svara fast underlaget har svaret"],
        top_passages=[],
    )
    return EvalReport(
        created_at="2025-01-01T00:00:00+00:00",
        commit="abc123def4567",
        mode="extractive",
        dataset="dataset.jsonl",
        settings={},
        metrics=base,
        by_kind={"fact": base, "unanswerable": {**base, "mrr": None}},
        by_lang={"sv": base},
        failures=["q1"],
        questions=[question],
    )


def test_check_thresholds_names_every_metric_on_the_wrong_side() -> None:
    thresholds = Thresholds(
        min={"context_recall_4000": 0.92, "mrr": 0.6, "answer_contains": 0.85},
        max={"false_refusal_rate": 0.04},
    )
    failing = check_thresholds(report_with(), thresholds)
    assert failing == [
        "context_recall_4000 = 0.900 < 0.920 (min)",
        "answer_contains = 0.800 < 0.850 (min)",
        "false_refusal_rate = 0.050 > 0.040 (max)",
    ]
    assert check_thresholds(report_with(), Thresholds(min={"mrr": 0.7})) == []


def test_check_thresholds_fails_unmeasured_and_unknown_metrics() -> None:
    thresholds = Thresholds(min={"refusal_recall": 0.5, "context_recal_4000": 0.9})
    assert check_thresholds(report_with(refusal_recall=None), thresholds) == [
        "refusal_recall: inte uppmätt (min 0.500)",
        "context_recal_4000: okänt mått i trösklarna",
    ]


def test_the_committed_thresholds_name_known_metrics() -> None:
    thresholds = load_thresholds(DEFAULT_THRESHOLDS)
    assert thresholds.min
    assert thresholds.max
    assert not any("okänt" in f for f in check_thresholds(report_with(), thresholds))
    assert not any(name.startswith("latency") for name in [*thresholds.min, *thresholds.max])


def test_load_thresholds_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text("[min]\nmrr = 'hög'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="Kan inte läsa trösklarna"):
        load_thresholds(bad)
    with pytest.raises(ConfigError):
        load_thresholds(tmp_path / "saknas.toml")


def test_table_is_fixed_width_with_every_group() -> None:
    table = format_table(report_with())
    lines = table.splitlines()
    rows = [line for line in lines if line.startswith(("alla", "fact", "unanswerable", "sv"))]
    assert len(rows) == 4
    assert len({len(line) for line in rows}) == 1
    assert "abc123def4" in lines[0]
    unanswerable = next(line for line in rows if line.startswith("unanswerable"))
    assert "–" in unanswerable
    assert "0.90" in rows[0]


def test_history_appends_one_line_per_run(tmp_path: Path) -> None:
    save_run(report_with(mrr=0.5), tmp_path)
    save_run(report_with(mrr=0.6), tmp_path)
    (tmp_path / HISTORY).open("a", encoding="utf-8").write("{broken\n")
    history = read_history(tmp_path)
    assert [h["metrics"]["mrr"] for h in history] == [0.5, 0.6]
    assert history[1]["commit"] == "abc123def4567"
    latest = EvalReport.model_validate_json((tmp_path / LATEST).read_text(encoding="utf-8"))
    assert latest.metrics["mrr"] == 0.6
    assert latest.failures == ["q1"]
    assert latest.failing_questions()[0].problems == ["vägrade svara fast underlaget har svaret"]


def test_current_commit_reads_the_git_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA", "UNDERLAG_COMMIT"):
        monkeypatch.delenv(name, raising=False)
    assert current_commit(tmp_path) is None
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (git / "packed-refs").write_text("# pack-refs\nfeed123 refs/heads/main\n", encoding="utf-8")
    assert current_commit(tmp_path) == "feed123"
    (git / "refs" / "heads" / "main").write_text("cafe456\n", encoding="utf-8")
    assert current_commit(tmp_path) == "cafe456"
    monkeypatch.setenv("UNDERLAG_COMMIT", "env789")
    assert current_commit(tmp_path) == "env789"


def test_llm_judge_reads_yes_and_no() -> None:
    judge = llm_judge(FakeListChatModel(responses=["JA", "Nej, det stöds inte.", "Kanske"]))
    assert judge("Vem?", "Pär [1]", ["Projektledare är Pär."]) is True
    assert judge("Vem?", "Olle [1]", ["Projektledare är Pär."]) is False
    assert judge("Vem?", "Pär [1]", ["Projektledare är Pär."]) is None


def test_eval_command_rejects_a_bad_dataset_before_loading_the_index(tmp_path: Path) -> None:
    from evals.dataset import DatasetError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="bad.jsonl:1"):
        eval_command(parse("--dataset", str(bad)), Settings(data_dir=tmp_path / "data"))
