"""Time budgets: how long a running task may take before the runtime stops it.

Each kind declares its budget in `operators.catalog` (a base plus a share per second of
media); `STROBE_TASK_TIMEOUT_S` replaces every kind's, `STROBE_TASK_TIMEOUT_S_<KIND>` one
kind's. Until the input is fetched and probed its duration is unknown, so the deadline
covers the fetch and the base only; it grows once the duration is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from operators.catalog import KINDS
from pipeline.config import Settings


def budget_s(
    settings: Settings, kind: str, options: Mapping[str, Any], media_s: float | None
) -> float:
    """Seconds a task of `kind` may run, counted from when an actor took it."""
    fixed = settings.kind_timeouts_s.get(kind, settings.task_timeout_s)
    if fixed is not None:
        return fixed
    budget = KINDS[kind].budget
    per_second = budget.per_media_s
    if budget.per_sampled_fps:
        per_second *= max(1.0, _number(options.get("fps"), 1.0))
    return settings.fetch_timeout_s + budget.base_s + per_second * _media_span(options, media_s)


def _media_span(options: Mapping[str, Any], media_s: float | None) -> float:
    """The seconds of media the task covers: the input's length, or less with start/end."""
    span = media_s or 0.0
    start = _number(options.get("start"), 0.0)
    end = _number(options.get("end"), span)
    if options.get("duration") is not None:
        end = start + _number(options.get("duration"), span)
    return max(0.0, min(end, span) - min(start, span))


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
