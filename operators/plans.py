"""Planning helpers operators share: trims inside the input, even sizes for yuv420p.

The plans themselves are plain data in `pipeline.contract.plans`."""

from __future__ import annotations

from pipeline.contract.errors import OPTION_OUT_OF_RANGE, TaskError
from pipeline.contract.plans import ResizePlan, Trim


def plan_trim(
    start: float | None, end: float | None, duration: float | None, media_duration: float | None
) -> Trim:
    """`start`/`end`/`duration` options -> a Trim inside the input, or option_out_of_range."""
    first = start or 0.0
    last = first + duration if duration else end
    if media_duration is not None and first >= media_duration:
        raise TaskError(
            OPTION_OUT_OF_RANGE,
            f"start {first:g} s is at or after the end of the input ({media_duration:.3f} s)",
        )
    if last is not None and media_duration is not None and last >= media_duration:
        last = None  # to the end: asking for more than there is keeps what there is
    return Trim(first, last)


def even(value: int, *, up: bool = False) -> int:
    """The nearest even size at or below `value` (above with `up`): yuv420p needs it."""
    if value % 2:
        value += 1 if up else -1
    return max(2, value)


def even_resize(plan: ResizePlan) -> ResizePlan:
    """`plan` with even canvas and scaled sizes, the picture still centred in the canvas."""
    canvas = (even(plan.canvas[0]), even(plan.canvas[1]))
    covers = plan.offset[0] < 0 or plan.offset[1] < 0
    scaled = (even(plan.scaled[0], up=covers), even(plan.scaled[1], up=covers))
    if plan.scaled == plan.canvas:
        scaled = canvas
    offset = ((canvas[0] - scaled[0]) // 2, (canvas[1] - scaled[1]) // 2)
    return ResizePlan(scaled=scaled, canvas=canvas, offset=offset)


def shrink_resize(plan: ResizePlan, canvas: tuple[int, int]) -> ResizePlan:
    """`plan` scaled down onto a smaller `canvas` (each axis by its own factor): the same
    crop or padding as `plan`, so every rung of a ladder shows the same picture."""
    fx, fy = canvas[0] / plan.canvas[0], canvas[1] / plan.canvas[1]
    scaled = (max(1, round(plan.scaled[0] * fx)), max(1, round(plan.scaled[1] * fy)))
    offset = ((canvas[0] - scaled[0]) // 2, (canvas[1] - scaled[1]) // 2)
    return even_resize(ResizePlan(scaled=scaled, canvas=canvas, offset=offset))
