"""Lambda's SQS event shape, built from messages really received from SQS."""

from __future__ import annotations

from typing import Any

RECEIVE_ATTRIBUTES = {"MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"]}


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute shape (StringValue, DataType) -> Lambda event shape (stringValue, dataType...)."""
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value.get("DataType"),
    }


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
                "messageAttributes": {
                    name: _lambda_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                **(
                    {"md5OfMessageAttributes": message["MD5OfMessageAttributes"]}
                    if "MD5OfMessageAttributes" in message
                    else {}
                ),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }
