"""What the core needs of SQS: put a message back with a delay, or dead-letter it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One received SQS message, as the core sees it (no Lambda event shapes here)."""

    message_id: str
    body: str
    receipt_handle: str
    queue_url: str
    attempt: int
    first_received_at: datetime | None = None
    group_id: str | None = None


class MessageQueue(Protocol):
    def retry_later(self, message: QueuedMessage, delay_seconds: int) -> None:
        """Make the message invisible for ``delay_seconds``; SQS then delivers it again."""
        ...

    def dead_letter(self, message: QueuedMessage, attributes: dict[str, str | int]) -> None:
        """Send the original body to the dead-letter queue with ``attributes``; raise if that fails."""
        ...


class SqsQueue:
    """MessageQueue on Amazon SQS. The client is created on first use: a batch where every send
    succeeds never pays for it at cold start."""

    def __init__(self, dlq_url: str, client: SQSClient | None = None) -> None:
        self.dlq_url = dlq_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "sqs",
                config=Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}),
            )
        return self._client

    def retry_later(self, message: QueuedMessage, delay_seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=message.queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=delay_seconds
        )

    def dead_letter(self, message: QueuedMessage, attributes: dict[str, str | int]) -> None:
        extra: dict[str, str] = {}
        if self.dlq_url.endswith(".fifo"):
            # Keep the group (so order holds in the DLQ too) and make a resend after a crash a no-op.
            extra = {"MessageGroupId": message.group_id or "herald", "MessageDeduplicationId": message.message_id}
        self.client.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=message.body,
            MessageAttributes={
                name: {"DataType": "Number", "StringValue": str(value)}
                if isinstance(value, int)
                else {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
                if value != ""  # SQS refuses empty attribute values
            },
            **extra,  # type: ignore[arg-type]
        )


def queue_url_from_arn(arn: str) -> str:
    """``arn:aws:sqs:eu-west-2:123456789012:herald`` -> that queue's URL, with no API call."""
    _, partition, _, region, account, name = arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"
