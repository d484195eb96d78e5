"""Effectively-once sending (Powertools Idempotency on moto DynamoDB) and the Lambda time budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
import time_machine

from delivery.app import build_deliverer
from delivery.config import ConfigError, EnvReader, Settings
from delivery.contract import PermanentError, TransientError
from delivery.core import Deliverer, Outcome
from delivery.idempotency import SendOnce
from delivery.queue import SqsQueue
from handlers.sqs_batch import SqsBatchRunner, to_queued_message
from tests.conftest import Herald, LogLines, Queues, herald_env
from tests.support.providers import ScriptedProvider
from tests.support.sqs import drain, receive_event

TABLE = "herald-idempotency"  # the idempotency_table fixture's


class Context:
    """Lambda's context, with a chosen amount of time left."""

    def __init__(self, remaining_millis: int) -> None:
        self.remaining_millis = remaining_millis
        self.function_name = "herald-deliver"
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@pytest.fixture
def dynamodb_calls(idempotency_table: str) -> list[str]:
    """The idempotency table in moto DynamoDB; the list collects every DynamoDB call Herald makes."""
    return []


def counting_client(calls: list[str], fail: set[str] | None = None) -> Callable[[str], Any]:
    def factory(service: str) -> Any:
        client = boto3.client(service)

        def before(model: Any, **_: Any) -> None:
            calls.append(model.name)
            if fail and model.name in fail:
                raise ConnectionError(f"{model.name}: DynamoDB unavailable")

        client.meta.events.register(f"before-call.{service}.*", before)
        return client

    return factory


def herald_with_idempotency(
    sqs: Any, queues: Queues, provider: ScriptedProvider, calls: list[str], fail: set[str] | None = None
) -> Herald:
    read = EnvReader(herald_env(queues, HERALD_WEBHOOK_PROVIDER="scripted"))
    settings = Settings.from_env(read)
    once = SendOnce(TABLE, 3600, client_factory=counting_client(calls, fail))
    deliverer = Deliverer(settings, {"scripted": provider}, SqsQueue(settings.dlq_url, sqs), once=once)
    return Herald(sqs, queues, deliverer, SqsBatchRunner(deliverer, settings.concurrency))


def hook(notification_id: str = "n-1") -> dict[str, Any]:
    return {"id": notification_id, "channel": "webhook", "to": "https://example.com/h", "body": "hi"}


def run_with_context(herald: Herald, remaining_millis: int = 60_000) -> dict[str, Any]:
    event = receive_event(herald.sqs, herald.queues.url, herald.queues.arn)
    response = dict(herald.runner.handle(event, Context(remaining_millis)))
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for record in event["Records"]:
        if record["messageId"] not in failed:
            herald.sqs.delete_message(QueueUrl=herald.queues.url, ReceiptHandle=record["receiptHandle"])
    return response


def test_a_notification_sent_twice_by_its_producer_is_sent_once(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], logs: LogLines
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls)
    herald.send(hook())
    run_with_context(herald)
    herald.send(hook())

    assert run_with_context(herald) == {"batchItemFailures": []}

    assert provider.attempts == ["n-1"]
    [duplicate] = logs.with_prefix("DUPLICATE SUPPRESSED:")
    assert duplicate["message"].startswith("DUPLICATE SUPPRESSED: notification n-1 was already sent via scripted")
    assert drain(sqs, queues.url) == []


def test_two_copies_in_one_batch_are_sent_once(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], clock: time_machine.Coordinates
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls)
    herald.send(hook())
    herald.send(hook())

    run_with_context(herald)  # one sends; the other finds it sent, or still in progress and comes back later
    clock.shift(301)
    run_with_context(herald)

    assert provider.attempts == ["n-1"]
    clock.shift(361)
    assert drain(sqs, queues.url) == []


def test_a_redelivery_after_a_crash_between_send_and_delete_is_not_sent_again(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], clock: time_machine.Coordinates
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls)
    herald.send(hook())
    event = receive_event(sqs, queues.url, queues.arn)
    herald.runner.handle(event, Context(60_000))  # sent... and the invocation dies before SQS deletes it

    clock.shift(361)
    redelivered = receive_event(sqs, queues.url, queues.arn)
    assert len(redelivered["Records"]) == 1
    assert herald.runner.handle(redelivered, Context(60_000)) == {"batchItemFailures": []}

    assert provider.attempts == ["n-1"]


def test_a_failed_send_releases_its_record_so_the_retry_sends(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], clock: time_machine.Coordinates
) -> None:
    provider = ScriptedProvider()
    provider.fail("n-1", TransientError("503"))
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls)
    herald.send(hook())

    run_with_context(herald)
    clock.shift(301)
    run_with_context(herald)

    assert provider.attempts == ["n-1", "n-1"]
    assert [n.id for n in provider.sent] == ["n-1"]


def test_a_record_left_in_progress_by_a_crash_expires_with_that_invocations_time(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], logs: LogLines, clock: time_machine.Coordinates
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls)
    herald.deliverer.once.register_invocation(Context(600_000))

    def crash(notification: Any) -> None:
        provider.before_send = None
        raise SystemExit("the sandbox dies mid-send")

    provider.before_send = crash
    herald.send(hook())
    [record] = receive_event(sqs, queues.url, queues.arn)["Records"]
    with pytest.raises(SystemExit):
        herald.deliverer.deliver(to_queued_message_of(record))

    # Back after the visibility timeout (361 s); the crashed invocation had 600 s left: hold off.
    [again] = receive_event_after_visibility(herald, clock)["Records"]
    result = herald.deliverer.deliver(to_queued_message_of(again), lambda: 60_000)
    assert result.outcome is Outcome.DEFERRED
    assert provider.attempts == []
    assert len(logs.with_prefix("DEFERRED: notification n-1 not attempted: another invocation holds")) == 1

    clock.shift(240)  # past the crashed invocation's remaining time: the record has expired
    result = herald.deliverer.deliver(to_queued_message_of(again), lambda: 60_000)
    assert result.outcome is Outcome.SENT
    assert provider.attempts == ["n-1"]


def to_queued_message_of(record: dict[str, Any]) -> Any:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    return to_queued_message(SQSRecord(record))


def receive_event_after_visibility(herald: Herald, clock: time_machine.Coordinates) -> dict[str, Any]:
    clock.shift(361)
    return receive_event(herald.sqs, herald.queues.url, herald.queues.arn)


def test_an_unreachable_store_retries_the_record_without_sending_it(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], logs: LogLines
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls, fail={"PutItem"})
    message_id = herald.send(hook())

    assert run_with_context(herald) == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    assert provider.attempts == []
    [retry] = logs.with_prefix("RETRY:")
    assert "via idempotency store failed with StoreUnavailable" in retry["message"]


def test_a_store_failure_after_the_provider_accepted_keeps_the_send(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], logs: LogLines
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls, fail={"UpdateItem"})
    herald.send(hook())

    assert run_with_context(herald) == {"batchItemFailures": []}

    assert provider.attempts == ["n-1"]
    assert len(logs.with_prefix("SENT: notification n-1")) == 1
    assert len(logs.with_prefix("UNRECORDED SEND: notification n-1")) == 1


def test_no_provider_call_starts_without_the_time_a_send_may_need(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], logs: LogLines
) -> None:
    provider = ScriptedProvider()
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls)
    message_id = herald.send(hook())

    # The scripted provider may take 1 s, the idempotency store 21.2 s (three calls), the margin 2 s.
    response = run_with_context(herald, remaining_millis=24_000)

    assert response == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert provider.attempts == []
    [deferred] = logs.with_prefix("DEFERRED:")
    assert "24.0s left in this invocation, a send may need 24.2s" in deferred["message"]
    assert logs.with_prefix("RETRY") == []
    assert [m["MessageId"] for m in drain(sqs, queues.url)] == [message_id], "back on the queue at once"


def test_a_provider_timeout_that_cannot_fit_the_function_timeout_stops_start_up(queues: Queues) -> None:
    env = herald_env(queues, HERALD_FUNCTION_TIMEOUT_SECONDS="10", HERALD_WEBHOOK_READ_TIMEOUT="10")

    with pytest.raises(
        ConfigError, match=r"a webhook send via webhook can take 13\.1s.*HERALD_FUNCTION_TIMEOUT_SECONDS=10"
    ):
        build_deliverer(EnvReader(env))


def test_a_refusal_stays_permanent_when_its_record_cannot_be_released(
    sqs: Any, queues: Queues, dynamodb_calls: list[str], logs: LogLines
) -> None:
    provider = ScriptedProvider()
    provider.fail("n-1", PermanentError("410"))
    herald = herald_with_idempotency(sqs, queues, provider, dynamodb_calls, fail={"DeleteItem"})
    herald.send(hook())

    assert run_with_context(herald) == {"batchItemFailures": []}

    assert len(logs.with_prefix("PERMANENT FAILURE: notification n-1")) == 1
    assert logs.with_prefix("RETRY") == []
    [dead] = drain(sqs, queues.dlq_url)
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "permanent"
