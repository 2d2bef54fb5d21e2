"""The `underlag` command line: ingest, ask, eval and feedback export."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import UnderlagError


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from core.embedders import make_embedder
    from core.store import ChunkStore
    from ingest.index import run_ingest
    from retrieval.index_sync import refresh_search_indexes

    embedder = make_embedder(settings.embedder, settings.embedder_model)
    store = ChunkStore.from_settings(settings, embedder.id)
    bars: dict[str, Any] = {}

    def progress(doc_id: str, done: int, total: int) -> None:
        bar = bars.get(doc_id)
        if bar is None:
            bar = bars[doc_id] = tqdm(total=total, desc=doc_id[:40], unit="chunk", leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    report = run_ingest(
        settings,
        embedder,
        store,
        corpus_dir=Path(args.corpus) if args.corpus else None,
        rebuild=args.rebuild,
        progress=None if args.quiet else progress,
    )
    refresh_search_indexes(settings, store, embedder)
    print(report.summary())
    for name, reason in report.failed:
        print(f"  misslyckades: {name}: {reason}")
    for name in report.skipped:
        print(f"  hoppade över (filtypen stöds inte): {name}")
    return 0


def _filters_from_args(args: argparse.Namespace) -> Any:
    from core.types import Filters

    return Filters(
        doc_ids=tuple(args.doc or ()),
        doc_types=tuple(args.type or ()),
        years=tuple(args.year or ()),
    )


def _check_filter_values(filters: Any, documents: Sequence[Any]) -> None:
    """A --doc or --type that no indexed document has is a typo, not a question to refuse."""
    from core.errors import InputError

    for flag, asked, known in (
        ("--doc", filters.doc_ids, {d.doc_id for d in documents}),
        ("--type", filters.doc_types, {d.doc_type for d in documents}),
    ):
        unknown = [value for value in asked if value not in known]
        if unknown:
            raise InputError(
                f"Okänt värde för {flag}: {', '.join(unknown)}. "
                f"Giltiga värden: {', '.join(sorted(known))}."
            )


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.citations import answer_to_json
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline.from_settings(settings)
    filters = _filters_from_args(args)
    _check_filter_values(filters, pipeline.documents())
    answer = pipeline.ask(args.question, filters=filters, mode=args.mode)
    if args.json:
        print_json(answer_to_json(answer))
        return 0
    print(format_answer(answer))
    return 0


def format_answer(answer: Any) -> str:
    """An answer as the terminal shows it: the text, the notice, sentences that failed
    verification, then each source with its quote."""
    parts = [answer.text]
    if answer.notice:
        parts.append(f"\n({answer.notice})")
    for sentence in answer.unverified:
        parts.append(f"⚠ ej verifierad: {sentence}")
    for c in answer.citations:
        where = f", {c.locator}" if c.locator else ""
        parts.append(f"\n[{c.n}] {c.title} ({c.publisher} {c.date}){where}\n    ”{c.quote}”")
    return "\n".join(parts)


def _cmd_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    from core.feedback import FeedbackStore, candidate_rows
    from ingest.load import list_corpus, load_catalog, slugify

    files: dict[str, str] = {}  # document id -> corpus file name, as the dataset names sources
    if settings.corpus_dir.is_dir():
        files = {slugify(path.stem): path.name for path in list_corpus(settings.corpus_dir)[0]}
        for name, entry in load_catalog(settings.corpus_dir).entries.items():
            files[str(entry.get("id") or slugify(Path(name).stem))] = name
    store = FeedbackStore(settings.feedback_db, settings.feedback_retention_days)
    rows = candidate_rows(store.rows(), lambda doc_id: files.get(doc_id, doc_id))
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} kandidatrader skrivna till {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="underlag", description="Frågor och svar om era dokument."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="visa loggning")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="läs in korpusen i indexet (inkrementellt)")
    ingest.add_argument("--corpus", help="mapp med dokument (standard: corpus/)")
    ingest.add_argument("--rebuild", action="store_true", help="bygg om indexet från början")
    ingest.add_argument("--quiet", action="store_true", help="ingen förloppsindikator")
    ingest.set_defaults(func=_cmd_ingest)

    ask = sub.add_parser("ask", help="ställ en fråga om dokumenten")
    ask.add_argument("question", help="frågan, inom citattecken")
    ask.add_argument("--json", action="store_true", help="skriv svaret som JSON")
    ask.add_argument("--doc", action="append", help="sök bara i dokumentet med detta id")
    ask.add_argument("--type", action="append", help="sök bara i dokument av denna typ")
    ask.add_argument("--year", action="append", type=int, help="sök bara i dokument från året")
    ask.add_argument("--mode", choices=["extractive", "llm"], default=None, help="svarsläge")
    ask.set_defaults(func=_cmd_ask)

    from evals.run import register_eval_command

    register_eval_command(sub)

    feedback = sub.add_parser("feedback", help="återkopplingen från sidan")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_sub.add_parser(
        "export", help="skriv återkopplingen som kandidatrader till utvärderingsmängden (JSONL)"
    )
    export.add_argument("--out", help="fil att skriva till (standard: skärmen)")
    export.set_defaults(func=_cmd_feedback_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; errors are printed as one line and give exit code 1."""
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader stopped early (`underlag ask ... | head`): nothing more to say. Point
        # stdout at /dev/null so that Python's flush at exit does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings()
        return int(args.func(args, settings))
    except UnderlagError as exc:
        print(f"fel: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avbrutet", file=sys.stderr)
        return 130


def print_json(data: object) -> None:
    """Print JSON with Swedish letters kept readable."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
