"""Run the evaluation set through the pipeline, score it, print it, save it and gate on it.

Every question goes through the same ``Pipeline.ask`` as the page and ``underlag ask``.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from core.config import Settings
from core.errors import ConfigError
from core.types import Answer, Filters, Passage, Turn
from evals.dataset import EvalRow, load_dataset
from evals.metrics import BUDGETS, QuestionScore, breakdown, mean, score_question, summarise

if TYPE_CHECKING:
    from retrieval.search import SearchResult

log = logging.getLogger(__name__)

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVALS_DIR / "dataset.jsonl"
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.toml"
LATEST = "latest.json"
HISTORY = "history.jsonl"
GATE_BUDGET = 4000  # the context budget whose misses are listed as failures
SNIPPET_CHARS = 200
TOP_PASSAGES = 3

# Judges whether an answer is supported by its sources: True, False, or None if it cannot say.
Judge = Callable[[str, str, Sequence[str]], bool | None]


class AnsweringPipeline(Protocol):
    """What the evaluation needs of ``retrieval.pipeline.Pipeline``."""

    settings: Settings
    llm: Any  # a LangChain chat model, or None

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        mode: str | None = None,
    ) -> Answer: ...

    def retrieve(self, question: str, filters: Filters | None = None) -> list[Passage]: ...

    def context(
        self, question: str, filters: Filters | None = None
    ) -> tuple[list[Passage], SearchResult]:
        """The passages handed to the answerer and the raw search result."""
        ...


# --- report types (the JSON the page reads) -----------------------------------------------


class PassageView(BaseModel):
    """A retrieved passage as shown for a failing question."""

    rank: int
    doc_id: str
    locator: str
    chunk_id: str
    text: str  # the first 200 characters


class QuestionResult(BaseModel):
    """What one question scored, and what the system said."""

    id: str
    kind: str
    lang: str
    question: str
    standalone_question: str
    expected: str
    must_contain: list[str]
    got: str
    refused: bool
    latency_ms: float
    evidence_rank: int | None
    context_recall: dict[str, float]
    context_recall_answer: float | None
    answer_contains: bool | None
    citation_precision: float | None
    faithful: bool | None = None
    problems: list[str]
    top_passages: list[PassageView]


class EvalReport(BaseModel):
    """One evaluation run: headline metrics, breakdowns, and every question's result."""

    model_config = ConfigDict(extra="forbid")

    created_at: str
    commit: str | None
    mode: str
    dataset: str
    settings: dict[str, Any]
    metrics: dict[str, float | None]
    by_kind: dict[str, dict[str, float | None]]
    by_lang: dict[str, dict[str, float | None]]
    failures: list[str]  # ids of the questions with at least one problem
    questions: list[QuestionResult]

    def failing_questions(self) -> list[QuestionResult]:
        """The questions with at least one problem, in set order."""
        return [q for q in self.questions if q.problems]


class Thresholds(BaseModel):
    """Lowest (``min``) and highest (``max``) accepted value of each gated metric."""

    model_config = ConfigDict(extra="forbid")

    min: dict[str, float] = {}
    max: dict[str, float] = {}


# --- running ------------------------------------------------------------------------------


def context_at(
    pipeline: AnsweringPipeline, question: str, budget: int
) -> tuple[list[Passage], SearchResult]:
    """The passages the answerer would get with a context budget of ``budget``, and the search."""
    budgeted = copy.copy(pipeline)  # shares the index; only the settings differ
    budgeted.settings = pipeline.settings.model_copy(update={"context_chars": budget})
    return budgeted.context(question)


def retrieval_views(
    pipeline: AnsweringPipeline, question: str, answer: Answer
) -> tuple[list[Passage], dict[int, list[Passage]]]:
    """The ranked candidates of a question and its context at every budget in ``BUDGETS``.

    The answer's own passages are its context at the configured budget, so that budget costs
    no extra search.
    """
    contexts: dict[int, list[Passage]] = {}
    candidates: list[Passage] | None = None
    for budget in BUDGETS:
        if budget == pipeline.settings.context_chars:
            contexts[budget] = list(answer.passages)
            continue
        contexts[budget], result = context_at(pipeline, question, budget)
        candidates = result.passages
    if candidates is None:
        candidates = pipeline.retrieve(question)
    return candidates, contexts


def _problems(row: EvalRow, score: QuestionScore, faithful: bool | None) -> list[str]:
    if not row.answerable:
        return [] if score.refused else ["svarade trots att underlaget saknar svar"]
    problems: list[str] = []
    if score.recall.get(GATE_BUDGET, 0.0) < 1.0:
        problems.append(f"belägget saknas i de första {GATE_BUDGET} tecknen")
    if score.refused:
        problems.append("vägrade svara fast underlaget har svaret")
    elif not score.answer_contains:
        problems.append("svaret saknar förväntade uppgifter")
    if faithful is False:
        problems.append("svaret stöds inte av källorna (LLM-bedömning)")
    return problems


def _view(passages: Sequence[Passage]) -> list[PassageView]:
    return [
        PassageView(
            rank=p.rank,
            doc_id=p.chunk.doc_id,
            locator=p.chunk.locator,
            chunk_id=p.chunk.chunk_id,
            text=p.chunk.text[:SNIPPET_CHARS],
        )
        for p in passages[:TOP_PASSAGES]
    ]


def evaluate_row(
    pipeline: AnsweringPipeline, row: EvalRow, mode: str, judge: Judge | None = None
) -> tuple[QuestionScore, QuestionResult]:
    """Ask one question the way the page does, then score it."""
    history = [Turn(h.role, h.content) for h in row.history or ()]
    started = time.perf_counter()
    answer = pipeline.ask(row.question, history=history, mode=mode)
    latency_ms = (time.perf_counter() - started) * 1000
    searched = answer.standalone_question or row.question
    candidates: list[Passage] = []
    contexts: dict[int, list[Passage]] = {}
    if row.answerable:
        candidates, contexts = retrieval_views(pipeline, searched, answer)
    score = score_question(
        id=row.id,
        kind=row.kind,
        lang=row.lang,
        quotes=row.evidence_quotes,
        must_contain=row.must_contain,
        answer=answer,
        candidates=candidates,
        contexts=contexts,
        latency_ms=latency_ms,
    )
    faithful = None
    if judge is not None and not answer.refused:
        faithful = judge(searched, answer.text, [p.chunk.text for p in answer.passages])
    result = QuestionResult(
        id=row.id,
        kind=row.kind,
        lang=row.lang,
        question=row.question,
        standalone_question=searched,
        expected=row.answer,
        must_contain=row.must_contain,
        got=answer.text,
        refused=answer.refused,
        latency_ms=round(latency_ms, 2),
        evidence_rank=score.evidence_rank,
        context_recall={str(b): r for b, r in score.recall.items()},
        context_recall_answer=score.context_recall_answer,
        answer_contains=score.answer_contains,
        citation_precision=score.citation_precision,
        faithful=faithful,
        problems=_problems(row, score, faithful),
        top_passages=_view(answer.passages),
    )
    return score, result


def run_eval(
    pipeline: AnsweringPipeline,
    rows: Sequence[EvalRow],
    mode: str | None = None,
    *,
    dataset: str = "",
    judge: Judge | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Answer and score every row.

    Args:
        pipeline: The pipeline the page and the CLI use.
        rows: The evaluation set.
        mode: Answer mode ("extractive" or "llm"); None uses the settings' mode.
        dataset: Name of the set, for the report.
        judge: Optional faithfulness judge (an LLM); never part of the gate.
        progress: Called with (done, total) after each question.
    """
    mode = mode or pipeline.settings.answer_mode
    pipeline.retrieve("uppvärmning")  # load the embedder so latencies are warm
    scores: list[QuestionScore] = []
    results: list[QuestionResult] = []
    for i, row in enumerate(rows, start=1):
        score, result = evaluate_row(pipeline, row, mode, judge)
        scores.append(score)
        results.append(result)
        if progress is not None:
            progress(i, len(rows))
    metrics = summarise(scores)
    judged = [float(r.faithful) for r in results if r.faithful is not None]
    metrics["faithfulness"] = mean(judged) if judge is not None else None
    s = pipeline.settings
    return EvalReport(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        commit=current_commit(),
        mode=mode,
        dataset=dataset,
        settings={
            "embedder": s.embedder,
            "top_k": s.top_k,
            "context_chars": s.context_chars,
            "use_dense": s.use_dense,
            "use_lexical": s.use_lexical,
            "use_compounds": s.use_compounds,
            "use_glossary": s.use_glossary,
            "use_neighbours": s.use_neighbours,
        },
        metrics=metrics,
        by_kind=breakdown(scores, lambda q: q.kind),
        by_lang=breakdown(scores, lambda q: q.lang),
        failures=[r.id for r in results if r.problems],
        questions=results,
    )


def llm_judge(llm: Any) -> Judge:
    """A faithfulness judge that asks a LangChain chat model for JA/NEJ.

    Args:
        llm: A chat model with ``invoke``.
    """

    def judge(question: str, answer: str, sources: Sequence[str]) -> bool | None:
        prompt = (
            "Du granskar ett svar mot dess källor. Svara bara JA om varje påstående i svaret "
            "stöds av källorna, annars NEJ.\n\n"
            + "\n\n".join(f"Källa {i}:\n{text}" for i, text in enumerate(sources, start=1))
            + f"\n\nFråga: {question}\nSvar: {answer}\n\nStöds svaret av källorna (JA/NEJ)?"
        )
        reply = str(getattr(llm.invoke(prompt), "content", "")).strip().upper()
        if reply.startswith("JA"):
            return True
        if reply.startswith("NEJ"):
            return False
        return None

    return judge


# --- commit, thresholds, files ------------------------------------------------------------


def current_commit(root: Path = EVALS_DIR.parent) -> str | None:
    """The checked-out commit, from CI variables or the .git directory; None when unknown."""
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA", "UNDERLAG_COMMIT"):
        if os.environ.get(name):
            return os.environ[name]
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head.removeprefix("ref: ")
        if (git / ref).is_file():
            return (git / ref).read_text(encoding="utf-8").strip() or None
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None
    return None


def load_thresholds(path: Path) -> Thresholds:
    """Read the gate's thresholds.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        return Thresholds.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"Kan inte läsa trösklarna i {path}: {first}") from exc


def check_thresholds(report: EvalReport, thresholds: Thresholds) -> list[str]:
    """Name every metric on the wrong side of its threshold, one line each.

    A metric that was not measured, or that the report does not know, fails too.
    """
    failures: list[str] = []
    for bound, limits, worse in (
        ("min", thresholds.min, lambda v, t: v < t),
        ("max", thresholds.max, lambda v, t: v > t),
    ):
        for name, limit in limits.items():
            value = report.metrics.get(name)
            if name not in report.metrics:
                failures.append(f"{name}: okänt mått i trösklarna")
            elif value is None:
                failures.append(f"{name}: inte uppmätt ({bound} {limit:.3f})")
            elif worse(value, limit):
                sign = "<" if bound == "min" else ">"
                failures.append(f"{name} = {value:.3f} {sign} {limit:.3f} ({bound})")
    return failures


def write_report(report: EvalReport, path: Path) -> None:
    """Write the whole report as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def save_run(report: EvalReport, eval_dir: Path) -> None:
    """Write ``latest.json`` and append the headline metrics to ``history.jsonl``."""
    write_report(report, eval_dir / LATEST)
    line = {
        "timestamp": report.created_at,
        "commit": report.commit,
        "mode": report.mode,
        "dataset": report.dataset,
        "metrics": report.metrics,
    }
    with (eval_dir / HISTORY).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def read_history(eval_dir: Path) -> list[dict[str, Any]]:
    """Every recorded run, oldest first; unreadable lines are skipped."""
    path = eval_dir / HISTORY
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("Skipping an unreadable line of %s", path)
    return runs


# --- the table ----------------------------------------------------------------------------

COLUMNS: tuple[tuple[str, str], ...] = (
    ("n", "n"),
    ("context_recall_2000", "R@2k"),
    ("context_recall_4000", "R@4k"),
    ("context_recall_8000", "R@8k"),
    ("hit_at_5", "hit@5"),
    ("mrr", "MRR"),
    ("answer_contains", "svar"),
    ("citation_precision", "käll"),
    ("refusal_recall", "vägr"),
    ("false_refusal_rate", "felv"),
    ("latency_p50_ms", "p50ms"),
    ("latency_p95_ms", "p95ms"),
)
LEGEND = (
    "R@Nk = belägg inom N tecken kontext, svar = förväntade uppgifter i svaret, "
    "käll = citerade passager med belägg,\nvägr = obesvarbara som vägrades, "
    "felv = besvarbara som vägrades (lägre är bättre), ms = svarstid."
)


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return "–"
    if name == "n" or name.startswith("latency"):
        return f"{value:.0f}"
    return f"{value:.2f}"


def format_table(report: EvalReport) -> str:
    """The score table as fixed-width plain text: overall, by kind, by language."""
    label_width = 14
    width = 7
    header = "".ljust(label_width) + "".join(title.rjust(width) for _, title in COLUMNS)

    def line(label: str, metrics: Mapping[str, float | None]) -> str:
        cells = "".join(_cell(name, metrics.get(name)).rjust(width) for name, _ in COLUMNS)
        return label.ljust(label_width) + cells

    rule = "-" * len(header)
    out = [
        f"Utvärdering ({report.mode}), {report.dataset or 'egen mängd'}, "
        f"{report.commit[:10] if report.commit else 'okänd commit'}",
        header,
        rule,
        line("alla", report.metrics),
        rule,
    ]
    out += [line(kind, m) for kind, m in report.by_kind.items()]
    out.append(rule)
    out += [line(lang, m) for lang, m in report.by_lang.items()]
    out.append(rule)
    if report.metrics.get("faithfulness") is not None:
        out.append(f"LLM-bedömd trohet mot källorna: {report.metrics['faithfulness']:.2f}")
    out.append(LEGEND)
    return "\n".join(out)


def format_failures(report: EvalReport, limit: int = 20) -> str:
    """The failing questions, one line each (the JSON report has the details)."""
    failures = report.failing_questions()
    lines = [f"{len(failures)} av {len(report.questions)} frågor har problem:"]
    for q in failures[:limit]:
        lines.append(f"  {q.id} [{q.kind}/{q.lang}] {'; '.join(q.problems)}")
    if len(failures) > limit:
        lines.append(f"  … och {len(failures) - limit} till (se JSON-rapporten)")
    return "\n".join(lines)


# --- the `underlag eval` command ----------------------------------------------------------


def register_eval_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``underlag eval`` to the CLI; its handler is ``eval_command(args, settings)``."""
    parser = subparsers.add_parser(
        "eval", help="kör utvärderingsmängden och skriv ut måtten (med --gate: trösklar)"
    )
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="JSONL-fil")
    parser.add_argument("--mode", choices=["extractive", "llm"], default=None, help="svarsläge")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="skriv rapporten")
    parser.add_argument("--gate", action="store_true", help="avsluta med 1 under någon tröskel")
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help="TOML-fil")
    parser.add_argument(
        "--faithfulness", action="store_true", help="låt LLM:en bedöma svarens trohet (långsamt)"
    )
    parser.set_defaults(func=eval_command)
    return parser


def eval_command(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run ``underlag eval``: print the table, write the reports, and gate when asked.

    Returns:
        1 with ``--gate`` when a metric is on the wrong side of its threshold, else 0.

    Raises:
        UnderlagError: the dataset, thresholds or index cannot be used.
    """
    from retrieval.pipeline import Pipeline

    out = out or sys.stdout
    rows = load_dataset(args.dataset)
    thresholds = load_thresholds(args.thresholds) if args.gate else None
    pipeline = Pipeline.from_settings(settings)
    judge = llm_judge(pipeline.llm) if args.faithfulness and pipeline.llm is not None else None
    if args.faithfulness and judge is None:
        out.write("Ingen LLM är konfigurerad; trohet bedöms inte.\n")

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{done}/{total} frågor")
            sys.stderr.flush()

    report = run_eval(
        pipeline, rows, args.mode, dataset=args.dataset.name, judge=judge, progress=progress
    )
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    settings.eval_dir.mkdir(parents=True, exist_ok=True)
    save_run(report, settings.eval_dir)
    if args.json is not None:
        write_report(report, args.json)
    out.write(format_table(report) + "\n\n" + format_failures(report) + "\n")
    out.write(f"Rapport: {args.json or settings.eval_dir / LATEST}\n")
    if thresholds is None:
        return 0
    failing = check_thresholds(report, thresholds)
    for failure in failing:
        out.write(f"UNDER TRÖSKELN: {failure}\n")
    if not failing:
        out.write(f"Alla {len(thresholds.min) + len(thresholds.max)} trösklar klarade.\n")
    return 1 if failing else 0
