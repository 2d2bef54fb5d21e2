"""`underlag ingest` run as a real process: summary, failed files, lock and server errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN, REPO, free_port
from filelock import FileLock

pytestmark = pytest.mark.slow

SUMMARY = re.compile(
    r"^Dokument: (\d+) nya, (\d+) uppdaterade, (\d+) oförändrade, (\d+) borttagna, "
    r"(\d+) misslyckade; (\d+) chunkar \((\d+) nya vektorer\) på \d+\.\d s$"
)


def underlag(
    args: list[str], data_dir: Path, cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a clean environment: no UNDERLAG_* from outside, no .env, data in tmp."""
    command = (
        [str(BIN / "underlag")] if (BIN / "underlag").exists() else [sys.executable, "-m", "cli"]
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UNDERLAG_")}
    environ.update(PYTHONPATH=str(REPO), UNDERLAG_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [*command, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=900
    )


def test_ingest_prints_the_summary_and_the_failed_files(tmp_path: Path, small_corpus: Path) -> None:
    (small_corpus / "tom.txt").write_bytes(b"")
    (small_corpus / "kalkyl.xlsx").write_bytes(b"PK\x03\x04")
    data = tmp_path / "data"

    first = underlag(["ingest", "--corpus", str(small_corpus)], data, tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    summary = SUMMARY.match(lines[0])
    assert summary is not None, first.stdout
    added, updated, unchanged, removed, failed, chunks, vectors = map(int, summary.groups())
    assert (added, updated, unchanged, removed, failed) == (2, 0, 0, 0, 1)
    assert chunks == vectors >= 4
    assert lines[1:] == [
        "  misslyckades: tom.txt: filen är tom",
        "  hoppade över (filtypen stöds inte): kalkyl.xlsx",
    ]
    assert "vgr-fordelning-medel-samsjuklig" in first.stderr  # the progress bar named the document
    assert (data / "lexical.json").exists()  # the lexical index follows the store

    second = underlag(["ingest", "--corpus", str(small_corpus), "--quiet"], data, tmp_path)
    assert second.returncode == 0, second.stderr
    summary = SUMMARY.match(second.stdout.splitlines()[0])
    assert summary is not None, second.stdout
    assert tuple(map(int, summary.groups())) == (0, 0, 2, 0, 1, chunks, 0)
    assert second.stderr == ""


def test_a_held_lock_gives_one_error_line_and_exit_code_1(
    tmp_path: Path, small_corpus: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with FileLock(str(data / "ingest.lock")):
        result = underlag(["ingest", "--corpus", str(small_corpus), "--quiet"], data, tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"fel: En annan inläsning pågår redan (lås: {data / 'ingest.lock'}). "
        "Vänta tills den är klar och försök igen."
    ]


def test_an_unreachable_chroma_server_gives_one_error_line(
    tmp_path: Path, small_corpus: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = underlag(
        ["ingest", "--corpus", str(small_corpus)],
        tmp_path / "data",
        tmp_path,
        UNDERLAG_CHROMA_URL=url,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"fel: Chroma-servern på {url} svarar inte")


def test_a_missing_corpus_folder_gives_one_error_line(tmp_path: Path) -> None:
    result = underlag(["ingest", "--corpus", str(tmp_path / "saknas")], tmp_path / "data", tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"fel: Korpusmappen {tmp_path / 'saknas'} finns inte; ange --corpus MAPP."
    ]


def test_search_indexes_that_cannot_be_written_give_one_error_line(
    tmp_path: Path, small_corpus: Path
) -> None:
    data = tmp_path / "data"
    (data / "lexical.json").mkdir(parents=True)  # the lexical index cannot be written there
    result = underlag(["ingest", "--corpus", str(small_corpus), "--quiet"], data, tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"fel: Sökindexen i {data} kunde inte skrivas (")
    assert "Traceback" not in result.stderr
