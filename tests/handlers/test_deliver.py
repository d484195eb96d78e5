"""The SQS handler on real SQS semantics (moto): receive counts, visibility, dead letters, partial batches."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from typing import Any

import pytest
import time_machine

from delivery.config import ConfigError
from delivery.contract import PermanentError, RateLimitedError, TransientError
from herald.local.receiver import Receiver, Reply
from tests.conftest import Herald, LogLines, Queues, create_queues, herald_env, make_herald
from tests.support.providers import ScriptedProvider
from tests.support.sqs import drain, receive_event


def note(notification_id: str = "n-1", **fields: Any) -> dict[str, Any]:
    return {"id": notification_id, "channel": "webhook", "to": "https://hooks.example.com/x", "body": "hi", **fields}


def dead_letters(herald: Herald) -> list[dict[str, Any]]:
    return drain(herald.sqs, herald.queues.dlq_url)


def attributes_of(dead_letter: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in dead_letter["MessageAttributes"].items()}


def visible_count(herald: Herald) -> int:
    return len(drain(herald.sqs, herald.queues.url))


def test_sent_message_is_deleted_from_the_queue(herald: Herald, scripted: ScriptedProvider, clock: Any) -> None:
    herald.send(note())

    assert herald.run_batch() == {"batchItemFailures": []}

    clock.shift(3600)
    assert visible_count(herald) == 0
    assert [n.id for n in scripted.sent] == ["n-1"]
    assert dead_letters(herald) == []


def test_transient_failure_returns_after_the_retry_delay_with_a_higher_receive_count(
    herald: Herald, scripted: ScriptedProvider, clock: time_machine.Coordinates
) -> None:
    message_id = herald.send(note())
    scripted.fail("n-1", TransientError("503"))

    response = herald.run_batch()

    assert response == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    clock.shift(299)
    assert herald.run_batch() == {}, "the message must stay invisible for the whole retry delay"
    clock.shift(2)
    event = receive_event(herald.sqs, herald.queues.url, herald.queues.arn)
    assert [r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]] == ["2"]


def test_retry_log_line_names_notification_attempt_provider_error_and_delay(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: Any
) -> None:
    herald.send(note())
    scripted.fail("n-1", TransientError("provider answered 503"))

    herald.run_batch()

    [retry] = logs.with_prefix("RETRY:")
    assert retry["level"] == "WARNING"
    assert retry["message"] == (
        "RETRY: notification n-1 attempt 1/4 via scripted failed with TransientError: "
        "provider answered 503; next try in 300s"
    )
    assert retry["notification_id"] == "n-1"
    assert retry["retry_in_seconds"] == 300


def test_exactly_max_attempts_then_retry_failed_once_and_one_exhausted_dead_letter(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    herald.send(note())
    scripted.fail_always("n-1", TransientError("down"))

    responses = []
    for _ in range(6):
        responses.append(herald.run_batch())
        clock.shift(301)

    assert scripted.attempts_of("n-1") == 4
    assert len(logs.with_prefix("RETRY:")) == 3
    [failed] = logs.with_prefix("RETRY FAILED:")
    assert failed["level"] == "ERROR"
    assert failed["message"].startswith("RETRY FAILED: notification n-1 attempt 4/4 via scripted")
    assert [len(r.get("batchItemFailures", [])) for r in responses] == [1, 1, 1, 0, 0, 0]
    [dead] = dead_letters(herald)
    assert attributes_of(dead)["reason"] == "exhausted"
    assert attributes_of(dead)["attempts"] == "4"
    assert visible_count(herald) == 0


def test_third_attempt_of_four_is_still_retried(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    herald.send(note())
    scripted.fail("n-1", TransientError("a"), TransientError("b"), TransientError("c"))

    for _ in range(4):
        herald.run_batch()
        clock.shift(301)

    assert scripted.attempts_of("n-1") == 4
    assert [n.id for n in scripted.sent] == ["n-1"]
    assert logs.with_prefix("RETRY FAILED:") == []
    assert dead_letters(herald) == []


def test_message_received_past_the_last_attempt_is_dead_lettered_without_sending(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines
) -> None:
    herald.send(note())
    for _ in range(4):  # four receives that never finished (crashes): the next receive is the 5th
        [message] = herald.sqs.receive_message(QueueUrl=herald.queues.url)["Messages"]
        herald.sqs.change_message_visibility(
            QueueUrl=herald.queues.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    assert herald.run_batch() == {"batchItemFailures": []}

    assert scripted.attempts == []
    [dead] = dead_letters(herald)
    assert attributes_of(dead)["reason"] == "exhausted"
    assert attributes_of(dead)["attempts"] == "5"
    assert len(logs.with_prefix("RETRY FAILED:")) == 1


def test_default_policy_is_48_attempts_five_minutes_apart(
    sqs: Any, queues: Queues, clock: time_machine.Coordinates
) -> None:
    provider = ScriptedProvider()
    provider.fail_always("n-1", TransientError("down"))
    herald = make_herald(sqs, queues, {"scripted": provider}, HERALD_WEBHOOK_PROVIDER="scripted")
    herald.send(note())

    rounds = 0
    while not dead_letters(herald):
        assert herald.run_batch(), "the message must come back after every retry delay"
        clock.shift(301)
        rounds += 1

    assert provider.attempts_of("n-1") == 48
    assert rounds == 48


def test_permanent_failure_is_dead_lettered_at_the_first_attempt(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    herald.send(note())
    scripted.fail("n-1", PermanentError("https://hooks.example.com/*** answered HTTP 410"))

    assert herald.run_batch() == {"batchItemFailures": []}

    clock.shift(3600)
    assert visible_count(herald) == 0
    assert scripted.attempts_of("n-1") == 1
    [dead] = dead_letters(herald)
    assert attributes_of(dead)["reason"] == "permanent"
    assert "HTTP 410" in attributes_of(dead)["last_error"]
    [line] = logs.with_prefix("PERMANENT FAILURE:")
    assert line["level"] == "ERROR"
    assert logs.with_prefix("RETRY") == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "body is not JSON"),
        ("[1, 2, 3]", "schema: message must be object"),
        (
            json.dumps({"id": "n-1", "channel": "webhook", "body": "x"}),
            "schema: message must contain ['to'] properties",
        ),
        (json.dumps(note(channel="pigeon")), "schema: message.channel must be one of"),
        (json.dumps(note(channel="email", to="a@example.com")), "must contain ['subject']"),
        (json.dumps(note(channel="sms", to="07700 900123")), "message.to must match pattern"),
        (json.dumps(note(critcal=True)), "must not contain {'critcal'} properties"),
        (json.dumps(note(provider="carrier-pigeon")), "provider 'carrier-pigeon' is not enabled"),
    ],
)
def test_invalid_message_is_dead_lettered_at_once_with_the_reason(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, body: str, reason: str
) -> None:
    herald.send(body)

    assert herald.run_batch() == {"batchItemFailures": []}

    assert scripted.attempts == []
    [dead] = dead_letters(herald)
    assert dead["Body"] == body
    assert attributes_of(dead)["reason"] == "invalid"
    assert reason in attributes_of(dead)["last_error"]
    [line] = logs.with_prefix("INVALID MESSAGE:")
    assert reason in line["message"]


def test_channel_without_a_configured_provider_is_invalid_and_names_the_variable(
    sqs: Any, queues: Queues, logs: LogLines
) -> None:
    herald = make_herald(sqs, queues, {"scripted": ScriptedProvider()}, HERALD_WEBHOOK_PROVIDER="scripted")
    herald.send(note(channel="sms", to="+447700900123"))

    herald.run_batch()

    [dead] = dead_letters(herald)
    assert "no provider is configured for channel 'sms' (set HERALD_SMS_PROVIDER)" in attributes_of(dead)["last_error"]


def test_unexpected_exception_inside_a_provider_is_retried(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines
) -> None:
    message_id = herald.send(note())
    scripted.fail("n-1", KeyError("bug in provider"))

    assert herald.run_batch() == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    [retry] = logs.with_prefix("RETRY:")
    assert "failed with KeyError" in retry["message"]
    assert "Traceback" in retry["exception"], "an unexpected error keeps its traceback for the on-call person"
    assert dead_letters(herald) == []


def test_rate_limit_longer_than_the_retry_delay_sets_the_visibility(
    herald: Herald, scripted: ScriptedProvider, clock: time_machine.Coordinates
) -> None:
    herald.send(note())
    scripted.fail("n-1", RateLimitedError("slow down", retry_after=900))

    herald.run_batch()

    clock.shift(899)
    assert herald.run_batch() == {}
    clock.shift(2)
    assert herald.run_batch() == {"batchItemFailures": []}


def test_rate_limit_shorter_than_the_retry_delay_keeps_the_retry_delay(
    herald: Herald, scripted: ScriptedProvider, clock: time_machine.Coordinates
) -> None:
    herald.send(note())
    scripted.fail("n-1", RateLimitedError("slow down", retry_after=5))

    herald.run_batch()

    clock.shift(299)
    assert herald.run_batch() == {}
    clock.shift(2)
    assert herald.run_batch() == {"batchItemFailures": []}


def test_dead_letter_keeps_the_body_and_says_why(
    herald: Herald, scripted: ScriptedProvider, clock: time_machine.Coordinates
) -> None:
    body = json.dumps(note(critical=True))
    message_id = herald.send(body)
    scripted.fail("n-1", PermanentError("gone"))

    herald.run_batch()

    [dead] = dead_letters(herald)
    assert dead["Body"] == body
    attributes = attributes_of(dead)
    assert attributes == {
        "reason": "permanent",
        "last_error": "PermanentError: gone",
        "attempts": "1",
        "provider": "scripted",
        "channel": "webhook",
        "notification_id": "n-1",
        "critical": "true",
        "first_seen": "2026-09-21T14:13:20.000Z",
        "last_attempt": "2026-09-21T14:13:20.000Z",
        "source_message_id": message_id,
    }
    assert dead["MessageAttributes"]["attempts"]["DataType"] == "Number"


def test_dead_letter_queue_failure_leaves_the_message_on_the_queue(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    message_id = herald.send(note())
    scripted.fail("n-1", PermanentError("gone"))
    herald.sqs.delete_queue(QueueUrl=herald.queues.dlq_url)

    assert herald.run_batch() == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    assert len(logs.with_prefix("DEAD LETTER FAILED:")) == 1
    clock.shift(361)  # back after the queue's visibility timeout: nothing lost
    [again] = receive_event(herald.sqs, herald.queues.url, herald.queues.arn)["Records"]
    assert again["messageId"] == message_id


def test_mixed_batch_reports_exactly_the_records_to_retry(
    herald: Herald, scripted: ScriptedProvider, clock: time_machine.Coordinates
) -> None:
    ids = {}
    for i in range(10):
        ids[i] = herald.send(note(f"n-{i}") if i != 9 else "not json")
    scripted.fail("n-1", TransientError("503"))
    scripted.fail("n-4", RateLimitedError("429", retry_after=60))
    scripted.fail("n-6", KeyError("bug"))
    scripted.fail("n-7", PermanentError("410"))

    response = herald.run_batch()

    failures = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failures == {ids[1], ids[4], ids[6]}
    assert sorted(n.id for n in scripted.sent) == ["n-0", "n-2", "n-3", "n-5", "n-8"]
    assert sorted(attributes_of(d)["reason"] for d in dead_letters(herald)) == ["invalid", "permanent"]


def test_records_of_a_batch_are_delivered_concurrently(herald: Herald, scripted: ScriptedProvider) -> None:
    # Every send waits until all ten are in flight together; one at a time, the barrier would break.
    barrier = threading.Barrier(10, timeout=10)
    scripted.before_send = lambda notification: barrier.wait() and None
    for i in range(10):
        herald.send(note(f"n-{i}"))

    assert herald.run_batch() == {"batchItemFailures": []}

    assert len(scripted.sent) == 10


def test_every_log_line_of_a_record_carries_its_own_notification_id(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines
) -> None:
    outcomes = [TransientError("503"), PermanentError("410"), None, KeyError("bug")]
    for i in range(8):
        herald.send(note(f"n-{i}"))
        failure = outcomes[i % 4]
        if failure is not None:
            scripted.fail(f"n-{i}", failure)
    herald.send(note("n-8", provider="carrier-pigeon"))

    herald.run_batch()

    assert len(logs.records) == 9
    for line in logs.records:
        assert f"notification {line['notification_id']} " in line["message"], line
    assert {line["notification_id"] for line in logs.records} == {f"n-{i}" for i in range(9)}


def test_unexpected_exception_is_logged_with_its_traceback_and_the_recipient_masked(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines
) -> None:
    herald.send(note("e-1", channel="email", to="jane.doe@example.com", subject="Hi"))
    scripted.fail("e-1", ValueError("cannot send to jane.doe@example.com"))

    herald.run_batch()

    [retry] = logs.with_prefix("RETRY:")
    assert "Traceback (most recent call last)" in retry["exception"]
    assert "ValueError: cannot send to j***@example.com" in retry["exception"]
    assert "jane.doe@example.com" not in "\n".join(logs.lines)


def test_retry_failed_is_logged_once_when_the_dead_letter_queue_fails_at_the_last_attempt(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    herald.send(note())
    scripted.fail_always("n-1", TransientError("down"))
    for _ in range(3):
        herald.run_batch()
        clock.shift(301)
    dlq_name = herald.queues.dlq_url.rsplit("/", 1)[1]
    herald.sqs.delete_queue(QueueUrl=herald.queues.dlq_url)

    herald.run_batch()  # attempt 4 of 4: gives up, but the dead-letter queue is gone

    assert logs.with_prefix("RETRY FAILED:") == []
    assert len(logs.with_prefix("DEAD LETTER FAILED:")) == 1
    clock.shift(61)  # moto forgets a deleted queue's name after 60 s
    herald.sqs.create_queue(QueueName=dlq_name)
    clock.shift(300)

    herald.run_batch()  # attempt 5: settles without sending again

    assert scripted.attempts_of("n-1") == 4
    [failed] = logs.with_prefix("RETRY FAILED:")
    assert failed["message"].startswith("RETRY FAILED: notification n-1 attempt 5/4")
    [dead] = dead_letters(herald)
    assert attributes_of(dead)["reason"] == "exhausted"


class VisibilityRefused:
    """The real queue, except that ChangeMessageVisibility fails (e.g. an expired receipt handle)."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def retry_later(self, message: Any, delay_seconds: int) -> None:
        raise RuntimeError("ReceiptHandleIsInvalid")

    def dead_letter(self, message: Any, attributes: dict[str, str | int]) -> None:
        self.queue.dead_letter(message, attributes)


def test_a_failed_visibility_change_still_leaves_the_record_on_the_queue(
    herald: Herald, scripted: ScriptedProvider, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    herald.deliverer.queue = VisibilityRefused(herald.deliverer.queue)
    message_id = herald.send(note())
    scripted.fail("n-1", TransientError("503"))

    assert herald.run_batch() == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    assert len(logs.messages("could not delay notification n-1 by 300s")) == 1
    clock.shift(361)  # the queue's visibility timeout, instead of the retry delay
    assert herald.run_batch() == {"batchItemFailures": []}


def test_recipients_are_masked_in_log_lines(herald: Herald, scripted: ScriptedProvider, logs: LogLines) -> None:
    herald.send(note("e-1", channel="email", to="jane.doe@example.com", subject="Hi"))
    herald.send(note("s-1", channel="sms", to="+447700900123"))
    scripted.fail("e-1", TransientError("refused jane.doe@example.com"))
    scripted.fail("s-1", PermanentError("bad number +447700900123"))

    herald.run_batch()

    text = "\n".join(logs.lines)
    assert "jane.doe@example.com" not in text
    assert "+447700900123" not in text
    assert "j***@example.com" in text
    assert "+44******0123" in text


def test_fifo_failure_holds_back_only_its_own_group_and_keeps_order(sqs: Any, logs: LogLines) -> None:
    queues = create_queues(sqs, "orders", fifo=True)
    provider = ScriptedProvider()
    herald = make_herald(sqs, queues, {"scripted": provider}, HERALD_WEBHOOK_PROVIDER="scripted")
    ids = {}
    for name, group in [("a1", "A"), ("b1", "B"), ("a2", "A"), ("b2", "B"), ("a3", "A"), ("b3", "B")]:
        ids[name] = herald.send(note(name), MessageGroupId=group, MessageDeduplicationId=name)
    provider.fail("a2", TransientError("503"))

    response = herald.run_batch()

    assert {item["itemIdentifier"] for item in response["batchItemFailures"]} == {ids["a2"], ids["a3"]}
    assert [n.id for n in provider.sent if n.id.startswith("a")] == ["a1"]
    assert [n.id for n in provider.sent if n.id.startswith("b")] == ["b1", "b2", "b3"]
    assert "a3" not in provider.attempts, "a held-back record is not attempted"
    assert len(logs.with_prefix("HELD BACK:")) == 1


def test_fifo_dead_letter_keeps_the_message_group(sqs: Any) -> None:
    queues = create_queues(sqs, "orders", fifo=True)
    provider = ScriptedProvider()
    provider.fail("a1", PermanentError("410"))
    herald = make_herald(sqs, queues, {"scripted": provider}, HERALD_WEBHOOK_PROVIDER="scripted")
    herald.send(note("a1"), MessageGroupId="A", MessageDeduplicationId="a1")

    herald.run_batch()

    [dead] = drain(sqs, queues.dlq_url)
    assert dead["Attributes"]["MessageGroupId"] == "A"


def test_webhook_failure_then_success_over_real_http(
    sqs: Any, queues: Queues, receiver: Receiver, logs: LogLines, clock: time_machine.Coordinates
) -> None:
    herald = make_herald(sqs, queues)
    receiver.reply(Reply(503))
    herald.send(note(to=f"{receiver.url}/hooks/orders"))

    herald.run_batch()
    clock.shift(301)
    herald.run_batch()

    assert len(receiver.requests) == 2
    assert receiver.requests[1].headers["webhook-id"] == "n-1"
    [retry] = logs.with_prefix("RETRY:")
    assert "answered HTTP 503" in retry["message"]
    assert logs.with_prefix("SENT: notification n-1 via webhook (attempt 2/48)")


@pytest.fixture
def fresh_handler_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import handlers.deliver anew (its cold start) with the environment the test sets."""

    def load(env: dict[str, str]) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delitem(sys.modules, "handlers.deliver", raising=False)
        return importlib.import_module("handlers.deliver")

    yield load
    sys.modules.pop("handlers.deliver", None)


def test_handler_refuses_to_start_with_a_configuration_sqs_cannot_honour(fresh_handler_module: Any) -> None:
    env = {"HERALD_DLQ_URL": "https://sqs/dlq", "HERALD_RETRY_DELAY_SECONDS": "86400", "HERALD_MAX_ATTEMPTS": "0"}

    with pytest.raises(ConfigError) as error:
        fresh_handler_module(env)

    assert "HERALD_RETRY_DELAY_SECONDS=86400 is out of range" in str(error.value)
    assert "HERALD_MAX_ATTEMPTS=0 is out of range" in str(error.value)


def test_handler_delivers_a_lambda_sqs_event(
    sqs: Any, queues: Queues, receiver: Receiver, fresh_handler_module: Any
) -> None:
    module = fresh_handler_module(herald_env(queues))
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps(note(to=f"{receiver.url}/h")))
    event = receive_event(sqs, queues.url, queues.arn)

    assert module.handler(event, None) == {"batchItemFailures": []}

    assert json.loads(receiver.requests[0].body)["data"]["id"] == "n-1"
