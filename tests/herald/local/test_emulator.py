"""The emulator runs the stack's functions as Lambda would: here, the scheduled critical redrive."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from herald.local.emulator import SOURCE, Emulator, Options
from herald.local.stack import deploy


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """A cold start sets the function's environment variables in this process; put them back after."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def dead_letter(sqs: Any, dlq_url: str, notification_id: str, reason: str, critical: bool) -> None:
    body = {"id": notification_id, "channel": "webhook", "to": "https://example.com/h", "body": "x"}
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=json.dumps({**body, "critical": critical}),
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason},
            "critical": {"DataType": "String", "StringValue": str(critical).lower()},
            "notification_id": {"DataType": "String", "StringValue": notification_id},
        },
    )


def test_a_local_redrive_run_moves_critical_exhausted_dead_letters_back_with_the_functions_settings(
    sqs: Any, restored_environment: None
) -> None:
    emulator = Emulator(Options())
    emulator.session = boto3.session.Session(region_name="us-east-1")
    emulator.stack = stack = deploy(emulator.session, None, {}, SOURCE)
    dead_letter(sqs, stack.dlq_url, "critical-1", "exhausted", critical=True)
    dead_letter(sqs, stack.dlq_url, "refused-2", "permanent", critical=True)

    counts = emulator.run_redrive()

    assert stack.redrive.handler == "handlers.redrive.handler"
    assert stack.redrive.environment["HERALD_SOURCE_QUEUE_URL"] == stack.queue_url
    assert counts == {"critical": 1, "moved": 1, "failed": 0, "held": 0, "left": 1}
    [back] = sqs.receive_message(QueueUrl=stack.queue_url)["Messages"]
    assert json.loads(back["Body"])["id"] == "critical-1"
