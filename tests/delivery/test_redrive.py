"""The scheduled redrive of business-critical dead letters, on moto SQS."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import pytest
import time_machine

from delivery.contract import PermanentError, TransientError
from delivery.redrive import CriticalRedrive, RedriveSettings
from tests.conftest import LogLines, Queues, create_queues, make_herald
from tests.support.providers import ScriptedProvider
from tests.support.sqs import drain, receive_event


def dead_letter(
    sqs: Any, queues: Queues, *notifications: tuple[str, bool], refused: bool = False, fifo_group: str | None = None
) -> None:
    """Dead-letter these (id, critical) notifications through Herald's real core: exhausted (one attempt
    allowed, a transient failure), or refused for good."""
    provider = ScriptedProvider()
    herald = make_herald(
        sqs, queues, {"scripted": provider}, HERALD_WEBHOOK_PROVIDER="scripted", HERALD_MAX_ATTEMPTS="1"
    )
    for notification_id, critical in notifications:
        provider.fail(notification_id, PermanentError("410") if refused else TransientError("503"))
        body = {"id": notification_id, "channel": "webhook", "to": "https://example.com/h", "body": "x"}
        extra = {"MessageGroupId": fifo_group, "MessageDeduplicationId": notification_id} if fifo_group else {}
        herald.send({**body, "critical": critical}, **extra)
    while herald.run_batch():
        pass


def redrive(sqs: Any, queues: Queues, client: Any = None, hold_seconds: int = 900) -> Any:
    settings = RedriveSettings(queues.dlq_url, queues.url, hold_seconds=hold_seconds, wait_seconds=0)
    return CriticalRedrive(settings, client or sqs).run()


def test_critical_exhausted_dead_letters_go_back_with_a_fresh_attempt_count_and_the_rest_stay(
    sqs: Any, queues: Queues, logs: LogLines
) -> None:
    dead_letter(sqs, queues, ("enrolment-1", True), ("receipt-2", False), ("completion-3", True))

    summary = redrive(sqs, queues)

    assert (summary.critical, summary.moved, summary.failed, summary.left) == (2, 2, 0, 1)
    back = receive_event(sqs, queues.url, queues.arn)["Records"]
    assert sorted(json.loads(r["body"])["id"] for r in back) == ["completion-3", "enrolment-1"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in back} == {"1"}
    remaining = drain(sqs, queues.dlq_url)  # visible again at once: released at the end of the run
    assert [m["MessageAttributes"]["notification_id"]["StringValue"] for m in remaining] == ["receipt-2"]
    [line] = logs.with_prefix("CRITICAL REDRIVE:")
    assert line["critical_dead_letters"] == 2
    assert line["message"].startswith("CRITICAL REDRIVE: moved 2 of 2 critical dead letters back to the queue")


def test_a_critical_notification_refused_for_good_is_left_for_an_operator(sqs: Any, queues: Queues) -> None:
    dead_letter(sqs, queues, ("enrolment-1", True), refused=True)

    summary = redrive(sqs, queues)

    assert (summary.critical, summary.moved, summary.left) == (0, 0, 1)
    assert drain(sqs, queues.url) == []


def test_a_critical_message_moved_by_the_queues_own_redrive_policy_goes_back(sqs: Any) -> None:
    queues = create_queues(sqs, "crashy", max_receive_count=1)
    body = {"id": "c-1", "channel": "webhook", "to": "https://example.com/h", "body": "x", "critical": True}
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(body))
    for _ in range(2):  # received and never settled (crashes): SQS moves it, without Herald's attributes
        for message in sqs.receive_message(QueueUrl=queues.url).get("Messages", []):
            sqs.change_message_visibility(
                QueueUrl=queues.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    assert redrive(sqs, queues).moved == 1


class FailingSends:
    """The real client, except that chosen send_message calls fail (the queue is briefly unavailable)."""

    def __init__(self, client: Any, fail_calls: set[int]) -> None:
        self.client = client
        self.fail_calls = fail_calls
        self.sends = 0
        self.sent_ids: list[str] = []

    def send_message(self, **request: Any) -> Any:
        self.sends += 1
        self.sent_ids.append(json.loads(request["MessageBody"])["id"])
        if self.sends in self.fail_calls:
            raise ConnectionError("queue unavailable")
        return self.client.send_message(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_send_failing_halfway_loses_nothing_and_the_next_run_finishes(
    sqs: Any, queues: Queues, clock: time_machine.Coordinates
) -> None:
    dead_letter(sqs, queues, ("c-1", True), ("c-2", True), ("c-3", True))
    flaky = FailingSends(sqs, fail_calls={2})

    first = redrive(sqs, queues, flaky)

    assert (first.moved, first.failed) == (2, 1)
    clock.shift(1)  # moto's clock is frozen here; released dead letters are visible from the next instant
    assert len(drain(sqs, queues.url)) == 2
    assert len(drain(sqs, queues.dlq_url)) == 1, "the one whose send failed is still a dead letter"
    clock.shift(31)  # past the visibility of the look above
    assert redrive(sqs, queues).moved == 1


class HoldExpires(FailingSends):
    """Each receive takes longer than the hold, so dead letters seen earlier in the run come round again."""

    def __init__(self, client: Any, clock: time_machine.Coordinates, fail_calls: set[int]) -> None:
        super().__init__(client, fail_calls)
        self.clock = clock

    def receive_message(self, **request: Any) -> Any:
        response = self.client.receive_message(**request)
        self.clock.shift(request["VisibilityTimeout"] + 1)
        return response


def test_no_dead_letter_is_redriven_or_counted_twice_in_one_run(
    sqs: Any, queues: Queues, clock: time_machine.Coordinates
) -> None:
    # A run slower than its hold (never so in production: 900 s hold, 300 s timeout) sees dead letters again.
    dead_letter(sqs, queues, *((f"c-{i}", True) for i in range(12)), *((f"n-{i}", False) for i in range(5)))
    slow = HoldExpires(sqs, clock, fail_calls={3})

    summary = redrive(sqs, queues, slow, hold_seconds=60)

    assert len(slow.sent_ids) == len(set(slow.sent_ids)), "a dead letter was sent twice in one run"
    assert summary.moved + summary.failed == summary.critical == len(slow.sent_ids)
    assert summary.left <= 5
    assert summary.failed == 1


def test_a_fifo_dead_letter_goes_back_to_its_message_group(sqs: Any) -> None:
    queues = create_queues(sqs, "orders", fifo=True)
    dead_letter(sqs, queues, ("o-1", True), fifo_group="customer-7")

    redrive(sqs, queues)

    [back] = drain(sqs, queues.url)
    assert back["Attributes"]["MessageGroupId"] == "customer-7"


def test_a_fifo_groups_later_dead_letters_wait_when_an_earlier_send_fails(sqs: Any) -> None:
    queues = create_queues(sqs, "orders", fifo=True)
    dead_letter(sqs, queues, ("o-1", True), ("o-2", True), fifo_group="customer-7")

    summary = redrive(sqs, queues, FailingSends(sqs, fail_calls={1}))

    assert (summary.moved, summary.failed, summary.held) == (0, 1, 1)
    assert drain(sqs, queues.url) == [], "o-2 would have overtaken o-1"


def test_the_scheduled_handler_runs_a_redrive(sqs: Any, queues: Queues, monkeypatch: pytest.MonkeyPatch) -> None:
    dead_letter(sqs, queues, ("c-1", True))
    monkeypatch.setenv("HERALD_DLQ_URL", queues.dlq_url)
    monkeypatch.setenv("HERALD_SOURCE_QUEUE_URL", queues.url)
    monkeypatch.delitem(sys.modules, "handlers.redrive", raising=False)

    module = importlib.import_module("handlers.redrive")
    try:
        result = module.handler({}, None)
    finally:
        sys.modules.pop("handlers.redrive", None)

    assert result == {"critical": 1, "moved": 1, "failed": 0, "held": 0, "left": 0}


class ConsumedAtOnce(FailingSends):
    """Each redriven message is consumed by Herald at once, as Lambda would, and fails again."""

    def __init__(self, client: Any, consume: Any) -> None:
        super().__init__(client, fail_calls=set())
        self.consume = consume

    def send_message(self, **request: Any) -> Any:
        answer = super().send_message(**request)
        self.consume()
        return answer


def test_a_redriven_letter_that_is_exhausted_again_during_the_run_is_not_redriven_again(
    sqs: Any, queues: Queues
) -> None:
    provider = ScriptedProvider()
    herald = make_herald(
        sqs, queues, {"scripted": provider}, HERALD_WEBHOOK_PROVIDER="scripted", HERALD_MAX_ATTEMPTS="1"
    )
    provider.fail_always("c-1", TransientError("503"))
    herald.send({"id": "c-1", "channel": "webhook", "to": "https://example.com/h", "body": "x", "critical": True})
    herald.run_batch()

    summary = redrive(sqs, queues, ConsumedAtOnce(sqs, herald.run_batch))

    assert (summary.critical, summary.moved, summary.held) == (2, 1, 1)
    assert provider.attempts_of("c-1") == 2
