"""`strobe tasks create|get|list|wait` against a real `strobe serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.client.http import StrobeClient
from tests.e2e.conftest import Server
from tests.support.media import make_image

pytestmark = pytest.mark.e2e


@pytest.fixture
def client_env(server: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"STROBE_URL": server.url, "STROBE_API_KEY": "sk_e2e_a"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def file_id(server: Server, client_env: dict[str, str], tmp_path: Path) -> str:
    with StrobeClient() as client:
        picture = make_image(tmp_path / "small.png", width=64, height=48)
        return str(client.upload(picture)["id"])


def test_create_wait_shows_progress_and_ends_ready(
    client_env: dict[str, str], file_id: str
) -> None:
    """The console script path: a real subprocess, configured only by the environment."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "tasks", "create", f"file_id={file_id}"]
        + ["format=png", "width=32", "--wait", "--timeout=120"],
        env={**os.environ, **client_env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)
    assert task["status"] == "ready" and task["output"]["width"] == 32
    assert task["input"] == file_id
    assert "100% ready" in done.stderr  # the progress line's final state


def test_get_list_and_wait_print_the_task(
    client_env: dict[str, str], file_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps({"file_id": file_id, "format": "png"})
    assert main(["tasks", "create", "--json", body, "width=24"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["output"]["width"] == 24 and created["output"]["format"] == "png"
    assert main(["tasks", "wait", created["id"], "--timeout=120"]) == 0
    waited = json.loads(capsys.readouterr().out)
    assert waited["status"] == "ready" and waited["output"]["width"] == 24
    assert main(["tasks", "get", created["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == created["id"]
    assert main(["tasks", "list", "--status", "ready", "--limit", "100"]) == 0
    listed = capsys.readouterr()
    assert f"{created['id']}\timage\tready\t100%" in listed.out
    assert "tasks" in listed.err


def test_flags_override_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STROBE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("STROBE_API_KEY", "sk_wrong")
    assert main(["tasks", "list"]) == 1
    assert "unreachable" in capsys.readouterr().err
    assert main(["tasks", "list", "--url", server.url]) == 1
    assert "HTTP 401 unauthorized: unknown API key" in capsys.readouterr().err
    assert main(["tasks", "list", "--url", server.url, "--key", "sk_e2e_b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["meta"]["page"] == 1


def test_a_rejected_task_prints_the_apis_message(
    client_env: dict[str, str], file_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "create", f"file_id={file_id}", "format=bmp"]) == 1
    err = capsys.readouterr().err
    assert "invalid_request" in err and "format" in err and "HTTP 4" in err
    assert main(["tasks", "get", "tsk_nope"]) == 1
    assert "HTTP 404 not_found" in capsys.readouterr().err
    assert main(["tasks", "create", "width"]) == 1
    assert "expected key=value" in capsys.readouterr().err
