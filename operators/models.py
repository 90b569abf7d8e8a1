"""The model registry: which weights each operator uses, where they come from, their license.

Two sources: weights fetched into the models directory (`STROBE_MODELS_DIR`, default
`$STROBE_DATA_DIR/models`) by `strobe models fetch NAME`, checked against a pinned sha256;
and weights that ship inside a Python package, used from there. Pure data and file
checks: no network here (the download lives in `pipeline.models`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.contract.errors import MODEL_MISSING, TaskError

CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelFile:
    name: str  # the file name in the models directory (or inside the package)
    sha256: str  # full hex digest
    url: str = ""  # upstream download; empty for packaged weights
    size: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    files: tuple[ModelFile, ...]
    license: str
    upstream: str
    package: str | None = None  # the weights ship inside this importable package
    install: str = ""  # how to get the package, for messages

    @property
    def fetchable(self) -> bool:
        return self.package is None


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="ssdlite320-coco",
            kind="objects",
            files=(
                ModelFile(
                    "ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
                    "a79551df90c79834bcd3bb3845ef9d966b5449a3a9b2833ae8404778ca5d65d2",
                    "https://download.pytorch.org/models/ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
                    14_069_355,
                ),
            ),
            license="BSD-3-Clause (torchvision; trained on COCO)",
            upstream="torchvision SSDLite320_MobileNet_V3_Large_Weights.COCO_V1",
        ),
        ModelSpec(
            name="rapidocr-ppocrv4",
            kind="text",
            files=(
                ModelFile("models/ch_PP-OCRv4_det_infer.onnx", ""),
                ModelFile("models/ch_PP-OCRv4_rec_infer.onnx", ""),
            ),
            license="Apache-2.0",
            upstream="PaddleOCR PP-OCRv4 via rapidocr-onnxruntime 1.4.4",
            package="rapidocr_onnxruntime",
            install=(
                "pip install 'strobe[vision]' && pip install --no-deps rapidocr-onnxruntime==1.4.4"
            ),
        ),
        ModelSpec(
            name="haarcascade-frontalface",
            kind="faces",
            files=(ModelFile("data/haarcascade_frontalface_default.xml", ""),),
            license="BSD-3-Clause (Intel License Agreement, shipped with OpenCV)",
            upstream="OpenCV Haar cascade, opencv-python-headless<5",
            package="cv2",
            install="pip install 'strobe[vision]'",
        ),
        ModelSpec(
            name="yunet-2023mar",
            kind="faces",
            files=(
                ModelFile(
                    "face_detection_yunet_2023mar.onnx",
                    "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
                    # Stored in Git LFS: github.com's /raw/ redirects to the content, where
                    # raw.githubusercontent.com would serve the LFS pointer.
                    "https://github.com/opencv/opencv_zoo/raw/"
                    "82b38c8f98e7b52aa171400f3e4c722352d0669f/models/face_detection_yunet/"
                    "face_detection_yunet_2023mar.onnx",
                    232_589,
                ),
            ),
            license="MIT (OpenCV Zoo YuNet)",
            upstream="OpenCV Zoo face_detection_yunet 2023mar, run by cv2.FaceDetectorYN",
        ),
        ModelSpec(
            name="nudenet-320n",
            kind="nsfw",
            files=(ModelFile("320n.onnx", ""),),
            license="AGPL-3.0 (NudeNet's model; an optional extra)",
            upstream="nudenet 3.4.2 (YOLOv8n, 320 px)",
            package="nudenet",
            install="pip install 'strobe[nsfw]'",
        ),
    )
}

# Whisper (speech, and the kinds built on it): OpenAI's official checkpoints. The pinned sha256
# is the hex in each URL of `whisper._MODELS`; STROBE_WHISPER_MODEL picks the size.
WHISPER_BASE_URL = "https://openaipublic.azureedge.net/main/whisper/models"
WHISPER_CHECKPOINTS = {  # size -> (upstream file, sha256)
    "tiny": ("tiny.pt", "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9"),
    "base": ("base.pt", "ed3a0b6b1c0edf879ad9b11b1af5a0e6ab5db9205f891f668f8b0e6c6326e34e"),
    "small": ("small.pt", "9ecf779972d90ba49c06d968637d720dd632c55bbf19d441fb42bf17a411e794"),
    "medium": ("medium.pt", "345ae4da62f9b3d59415adc60127b97c714f32e89e936602e85993674d08dcb1"),
    "large-v3": (
        "large-v3.pt",
        "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
    ),
    "turbo": (
        "large-v3-turbo.pt",
        "aff26ae408abcba5fbf8813c21e62b0941638c5f6eebfb145be0c9839262a19a",
    ),
}
MODELS |= {
    f"whisper-{size}": ModelSpec(
        name=f"whisper-{size}",
        kind="speech",
        files=(ModelFile(f"whisper-{size}.pt", digest, f"{WHISPER_BASE_URL}/{digest}/{upstream}"),),
        license="MIT (OpenAI Whisper)",
        upstream=f"openai-whisper {size} ({upstream})",
    )
    for size, (upstream, digest) in WHISPER_CHECKPOINTS.items()
}


def models_dir(env: Mapping[str, str] | None = None) -> Path:
    """STROBE_MODELS_DIR, else `models/` in STROBE_DATA_DIR (as pipeline.config reads them)."""
    env = os.environ if env is None else env
    if env.get("STROBE_MODELS_DIR"):
        return Path(env["STROBE_MODELS_DIR"])
    return Path(env.get("STROBE_DATA_DIR", "./.strobe")).resolve() / "models"


def package_dir(package: str) -> Path | None:
    """Where an installed package lives, without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def file_path(spec: ModelSpec, file: ModelFile, directory: Path | None = None) -> Path | None:
    if spec.package:
        root = package_dir(spec.package)
        return None if root is None else root / file.name
    return (directory or models_dir()) / file.name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def missing_message(spec: ModelSpec) -> str:
    if spec.package:
        return (
            f"the {spec.kind} model {spec.name} ships with the Python package {spec.package}, "
            f"which is not installed on this worker: {spec.install}"
        )
    return (
        f"the {spec.kind} model {spec.name} is not installed in the models directory: "
        f"run `strobe models fetch {spec.name}` (or set STROBE_MODELS_DIR)"
    )


def require(name: str, directory: Path | None = None) -> list[Path]:
    """The model's file paths, or TaskError `model_missing` naming how to install it.
    Presence only: `strobe models verify` checks the hashes (too slow for every task)."""
    spec = MODELS[name]
    paths = [file_path(spec, f, directory) for f in spec.files]
    if any(p is None or not p.is_file() for p in paths):
        raise TaskError(MODEL_MISSING, missing_message(spec))
    return [p for p in paths if p is not None]


def status(spec: ModelSpec, directory: Path | None = None, *, check: bool = False) -> str:
    """`ok`, `missing`, `not-installed` (package absent) or `corrupt` (hash differs)."""
    for file in spec.files:
        path = file_path(spec, file, directory)
        if path is None:
            return "not-installed"
        if not path.is_file():
            return "missing"
        if check and file.sha256 and sha256_of(path) != file.sha256:
            return "corrupt"
    return "ok"
