"""Lambda SQS events built from messages really received from (moto) SQS."""

from __future__ import annotations

from typing import Any

ALL_ATTRIBUTES = ["All"]


def receive_event(sqs: Any, queue_url: str, queue_arn: str, max_messages: int = 10) -> dict[str, Any]:
    """Receive up to ``max_messages`` and shape them exactly as the Lambda SQS event source does."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        MessageSystemAttributeNames=ALL_ATTRIBUTES,
        MessageAttributeNames=ALL_ATTRIBUTES,
    )
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in response.get("Messages", [])
        ]
    }


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every visible message on the queue (with attributes), leaving them in flight."""
    messages: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=ALL_ATTRIBUTES,
            MessageAttributeNames=ALL_ATTRIBUTES,
        )
        batch = response.get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
