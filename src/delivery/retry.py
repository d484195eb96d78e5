"""When to try a failed notification again, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass

from delivery.config import SQS_MAX_VISIBILITY_SECONDS, Settings

# SQS counts its 12-hour visibility limit from the receive, and rejects a change beyond it; the
# receive happened up to a batching window (<= 5 min) plus the run so far before the retry is set.
MAX_RETRY_DELAY_SECONDS = SQS_MAX_VISIBILITY_SECONDS - 900


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Fixed delay by default (300 s x 48, seed 003); optionally an explicit schedule and jitter.

    The attempt number is the message's SQS receive count, so the policy needs no state.
    """

    max_attempts: int = 48
    delay_seconds: int = 300
    schedule: tuple[int, ...] = ()
    jitter: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.max_attempts, settings.retry_delay_seconds, settings.retry_schedule, settings.retry_jitter)

    def exhausted(self, attempt: int) -> bool:
        """True when attempt ``attempt`` was the last one allowed."""
        return attempt >= self.max_attempts

    def delay_after(self, attempt: int, retry_after: float | None = None) -> int:
        """Seconds to keep the message invisible after attempt ``attempt`` failed."""
        if self.schedule:
            delay = float(self.schedule[min(attempt, len(self.schedule)) - 1])
        else:
            delay = float(self.delay_seconds)
        if self.jitter:
            # Spread retries of a failed batch so they do not return as one burst.
            delay *= 1 - self.jitter * random.random()
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(round(delay), MAX_RETRY_DELAY_SECONDS)
