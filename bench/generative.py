"""Generative benchmark: the LLM mode beside the extractive mode on the evaluation set, in one run.

For a subset of evals/dataset.jsonl (a quarter of it unanswerable questions, the rest spread over
the file), every question is asked in both modes through the same ``Pipeline``. Per mode:

* expected facts: share of answerable questions whose answer holds every ``must_contain``;
* refused unanswerable / refused answerable;
* sentences verified: share of the answer's claims that cite a given passage and whose figures
  are found there (``retrieval.verify``). For the LLM mode this is measured on the model's raw
  output, before verification marks or replaces anything, so it says how well the model itself
  keeps to the sources;
* figures caught: figures of the raw output that no cited passage holds;
* LLM answers given as extractive (nothing verified, or the model failed);
* seconds to the first text piece and in total (mean and median).

    python bench/generative.py [--limit 20] [--context-chars N] [--max-tokens N]
                               [--model-path GGUF] [--data-dir DIR] [--json OUT]

Default model: the local Qwen2.5 GGUF that `make llm` assembles. Never gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import prepare_index  # noqa: E402
from core.config import Settings  # noqa: E402
from core.types import Answer, Turn  # noqa: E402
from evals.dataset import EvalRow, load_dataset  # noqa: E402
from evals.metrics import answer_contains  # noqa: E402
from evals.run import DEFAULT_DATASET  # noqa: E402
from retrieval.pipeline import LLM_UNAVAILABLE_NOTICE, Pipeline  # noqa: E402
from retrieval.verify import verify_answer  # noqa: E402

MODEL = Path(os.environ.get("UNDERLAG_CACHE", "~/.cache/underlag")).expanduser() / (
    "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
)
UNANSWERABLE_SHARE = 0.25


def pick_subset(rows: Sequence[EvalRow], n: int) -> list[EvalRow]:
    """``n`` rows spread evenly over the file: a quarter unanswerable, the rest answerable."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    n = min(n, len(rows))
    k_un = min(len(unanswerable), max(1, round(n * UNANSWERABLE_SHARE)))
    k_an = min(len(answerable), n - k_un)

    def spread(items: Sequence[EvalRow], k: int) -> list[EvalRow]:
        return [items[int(i * len(items) / k)] for i in range(k)] if k else []

    chosen = {r.id for r in spread(answerable, k_an) + spread(unanswerable, k_un)}
    return [r for r in rows if r.id in chosen]


def ask(pipeline: Any, row: EvalRow, mode: str) -> dict[str, Any]:
    """One question in one mode: the answer, its raw text, and its timings."""
    history = [Turn(h.role, h.content) for h in row.history or ()]
    started = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    answer: Answer | None = None
    for item in pipeline.stream(row.question, history=history, mode=mode):
        if isinstance(item, Answer):
            answer = item
        else:
            first = first if first is not None else time.perf_counter() - started
            pieces.append(item)
    total = time.perf_counter() - started
    assert answer is not None
    # The LLM mode's own text, before verification marked or replaced anything; when the model
    # failed, the pieces are the extractive answer.
    model_wrote = mode == "llm" and answer.notice != LLM_UNAVAILABLE_NOTICE
    raw = "".join(pieces) if model_wrote else answer.text
    refusal = answer.refused and (answer.mode == mode)
    passages = [p.chunk.text for p in answer.passages]
    verification = None if refusal else verify_answer(raw, passages)
    return {
        "id": row.id,
        "answerable": row.answerable,
        "mode": answer.mode,
        "refused": answer.refused,
        "contains": answer_contains(row.must_contain, answer.text) if row.answerable else None,
        "fell_back": mode == "llm" and answer.mode != "llm",
        "claims": len(verification.claims) if verification else 0,
        "verified": sum(s.verified for s in verification.claims) if verification else 0,
        "figures": verification.figures_checked if verification else 0,
        "caught": verification.figures_caught if verification else 0,
        "first_s": first if first is not None else total,
        "total_s": total,
        "text": answer.text,
        "raw": raw,
        "notice": answer.notice,
    }


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """The figures of one mode."""
    answerable = [r for r in results if r["answerable"]]
    unanswerable = [r for r in results if not r["answerable"]]
    claims = sum(r["claims"] for r in results)

    def share(items: Sequence[Any]) -> float | None:
        return sum(items) / len(items) if items else None

    return {
        "contains": share([bool(r["contains"]) for r in answerable]),
        "refused_unanswerable": share([r["refused"] for r in unanswerable]),
        "refused_answerable": share([r["refused"] for r in answerable]),
        "sentences_verified": sum(r["verified"] for r in results) / claims if claims else None,
        "claims": float(claims),
        "figures": float(sum(r["figures"] for r in results)),
        "caught": float(sum(r["caught"] for r in results)),
        "fell_back": share([r["fell_back"] for r in results]),
        "first_mean_s": statistics.mean(r["first_s"] for r in results),
        "first_median_s": statistics.median(r["first_s"] for r in results),
        "total_mean_s": statistics.mean(r["total_s"] for r in results),
        "total_median_s": statistics.median(r["total_s"] for r in results),
    }


ROWS = (
    ("contains", "svar med förväntade uppgifter", "share"),
    ("refused_unanswerable", "obesvarbara som vägras", "share"),
    ("refused_answerable", "besvarbara som vägras", "share"),
    ("sentences_verified", "meningar som verifieras", "share"),
    ("claims", "meningar (påståenden)", "count"),
    ("figures", "siffror kontrollerade", "count"),
    ("caught", "siffror fångade (saknas i källan)", "count"),
    ("fell_back", "LLM-svar ersatta av extraktivt", "share"),
    ("first_mean_s", "s till första text, medel", "seconds"),
    ("first_median_s", "s till första text, median", "seconds"),
    ("total_mean_s", "s totalt, medel", "seconds"),
    ("total_median_s", "s totalt, median", "seconds"),
)


def table(extractive: dict[str, float | None], llm: dict[str, float | None]) -> str:
    """Both modes side by side, one figure a line."""

    def cell(value: float | None, kind: str) -> str:
        if value is None:
            return "–"
        return {"share": f"{value:.2f}", "count": f"{value:.0f}", "seconds": f"{value:.1f}"}[kind]

    lines = [f"{'':36}{'extraktivt':>12}{'LLM':>12}", "-" * 60]
    for key, title, kind in ROWS:
        lines.append(f"{title:36}{cell(extractive[key], kind):>12}{cell(llm[key], kind):>12}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--data-dir", type=Path, default=None, help="ett inläst index att kopiera")
    parser.add_argument("--limit", type=int, default=20, help="antal frågor (standard 20)")
    parser.add_argument("--model-path", type=Path, default=MODEL)
    parser.add_argument("--context-chars", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--json", type=Path, default=None, help="skriv alla svar och mått som JSON")
    args = parser.parse_args(argv)

    if not args.model_path.is_file():
        print(f"Modellen {args.model_path} saknas: kör `make llm`.", file=sys.stderr)
        return 1
    rows = pick_subset(load_dataset(args.dataset), args.limit)
    with tempfile.TemporaryDirectory(prefix="underlag-bench-gen-") as tmp:
        overrides: dict[str, Any] = {
            "llm_provider": "llamacpp",
            "llm_model_path": args.model_path,
            "llm_max_tokens": args.max_tokens,
            "llm_n_ctx": args.n_ctx,
        }
        if args.context_chars:
            overrides["context_chars"] = args.context_chars
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            corpus_dir=args.corpus,
            data_dir=Path(tmp) / "data",
            chroma_url=None,
            **overrides,
        )
        seconds = prepare_index(settings, args.data_dir)
        print(f"Index: {seconds:.1f} s ({'kopierat' if args.data_dir else 'inläst'})")
        pipeline = Pipeline.from_settings(settings)
        print(
            f"{len(rows)} frågor ({sum(r.answerable for r in rows)} besvarbara), "
            f"kontext {settings.context_chars} tecken, högst {args.max_tokens} token per svar"
        )
        # Warm both modes up (model load, embedder) outside the timings.
        pipeline.ask("Vad handlar dokumenten om?", mode="extractive")
        list(pipeline.stream("Vad handlar dokumenten om?", mode="llm"))
        results: dict[str, list[dict[str, Any]]] = {"extractive": [], "llm": []}
        for i, row in enumerate(rows, start=1):
            for mode in results:
                result = ask(pipeline, row, mode)
                results[mode].append(result)
            llm = results["llm"][-1]
            print(
                f"[{i}/{len(rows)}] {row.id} {row.kind:12} llm: {llm['mode']:10} "
                f"{llm['total_s']:6.1f} s  {llm['text'][:70]!r}",
                flush=True,
            )
    summary = {mode: summarise(items) for mode, items in results.items()}
    print()
    print(table(summary["extractive"], summary["llm"]))
    if args.json:
        args.json.write_text(
            json.dumps({"summary": summary, "results": results}, ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
