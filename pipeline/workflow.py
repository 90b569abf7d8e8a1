"""Workflows as plain data: the resolved step tree a run carries, where a step sits in it,
and the `conditions` test. No I/O; the API resolves a workflow (pipeline/api/workflows.py)
and the store advances a run over it (pipeline/store/sql_runs.py).

A resolved step is a dict, as stored in JSON:

* a task step: `{"kind": "video", "options": {...}, "next": [steps]}`, its options already
  checked against the kind, `ref` among them; `"last": true` on a kind that reads other
  kinds' findings (a description): it is queued once every other step of the run has ended;
* a conditions step: `{"kind": "conditions", "conditions": [{"prop", "value"}], "next": [...]}`;
* an http step: `{"kind": "http", "options": {"url": ...}, "next": []}`, not a task: a signed
  POST of the run's state, sent and retried by the webhook sender like a task's webhook.

A step's path is the index of each step from the top: `(2, 0)` is the first `next` of the
third step, written `workflow[2].next[0]` for people and `2.0` in a task's `step` column.
A `next` step's input is its parent task's output; a conditions step passes on the input it
tested, so its `next` steps take that same input.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

CONDITIONS = "conditions"
HTTP = "http"  # POSTs the run's state to a URL, through the webhook outbox
HTTP_STEP = "workflow.http"  # the outbox event of an http step's POST
MAX_DEPTH = 8  # steps from the top to the deepest `next`
MAX_STEPS = 64  # steps in one workflow, conditions included
MAX_CONDITIONS = 16

Step = dict[str, Any]
Path = tuple[int, ...]

# What an input offers to the props a condition tests (see `facts_of`).
NUMERIC_PROPS = frozenset({"width", "height", "duration", "fps", "filesize"})
PROPS = (
    "kind",
    "format",
    "mimetype",
    "container",
    "codec",
    "width",
    "height",
    "duration",
    "fps",
    "filesize",
    "has_audio",
    "has_video",
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}


def path_label(path: Path) -> str:
    """`(2, 0)` -> `workflow[2].next[0]`."""
    return "workflow" + "".join(
        f"[{index}]" if depth == 0 else f".next[{index}]" for depth, index in enumerate(path)
    )


def path_key(path: Path) -> str:
    return ".".join(str(i) for i in path)


def path_of(key: str) -> Path:
    return tuple(int(part) for part in key.split(".")) if key else ()


def step_at(plan: list[Step], path: Path) -> Step:
    steps, step = plan, {}
    for index in path:
        step = steps[index]
        steps = step.get("next", [])
    return step


def walk(plan: list[Step], prefix: Path = ()) -> Iterator[tuple[Path, Step]]:
    """Every step with its path, parents before their `next` steps."""
    for index, step in enumerate(plan):
        path = (*prefix, index)
        yield path, step
        yield from walk(step.get("next", []), path)


def facts_of(kind: str | None, info: Mapping[str, Any], mimetype: str, filesize: int) -> dict:
    """What a condition may test about a file: its probed fields, as stored on its record."""
    has_video = kind in ("video", "image")
    has_audio = kind == "audio" or info.get("audio_codec") is not None
    return {
        "kind": kind,
        "format": info.get("format"),
        "mimetype": mimetype,
        "container": info.get("container"),
        "codec": info.get("codec"),
        "width": info.get("width"),
        "height": info.get("height"),
        "duration": info.get("duration"),
        "fps": info.get("fps"),
        "filesize": filesize,
        "has_audio": has_audio,
        "has_video": has_video,
    }


def split_value(value: str) -> tuple[str, str]:
    """`">=60"` -> (`>=`, `60`); a bare value compares equal."""
    for sign in _COMPARE:
        if value.startswith(sign):
            return sign, value[len(sign) :].strip()
    return "=", value.strip()


def number_or_none(text: str) -> float | None:
    """A finite number, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def condition_problem(prop: str, value: str) -> str | None:
    """Why a `{prop, value}` pair can never be tested, or None."""
    if prop not in PROPS:
        return f"unknown prop {prop!r}; props: {', '.join(PROPS)}"
    sign, operand = split_value(value)
    if sign not in ("=", "!=") and number_or_none(operand) is None:
        return f"{sign} compares numbers; {operand!r} is not one"
    if prop in NUMERIC_PROPS and number_or_none(operand) is None:
        return f"{prop} is a number; {operand!r} is not one"
    if prop.startswith("has_") and operand.lower() not in ("true", "false"):
        return f"{prop} is true or false"
    return None


def holds(conditions: list[Mapping[str, str]], facts: Mapping[str, Any]) -> bool:
    """Whether every `{prop, value}` holds for the input's facts. A prop the input lacks
    (an image's duration) fails its test."""
    return all(_holds(c["prop"], c["value"], facts.get(c["prop"])) for c in conditions)


def _holds(prop: str, value: str, fact: Any) -> bool:
    sign, operand = split_value(value)
    if fact is None:
        return sign == "!=" and operand.lower() not in ("", "none", "null")
    if isinstance(fact, bool):
        return _COMPARE[sign](fact, operand.lower() == "true")
    if isinstance(fact, (int, float)):
        number = number_or_none(operand)
        return number is not None and _COMPARE[sign](float(fact), number)
    text = str(fact).lower()
    return _COMPARE[sign](text, operand.lower()) if sign in ("=", "!=") else False
