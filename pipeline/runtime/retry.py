"""When a failed task runs again."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay_s: float = 2.0
    max_delay_s: float = 60.0

    def delay_after(self, attempts: int) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent."""
        if attempts >= self.max_attempts:
            return None
        return min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
