"""Redrive: dead letters back onto the source queue, never losing one.

For each dead letter a :class:`~herald.ops.deadletters.Sweep` receives (holding it for a short,
kept-alive visibility timeout): send its body, byte for byte, to the source queue; only once that
send has succeeded, delete it from the dead-letter queue. A crash between the two leaves the
message on both queues (a duplicate, which the notification id lets receivers absorb), never on
neither. A dead letter whose send fails is left where it was, counted as failed, and the redrive
goes on. Whatever was not deleted (skipped by the filters, failed, or not reached when
interrupted) is made visible again on the way out.

A redriven message is a new SQS message, so its ``ApproximateReceiveCount`` - Herald's attempt
number - starts again at 1. On a FIFO source queue it keeps its message group (the dead letter's
group, which Herald's core sets on a FIFO dead-letter queue), and its deduplication id is
``redrive-<dead letter's message id>``: unique per dead letter, so SQS never drops it as a
duplicate of the original send, yet a second redrive of the same dead letter after a crash within
SQS's 5-minute window is dropped. Once a send in a group fails, the group's later dead letters are
not sent in this run, so the group's order holds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from delivery.queue import DEFAULT_GROUP, requeue_request
from herald.ops.aws import describe_aws_error, is_fifo
from herald.ops.deadletters import DeadLetter, Filters, QueueCounts, Sweep, queue_counts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any


@dataclass
class RedriveReport:
    dry_run: bool
    before: QueueCounts | None = None
    read: int = 0
    skipped: int = 0
    moved: list[DeadLetter] = field(default_factory=list)
    would_move: list[DeadLetter] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    not_released: int = 0
    interrupted: bool = False
    # Dead letters with the body of one this run already moved: it failed again and was dead-lettered
    # again while the run went on (or the producer sent it twice). Left in place, or the run never ends.
    came_back: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def warnings(self) -> list[str]:
        notes = []
        if self.interrupted:
            notes.append("interrupted: dead letters not yet moved were left on the dead-letter queue")
        elif self.before is not None and self.read < self.before.visible:
            notes.append(
                f"read {self.read} of about {self.before.visible} dead letters; the rest were left in place "
                "(on a FIFO queue a group is handed out one batch at a time): run the redrive again"
            )
        if self.before is not None and self.before.in_flight:
            notes.append(f"{self.before.in_flight} dead letters were held by another reader (in flight) and not read")
        if self.came_back:
            notes.append(
                f"{self.came_back} dead letters were left in place: each has the body of one this run had already "
                "moved (it failed again and was dead-lettered again during the run, or it was sent twice)"
            )
        if self.not_released:
            notes.append(f"{self.not_released} dead letters could not be released at once; they reappear within 30 s")
        return notes


class Pacer:
    """At most ``rate`` sends a second; while waiting, ``idle`` runs at least once a second."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self.next_at: float | None = None

    def wait(self, idle: Callable[[], None] = lambda: None) -> None:
        now = self.clock()
        while self.next_at is not None and now < self.next_at:
            self.sleep(min(1.0, self.next_at - now))
            idle()
            now = self.clock()
        self.next_at = max(now, self.next_at or now) + self.interval


Progress = Callable[[str, DeadLetter, str | None], None]  # (event, dead letter, error): moved / failed / ...


class Redrive:
    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        queue_url: str,
        filters: Filters,
        rate: float = 10.0,
        dry_run: bool = False,
        progress: Progress | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.queue_url = queue_url
        self.filters = filters
        self.dry_run = dry_run
        self.progress = progress or (lambda event, letter, error: None)
        self.pacer = pacer or Pacer(rate)

    def run(self, report: RedriveReport) -> RedriveReport:
        """Fill ``report`` as it goes (so an interrupted run still has one) and return it."""
        from botocore.exceptions import BotoCoreError, ClientError

        report.before = queue_counts(self.sqs, self.dlq_url)
        broken_groups: set[str] = set()
        moved_bodies: set[bytes] = set()  # sha-256 digests: a dead letter's body is its original message's
        fifo = is_fifo(self.queue_url)
        with Sweep(self.sqs, self.dlq_url) as sweep:
            try:
                for letter in sweep:
                    report.read += 1
                    if not self.filters.matches(letter):
                        report.skipped += 1
                        continue
                    body_digest = hashlib.sha256(letter.body.encode()).digest()
                    if body_digest in moved_bodies:
                        report.came_back += 1
                        continue
                    if self.dry_run:
                        moved_bodies.add(body_digest)  # as the real run would
                        report.would_move.append(letter)
                        self.progress("would move", letter, None)
                        continue
                    group = letter.group_id or DEFAULT_GROUP
                    if fifo and group in broken_groups:
                        self._fail(report, letter, f"not sent: an earlier dead letter of FIFO group {group} failed")
                        continue
                    self.pacer.wait(sweep.keep_alive)
                    try:
                        self._send(letter, group if fifo else None)
                    except (ClientError, BotoCoreError) as error:
                        broken_groups.add(group)
                        self._fail(report, letter, f"send to the queue failed: {describe_aws_error(error)}")
                        continue
                    moved_bodies.add(body_digest)  # from now on a copy of it may come back, even if the delete fails
                    try:
                        sweep.delete(letter)
                    except (ClientError, BotoCoreError) as error:
                        self._fail(
                            report,
                            letter,
                            "sent to the queue but not deleted from the dead-letter queue, so it is now on both "
                            f"(redrive it again only if the copy fails): {describe_aws_error(error)}",
                        )
                        continue
                    report.moved.append(letter)
                    self.progress("moved", letter, None)
            except KeyboardInterrupt:
                report.interrupted = True
        report.not_released = sweep.not_released
        return report

    def _send(self, letter: DeadLetter, group: str | None) -> None:
        self.sqs.send_message(**requeue_request(self.queue_url, letter.message_id, letter.body, group))

    def _fail(self, report: RedriveReport, letter: DeadLetter, error: str) -> None:
        report.failed.append((letter, error))
        self.progress("failed", letter, error)
