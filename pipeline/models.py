"""`strobe models list|fetch|verify`: the registry in `operators.models` made usable.

`fetch` downloads a model's files from their upstream URL (or `--mirror BASE`, which serves
the same file names) into the models directory, checking each file's sha256 before it
takes the final name, so a half-written or tampered file is never used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from operators.models import (
    MODELS,
    ModelFile,
    ModelSpec,
    file_path,
    models_dir,
    sha256_of,
    status,
)

CHUNK = 1 << 20
TIMEOUT_S = 60.0
# How a Git LFS pointer file starts: what a repository URL serves in place of the content
# when it does not redirect there (raw.githubusercontent.com; github.com's /raw/ does).
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


class FetchError(Exception):
    """A download failed or its bytes did not match the pinned hash."""


def fetch_model(
    spec: ModelSpec, directory: Path, *, mirror: str | None = None, force: bool = False
) -> list[Path]:
    """Download each file of a fetchable model; files already present with the right hash
    are kept. Returns the paths written or kept."""
    if not spec.fetchable:
        raise FetchError(f"{spec.name} ships inside a Python package: {spec.install}")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for file in spec.files:
        path = directory / file.name
        if not force and path.is_file() and sha256_of(path) == file.sha256:
            paths.append(path)
            continue
        url = f"{mirror.rstrip('/')}/{file.name}" if mirror else file.url
        _download(url, path, file)
        paths.append(path)
    return paths


def _download(url: str, dest: Path, file: ModelFile) -> None:
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    head = b""
    try:
        # urlopen follows redirects (301-308), as GitHub's and most mirrors' downloads need.
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            while chunk := resp.read(CHUNK):
                head = head or chunk[: len(LFS_POINTER)]
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != file.sha256:
            pointer = " (a Git LFS pointer, not the file)" if head == LFS_POINTER else ""
            raise FetchError(
                f"{url}: sha256 {digest.hexdigest()} does not match the pinned {file.sha256}"
                f"{pointer}"
            )
        tmp.replace(dest)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise FetchError(f"{url}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _select(names: Sequence[str]) -> list[ModelSpec]:
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise SystemExit(f"strobe: unknown model {', '.join(unknown)}; known: {', '.join(MODELS)}")
    return [MODELS[n] for n in names] if names else list(MODELS.values())


def run(command: str, names: Sequence[str], mirror: str | None = None) -> int:
    """The `strobe models …` commands; returns the exit status."""
    directory = models_dir()
    specs = _select(names)
    if command == "list":
        print(f"models directory: {directory}")
        for spec in specs:
            where = f"package {spec.package}" if spec.package else "fetched"
            print(
                f"{spec.name:26} {spec.kind:8} {status(spec, directory):14} {where:28} "
                f"{spec.license}"
            )
        return 0
    if command == "fetch":
        failed = 0
        for spec in specs if names else [s for s in specs if s.fetchable]:
            try:
                for path in fetch_model(spec, directory, mirror=mirror):
                    print(f"{spec.name}: {path} ok")
            except FetchError as exc:
                failed += 1
                print(f"{spec.name}: {exc}")
        return 1 if failed else 0
    # verify: every file present, and fetched ones match their pinned hash
    bad = 0
    for spec in specs:
        state = status(spec, directory, check=True)
        paths = [str(file_path(spec, f, directory)) for f in spec.files]
        print(f"{spec.name}: {state} ({', '.join(paths)})")
        bad += state != "ok"
    return 1 if bad else 0
