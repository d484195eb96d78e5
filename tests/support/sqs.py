"""Lambda SQS events built from messages really received from (moto) SQS."""

from __future__ import annotations

from typing import Any

from herald.local.events import RECEIVE_ATTRIBUTES, lambda_sqs_event


def receive_event(sqs: Any, queue_url: str, queue_arn: str, max_messages: int = 10) -> dict[str, Any]:
    """Receive up to ``max_messages`` and shape them exactly as the Lambda SQS event source does."""
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, **RECEIVE_ATTRIBUTES)
    return lambda_sqs_event(response.get("Messages", []), queue_arn)


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every visible message on the queue (with attributes), leaving them in flight."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, **RECEIVE_ATTRIBUTES).get(
        "Messages", []
    ):
        messages.extend(batch)
    return messages
