"""Dead letters as Herald's core writes them, and reading a dead-letter queue without losing any.

A dead letter is the original message body, byte for byte, with ten message attributes saying
why it is there (``reason``, ``last_error``, ``attempts``, ``provider``, ``channel``,
``notification_id``, ``critical``, ``first_seen``, ``last_attempt``, ``source_message_id``: see
``delivery.core.Deliverer._dead_letter``). Messages moved by the source queue's own redrive
policy (the safety net) carry none of them; they are reported with reason ``safety-net`` and
whatever their body tells.

**How a queue is read without losing or hiding anything for long.** SQS has no "peek": the only
way to see a message is to receive it, which hides it for a visibility timeout. A
:class:`Sweep` therefore

- receives in pages of 10 with a *short* visibility timeout (30 s), never deleting anything;
- holds each message it has seen (so the next page brings new ones, not the same again) and,
  while it is still reading, extends the hold in 30 s steps;
- at the end, in a ``finally``, makes every held message visible again at once
  (``ChangeMessageVisibility`` 0, in batches of 10).

If the CLI is killed midway, every message it held reappears by itself within 30 s. Receiving
a dead letter raises its ``ApproximateReceiveCount`` on the dead-letter queue, which has no
redrive policy of its own, so nothing acts on that count. The *source* queue is never received
from: there a receive would count as a delivery attempt.

Limits, reported as warnings rather than hidden: messages another reader holds at the time
cannot be seen; a FIFO queue hands out one batch per message group at a time, so on a FIFO
dead-letter queue only the first (up to 10) dead letters of each group are seen in one sweep.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

from delivery.masking import mask_recipient

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef
else:
    SQSClient = Any
    MessageTypeDef = Any

SAFETY_NET = "safety-net"
REASONS = ("invalid", "permanent", "exhausted", SAFETY_NET)

RECEIVE_WAIT_SECONDS = 1  # long polling: a receive asks every SQS server, so an empty answer means empty
HOLD_SECONDS = 30
_RECEIVE = {"MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"]}


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def age(seconds: float) -> str:
    """``45s``, ``12m 05s``, ``3h 12m``, ``2d 04h``."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2h``, ``3d``, ``30m``, ``1w``, ``45s`` before now, or an ISO date/time (UTC unless it says)."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = relative.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
    moment = parse_time(text.strip())
    if moment is None:
        raise ValueError(f"{text!r} is neither a time like 2h, 3d, 30m nor an ISO date like 2026-11-23T09:00")
    return moment


# In a body that is not JSON the recipient cannot be found by name: mask anything that looks like one.
_LOOKS_LIKE_RECIPIENT = re.compile(
    # The lookbehind starts an address only at the start of its local part: without it, each later start
    # in a long run of letters rescans the run, and 1 MiB of text takes hours.
    r"https?://[^\s\"'<>]+|(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\+\d{7,15}"
)


def scrub(text: str) -> str:
    return _LOOKS_LIKE_RECIPIENT.sub(lambda found: mask_recipient(found.group(0)), text)


@dataclass(frozen=True)
class DeadLetter:
    """One message on the dead-letter queue, as received."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str]
    sent_at: datetime | None = None  # when it reached the dead-letter queue
    group_id: str | None = None

    @classmethod
    def from_sqs(cls, message: MessageTypeDef) -> DeadLetter:
        system = message.get("Attributes", {})
        sent = system.get("SentTimestamp")
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            attributes={
                name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()
            },
            sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
            group_id=system.get("MessageGroupId"),
        )

    @cached_property
    def document(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None (a dead letter with reason ``invalid`` may be anything)."""
        try:
            data = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    def _field(self, attribute: str, key: str | None = None) -> str | None:
        value = self.attributes.get(attribute)
        if value:
            return value
        from_body = (self.document or {}).get(key or attribute)
        return from_body if isinstance(from_body, str) and from_body else None

    @property
    def reason(self) -> str:
        return self.attributes.get("reason") or SAFETY_NET

    @property
    def notification_id(self) -> str | None:
        return self._field("notification_id", "id")

    @property
    def channel(self) -> str | None:
        return self._field("channel")

    @property
    def provider(self) -> str | None:
        return self._field("provider")

    @property
    def recipient(self) -> str | None:
        to = (self.document or {}).get("to")
        return to if isinstance(to, str) else None

    @property
    def masked_recipient(self) -> str | None:
        return mask_recipient(self.recipient) if self.recipient is not None else None

    @property
    def critical(self) -> bool:
        if "critical" in self.attributes:
            return self.attributes["critical"] == "true"
        return (self.document or {}).get("critical") is True

    @property
    def attempts(self) -> int | None:
        value = self.attributes.get("attempts")
        return int(value) if value and value.isdigit() else None

    @property
    def last_error(self) -> str | None:
        return self.attributes.get("last_error") or None

    @property
    def first_seen(self) -> datetime | None:
        return parse_time(self.attributes.get("first_seen"))

    @property
    def last_attempt(self) -> datetime | None:
        return parse_time(self.attributes.get("last_attempt"))

    @property
    def dead_lettered_at(self) -> datetime | None:
        """When it was dead-lettered: Herald's ``last_attempt``, else when it reached the queue."""
        return self.last_attempt or self.sent_at

    @property
    def source_message_id(self) -> str | None:
        return self.attributes.get("source_message_id") or None

    def known_as(self, ident: str) -> bool:
        """True for its notification id, its message id on the dead-letter queue, or its source message id."""
        return ident in (self.notification_id, self.message_id, self.source_message_id)

    def shown_body(self, reveal: bool = False) -> str:
        """The body for display: the recipient masked unless ``reveal``."""
        if reveal:
            return self.body
        if self.document is None:
            return scrub(self.body)
        if self.recipient is None:
            return self.body
        return json.dumps({**self.document, "to": self.masked_recipient}, ensure_ascii=False)

    def to_json(self, reveal: bool = False) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "notification_id": self.notification_id,
            "reason": self.reason,
            "provider": self.provider,
            "channel": self.channel,
            "recipient": self.recipient if reveal else self.masked_recipient,
            "critical": self.critical,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "first_seen": iso(self.first_seen),
            "last_attempt": iso(self.last_attempt),
            "dead_lettered_at": iso(self.dead_lettered_at),
            "source_message_id": self.source_message_id,
            "group_id": self.group_id,
            "attributes": dict(self.attributes),
            "body": self.shown_body(reveal),
        }


@dataclass(frozen=True)
class Filters:
    """Which dead letters a command acts on; an empty filter matches every one."""

    reasons: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    since: datetime | None = None
    ids: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.reasons or self.providers or self.channels or self.ids) and self.since is None

    def matches(self, letter: DeadLetter) -> bool:
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.providers and letter.provider not in self.providers:
            return False
        if self.channels and letter.channel not in self.channels:
            return False
        if self.ids and not any(letter.known_as(ident) for ident in self.ids):
            return False
        if self.since is not None:
            moment = letter.dead_lettered_at
            return moment is not None and moment >= self.since
        return True


@dataclass
class Group:
    """Dead letters with the same provider, masked recipient and reason."""

    provider: str | None
    recipient: str | None
    reason: str
    count: int = 0
    critical: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_error: str | None = None
    channels: set[str] = field(default_factory=set)
    notification_ids: list[str] = field(default_factory=list)

    def add(self, letter: DeadLetter) -> None:
        self.count += 1
        self.critical += letter.critical
        if letter.channel:
            self.channels.add(letter.channel)
        if letter.notification_id:
            self.notification_ids.append(letter.notification_id)
        moment = letter.dead_lettered_at
        if moment is not None:
            if self.first_seen is None or moment < self.first_seen:
                self.first_seen = moment
            if self.last_seen is None or moment >= self.last_seen:
                self.last_seen = moment
                self.last_error = letter.last_error or self.last_error
        elif self.last_error is None:
            self.last_error = letter.last_error

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "provider": self.provider,
            "recipient": self.recipient,
            "channels": sorted(self.channels),
            "count": self.count,
            "critical": self.critical,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "last_error": self.last_error,
            "notification_ids": sorted(self.notification_ids),
        }


def group(letters: Iterable[DeadLetter]) -> list[Group]:
    """Grouped by (provider, masked recipient, reason); most dead letters first, then most recent."""
    groups: dict[tuple[str | None, str | None, str], Group] = {}
    for letter in letters:
        key = (letter.provider, letter.masked_recipient, letter.reason)
        groups.setdefault(key, Group(*key)).add(letter)
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(groups.values(), key=lambda g: (-g.count, -(g.last_seen or never).timestamp(), g.reason))


@dataclass(frozen=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int
    retention_seconds: int | None = None


def queue_counts(sqs: SQSClient, url: str) -> QueueCounts:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
            "MessageRetentionPeriod",
        ],
    ).get("Attributes", {})
    retention = attributes.get("MessageRetentionPeriod")
    return QueueCounts(
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        retention_seconds=int(retention) if retention else None,
    )


class Sweep:
    """Receive every visible message of a queue once, holding each until it is deleted or released.

    Use as a context manager: whatever is still held when the block ends, normally or not, is made
    visible again. See the module docstring for why this never loses a message.
    """

    def __init__(
        self,
        sqs: SQSClient,
        url: str,
        hold_seconds: int = HOLD_SECONDS,
        wait_seconds: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sqs = sqs
        self.url = url
        self.hold_seconds = hold_seconds
        self.wait_seconds = RECEIVE_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self.clock = clock
        self.held: dict[str, str] = {}  # message id -> its latest receipt handle
        self.seen: set[str] = set()
        self.not_released = 0
        self._held_since = clock()

    def __enter__(self) -> Sweep:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    def __iter__(self) -> Iterator[DeadLetter]:
        """Each message not seen before, as received; ends when a receive finds nothing new."""
        while True:
            self.keep_alive()
            messages = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=self.hold_seconds,
                WaitTimeSeconds=self.wait_seconds,
                **_RECEIVE,  # type: ignore[arg-type]
            ).get("Messages", [])
            fresh = []
            for message in messages:
                self.held[message["MessageId"]] = message["ReceiptHandle"]
                if message["MessageId"] not in self.seen:
                    self.seen.add(message["MessageId"])
                    fresh.append(message)
            if not fresh:
                return
            for message in fresh:
                yield DeadLetter.from_sqs(message)

    def keep_alive(self) -> None:
        """Extend the hold on every held message when a third of it has passed."""
        if self.held and self.clock() - self._held_since >= self.hold_seconds / 3:
            self._change_visibility(self.held.values(), self.hold_seconds)
            self._held_since = self.clock()

    def delete(self, letter: DeadLetter) -> None:
        handle = self.held.get(letter.message_id, letter.receipt_handle)
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        self.held.pop(letter.message_id, None)

    def release(self) -> None:
        """Make every held message visible again at once."""
        held, self.held = list(self.held.values()), {}
        self.not_released += self._change_visibility(held, 0)

    def _change_visibility(self, handles: Iterable[str], seconds: int) -> int:
        """Returns how many changes failed (a handle that expired: that message is visible again anyway)."""
        failed = 0
        batch: list[str] = []
        for handle in [*handles, None]:
            if handle is not None:
                batch.append(handle)
            if batch and (handle is None or len(batch) == 10):
                entries = [
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds} for i, h in enumerate(batch)
                ]
                try:
                    answer = self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]
                    failed += len(answer.get("Failed", []))
                except Exception:  # noqa: BLE001 - best effort: each hold ends by itself within hold_seconds
                    failed += len(batch)
                batch = []
        return failed


@dataclass
class Scan:
    """What a read of the dead-letter queue saw, and whether it could have seen everything."""

    letters: list[DeadLetter]
    before: QueueCounts
    not_released: int = 0
    fifo: bool = False

    def warnings(self) -> list[str]:
        notes = []
        missed = self.before.visible - len(self.letters)
        if missed > 0:
            why = (
                "a FIFO queue hands out one batch per message group at a time"
                if self.fifo
                else "SQS counts are approximate, or dead letters arrived meanwhile"
            )
            notes.append(f"read {len(self.letters)} of about {self.before.visible} dead letters ({why})")
        if self.before.in_flight:
            notes.append(f"{self.before.in_flight} dead letters were held by another reader (in flight) and not read")
        if self.not_released:
            notes.append(f"{self.not_released} dead letters could not be released at once; they reappear within 30 s")
        return notes


def read_all(sqs: SQSClient, url: str) -> Scan:
    """Every dead letter on the queue, each left exactly where it was (see the module docstring)."""
    before = queue_counts(sqs, url)
    with Sweep(sqs, url) as sweep:
        letters = list(sweep)
    return Scan(letters, before, sweep.not_released, fifo=url.endswith(".fifo"))


def find(letters: Sequence[DeadLetter], ident: str) -> list[DeadLetter]:
    return [letter for letter in letters if letter.known_as(ident)]
