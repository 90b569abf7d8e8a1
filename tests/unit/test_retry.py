"""RetryPolicy: exponential backoff, capped, until the attempt budget is spent."""

from __future__ import annotations

import pytest

from pipeline.runtime.retry import RetryPolicy


@pytest.mark.parametrize(("attempts", "delay"), [(0, 2.0), (1, 2.0), (2, 4.0)])
def test_default_policy_backs_off_exponentially(attempts: int, delay: float) -> None:
    assert RetryPolicy().delay_after(attempts) == delay


@pytest.mark.parametrize("attempts", [3, 4, 100])
def test_no_retry_once_the_budget_is_spent(attempts: int) -> None:
    assert RetryPolicy().delay_after(attempts) is None


def test_delay_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=1.0, max_delay_s=5.0)
    assert [policy.delay_after(n) for n in range(1, 11)] == [1, 2, 4, 5, 5, 5, 5, 5, 5, None]


def test_a_single_attempt_never_retries() -> None:
    assert RetryPolicy(max_attempts=1).delay_after(1) is None
