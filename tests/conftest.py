"""Fixtures: real moto SQS queues, a real HTTP receiver on 127.0.0.1, Herald wired to both,
and the JSON log lines Herald really emits."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import time_machine
from moto import mock_aws

from delivery.config import EnvReader, Settings
from delivery.contract import Provider
from delivery.core import Deliverer
from delivery.log import logger as herald_logger
from delivery.queue import SqsQueue
from handlers.sqs_batch import SqsBatchRunner
from herald.local.receiver import Receiver
from tests.support.providers import ScriptedProvider
from tests.support.sqs import receive_event

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can ever reach real AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def idempotency_table(sqs: Any) -> str:
    """The idempotency table, keyed as template.yaml keys it, in moto's DynamoDB; its name."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="herald-idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "herald-idempotency"


@dataclass(frozen=True)
class Queues:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


def create_queues(sqs: Any, name: str = "herald", fifo: bool = False, max_receive_count: int = 60) -> Queues:
    suffix = ".fifo" if fifo else ""
    fifo_attributes = {"FifoQueue": "true"} if fifo else {}
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=fifo_attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    url = sqs.create_queue(
        QueueName=f"{name}{suffix}",
        Attributes={"VisibilityTimeout": "360", "RedrivePolicy": redrive, **fifo_attributes},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queues(url, arn, dlq_url, dlq_arn)


@pytest.fixture
def queues(sqs: Any) -> Queues:
    return create_queues(sqs)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@dataclass
class LogLines:
    """Every line Herald logged during the test, as the JSON documents CloudWatch would receive."""

    lines: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def messages(self, prefix: str = "") -> list[str]:
        return [r["message"] for r in self.records if r["message"].startswith(prefix)]

    def with_prefix(self, prefix: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["message"].startswith(prefix)]


class _ListHandler(logging.Handler):
    def __init__(self, sink: LogLines) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.lines.append(self.format(record))


# The lookbehind starts a match only at the start of a local part: without it findall rescans each long
# run of letters from every position in it, and a 1 MiB fuzzed line takes hours.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+\d{8,15}")


@pytest.fixture(autouse=True)
def no_unmasked_recipients() -> Iterator[None]:
    """Across the whole suite: no line Herald logs carries a whole email address or phone number."""
    sink = LogLines()
    handler = _ListHandler(sink)
    handler.setFormatter(herald_logger.registered_formatter)
    herald_logger._logger.addHandler(handler)
    yield
    herald_logger._logger.removeHandler(handler)
    leaks = [
        found
        for line in sink.lines
        for found in _EMAIL.findall(line) + _PHONE.findall(line)
        if not found.split("@")[0].endswith("***")
    ]
    assert not leaks, f"unmasked recipients in Herald's log lines: {leaks}"


@pytest.fixture
def logs() -> Iterator[LogLines]:
    sink = LogLines()
    handler = _ListHandler(sink)
    handler.setFormatter(herald_logger.registered_formatter)  # the exact JSON formatter Lambda output uses
    herald_logger._logger.addHandler(handler)
    yield sink
    herald_logger._logger.removeHandler(handler)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """Frozen, movable time shared by Herald and moto's SQS (visibility timeouts)."""
    with time_machine.travel(1_790_000_000, tick=False) as traveller:
        yield traveller


def herald_env(queues: Queues, **overrides: str) -> dict[str, str]:
    return {
        "HERALD_DLQ_URL": queues.dlq_url,
        "HERALD_WEBHOOK_ALLOW_PRIVATE": "true",
        **overrides,
    }


@dataclass
class Herald:
    """Herald's handler wired to moto queues, fed with events built from real receives."""

    sqs: Any
    queues: Queues
    deliverer: Deliverer
    runner: SqsBatchRunner

    def send(self, body: dict[str, Any] | str, **kwargs: Any) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return str(self.sqs.send_message(QueueUrl=self.queues.url, MessageBody=text, **kwargs)["MessageId"])

    def run_batch(self, max_messages: int = 10) -> dict[str, Any]:
        """One poll and one invocation, then what the Lambda event source does afterwards: delete every
        record not reported as a batch item failure. Returns the partial batch response ({} if none came)."""
        event = receive_event(self.sqs, self.queues.url, self.queues.arn, max_messages)
        if not event["Records"]:
            return {}
        response = dict(self.runner.handle(event))
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queues.url, ReceiptHandle=record["receiptHandle"])
        return response


def make_herald(sqs: Any, queues: Queues, providers: dict[str, Provider] | None = None, **env: str) -> Herald:
    from delivery.app import build_deliverer

    read = EnvReader(herald_env(queues, **env))
    if providers is None:
        deliverer = build_deliverer(read)
    else:
        settings = Settings.from_env(read)
        read.check()
        deliverer = Deliverer(settings, providers, SqsQueue(settings.dlq_url, sqs))
    return Herald(sqs, queues, deliverer, SqsBatchRunner(deliverer, deliverer.settings.concurrency))


@pytest.fixture
def scripted() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def herald(sqs: Any, queues: Queues, scripted: ScriptedProvider) -> Herald:
    """Herald with the scripted provider as every channel's default, 4 attempts, 300 s delay."""
    return make_herald(
        sqs,
        queues,
        {"scripted": scripted},
        HERALD_EMAIL_PROVIDER="scripted",
        HERALD_SMS_PROVIDER="scripted",
        HERALD_WEBHOOK_PROVIDER="scripted",
        HERALD_MAX_ATTEMPTS="4",
    )
