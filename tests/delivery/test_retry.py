"""The retry policy: fixed delay by default, optional schedule and jitter, Retry-After, SQS's 12 h cap."""

from __future__ import annotations

import pytest

from delivery.retry import RetryPolicy


def test_fixed_delay_for_every_attempt() -> None:
    policy = RetryPolicy()

    assert {policy.delay_after(attempt) for attempt in range(1, 48)} == {300}


@pytest.mark.parametrize(("attempt", "exhausted"), [(47, False), (48, True), (49, True)])
def test_the_last_attempt_is_max_attempts(attempt: int, exhausted: bool) -> None:
    assert RetryPolicy(max_attempts=48).exhausted(attempt) is exhausted


def test_schedule_gives_each_attempt_its_delay_and_repeats_the_last() -> None:
    policy = RetryPolicy(schedule=(60, 300, 1800, 7200, 14400))

    assert [policy.delay_after(n) for n in range(1, 8)] == [60, 300, 1800, 7200, 14400, 14400, 14400]


def test_jitter_shortens_the_delay_by_at_most_its_fraction() -> None:
    policy = RetryPolicy(delay_seconds=1000, jitter=0.25)

    delays = {policy.delay_after(1) for _ in range(200)}

    assert min(delays) >= 750
    assert max(delays) <= 1000
    assert len(delays) > 1


def test_retry_after_longer_than_the_delay_wins() -> None:
    assert RetryPolicy(delay_seconds=300).delay_after(1, retry_after=900) == 900


def test_retry_after_shorter_than_the_delay_is_ignored() -> None:
    assert RetryPolicy(delay_seconds=300).delay_after(1, retry_after=30) == 300


@pytest.mark.parametrize("policy", [RetryPolicy(delay_seconds=43200), RetryPolicy(schedule=(43200,))])
def test_delay_stays_inside_the_12_hours_sqs_counts_from_the_receive(policy: RetryPolicy) -> None:
    assert policy.delay_after(1) == 43200 - 900
    assert RetryPolicy().delay_after(1, retry_after=10**6) == 43200 - 900
