"""Misconfiguration is caught at start with a clear message and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port

pytestmark = pytest.mark.e2e


def start_api(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "api",
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_unreachable_database(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    run = start_api(tmp_path, STROBE_DATABASE_URL=f"postgresql://strobe:secret@127.0.0.1:{port}/db")
    assert run.returncode != 0
    assert "cannot open the database" in run.stderr and "Traceback" not in run.stderr
    assert "secret" not in run.stderr  # the password is not printed


def test_missing_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    run = start_api(
        tmp_path,
        STROBE_STORAGE_URL="s3://no-such-bucket/prefix",
        STROBE_S3_ENDPOINT_URL=s3_endpoint,
    )
    assert run.returncode != 0
    assert "cannot use the storage" in run.stderr and "no-such-bucket" in run.stderr


def test_bad_api_keys_setting(tmp_path: Path) -> None:
    run = start_api(tmp_path, STROBE_API_KEYS="just-a-key-without-project")
    assert run.returncode != 0
    assert "STROBE_API_KEYS" in run.stderr and "Traceback" not in run.stderr
