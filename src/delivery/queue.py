"""What the core needs of SQS: put a message back with a delay, or dead-letter it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from delivery.aws import LazyClient

SQS_MAX_MESSAGE_BYTES = 1_048_576  # body and attributes (names, types, values) together
DEFAULT_GROUP = "herald"  # the FIFO message group of a message that had none
# Characters SQS accepts in bodies and attribute values; anything else is refused (InvalidMessageContents).
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# When a body nearly fills the message, these are the attributes that must still go with it.
_ESSENTIAL = ("reason", "source_message_id", "notification_id", "attempts", "last_error")

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
            "MessageAttributes": sqs_attributes(attributes, room=SQS_MAX_MESSAGE_BYTES - len(message.body.encode())),
        }
        if self.dlq_url.endswith(".fifo"):
            # Keep the group (so order holds in the DLQ too) and make a resend after a crash a no-op.
            request["MessageGroupId"] = message.group_id or DEFAULT_GROUP
            request["MessageDeduplicationId"] = message.message_id
        self.client.send_message(**request)


def requeue_request(queue_url: str, dead_letter_id: str, body: str, group_id: str | None) -> dict[str, Any]:
    """The SendMessage request that puts a dead letter back on its source queue, body byte for byte.

    On a FIFO queue it keeps its group, and it is deduplicated on the dead letter's message id: a second
    redrive of the same dead letter after a crash is dropped, and the original send never is (the
    notification id would make SQS drop a redrive within 5 minutes of the original send).
    """
    request: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": body}
    if queue_url.endswith(".fifo"):
        request["MessageGroupId"] = group_id or DEFAULT_GROUP
        request["MessageDeduplicationId"] = f"redrive-{dead_letter_id}"
    return request


def sqs_attributes(attributes: dict[str, str | int], room: int) -> dict[str, dict[str, str]]:
    """Message attributes SQS will take: only characters it accepts, no empty values, and, when the
    body leaves little room, only the essential ones, last_error cut to fit (the body always goes whole)."""
    cleaned = {
        name: ("Number", str(value)) if isinstance(value, int) else ("String", _NOT_SQS_TEXT.sub("?", value))
        for name, value in attributes.items()
        if value != ""  # SQS refuses empty attribute values
    }

    def size(chosen: dict[str, tuple[str, str]]) -> int:
        return sum(len(name) + len(kind) + len(value.encode()) for name, (kind, value) in chosen.items())

    if size(cleaned) > room:
        cleaned = {name: cleaned[name] for name in _ESSENTIAL if name in cleaned}
        error = cleaned.pop("last_error", None)
        expendable = [name for name in ("attempts", "notification_id", "source_message_id") if name in cleaned]
        while True:
            if error is not None:  # the start of the error is better than none
                kind, text = error
                spare = room - size(cleaned) - len("last_error") - len(kind)
                if spare > 0:
                    cleaned["last_error"] = (kind, text.encode()[:spare].decode(errors="ignore") or "?")
            if (size(cleaned) <= room and (error is None or "last_error" in cleaned)) or not expendable:
                break
            cleaned.pop("last_error", None)
            cleaned.pop(expendable.pop(0))
    return {name: {"DataType": kind, "StringValue": value} for name, (kind, value) in cleaned.items()}
