"""Lambda SQS events: synthetic ones, and ones built from messages really received from (moto) SQS."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:herald"


def webhook_body(notification_id: str, url: str) -> str:
    """A valid Herald message (contract v1) asking for a webhook POST to ``url``."""
    return json.dumps({"id": notification_id, "channel": "webhook", "to": url, "body": "hello"})


def sqs_record(
    message_id: str, body: str, attributes: dict[str, str], queue_arn: str, receipt_handle: str = ""
) -> dict[str, Any]:
    """One record shaped exactly as the Lambda SQS event source delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle or f"receipt-{message_id}",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def synthetic_event(batch: int, size: int, url: str) -> dict[str, Any]:
    """``size`` first-attempt records with valid bodies; successes never call SQS, so no queue is needed."""
    now = str(int(time.time() * 1000))
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": now,
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": now,
    }
    return {
        "Records": [
            sqs_record(f"m-{batch}-{i}", webhook_body(f"n-{batch}-{i}", url), dict(attributes), QUEUE_ARN)
            for i in range(size)
        ]
    }


def received_event(sqs: Any, queue_url: str, queue_arn: str, count: int) -> dict[str, Any]:
    """Receive exactly ``count`` messages (several polls if need be) and shape them as a Lambda event."""
    records: list[dict[str, Any]] = []
    for _ in range(10):
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, count - len(records)),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        records += [
            sqs_record(m["MessageId"], m["Body"], m["Attributes"], queue_arn, m["ReceiptHandle"])
            for m in response.get("Messages", [])
        ]
        if len(records) == count:
            return {"Records": records}
    raise RuntimeError(f"received {len(records)} of {count} messages")
