"""Business-critical redrive (seed 000): dead letters marked ``critical`` go back to the source queue.

Run on a schedule. Only critical notifications whose retries ran out are redriven: those Herald
dead-lettered as ``exhausted``, and those the queue's own redrive policy moved (no reason: the safety
net). A permanent refusal or an invalid message would only fail again; they stay for an operator.
Each redriven dead letter is sent to the source queue as a new message, so its
attempt count starts afresh, and deleted from the dead-letter queue only once that send succeeded:
a crash between the two leaves a duplicate, which idempotency absorbs, never a loss. Dead letters
are received with a visibility timeout longer than the run, so none is seen twice in one run;
non-critical ones are made visible again at the end, untouched, for ``herald dlq``. On a FIFO
queue, once a send in a message group fails, the group's later dead letters wait for the next run,
so the group's order holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from delivery import metrics
from delivery.config import EnvReader, StatsdSettings
from delivery.log import logger
from delivery.queue import requeue_request

RECEIVE = {"MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}


@dataclass(frozen=True, slots=True)
class RedriveSettings:
    dlq_url: str
    source_queue_url: str
    hold_seconds: int = 900  # dead letters stay invisible this long while a run looks at them
    wait_seconds: int = 1  # long poll: a short poll may miss messages, so only an empty long poll means done
    statsd: StatsdSettings = field(default_factory=StatsdSettings)

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> RedriveSettings:
        read = env or EnvReader()
        settings = cls(
            dlq_url=read.required("HERALD_DLQ_URL", "set it to the dead-letter queue's URL"),
            source_queue_url=read.required("HERALD_SOURCE_QUEUE_URL", "set it to the notification queue's URL"),
            hold_seconds=read.integer("HERALD_REDRIVE_HOLD_SECONDS", 900, 60, 43200),
            statsd=StatsdSettings.read(read),
        )
        read.check()
        return settings


@dataclass
class RedriveSummary:
    critical: int = 0  # critical dead letters found this run
    moved: int = 0
    failed: int = 0  # critical ones whose send failed: still in the dead-letter queue
    # Critical ones left for the next run: behind a failed send in their FIFO group, or a copy of one this
    # run already moved (it failed again and came back while the run went on).
    held: int = 0
    left: int = 0  # non-critical ones, left for an operator


class CriticalRedrive:
    def __init__(self, settings: RedriveSettings, sqs: Any) -> None:
        self.settings = settings
        self.sqs = sqs

    def run(self, seconds_left: Callable[[], float] | None = None) -> RedriveSummary:
        """Move every critical dead letter; stop early (leaving the rest for the next run) when time runs short."""
        summary = RedriveSummary()
        held: list[str] = []  # receipt handles to make visible again at the end
        seen: set[str] = set()
        # A redriven letter that fails again comes back with a new message id but the same body: never twice a run.
        moved_bodies: set[bytes] = set()
        broken_groups: set[str] = set()  # FIFO groups with a failed send: the rest of the group waits
        try:
            while seconds_left is None or seconds_left() > 10:
                batch = self.sqs.receive_message(
                    QueueUrl=self.settings.dlq_url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=self.settings.hold_seconds,
                    WaitTimeSeconds=self.settings.wait_seconds,
                    **RECEIVE,
                ).get("Messages", [])
                fresh = [m for m in batch if m["MessageId"] not in seen]
                if not fresh:
                    break  # empty, or only dead letters this run already looked at (their hold ran out)
                for message in fresh:
                    seen.add(message["MessageId"])
                    if not _redrivable(message):
                        summary.left += 1
                        held.append(message["ReceiptHandle"])
                        continue
                    body_digest = hashlib.sha256(message["Body"].encode()).digest()
                    summary.critical += 1
                    if body_digest in moved_bodies:
                        summary.held += 1
                        held.append(message["ReceiptHandle"])
                        continue
                    group = message.get("Attributes", {}).get("MessageGroupId")
                    if group in broken_groups:  # FIFO: sending it now would overtake the one that failed
                        summary.held += 1
                        held.append(message["ReceiptHandle"])
                    elif self._move(message):
                        summary.moved += 1
                        moved_bodies.add(body_digest)
                    else:
                        summary.failed += 1
                        held.append(message["ReceiptHandle"])
                        if group is not None:
                            broken_groups.add(group)
        finally:
            self._release(held)
        for name in ("critical", "moved", "failed", "held", "left"):
            metrics.incr(f"redrive.{name}", getattr(summary, name))
        logger.info(
            f"CRITICAL REDRIVE: moved {summary.moved} of {summary.critical} critical dead letters back to the queue "
            f"({summary.failed} failed, {summary.held} held for the next run, "
            f"{summary.left} others left for an operator)",
            extra={
                "critical_dead_letters": summary.critical,
                "moved": summary.moved,
                "failed": summary.failed,
                "held": summary.held,
                "left": summary.left,
            },
        )
        return summary

    def _move(self, message: dict[str, Any]) -> bool:
        group = message.get("Attributes", {}).get("MessageGroupId")
        request = requeue_request(self.settings.source_queue_url, message["MessageId"], message["Body"], group)
        notification = _attribute(message, "notification_id") or message["MessageId"]
        try:
            self.sqs.send_message(**request)
        except Exception:  # noqa: BLE001 - leave it in the dead-letter queue; the next run tries again
            logger.exception(f"REDRIVE FAILED: notification {notification} stays in the dead-letter queue")
            return False
        try:
            self.sqs.delete_message(QueueUrl=self.settings.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception:  # noqa: BLE001 - sent but not deleted: a duplicate at worst, absorbed by idempotency
            logger.exception(f"notification {notification} was redriven but is still in the dead-letter queue")
        logger.info(
            f"REDRIVEN: notification {notification} is back on the queue", extra={"notification_id": notification}
        )
        return True

    def _release(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            try:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.settings.dlq_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)],
                )
            except Exception:  # noqa: BLE001 - they become visible anyway when the hold expires
                logger.exception("could not release dead letters early; they reappear when the hold expires")


def _redrivable(message: dict[str, Any]) -> bool:
    """Critical, and dead because its retries ran out (not refused, not invalid)."""
    if _attribute(message, "reason") not in (None, "exhausted"):
        return False
    critical = _attribute(message, "critical")
    if critical is None:  # moved by the queue's own redrive policy: only the body says
        try:
            body = json.loads(message["Body"])
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("critical") is True
    return critical == "true"


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name, {}).get("StringValue")
    return str(value) if value is not None else None
