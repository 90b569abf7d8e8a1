"""A workflow as a client sends it -> the resolved step tree a run follows
(pipeline/workflow.py), or a 422 naming the step's path.

Each task step is checked as `POST /tasks` checks a task (pipeline/api/schemas.py), so a
step takes exactly the options its kind takes. A `next` step must be able to read what its
parent makes: `subtitles` after `image` is refused here, not left to fail at run time.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from operators.catalog import KINDS, Needs
from pipeline.api.errors import ApiError, invalid
from pipeline.api.schemas import TaskCreate, check_callback_url, task_request
from pipeline.api.validation import request_error
from pipeline.workflow import (
    CONDITIONS,
    HTTP,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_STEPS,
    Path,
    Step,
    condition_problem,
    path_label,
)

# Steps the workflow shape names that this server does not run.
_UNAVAILABLE = {
    "prompt": "prompt steps are not available: they need a hosted language model, and this "
    "server runs only models it has offline",
}
# The input streams each kind's output offers a `next` step; None: nothing can follow.
_EVERY_PICTURE = frozenset({Needs.NOTHING, Needs.PICTURE, Needs.SIZED_PICTURE})
_OFFERS: dict[str, frozenset[Needs]] = {
    "video": _EVERY_PICTURE | {Needs.MOVING_PICTURE, Needs.SOUND},
    "image": _EVERY_PICTURE,
    "audio": frozenset({Needs.NOTHING, Needs.SOUND}),
}
_STEP_FIELDS = frozenset({"kind", "next", "conditions"})
_RUN_INPUT = "input"  # what top-level steps read: any upload


def resolve(workflow: Any, enabled_kinds: set[str], allow_private: bool) -> list[Step]:
    """The checked, resolved tree of `workflow` (a list of steps)."""
    if not isinstance(workflow, list) or not workflow:
        raise invalid("workflow", "a list of at least one step")
    try:  # it is stored and echoed as sent: it must be JSON any client can read back
        json.dumps(workflow, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, UnicodeEncodeError):
        raise invalid("workflow", "numbers must be finite and text valid Unicode") from None
    resolver = _Resolver(enabled_kinds, allow_private)
    return resolver.steps(workflow, (), _RUN_INPUT)


class _Resolver:
    def __init__(self, enabled_kinds: set[str], allow_private: bool) -> None:
        self.enabled_kinds = enabled_kinds
        self.allow_private = allow_private
        self.count = 0
        self.refs: dict[str, str] = {}

    def steps(self, raw: list[Any], prefix: Path, feeds: str) -> list[Step]:
        """`feeds`: the kind of media these steps read (`_made_by`), or the run's input."""
        return [self.step(item, (*prefix, i), feeds) for i, item in enumerate(raw)]

    def step(self, raw: Any, path: Path, feeds: str) -> Step:
        label = path_label(path)
        self.count += 1
        if self.count > MAX_STEPS:
            raise invalid(label, f"a workflow has at most {MAX_STEPS} steps")
        if len(path) > MAX_DEPTH:
            raise invalid(label, f"too deep: next steps nest at most {MAX_DEPTH} levels")
        if not isinstance(raw, dict):
            raise invalid(label, "a step is an object with a kind")
        kind = raw.get("kind")
        if not isinstance(kind, str):
            raise invalid(f"{label}.kind", "required: a task kind or 'conditions'")
        nested = raw.get("next")
        if nested is None:
            nested = []
        elif not isinstance(nested, list):
            raise invalid(f"{label}.next", "a list of steps")
        if kind == CONDITIONS:
            tests = self.conditions(raw, label)
            return {
                "kind": CONDITIONS,
                "conditions": tests,
                "next": self.steps(nested, path, feeds),
            }
        if kind in _UNAVAILABLE:
            raise invalid(f"{label}.kind", _UNAVAILABLE[kind])
        if kind == HTTP:
            return self.http(raw, label, nested)
        if "conditions" in raw:
            raise invalid(f"{label}.conditions", "only a conditions step has conditions")
        if kind not in KINDS:
            raise invalid(f"{label}.kind", f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
        if feeds != _RUN_INPUT and KINDS[kind].needs not in _OFFERS.get(feeds, frozenset()):
            made = f"a {feeds} file" if feeds else "no media file"
            raise invalid(
                f"{label}.kind",
                f"a {kind} step cannot read what its parent makes ({made}); "
                f"{kind} needs {KINDS[kind].needs.value}",
            )
        options = self.options(raw, label)
        ref = options.get("ref")
        if ref is not None:
            if ref in self.refs:
                raise invalid(f"{label}.ref", f"ref {ref!r} already names {self.refs[ref]}")
            self.refs[ref] = label
        made = _made_by(kind, options)
        resolved: Step = {"kind": kind, "options": options, "next": self.steps(nested, path, made)}
        if KINDS[kind].reads_findings:  # it reads what the run's other steps find
            resolved["last"] = True
        return resolved

    def options(self, raw: dict[str, Any], label: str) -> dict[str, Any]:
        fields = {k: v for k, v in raw.items() if k not in _STEP_FIELDS}
        fields["kind"] = raw["kind"]
        if "url" in fields or "file_id" in fields:
            raise invalid(f"{label}.file_id", "a step's input is the run's input or its parent's")
        try:
            body = TaskCreate.model_validate({**fields, "file_id": "file_step_input"})
            request = task_request(
                body, enabled_kinds=self.enabled_kinds, allow_private=self.allow_private
            )
        except ValidationError as exc:
            raise _under(label, request_error(exc.errors(include_url=False))) from None
        except ApiError as exc:
            raise _under(label, exc) from None
        if request.webhook_url is not None:
            raise invalid(f"{label}.webhook_url", "webhooks are set on the automation's project")
        return request.options

    def http(self, raw: dict[str, Any], label: str, nested: list[Any]) -> Step:
        unknown = sorted(set(raw) - {"kind", "url", "next"})
        if unknown:
            raise invalid(f"{label}.{unknown[0]}", "an http step takes only url")
        url = raw.get("url")
        if not isinstance(url, str) or not url or len(url) > 2048:
            raise invalid(f"{label}.url", "required: the http(s) URL the run's state is POSTed to")
        check_callback_url(f"{label}.url", url, self.allow_private)
        if nested:
            raise invalid(f"{label}.next", "an http step makes no file for a next step to read")
        return {"kind": HTTP, "options": {"url": url}, "next": []}

    def conditions(self, raw: dict[str, Any], label: str) -> list[dict[str, str]]:
        tests = raw.get("conditions")
        if not isinstance(tests, list) or not tests or len(tests) > MAX_CONDITIONS:
            raise invalid(f"{label}.conditions", f"a list of 1 to {MAX_CONDITIONS} tests")
        unknown = set(raw) - _STEP_FIELDS
        if unknown:
            raise invalid(f"{label}.{sorted(unknown)[0]}", "a conditions step takes no options")
        checked = []
        for i, test in enumerate(tests):
            where = f"{label}.conditions[{i}]"
            if not isinstance(test, dict) or not isinstance(test.get("prop"), str):
                raise invalid(where, "a test is {prop, value}")
            if set(test) - {"prop", "value"}:
                raise invalid(
                    f"{where}.{sorted(set(test) - {'prop', 'value'})[0]}", "unknown field"
                )
            value = test.get("value")
            if isinstance(value, bool):
                value = "true" if value else "false"
            if not isinstance(value, str | int | float) or len(str(value)) > 200:
                raise invalid(f"{where}.value", "a string or number of at most 200 characters")
            problem = condition_problem(test["prop"], str(value))
            if problem:
                raise invalid(where, problem)
            checked.append({"prop": test["prop"], "value": str(value)})
        return checked


def _made_by(kind: str, options: dict[str, Any]) -> str:
    """The kind of media a step's output is, as a `next` step reads it; empty when it is not
    media one file can carry (JSON, a track, a CMAF folder)."""
    if kind == "video" and options.get("format") == "cmaf":
        return ""
    return kind if kind in _OFFERS else ""


def _under(label: str, exc: ApiError) -> ApiError:
    field = f"{label}.{exc.field}" if exc.field else label
    return ApiError(exc.status, exc.code, f"{label}: {exc.message}", field)
