"""The local event source poller: Lambda's batching, event shape and partial-batch semantics on moto SQS."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import time_machine

from herald.local.poller import EventSourcePoller, Pollers
from herald.local.stack import EventSource
from tests.conftest import Queues, create_queues
from tests.support.sqs import drain


def source_for(queues: Queues, batch_size: int = 10, window: int = 0, concurrency: int = 2) -> EventSource:
    return EventSource(queues.arn, queues.url, batch_size, window, concurrency)


class RecordingHandler:
    """A function that remembers every event and answers with the failures a test chooses."""

    def __init__(self, fail_bodies: set[str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_bodies = fail_bodies or set()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in self.fail_bodies
            ]
        }


def poller(sqs: Any, queues: Queues, handler: Any, timeout: int = 60, **source: int) -> EventSourcePoller:
    return EventSourcePoller(sqs, source_for(queues, **source), handler, "herald-local-deliver", timeout, 0)


def send(sqs: Any, queues: Queues, *bodies: str, **extra: Any) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queues.url, MessageBody=body, **extra)


def test_a_batch_has_the_lambda_sqs_event_shape(sqs: Any, queues: Queues) -> None:
    handler = RecordingHandler()
    send(sqs, queues, "one")

    poller(sqs, queues, handler).poll_once()

    [record] = handler.events[0]["Records"]
    assert record["body"] == "one"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues.arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])


def test_message_attributes_arrive_in_lambdas_shape(sqs: Any, queues: Queues) -> None:
    handler = RecordingHandler()
    send(sqs, queues, "one", MessageAttributes={"tenant": {"DataType": "String", "StringValue": "acme"}})

    poller(sqs, queues, handler).poll_once()

    [record] = handler.events[0]["Records"]
    assert record["messageAttributes"]["tenant"]["stringValue"] == "acme"
    assert record["messageAttributes"]["tenant"]["dataType"] == "String"
    assert "md5OfMessageAttributes" in record


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}])
def test_a_response_without_failures_succeeds_the_whole_batch(
    sqs: Any, queues: Queues, clock: time_machine.Coordinates, response: Any
) -> None:
    send(sqs, queues, "a", "b")

    result = poller(sqs, queues, lambda event, context: response).poll_once()

    assert result is not None
    assert (result.failed, result.error) == (0, None)
    clock.shift(361)
    assert drain(sqs, queues.url) == []


def test_batches_are_at_most_the_mappings_batch_size(sqs: Any, queues: Queues) -> None:
    handler = RecordingHandler()
    send(sqs, queues, *(f"m{i}" for i in range(7)))

    first = poller(sqs, queues, handler, batch_size=5).poll_once()

    assert first is not None
    assert first.received == 5
    assert len(handler.events[0]["Records"]) == 5


def test_partial_batch_response_deletes_only_the_successes(sqs: Any, queues: Queues, clock: Any) -> None:
    handler = RecordingHandler(fail_bodies={"bad"})
    send(sqs, queues, "good", "bad", "fine")

    result = poller(sqs, queues, handler).poll_once()

    assert result is not None
    assert (result.received, result.failed, result.error) == (3, 1, None)
    clock.shift(361)
    assert [m["Body"] for m in drain(sqs, queues.url)] == ["bad"]


def test_receive_count_grows_each_time_a_failed_record_comes_back(sqs: Any, queues: Queues, clock: Any) -> None:
    handler = RecordingHandler(fail_bodies={"again"})
    send(sqs, queues, "again")
    source_poller = poller(sqs, queues, handler)

    for _ in range(3):
        source_poller.poll_once()
        clock.shift(361)

    counts = [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in handler.events]
    assert counts == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (lambda event, context: 1 / 0, "ZeroDivisionError: division by zero"),
        (lambda event, context: {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, "names records not"),
        (lambda event, context: {"batchItemFailures": [{}]}, "names records not in the batch"),
    ],
)
def test_a_failed_invocation_fails_the_whole_batch(
    sqs: Any, queues: Queues, clock: time_machine.Coordinates, handler: Any, error: str
) -> None:
    send(sqs, queues, "a", "b")

    result = poller(sqs, queues, handler).poll_once()

    assert result is not None
    assert result.failed == 2
    assert result.error is not None
    assert error in result.error
    clock.shift(361)
    assert sorted(m["Body"] for m in drain(sqs, queues.url)) == ["a", "b"]


def test_the_function_timeout_fails_the_whole_batch_and_deletes_nothing(sqs: Any, queues: Queues) -> None:
    release = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() <= 1000
        release.wait(10)
        return {"batchItemFailures": []}

    send(sqs, queues, "slow")
    try:
        result = poller(sqs, queues, slow, timeout=1).poll_once()
    finally:
        release.set()

    assert result is not None
    assert result.error == "Task timed out after 1 seconds"
    assert result.failed == 1
    attributes = sqs.get_queue_attributes(QueueUrl=queues.url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_fifo_batches_carry_the_group_and_keep_its_order(sqs: Any) -> None:
    queues = create_queues(sqs, "orders", fifo=True)
    handler = RecordingHandler()
    for i in range(4):
        send(sqs, queues, f"a{i}", MessageGroupId="A", MessageDeduplicationId=f"a{i}")

    poller(sqs, queues, handler).poll_once()

    records = handler.events[0]["Records"]
    assert [r["body"] for r in records] == ["a0", "a1", "a2", "a3"]
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"A"}


def test_pollers_invoke_the_function_concurrently_up_to_the_mapping_limit(sqs: Any, queues: Queues) -> None:
    # Two invocations must be in flight together, or the barrier breaks.
    barrier = threading.Barrier(2, timeout=10)
    handler = RecordingHandler()

    def together(event: dict[str, Any], context: Any) -> dict[str, Any]:
        barrier.wait()
        return handler(event, context)

    send(sqs, queues, "x", "y")
    pollers = Pollers(lambda: poller(sqs, queues, together, batch_size=1), 2).start()
    deadline = time.monotonic() + 10
    while len(handler.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pollers.stop()

    assert sorted(e["Records"][0]["body"] for e in handler.events) == ["x", "y"]
    assert not barrier.broken
