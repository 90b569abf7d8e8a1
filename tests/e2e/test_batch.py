"""`strobe batch`: a 100-line manifest with bad lines through a real `strobe serve`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.client.batch import run_batch
from pipeline.client.http import StrobeClient
from tests.e2e.conftest import Server
from tests.support.media import make_image

pytestmark = pytest.mark.e2e
LINES = 100
NOT_JSON = {7, 33}  # not JSON at all
NOT_OBJECT = {50}  # JSON, but not an object
REJECTED = {12, 61, 88}  # the API answers 4xx: unknown format, width 0, unknown field


def _manifest(path: Path, file_id: str) -> Path:
    lines = []
    for number in range(1, LINES + 1):
        body: object = {"file_id": file_id, "format": "png", "width": 8 + number % 16}
        if number == 12:
            body = {"file_id": file_id, "format": "bmp"}
        elif number == 61:
            body = {"file_id": file_id, "format": "png", "width": 0}
        elif number == 88:
            body = {"file_id": file_id, "format": "png", "colour": "red"}
        elif number in NOT_OBJECT:
            body = [1, 2, 3]
        line = "{oops" if number in NOT_JSON else json.dumps(body)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_batch_completes_reports_bad_lines_and_resumes(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STROBE_URL", server.url)
    monkeypatch.setenv("STROBE_API_KEY", "sk_e2e_b")
    with StrobeClient() as client:
        file_id = client.upload(make_image(tmp_path / "tiny.png", width=32, height=24))["id"]
        manifest = _manifest(tmp_path / "manifest.jsonl", file_id)
        output = tmp_path / "results.jsonl"
        tasks_before = client.list_tasks(limit=1)["meta"]["total"]

        progress = io.StringIO()
        first = run_batch(client, manifest, output, concurrency=4, progress_to=progress)
        bad_lines = NOT_JSON | NOT_OBJECT | REJECTED
        assert first["submitted"] == LINES - len(NOT_JSON | NOT_OBJECT)
        assert first["ready"] == LINES - len(bad_lines) and first["unfinished"] == 0
        assert {bad["line"] for bad in first["bad"]} == bad_lines
        assert f"{LINES}/{LINES} done, {LINES - len(bad_lines)} ready" in progress.getvalue()

        results = [json.loads(line) for line in output.read_text().splitlines()]
        assert [r["line"] for r in results] == list(range(1, LINES + 1))
        for result in results:
            if result["line"] in bad_lines:
                assert result["error"]["code"] == "invalid_request", result
            else:
                task = result["task"]
                assert (
                    task["status"] == "ready" and task["output"]["width"] == 8 + result["line"] % 16
                )
        messages = {r["line"]: r["error"]["message"] for r in results if "error" in r}
        assert "format" in messages[12] and "width" in messages[61] and "colour" in messages[88]
        assert "not JSON" in messages[7] and "JSON object" in messages[50]
        tasks_after_first = client.list_tasks(limit=1)["meta"]["total"]
        assert tasks_after_first == tasks_before + LINES - len(bad_lines)

    # The second run, through the command line: nothing new is submitted.
    assert main(["batch", str(manifest), "--output", str(output)]) == 1  # bad lines remain
    with StrobeClient() as client:
        assert client.list_tasks(limit=1)["meta"]["total"] == tasks_after_first
    assert [json.loads(line) for line in output.read_text().splitlines()] == results


def test_a_changed_line_is_submitted_again(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STROBE_URL", server.url)
    monkeypatch.setenv("STROBE_API_KEY", "sk_e2e_b")
    with StrobeClient() as client:
        file_id = client.upload(make_image(tmp_path / "tiny.png", width=32, height=24))["id"]
        manifest = tmp_path / "m.jsonl"
        good = json.dumps({"file_id": file_id, "format": "png", "width": 10})
        manifest.write_text(good + "\n" + json.dumps({"file_id": file_id, "format": "bmp"}) + "\n")
        output = tmp_path / "out.jsonl"
        quiet = io.StringIO()
        assert run_batch(client, manifest, output, progress_to=quiet)["ready"] == 1
        fixed = json.dumps({"file_id": file_id, "format": "jpeg", "width": 10})
        manifest.write_text(good + "\n" + fixed + "\n")
        again = run_batch(client, manifest, output, progress_to=quiet)
        assert (again["submitted"], again["skipped"], again["ready"]) == (1, 1, 2)
        assert again["bad"] == []


def test_workflow_lines_run_as_runs_and_resume(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines naming an automation or carrying a workflow each become one run; a run with a
    failed step is a failed line, a workflow the API refuses a rejected one, and a re-run
    submits nothing new."""
    monkeypatch.setenv("STROBE_URL", server.url)
    monkeypatch.setenv("STROBE_API_KEY", "sk_e2e_b")
    inline = [{"kind": "image", "format": "png", "width": 12, "next": [{"kind": "image"}]}]
    with StrobeClient() as client:
        file_id = client.upload(make_image(tmp_path / "tiny.png", width=32, height=24))["id"]
        made = client._call("POST", "/automations", json={"workflow": [{"kind": "image"}]})
        automation = made["data"]["id"]
        try:
            manifest = tmp_path / "runs.jsonl"
            lines = [
                {"automation": automation, "file_id": file_id},
                {"workflow": inline, "file_id": file_id},
                {"workflow": [{"kind": "audio"}], "file_id": file_id},  # no sound: fails
                {"workflow": [{"kind": "image", "next": [{"kind": "speech"}]}], "file_id": file_id},
                {"file_id": file_id, "format": "png", "width": 9},  # a plain task beside them
            ]
            manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
            output = tmp_path / "runs-out.jsonl"
            quiet = io.StringIO()
            summary = run_batch(client, manifest, output, progress_to=quiet)
            assert (summary["submitted"], summary["ready"]) == (5, 3)
            results = [json.loads(line) for line in output.read_text().splitlines()]
            first, second, failed, rejected, task = results
            assert first["run"]["status"] == "ready" and first["run"]["automation_id"] == automation
            assert second["run"]["status"] == "ready" and len(second["run"]["tasks"]) == 2
            assert failed["run"]["status"] == "error"
            assert rejected["error"]["status"] == 422 and "next[0]" in rejected["error"]["message"]
            assert task["task"]["status"] == "ready"
            bad = {b["line"]: b["error"] for b in summary["bad"]}
            assert bad[3][0]["code"] == "no_audio_stream" and bad[3][0]["step"] == "workflow[0]"
            runs_before = client._call("GET", "/runs")["meta"]["total"]
            again = run_batch(client, manifest, output, progress_to=quiet)
            assert again["submitted"] == 1 and again["skipped"] == 4  # the failed run only
            assert client._call("GET", "/runs")["meta"]["total"] == runs_before + 1
        finally:
            client._call("DELETE", f"/automations/{automation}")
