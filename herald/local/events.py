"""Lambda's SQS event shape, built from messages really received from SQS."""

from __future__ import annotations

from typing import Any

RECEIVE_ATTRIBUTES = {"MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"]}


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Shape received messages exactly as the Lambda SQS event source hands them to a function."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }
