"""Time budgets: per kind from the input's length, overridden for all kinds or one."""

from __future__ import annotations

import pytest

from operators.catalog import KINDS
from pipeline.config import ConfigError, Settings
from pipeline.runtime.budget import budget_s


def settings(**env: str) -> Settings:
    return Settings.from_env({"STROBE_DATA_DIR": "/tmp/strobe-budget", **env})


def test_every_kind_declares_a_budget() -> None:
    for spec in KINDS.values():
        assert spec.budget.base_s > 0, spec.kind


def test_the_budget_grows_with_the_media_and_covers_the_fetch() -> None:
    s = settings(STROBE_FETCH_TIMEOUT="60")
    video = KINDS["video"].budget
    assert budget_s(s, "video", {}, None) == 60 + video.base_s  # not probed yet
    assert budget_s(s, "video", {}, 100.0) == 60 + video.base_s + 100 * video.per_media_s


def test_start_end_and_duration_narrow_the_span() -> None:
    s = settings(STROBE_FETCH_TIMEOUT="0.5")
    per = KINDS["audio"].budget.per_media_s
    base = 0.5 + KINDS["audio"].budget.base_s
    assert budget_s(s, "audio", {"start": 10, "end": 40}, 100.0) == base + 30 * per
    assert budget_s(s, "audio", {"start": 90, "duration": 60}, 100.0) == base + 10 * per
    assert budget_s(s, "audio", {"start": 500}, 100.0) == base  # past the end: no media


def test_detection_budgets_scale_with_the_sampling_rate() -> None:
    s = settings()
    one = budget_s(s, "text", {"fps": 1}, 60.0)
    ten = budget_s(s, "text", {"fps": 10}, 60.0)
    per = KINDS["text"].budget.per_media_s
    assert ten - one == pytest.approx(60 * per * 9)
    assert budget_s(s, "text", {"fps": 0.1}, 60.0) == one  # sparser sampling: same floor


def test_overrides_for_all_kinds_and_for_one() -> None:
    s = settings(STROBE_TASK_TIMEOUT_S="90", STROBE_TASK_TIMEOUT_S_SPEECH="1800")
    assert budget_s(s, "video", {}, 10_000.0) == 90
    assert budget_s(s, "speech", {}, 10.0) == 1800
    assert s.kind_timeouts_s == {"speech": 1800.0}


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_a_budget_that_is_not_a_positive_number_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="STROBE_TASK_TIMEOUT_S"):
        settings(STROBE_TASK_TIMEOUT_S=value)
