"""A small HTTP client for any Strobe server: what `strobe tasks …` and `strobe batch` use.

It speaks only the public API (the `{meta, data, links}` envelope), so it works against a
local `strobe serve` and a remote deployment alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pipeline.contract.errors import UNAUTHORIZED

DEFAULT_URL = "http://127.0.0.1:8000"
FINAL = ("ready", "error")


class ClientError(Exception):
    """The server answered with an error envelope, or could not be reached."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.status, self.code, self.message = status, code, message

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


class StrobeClient:
    def __init__(
        self, url: str | None = None, api_key: str | None = None, *, timeout_s: float = 30.0
    ) -> None:
        self.url = (url or os.environ.get("STROBE_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("STROBE_API_KEY")
        if not key:
            raise ClientError(0, UNAUTHORIZED, "no API key: set STROBE_API_KEY or pass --key")
        self._http = httpx.Client(
            base_url=self.url,
            # The envelope everywhere, /runs included (unasked, those answer the SDK's dialect).
            headers={"Authorization": f"Bearer {key}", "Accept-Version": "2024-08-21"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StrobeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def create_task(self, body: Mapping[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self._call("POST", "/tasks", json=dict(body))["data"]
        return data

    def get_task(self, task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", f"/tasks/{task_id}")["data"]
        return data

    def start_run(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`{"automation": id, "file_id" | "media_id"}` runs that automation; `{"workflow":
        [...], "file_id" | "media_id"}` runs the workflow given."""
        given = dict(body)
        automation = given.pop("automation", None)
        if automation is not None:
            path = f"/automations/{quote(str(automation), safe='')}/run"
            data: dict[str, Any] = self._call("POST", path, json=given)["data"]
        else:
            data = self._call("POST", "/runs", json=given)["data"]
        return data

    def get_run(self, run_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", f"/runs/{quote(run_id, safe='')}")["data"]
        return data

    def list_tasks(self, **params: Any) -> dict[str, Any]:
        """The whole envelope: `data` (tasks) and `meta` (total, page, pages)."""
        query = {k: v for k, v in params.items() if v is not None}
        return self._call("GET", "/tasks", params=query)

    def upload(self, path: Path) -> dict[str, Any]:
        with path.open("rb") as body:
            envelope = self._call("POST", "/files", params={"filename": path.name}, content=body)
        data: dict[str, Any] = envelope["data"]
        return data

    def wait(
        self,
        task_id: str,
        *,
        timeout_s: float = 600.0,
        interval_s: float = 0.5,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the task is `ready` or `error`; TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            task = self.get_task(task_id)
            if on_update is not None:
                on_update(task)
            if task["status"] in FINAL:
                return task
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} still {task['status']} after {timeout_s:g} s")
            time.sleep(interval_s)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(0, "unreachable", f"cannot reach {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            error = (body or {}).get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                raise ClientError(
                    response.status_code, error.get("code", ""), error.get("message", "")
                )
            raise ClientError(
                response.status_code, "http_error", f"HTTP {response.status_code} from {path}"
            )
        return body
