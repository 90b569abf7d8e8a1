"""The model store: `strobe models list|fetch|verify`, and fetch over real HTTP (a loopback
server serves a file whose sha256 the test pins)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from operators import models
from operators.models import MODELS, ModelFile, ModelSpec
from pipeline.cli import main
from pipeline.models import LFS_POINTER, FetchError, fetch_model
from tests.support.http import serve_directory

PAYLOAD = b"weights " * 40_000  # 320 kB: several read chunks
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[str]:
    served = tmp_path / "served"
    served.mkdir()
    (served / "tiny.bin").write_bytes(PAYLOAD)
    (served / MODELS["ssdlite320-coco"].files[0].name).write_bytes(b"not the real weights")
    (served / "pointer.bin").write_bytes(LFS_POINTER + b"v1\noid sha256:" + DIGEST.encode())
    with serve_directory(served) as base:
        yield base


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("STROBE_MODELS_DIR", str(folder))
    return folder


def tiny(url: str, sha256: str = DIGEST) -> ModelSpec:
    return ModelSpec("tiny", "objects", (ModelFile("tiny.bin", sha256, url),), "MIT", "test")


def test_fetch_downloads_and_checks_the_hash(mirror: str, models_dir: Path) -> None:
    (path,) = fetch_model(tiny(f"{mirror}/tiny.bin"), models_dir)
    assert path == models_dir / "tiny.bin" and path.read_bytes() == PAYLOAD
    assert models.status(tiny(""), models_dir, check=True) == "ok"
    # Present with the right hash: kept, not downloaded again (the URL is dead now).
    assert fetch_model(tiny("http://127.0.0.1:9/gone"), models_dir) == [path]


def test_a_wrong_hash_leaves_no_file(mirror: str, models_dir: Path) -> None:
    with pytest.raises(FetchError, match="does not match"):
        fetch_model(tiny(f"{mirror}/tiny.bin", sha256="0" * 64), models_dir)
    assert list(models_dir.iterdir()) == []


def test_fetch_follows_redirects_and_names_a_git_lfs_pointer(mirror: str, models_dir: Path) -> None:
    # github.com's /raw/ URL of a Git LFS file (yunet-2023mar's) redirects to the content.
    (path,) = fetch_model(tiny(f"{mirror}/redirect/tiny.bin"), models_dir)
    assert path.read_bytes() == PAYLOAD
    with pytest.raises(FetchError, match="a Git LFS pointer, not the file"):
        fetch_model(tiny(f"{mirror}/pointer.bin"), models_dir, force=True)
    assert path.read_bytes() == PAYLOAD  # the good file is kept


def test_an_unreachable_url_is_a_fetch_error(mirror: str, models_dir: Path) -> None:
    with pytest.raises(FetchError, match="404"):
        fetch_model(tiny(f"{mirror}/absent.bin"), models_dir)
    assert list(models_dir.iterdir()) == []


def test_cli_fetch_from_a_mirror_refuses_bytes_that_are_not_the_pinned_weights(
    mirror: str, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "fetch", "ssdlite320-coco", "--mirror", mirror]) == 1
    assert "does not match the pinned a79551df90c7" in capsys.readouterr().out
    assert not models_dir.exists() or list(models_dir.iterdir()) == []


def test_cli_list_and_verify(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert str(models_dir) in out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == set(MODELS)
    assert " missing " in rows["ssdlite320-coco"] and " ok " in rows["rapidocr-ppocrv4"]
    assert "AGPL-3.0" in rows["nudenet-320n"]
    assert rows["yunet-2023mar"].split()[1:4] == ["faces", "missing", "fetched"]
    assert "MIT (OpenCV Zoo YuNet)" in rows["yunet-2023mar"]
    # verify fails while a fetched model is missing, and names the file it looked for
    assert main(["models", "verify"]) == 1
    assert "ssdlite320-coco: missing" in capsys.readouterr().out
    assert main(["models", "verify", "haarcascade-frontalface", "rapidocr-ppocrv4"]) == 0
    weights = models_dir / MODELS["ssdlite320-coco"].files[0].name
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"tampered")
    assert main(["models", "verify", "ssdlite320-coco"]) == 1
    assert "ssdlite320-coco: corrupt" in capsys.readouterr().out
    (models_dir / MODELS["yunet-2023mar"].files[0].name).write_bytes(b"wrong bytes")
    assert main(["models", "verify", "yunet-2023mar"]) == 1
    assert "yunet-2023mar: corrupt" in capsys.readouterr().out


def test_unknown_model_names_the_known_ones(models_dir: Path) -> None:
    with pytest.raises(SystemExit, match="ssdlite320-coco"):
        main(["models", "fetch", "yolo"])
