"""Load benchmark: concurrent askers against the chain and against the running page, with
feedback written concurrently and counted afterwards.

1. The chain: N threads (default 20) share one ``Pipeline`` and ask R questions each of
   evals/dataset.jsonl in the extractive mode, as the page does (the staff group): first all at
   once with no pause (the worst case: N questions always in flight), then with a random think
   time before each question (users reading answers). Each answer is compared with the one the
   same question got alone, and gets a feedback row, written while the others ask.
2. The page: ``streamlit run app.py`` on 127.0.0.1 over a copy of the index; P headless Chromium
   pages (Debian's /usr/bin/chromium through playwright; default 5 at once, as 2 cores carry)
   each ask R questions and click "Bra svar" on each answer. Meanwhile this process writes
   feedback rows of its own into the same SQLite file.
3. Every feedback row written is counted afterwards: none may be lost.

Everything is bounded: a fixed number of questions, a deadline for each phase, 127.0.0.1 only.

    python bench/load.py [--askers 20] [--rounds 3] [--think 5] [--pages 5] [--page-rounds 2]
                         [--data-dir DIR] [--no-page] [--time-limit 600] [--json OUT]

Never gates CI: latencies depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this file's folder heads sys.path: put the repository there instead.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import ingest_corpus  # noqa: E402
from core.config import Settings  # noqa: E402
from core.feedback import RATING_UP, FeedbackStore  # noqa: E402
from core.types import Filters, Turn  # noqa: E402
from evals.dataset import load_dataset  # noqa: E402
from evals.run import DEFAULT_DATASET  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions"]
STAFF = Filters(groups=("alla",))
TARGET_P95_S = 1.0
PLACEHOLDER = "Skriv din fråga om dokumenten"
THANKS = "Tack! Din återkoppling är sparad."


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the answering process (all its threads)
    load: float = 0.0  # the machine's 1-minute load average when the phase ended

    def row(self) -> str:
        done = len(self.latencies)
        if done:
            ordered = sorted(self.latencies)
            p50 = statistics.median(ordered)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            cells = f"{p50:>8.2f} {p95:>8.2f} {ordered[-1]:>8.2f}"
        else:
            cells = f"{'–':>8} {'–':>8} {'–':>8}"
        rate = done / self.wall_s if self.wall_s else 0.0
        cpu = f"{self.cpu_s / done * 1000:>9.0f}" if done and self.cpu_s else f"{'–':>9}"
        return (
            f"{self.name:<38}{self.clients:>6}{done:>7}{len(self.errors):>5} {cells}{rate:>9.1f}"
            f"{cpu}{self.load:>7.1f}"
        )

    def p95(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


HEADER = (
    f"{'Belastning':<38}{'samt.':>6}{'svar':>7}{'fel':>5} {'p50 s':>8} {'p95 s':>8} "
    f"{'max s':>8}{'svar/s':>9}{'CPU ms':>9}{'last':>7}"
)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the index --------------------------------------------------------------------------------


def prepare_data(settings: Settings, source: Path | None) -> str:
    """Copy an ingested data directory (default: the project's own), or ingest the corpus."""
    source = source or Settings().data_dir
    if (source / "chroma").is_dir() and (source / "lexical.json").is_file():
        shutil.copytree(source, settings.data_dir, ignore=shutil.ignore_patterns("feedback*"))
        return f"kopia av {source}"
    ingest_corpus(settings)
    return f"inläst från {settings.corpus_dir}"


def questions() -> list[tuple[str, list[Turn]]]:
    """The evaluation questions with their conversations, in dataset order."""
    return [
        (row.question, [Turn(t.role, t.content) for t in row.history or []])
        for row in load_dataset(DEFAULT_DATASET)
    ]


# --- the chain --------------------------------------------------------------------------------


class Chain:
    """One pipeline shared by every asker, and each question's answer when asked alone."""

    def __init__(self, settings: Settings, askers: int, rounds: int) -> None:
        from retrieval.pipeline import Pipeline

        self.pipeline = Pipeline.from_settings(settings)
        self.feedback = FeedbackStore(settings.feedback_db, settings.feedback_retention_days)
        asked = questions()
        self.work = [
            [asked[(i * rounds + r) % len(asked)] for r in range(rounds)] for i in range(askers)
        ]
        self.reference: dict[tuple[str, tuple[Turn, ...]], str] = {}
        alone: list[float] = []
        for question, history in dict.fromkeys((q, tuple(h)) for w in self.work for q, h in w):
            started = time.perf_counter()
            answer = self.pipeline.ask(question, list(history), STAFF, "extractive")
            alone.append(time.perf_counter() - started)
            self.reference[(question, history)] = answer.text
        self.alone_s = statistics.median(alone)
        self.written = 0

    def run(self, think_s: float, deadline: float) -> Phase:
        """Every asker at once; each waits a random think time (mean ``think_s``) before
        each question, asks, and rates the answer (a feedback row)."""
        askers = len(self.work)
        pause = f"{think_s:.0f} s betänketid" if think_s else "utan paus"
        phase = Phase(f"kedjan: {askers} trådar, {pause}", askers)
        lock = threading.Lock()
        start = threading.Barrier(askers)

        def asker(i: int) -> None:
            pauses = random.Random(i)
            start.wait()
            for r, (question, history) in enumerate(self.work[i]):
                time.sleep(pauses.uniform(0, 2 * think_s))
                if time.monotonic() > deadline:
                    with lock:
                        phase.errors.append("tidsgränsen nåddes")
                    return
                began = time.perf_counter()
                try:
                    answer = self.pipeline.ask(question, history, STAFF, "extractive")
                except Exception as exc:  # a benchmark counts every failure, whatever its kind
                    with lock:
                        phase.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                seconds = time.perf_counter() - began
                wrong = answer.text != self.reference[(question, tuple(history))]
                try:
                    self.feedback.add(
                        question, answer.text, answer.citations, RATING_UP, f"{i}/{r}"
                    )
                    stored = 1
                except Exception as exc:
                    stored = 0
                    with lock:
                        phase.errors.append(f"återkoppling: {type(exc).__name__}: {exc}")
                with lock:
                    phase.latencies.append(seconds)
                    self.written += stored
                    if wrong:
                        phase.errors.append(f"annat svar under last än ensam: {question}")

        began, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(askers) as pool:
            list(pool.map(asker, range(askers)))
        phase.wall_s = time.perf_counter() - began
        # Think time is not CPU time; the feedback writes are in it (they are part of a turn).
        phase.cpu_s = time.process_time() - cpu
        phase.load = os.getloadavg()[0]
        return phase


# --- the page ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_page(settings: Settings, log: Path, timeout_s: float) -> Iterator[tuple[str, int]]:
    """`streamlit run app.py` on 127.0.0.1 over the settings' data; yields its URL and pid."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERLAG_")}
    env |= {
        "UNDERLAG_DATA_DIR": str(settings.data_dir),
        "UNDERLAG_CORPUS_DIR": str(settings.corpus_dir),
        "UNDERLAG_REQUESTS_PER_MINUTE": "0",  # the load, not the per-user limit, is measured
    }
    command = [str(BIN / "streamlit"), "run", str(REPO / "app.py")]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none"]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit avslutades ({proc.returncode}): {log.read_text()}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2.0).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit svarade inte inom {timeout_s:.0f} s")
            time.sleep(0.5)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


async def page_client(
    browser: Any, url: str, asked: Sequence[str], phase: Phase, loads: list[float], deadline: float
) -> int:
    """One user in one browser context: open the page, ask, rate each answer. Returns the
    feedback rows the page confirmed."""
    context = await browser.new_context(locale="sv-SE", viewport={"width": 1280, "height": 1600})
    page = await context.new_page()
    confirmed = 0

    def left_ms() -> float:
        return max(1.0, (deadline - time.monotonic()) * 1000)

    try:
        began = time.perf_counter()
        await page.goto(url, timeout=left_ms())
        box = page.get_by_placeholder(PLACEHOLDER)
        await box.wait_for(timeout=left_ms())
        await page.get_by_role("heading", name="Underlag", exact=True).wait_for(timeout=left_ms())
        loads.append(time.perf_counter() - began)
        for question in asked:
            await box.fill(question)
            began = time.perf_counter()
            await box.press("Enter")
            rate = page.get_by_role("button", name="Bra svar")
            try:
                await rate.first.wait_for(timeout=left_ms())
            except Exception:
                last = page.get_by_test_id("stChatMessage").last
                shown = (await last.inner_text())[:120] if await last.count() else ""
                phase.errors.append(f"inget svar: {question} ({shown})")
                return confirmed
            phase.latencies.append(time.perf_counter() - began)
            await rate.first.click()
            await page.get_by_text(THANKS).nth(confirmed).wait_for(timeout=left_ms())
            confirmed += 1
    except Exception as exc:
        phase.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        await context.close()
    return confirmed


async def page_clients(
    url: str, pages: int, asked: list[list[str]], phase: Phase, deadline: float
) -> tuple[int, list[float]]:
    from playwright.async_api import async_playwright

    loads: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        try:
            began = time.perf_counter()
            confirmed = await asyncio.gather(
                *(page_client(browser, url, asked[i], phase, loads, deadline) for i in range(pages))
            )
            phase.wall_s = time.perf_counter() - began
        finally:
            await browser.close()
    return sum(confirmed), loads


def page_load(
    settings: Settings, workdir: Path, pages: int, rounds: int, deadline: float
) -> tuple[Phase, int, int, list[float]]:
    """P browser users against the running page while this process writes feedback too;
    returns the phase, rows the page confirmed, rows written here, and page load times."""
    # Questions of the dataset that need no conversation, from its end (the chain asks its start).
    pool = [q for q, history in reversed(questions()) if not history]
    asked = [[pool[(i * rounds + r) % len(pool)] for r in range(rounds)] for i in range(pages)]
    phase = Phase(f"sidan: {pages} Chromium-sidor, {rounds} frågor var", pages)
    feedback = FeedbackStore(settings.feedback_db, settings.feedback_retention_days)
    written = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal written
        while not stop.is_set() and written < 500:
            feedback.add("Fråga under last", "Svar under last", [], RATING_UP, "skrivare")
            written += 1
            time.sleep(0.02)

    with running_page(
        settings, workdir / "streamlit.log", max(30.0, deadline - time.monotonic())
    ) as (url, pid):
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        cpu = process_cpu_s(pid)
        try:
            confirmed, loads = asyncio.run(page_clients(url, pages, asked, phase, deadline))
        finally:
            stop.set()
            thread.join(timeout=60)
        phase.cpu_s = process_cpu_s(pid) - cpu  # the page loads are in it too
        phase.load = os.getloadavg()[0]
    return phase, confirmed, written, loads


# --- the report -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--askers", type=int, default=20, help="samtidiga frågare mot kedjan")
    parser.add_argument("--rounds", type=int, default=3, help="frågor per frågare")
    parser.add_argument(
        "--think", type=float, default=5.0, help="medelpaus före varje fråga i andra körningen"
    )
    parser.add_argument("--pages", type=int, default=5, help="samtidiga webbläsarsidor")
    parser.add_argument("--page-rounds", type=int, default=2, help="frågor per sida")
    parser.add_argument("--data-dir", type=Path, default=None, help="inläst index att kopiera")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--no-page", action="store_true", help="bara kedjan")
    parser.add_argument("--time-limit", type=float, default=600.0, help="sekunder per fas")
    parser.add_argument("--json", type=Path, default=None, help="skriv måtten som JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="underlag-load-") as tmp:
        workdir = Path(tmp)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            corpus_dir=args.corpus,
            data_dir=workdir / "data",
            chroma_url=None,
            answer_mode="extractive",
        )
        origin = prepare_data(settings, args.data_dir)
        print(f"Index: {origin}; {os.cpu_count()} kärnor; belastning {os.getloadavg()[0]:.1f}")

        chain = Chain(settings, args.askers, args.rounds)
        burst = chain.run(0.0, time.monotonic() + args.time_limit)
        phases = [burst]
        if args.think > 0:
            phases.append(chain.run(args.think, time.monotonic() + args.time_limit))
        chain_rows, alone_s = chain.written, chain.alone_s
        page_rows = own_rows = 0
        loads: list[float] = []
        if args.no_page:
            pass
        elif not CHROMIUM.exists():
            print(f"Sidan mäts inte: {CHROMIUM} saknas (make browser).")
        else:
            page, page_rows, own_rows, loads = page_load(
                settings, workdir, args.pages, args.page_rounds, time.monotonic() + args.time_limit
            )
            phases.append(page)

        stored = len(FeedbackStore(settings.feedback_db).rows())
        expected = chain_rows + page_rows + own_rows

    print()
    print(HEADER)
    for phase in phases:
        print(phase.row())
    print()
    print(
        f"En ensam fråga till kedjan: median {alone_s:.3f} s. CPU ms: processorsekunder per svar i "
        "den process som svarar (kedjan: denna, med återkopplingen; sidan: Streamlit, med "
        "sidladdningarna); last: maskinens belastning (1 min) när fasen slutade."
    )
    if loads:
        print(f"Sidan öppnad och klar (laddning): median {statistics.median(loads):.1f} s.")
    print(
        f"Återkoppling: {chain_rows} rader från kedjans trådar + {page_rows} bekräftade av sidan "
        f"+ {own_rows} från en skrivare samtidigt med sidan = {expected}; räknade efteråt "
        f"{stored}; förlorade {expected - stored}."
    )
    p95 = burst.p95()
    verdict = "OK" if p95 is not None and p95 <= TARGET_P95_S and not burst.errors else "ÖVER MÅLET"
    print(
        f"Mål: {args.askers} samtidiga frågare utan paus, p95 <= {TARGET_P95_S:.0f} s, inga fel: "
        f"{verdict}."
    )
    for phase in phases:
        for error in sorted(set(phase.errors))[:10]:
            print(f"  fel ({phase.name}): {error}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "phases": [asdict(p) for p in phases],
                    "alone_s": alone_s,
                    "page_load_s": loads,
                    "feedback": {"expected": expected, "stored": stored},
                },
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0 if expected == stored and not any(p.errors for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
