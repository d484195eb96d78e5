"""The chaos soak at CI size: 1,000 notifications through Herald under every injected fault (bench/soak.py).

Counted at the providers and in the dead-letter queue, never from Herald's logs: no notification is lost,
none is sent twice, each is exactly one of sent once or dead-lettered, and each fault really happened.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import time_machine

from bench.soak import SoakConfig, SoakReport, run_soak
from delivery.config import EnvReader, Settings
from delivery.core import Deliverer
from delivery.idempotency import SendOnce
from delivery.queue import SqsQueue
from handlers.sqs_batch import SqsBatchRunner
from tests.conftest import Queues, herald_env
from tests.support.providers import ScriptedProvider
from tests.support.sqs import receive_event

SEED = 20261123


def explain(report: SoakReport, keys: list[str]) -> str:
    return "\n".join(report.details.get(key, key) for key in keys[:5])


def test_a_thousand_notifications_under_chaos_are_each_sent_once_or_dead_lettered() -> None:
    # One run, one test: the suite's autouse check that no log line holds a whole recipient covers it too.
    # DynamoDB is throttled on the calls before a send and after a failed one. The save after a send succeeded
    # (UpdateItem) is retried once by Herald; throttling it at random too (bench.soak --throttle-success-saves)
    # can defeat both tries, the documented "unrecorded send" window.
    report = run_soak(1000, SEED)

    assert report.lost == [], (
        f"lost (neither accepted by a provider nor dead-lettered):\n{explain(report, report.lost)}"
    )
    # Not counted as duplicates: a 2xx that reached Herald only after its read timeout (an overloaded machine), the
    # inherently ambiguous case the soak never injects; it is counted apart, in report.lost_responses.
    assert report.duplicates == [], f"accepted twice by a provider:\n{explain(report, report.duplicates)}"
    assert report.both == [], f"accepted AND dead-lettered:\n{explain(report, report.both)}"
    assert report.unsettled == [], f"still queued after {report.rounds} rounds:\n{explain(report, report.unsettled)}"
    assert report.batch_crashes == []
    assert report.problems == []
    # Sent once, or dead-lettered; never sent and then dead-lettered as exhausted too.
    assert report.sent_then_exhausted == []
    settled = report.sent_once + sum(report.dead_lettered.values())
    settled += len(report.lost_responses)
    assert settled == report.notifications == 1000
    assert report.messages > report.notifications, "the producer sent some notifications twice"
    assert report.herald_outcomes["duplicate"] > 0, "idempotency suppressed redeliveries of sent notifications"
    # Not vacuous: every fault kind really happened, and every dead-letter reason occurs.
    assert {kind: n for kind, n in report.fault_kinds().items() if n == 0} == {}
    assert all(report.dead_lettered[reason] > 0 for reason in ("invalid", "permanent", "exhausted")), (
        report.dead_lettered
    )


# --- what the soak found ----------------------------------------------------------------------------


class Context:
    function_name = "herald-deliver"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def throttled(operations: set[str]) -> Any:
    """A DynamoDB client factory whose clients fail these operations once each, as after botocore's retries."""

    def factory(service: str) -> Any:
        client = boto3.client(service)
        pending = set(operations)

        def before(model: Any, **_: Any) -> None:
            if model.name in pending:
                pending.discard(model.name)
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, model.name)

        client.meta.events.register(f"before-call.{service}.*", before)
        return client

    return factory


@pytest.mark.parametrize("redelivery", ["crash before the delete", "producer's second copy"])
def test_a_throttled_success_save_then_a_redelivery_does_not_send_twice(
    sqs: Any, queues: Queues, idempotency_table: str, clock: time_machine.Coordinates, redelivery: str
) -> None:
    provider = ScriptedProvider()
    settings = Settings.from_env(EnvReader(herald_env(queues, HERALD_WEBHOOK_PROVIDER="scripted")))
    once = SendOnce(idempotency_table, 3600, client_factory=throttled({"UpdateItem"}))
    deliverer = Deliverer(settings, {"scripted": provider}, SqsQueue(settings.dlq_url, sqs), once=once)
    runner = SqsBatchRunner(deliverer, settings.concurrency)
    body = json.dumps({"id": "n-1", "channel": "webhook", "to": "https://example.com/h", "body": "hi"})
    sqs.send_message(QueueUrl=queues.url, MessageBody=body)

    event = receive_event(sqs, queues.url, queues.arn)
    response = runner.handle(event, Context())  # sent; saving the record is throttled ("UNRECORDED SEND")
    if redelivery == "producer's second copy":
        assert response == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=queues.url, ReceiptHandle=event["Records"][0]["receiptHandle"])
        sqs.send_message(QueueUrl=queues.url, MessageBody=body)
    clock.shift(361)  # the visibility timeout (the invocation died), or the copy comes later
    runner.handle(receive_event(sqs, queues.url, queues.arn), Context())

    assert provider.attempts == ["n-1"], f"sent {len(provider.sent)} times"


def test_the_soak_defaults_are_the_issues_rates() -> None:
    config = SoakConfig()
    assert (config.transient_rate, config.permanent_rate, config.read_timeout_rate) == (0.30, 0.02, 0.01)
    assert config.dynamodb_throttle_operations == {"PutItem", "GetItem", "DeleteItem"}
    assert config.read_timeout < config.slow_reply, "a read-timeout fault answers after Herald has given up"


class LowOnTime(Context):
    def get_remaining_time_in_millis(self) -> int:
        return 1_000


@pytest.mark.parametrize("path", ["sent at the last attempt, then the sandbox died", "redelivery deferred"])
def test_a_notification_already_sent_is_not_dead_lettered_when_received_past_the_last_attempt(
    sqs: Any, queues: Queues, idempotency_table: str, clock: time_machine.Coordinates, path: str
) -> None:
    provider = ScriptedProvider()
    max_attempts = "1" if path.startswith("sent at the last") else "2"
    env = herald_env(queues, HERALD_WEBHOOK_PROVIDER="scripted", HERALD_MAX_ATTEMPTS=max_attempts)
    settings = Settings.from_env(EnvReader(env))
    once = SendOnce(idempotency_table, 3600)
    deliverer = Deliverer(settings, {"scripted": provider}, SqsQueue(settings.dlq_url, sqs), once=once)
    runner = SqsBatchRunner(deliverer, settings.concurrency)
    body = json.dumps({"id": "n-1", "channel": "webhook", "to": "https://example.com/h", "body": "hi"})
    sqs.send_message(QueueUrl=queues.url, MessageBody=body)

    runner.handle(receive_event(sqs, queues.url, queues.arn), Context())  # attempt 1: sent; the sandbox dies
    clock.shift(361)
    if path == "redelivery deferred":
        runner.handle(receive_event(sqs, queues.url, queues.arn), LowOnTime())  # attempt 2: deferred (time budget)
        clock.shift(1)  # back on the queue "in 0 s": moto needs the clock to move past that instant
    runner.handle(receive_event(sqs, queues.url, queues.arn), Context())  # past the last attempt

    assert provider.attempts == ["n-1"]
    letters = sqs.receive_message(QueueUrl=queues.dlq_url, MessageAttributeNames=["All"]).get("Messages", [])
    assert letters == [], f"dead-lettered: {letters[0]['MessageAttributes']['last_error']['StringValue']}"
