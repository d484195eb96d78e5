"""What the core needs of SQS: put a message back with a delay, or dead-letter it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from delivery.aws import LazyClient

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
        self._client = LazyClient("sqs", client)

    @property
    def client(self) -> SQSClient:
        client: SQSClient = self._client.get()
        return client

    def retry_later(self, message: QueuedMessage, delay_seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=message.queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=delay_seconds
        )

    def dead_letter(self, message: QueuedMessage, attributes: dict[str, str | int]) -> None:
        request: dict[str, Any] = {
            "QueueUrl": self.dlq_url,
            "MessageBody": message.body,
            "MessageAttributes": {
                name: {"DataType": "Number", "StringValue": str(value)}
                if isinstance(value, int)
                else {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
                if value != ""  # SQS refuses empty attribute values
            },
        }
        if self.dlq_url.endswith(".fifo"):
            # Keep the group (so order holds in the DLQ too) and make a resend after a crash a no-op.
            request["MessageGroupId"] = message.group_id or "herald"
            request["MessageDeduplicationId"] = message.message_id
        self.client.send_message(**request)
