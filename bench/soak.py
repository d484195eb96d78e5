"""Chaos soak: thousands of notifications through Herald's real handler under injected faults.

``run_soak(notifications, seed)`` drives email, SMS and webhook notifications (unique ids, some sent twice by
their producer, a few invalid bodies) through moto SQS and DynamoDB (in-process ``mock_aws``, one
idempotency table) and Herald's real ``SqsBatchRunner`` -> ``Deliverer`` with ``SendOnce``. Webhooks go over
real HTTP through Herald's webhook provider to a loopback receiver; SMS over real HTTP through the
``http_sms`` provider to a loopback SMS API (auth token in moto SSM); email to an in-process fake. Faults:

- at the providers, per request: 30 % transient (503), 1 % read timeouts (the fake answers 503 *after*
  Herald's read timeout); per notification: 2 % refused for good (410 / 400), 0.3 % behind an endpoint
  that is down for the whole run (so some exhaust their attempts);
- per invocation: the sandbox crashes after the handler returned, before the event source deletes
  anything; the function timeout kills it mid-batch, while sends are in flight; or its time runs low
  mid-batch (the time budget defers the rest);
- DynamoDB throttling (``ThrottlingException`` / ``ProvisionedThroughputExceededException``, as if botocore's
  own retries ran out) on a share of the idempotency store's calls before a send and after a failed one
  (``PutItem``, ``GetItem``, ``DeleteItem``); ``ChangeMessageVisibility`` errors; dead-letter ``SendMessage``
  errors; statsd pointed at a closed UDP port. Throttling the save after a successful send (``UpdateItem``)
  opens a duplicate window, a known bug (tests/soak/test_soak.py): ``--throttle-success-saves`` adds it.

A killed invocation is modelled by raising ``SandboxKilled`` (a BaseException Herald does not catch) in place of
a provider call: the request never leaves the sandbox, its idempotency record stays "in progress", nothing is
deleted. (A request the provider accepted whose answer is lost is ambiguous by nature, and not injected.)

Time is simulated with time_machine (moto's SQS visibility and Powertools' idempotency expiry follow it):
when nothing is visible the clock jumps past the retry delay instead of waiting. Outcomes are counted
AT THE PROVIDERS (2xx answers per notification id), never from Herald's logs, and in the dead-letter
queue (its attributes). Every notification must be exactly one of: accepted once, or dead-lettered.

Two moto shims keep the emulator faithful and fast (see ``fast_moto_sqs`` and ``atomic_moto_dynamodb``).
Deterministic for a seed up to thread interleaving (the records of a batch run on Herald's pool).
``python -m bench.soak [notifications] [seed] [--throttle-success-saves]`` prints the figures.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

import boto3
import time_machine
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from moto import mock_aws

import bench  # noqa: F401 - puts src/ on sys.path when run as a script
from delivery import metrics
from delivery.config import EnvReader, Settings
from delivery.contract import Notification, PermanentError, Provider, ProviderContext, TransientError
from delivery.core import Deliverer, Outcome, RemainingMillis, Result
from delivery.idempotency import SendOnce, SendRecord
from delivery.queue import SqsQueue
from delivery.secrets import SecretStore
from handlers.sqs_batch import SqsBatchRunner
from herald.local.events import RECEIVE_ATTRIBUTES, lambda_sqs_event
from herald.local.receiver import ReceivedRequest, Receiver, Reply
from providers.registry import create_providers

REGION = "us-east-1"
START = 1_790_000_000  # simulated epoch seconds at the start of a run
TABLE = "herald-soak-idempotency"
SMS_ACCOUNT = "ACsoak"
SMS_TOKEN_PARAMETER = "/herald/soak/http-sms-auth-token"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
BODY_ID = re.compile(r"\[ref ([!-~]+)\]$")  # SMS and email texts end with their notification id


@dataclass(frozen=True)
class SoakConfig:
    notifications: int = 1000
    seed: int = 1
    # at the providers
    transient_rate: float = 0.30  # per request: 503
    read_timeout_rate: float = 0.01  # per request: answered (503) only after Herald's read timeout
    permanent_rate: float = 0.02  # per notification: refused for good on every request (410 / 400)
    outage_rate: float = 0.003  # per notification: its endpoint answers 503 all run long (-> exhausted)
    # producer
    producer_duplicate_rate: float = 0.05  # per notification: sent twice (same id, same body)
    invalid_rate: float = 0.01  # per message: a body that can never be delivered
    wave: int = 250  # messages the producer sends per simulated round
    # per invocation
    crash_rate: float = 0.03  # dies after the handler returned, before the event source deletes anything
    kill_rate: float = 0.02  # killed by the function timeout mid-batch, with sends in flight
    budget_rate: float = 0.03  # its remaining time runs below the safety margin mid-batch
    # AWS and statsd
    dynamodb_throttle_rate: float = 0.03  # per idempotency-store call
    # The calls before a send, and after a failed one. Throttling the save after a send succeeded (UpdateItem)
    # opens a duplicate window (a known bug: tests/soak/test_soak.py); add it to see that window.
    dynamodb_throttle_operations: frozenset[str] = frozenset({"PutItem", "GetItem", "DeleteItem"})
    visibility_error_rate: float = 0.10  # per ChangeMessageVisibility call
    dlq_error_rate: float = 0.15  # per dead-letter SendMessage call
    statsd_unreachable: bool = True
    # Herald
    max_attempts: int = 6
    retry_delay_seconds: int = 300
    read_timeout: float = 0.4  # seconds: the providers' read timeout (a loopback reply takes milliseconds)...
    slow_reply: float = 0.55  # ...and how long a "read timeout" fault takes to answer
    concurrency: int = 10
    max_rounds: int = 400
    clock_step: int = 361  # seconds the clock jumps when nothing is visible: past the 300 s delay and 360 s timeout


class SandboxKilled(BaseException):
    """The Lambda sandbox dies here (function timeout): nothing after this point in the invocation runs."""


class FaultCounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def __getitem__(self, name: str) -> int:
        return self.counts[name]


@dataclass
class Delivery:
    """One request that reached a provider's far end."""

    notification_id: str
    provider: str
    answer: str  # accepted | transient | read_timeout | permanent | outage
    round: int


class FarEnd:
    """The providers' far ends: decides each request's fate and counts what was accepted, per notification id."""

    def __init__(self, config: SoakConfig, faults: FaultCounts) -> None:
        self.config = config
        self.faults = faults
        self.doomed: dict[str, str] = {}  # notification id -> "permanent" | "outage"
        self.round = 0
        self.requests: defaultdict[str, list[Delivery]] = defaultdict(list)
        self._lock = threading.Lock()

    def answer(self, notification_id: str, provider: str) -> str:
        with self._lock:
            n = len(self.requests[notification_id])
            fate = self.doomed.get(notification_id)
            if fate is None:
                roll = random.Random(f"{self.config.seed}:{notification_id}:{n}").random()
                if roll < self.config.read_timeout_rate:
                    fate = "read_timeout"
                elif roll < self.config.read_timeout_rate + self.config.transient_rate:
                    fate = "transient"
                else:
                    fate = "accepted"
            self.requests[notification_id].append(Delivery(notification_id, provider, fate, self.round))
        self.faults.add(f"provider_{fate}")
        return fate

    def accepted(self, notification_id: str) -> int:
        return sum(1 for d in self.requests.get(notification_id, []) if d.answer == "accepted")


def webhook_responder(far_end: FarEnd) -> Callable[[ReceivedRequest], Reply]:
    def respond(request: ReceivedRequest) -> Reply:
        fate = far_end.answer(request.headers.get("webhook-id", ""), "webhook")
        if fate == "accepted":
            return Reply(200, body=b"ok")
        if fate == "permanent":
            return Reply(410, body=b"gone")
        if fate == "read_timeout":
            # Answer 503 only after Herald's read timeout: the provider did NOT accept it. A provider that
            # accepts a request whose response is then lost is inherently ambiguous: Herald cannot know, and
            # sends it again; receivers dedupe on webhook-id. That case is not a fault Herald can prevent.
            return Reply(503, delay=far_end.config.slow_reply, body=b"slow")
        return Reply(503, body=b"unavailable")

    return respond


def sms_responder(far_end: FarEnd) -> Callable[[ReceivedRequest], Reply]:
    sids = iter(range(1, 1 << 62))

    def respond(request: ReceivedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        found = BODY_ID.search(form.get("Body", ""))
        fate = far_end.answer(found.group(1) if found else "", "http_sms")
        if fate == "accepted":
            return Reply(201, body=json.dumps({"sid": f"SMsoak{next(sids):08d}", "status": "queued"}).encode())
        if fate == "permanent":
            return Reply(400, body=json.dumps({"code": 21211, "message": "Invalid 'To' Phone Number"}).encode())
        delay = far_end.config.slow_reply if fate == "read_timeout" else 0.0  # 503 after the timeout: see above
        return Reply(503, delay=delay, body=json.dumps({"code": 20503, "message": "Service unavailable"}).encode())

    return respond


class FakeEmail:
    """An in-process email provider with the same far-end behaviour (no socket: its timeouts are simulated)."""

    name = "fake_email"
    channels = frozenset({"email"})

    def __init__(self, far_end: FarEnd, read_timeout: float) -> None:
        self.far_end = far_end
        self.max_call_seconds = 1.0 + read_timeout

    def send(self, notification: Notification) -> str:
        found = BODY_ID.search(notification.body)
        fate = self.far_end.answer(found.group(1) if found else notification.id, self.name)
        if fate == "accepted":
            return f"email-{notification.id}"
        if fate == "permanent":
            raise PermanentError("MessageRejected: address blacklisted")
        if fate == "read_timeout":
            raise TransientError("email API read timeout")
        raise TransientError("email API answered 503")


class KillSwitch:
    """Armed for one invocation: the first ``allowed`` provider calls go ahead, the next kills the sandbox
    (before the request leaves it: a request that reached the provider is the ambiguous case above)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.allowed: int | None = None
        self.calls = 0
        self.killed = 0

    def arm(self, allowed: int) -> None:
        with self._lock:
            self.allowed, self.calls, self.killed = allowed, 0, 0

    def disarm(self) -> None:
        with self._lock:
            self.allowed = None

    def check(self) -> None:
        with self._lock:
            if self.allowed is None:
                return
            self.calls += 1
            if self.calls <= self.allowed:
                return
            self.killed += 1
        raise SandboxKilled("function timeout: the sandbox is killed with this send in flight")


class Killable:
    """A provider inside a sandbox that the function timeout can kill."""

    def __init__(self, inner: Provider, switch: KillSwitch) -> None:
        self.inner = inner
        self.switch = switch
        self.name = inner.name
        self.channels = inner.channels
        self.max_call_seconds = inner.max_call_seconds

    def send(self, notification: Notification) -> str:
        self.switch.check()
        return self.inner.send(notification)


class SimContext:
    """Lambda's context. With ``low_after``, the remaining time drops below the safety margin after that
    many calls of get_remaining_time_in_millis (the function timeout approaching mid-batch)."""

    def __init__(self, request_id: str, low_after: int | None = None, high: int = 58_000, low: int = 1_500) -> None:
        self.function_name = "herald-soak"
        self.aws_request_id = request_id
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:herald-soak"
        self.memory_limit_in_mb = 256
        self.low_after = low_after
        self.high, self.low = high, low
        self.calls = 0
        self._lock = threading.Lock()

    def get_remaining_time_in_millis(self) -> int:
        with self._lock:
            self.calls += 1
            if self.low_after is not None and self.calls > self.low_after:
                return self.low
            return self.high


@dataclass(frozen=True)
class Handled:
    message_id: str
    attempt: int
    outcome: str  # an Outcome value, or "dead_letter_failed", or "killed"
    error: str | None
    round: int
    invocation: int


class TrackedRunner(SqsBatchRunner):
    """Herald's runner, also recording each record's result and how many are still running (a killed
    invocation's other records run on: the harness waits for them before the world moves on)."""

    def __init__(self, deliverer: Deliverer, concurrency: int) -> None:
        super().__init__(deliverer, concurrency)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.in_flight = 0
        self.handled: list[Handled] = []
        self.round = 0
        self.invocation = 0

    def _deliver(self, record: SQSRecord, remaining_millis: RemainingMillis | None) -> Result:
        with self._lock:
            self.in_flight += 1
        attempt = int(record.attributes.approximate_receive_count)
        outcome, error = "killed", None
        try:
            result = super()._deliver(record, remaining_millis)
            outcome, error = result.outcome.value, result.error
            return result
        except Exception as failure:
            outcome, error = "dead_letter_failed", f"{type(failure).__name__}: {failure}"
            raise
        finally:
            with self._lock:
                self.handled.append(Handled(record.message_id, attempt, outcome, error, self.round, self.invocation))
                self.in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self.in_flight == 0, timeout):
                raise RuntimeError("records of a killed invocation are still running")


class TrackedSendOnce(SendOnce):
    """Herald's SendOnce, also noting which sends it could not record (the documented duplicate window)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unrecorded: set[str] = set()

    def send(self, notification_id: str, send: Callable[[], SendRecord]) -> SendRecord:
        record = super().send(notification_id, send)
        if record.unrecorded:
            self.unrecorded.add(notification_id)
        return record


def aws_faults(
    service: str, rates: dict[str, tuple[float, list[str]]], faults: FaultCounts, seed: int
) -> Callable[[str], Any]:
    """A client factory whose clients fail some calls before they are sent: {operation: (rate, error codes)}."""
    rng = random.Random(f"{seed}:{service}")
    lock = threading.Lock()

    def before_call(model: Any, **_: Any) -> None:
        rate, codes = rates.get(model.name, (0.0, []))
        if not rate:
            return
        with lock:
            hit = rng.random() < rate
            code = rng.choice(codes)
        if hit:
            faults.add(f"{service}_{model.name}_{code}")
            raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, model.name)

    def factory(name: str) -> Any:
        assert name == service
        client = boto3.client(service, region_name=REGION)
        client.meta.events.register(f"before-call.{service}.*", before_call)
        return client

    return factory


class CountingStats:
    """The real statsd client (aimed at a closed port), counting what Herald tried to send through it."""

    def __init__(self, inner: Any, faults: FaultCounts) -> None:
        self.inner = inner
        self.faults = faults

    def incr(self, stat: str, count: int = 1, rate: float = 1) -> None:
        self.faults.add("statsd_unreachable")
        self.inner.incr(stat, count, rate)

    def timing(self, stat: str, delta: float, rate: float = 1) -> None:
        self.faults.add("statsd_unreachable")
        self.inner.timing(stat, delta, rate)


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Planned:
    key: str  # the notification id; for an invalid body, "invalid-<n>"
    channel: str  # email | sms | webhook | invalid
    body: str
    copies: int


@dataclass
class SoakReport:
    config: SoakConfig
    notifications: int = 0  # distinct notifications (ids, and invalid bodies)
    messages: int = 0  # messages the producer sent (duplicates included)
    sent_once: int = 0
    duplicates: list[str] = field(default_factory=list)  # accepted 2+ times at a provider (must be empty)
    lost: list[str] = field(default_factory=list)  # neither accepted nor dead-lettered (must be empty)
    both: list[str] = field(default_factory=list)  # accepted once AND dead-lettered (must be empty)
    # ...of which the known bug: received past the last attempt after it was sent, dead-lettered as exhausted
    sent_then_exhausted: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # still on the queue when the rounds ran out
    dead_lettered: Counter[str] = field(default_factory=Counter)  # by reason, notifications dead-lettered only
    dead_letters: int = 0  # messages in the DLQ
    exhausted_short: int = 0  # dead-lettered as exhausted with fewer provider requests than max attempts
    unrecorded_window: list[str] = field(default_factory=list)  # duplicates after an UNRECORDED SEND (known bug)
    lost_responses: list[str] = field(default_factory=list)  # sent twice after a 2xx Herald timed out on (ambiguous)
    herald_outcomes: Counter[str] = field(default_factory=Counter)  # Herald's own results, for context
    faults: Counter[str] = field(default_factory=Counter)
    batch_crashes: list[str] = field(default_factory=list)  # handler raised (not a kill): must be empty
    problems: list[str] = field(default_factory=list)  # any other broken invariant (bad DLQ copy, bad response)
    details: dict[str, str] = field(default_factory=dict)  # key -> trace, for every reported id
    rounds: int = 0
    invocations: int = 0
    wall_seconds: float = 0.0

    @property
    def violations(self) -> list[str]:
        found = [f"duplicate: {key}" for key in self.duplicates]
        found += [f"sent and dead-lettered: {key}" for key in self.both]
        found += [f"lost: {key}" for key in self.lost]
        found += [f"unsettled: {key}" for key in self.unsettled]
        found += [f"batch crash: {text}" for text in self.batch_crashes]
        return found + self.problems

    def fault_kinds(self) -> dict[str, int]:
        """Each injected fault kind and how often it really happened."""
        f = self.faults
        return {
            "transient_503": f["provider_transient"] + f["provider_outage"],
            "permanent_410": f["provider_permanent"],
            "read_timeout": f["provider_read_timeout"],
            "crash_after_send": f["crash_after_send"],
            "function_timeout_kill": f["kill"],
            "time_budget_deferral": f["time_budget_deferral"],
            "dynamodb_throttle": sum(n for k, n in f.items() if k.startswith("dynamodb_")),
            "change_visibility_error": sum(n for k, n in f.items() if k.startswith("sqs_ChangeMessageVisibility")),
            "dlq_send_error": sum(n for k, n in f.items() if k.startswith("sqs_SendMessage")),
            "statsd_unreachable": f["statsd_unreachable"],
        }

    def lines(self, prefix: str = "soak") -> list[tuple[str, float | int]]:
        figures: list[tuple[str, float | int]] = [
            ("soak_notifications", self.notifications),
            ("soak_messages", self.messages),
            ("soak_sent_once", self.sent_once),
            ("soak_duplicates", len(self.duplicates)),
            ("soak_duplicates_after_unrecorded_send", len(self.unrecorded_window)),
            ("soak_sent_twice_after_a_lost_response", len(self.lost_responses)),
            ("soak_lost", len(self.lost)),
            ("soak_sent_and_dead_lettered", len(self.both)),
            ("soak_sent_then_dead_lettered_past_the_last_attempt", len(self.sent_then_exhausted)),
            ("soak_unsettled", len(self.unsettled)),
            ("soak_batch_crashes", len(self.batch_crashes)),
            ("soak_dead_lettered_invalid", self.dead_lettered["invalid"]),
            ("soak_dead_lettered_permanent", self.dead_lettered["permanent"]),
            ("soak_dead_lettered_exhausted", self.dead_lettered["exhausted"]),
            ("soak_exhausted_with_fewer_provider_attempts", self.exhausted_short),
            ("soak_duplicates_suppressed", self.herald_outcomes[Outcome.DUPLICATE.value]),
            ("soak_deferred", self.herald_outcomes[Outcome.DEFERRED.value]),
        ]
        figures += [(f"soak_fault_{kind}", n) for kind, n in self.fault_kinds().items()]
        figures += [
            ("soak_faults_injected", sum(self.fault_kinds().values())),
            ("soak_rounds", self.rounds),
            ("soak_invocations", self.invocations),
            ("soak_wall_seconds", round(self.wall_seconds, 1)),
        ]
        return [(prefix + name.removeprefix("soak"), value) for name, value in figures]


class Soak:
    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.faults = FaultCounts()
        self.far_end = FarEnd(config, self.faults)
        self.switch = KillSwitch()
        self.report = SoakReport(config)
        self.message_keys: dict[str, str] = {}  # SQS message id -> key
        self.bodies: dict[str, str] = {}  # SQS message id -> body
        self.plan: list[Planned] = []
        self.once: TrackedSendOnce | None = None

    # --- the producer ------------------------------------------------------------------------

    def make_plan(self, webhook_url: str) -> list[Planned]:
        """The notifications and, in sending order, the messages (a Planned per copy)."""
        c, rng = self.config, self.rng
        for n in range(c.notifications):
            if rng.random() < c.invalid_rate:
                body = rng.choice(
                    [
                        "{not json",
                        json.dumps({"id": f"bad-{n}", "channel": "webhook", "body": "no recipient"}),
                        json.dumps({"id": f"bad-{n}", "channel": "email", "to": "a@example.com", "body": "no subject"}),
                        json.dumps({"id": f"bad-{n}", "channel": "fax", "to": "+15550100", "body": "x"}),
                        json.dumps({"id": f"bad {n}", "channel": "sms", "to": "+447700900123", "body": "space in id"}),
                    ]
                )
                self.plan.append(Planned(f"invalid-{n}", "invalid", body, 1))
                continue
            key = f"soak-{c.seed}-{n:06d}"
            channel = rng.choice(["email", "sms", "webhook"])
            text = f"Notification {n} for you {rng.choice(['📦', 'שלום', 'ok'])} [ref {key}]"
            if channel == "email":
                message: dict[str, Any] = {"to": f"user{n}@example.com", "subject": f"Order {n}", "body": text}
            elif channel == "sms":
                message = {"to": f"+4477009{n % 100000:05d}", "body": text}
            else:
                message = {"to": f"{webhook_url}/hooks/{n % 50}", "body": text, "metadata": {"n": n}}
            body = json.dumps({"id": key, "channel": channel, **message, "critical": n % 7 == 0}, ensure_ascii=False)
            copies = 2 if rng.random() < c.producer_duplicate_rate else 1
            self.plan.append(Planned(key, channel, body, copies))
            roll = rng.random()
            if roll < c.permanent_rate:
                self.far_end.doomed[key] = "permanent"
            elif roll < c.permanent_rate + c.outage_rate:
                self.far_end.doomed[key] = "outage"
        # Each copy gets a place in the sending order: a duplicate right after its first copy, or much later.
        placed: list[tuple[float, int, Planned]] = []
        for index, item in enumerate(self.plan):
            placed.append((index, 0, item))
            if item.copies == 2:
                later = index + 0.5 if rng.random() < 0.5 else rng.uniform(index + 1, len(self.plan))
                placed.append((later, 1, item))
        return [item for _, _, item in sorted(placed, key=lambda p: (p[0], p[1]))]

    def send_wave(self, sqs: Any, url: str, wave: list[Planned]) -> None:
        for start in range(0, len(wave), 10):
            chunk = wave[start : start + 10]
            response = sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": p.body} for i, p in enumerate(chunk)]
            )
            if response.get("Failed"):
                raise RuntimeError(f"the producer could not send: {response['Failed']}")
            for entry in response["Successful"]:
                item = chunk[int(entry["Id"])]
                self.message_keys[entry["MessageId"]] = item.key
                self.bodies[entry["MessageId"]] = item.body
        self.report.messages += len(wave)

    # --- one invocation, as the Lambda event source makes it ---------------------------------

    def invoke(self, sqs: Any, runner: TrackedRunner, url: str, arn: str, messages: list[dict[str, Any]]) -> None:
        c, rng = self.config, self.rng
        self.report.invocations += 1
        runner.invocation = self.report.invocations
        event = lambda_sqs_event(messages, arn)
        roll = rng.random()
        fate = "normal"
        if roll < c.crash_rate:
            fate = "crash"
        elif roll < c.crash_rate + c.kill_rate:
            fate = "kill"
        elif roll < c.crash_rate + c.kill_rate + c.budget_rate:
            fate = "budget"
        low_after = rng.randrange(0, 2 * len(messages) + 1) if fate == "budget" else None
        context = SimContext(f"soak-{self.report.invocations}", low_after)
        if fate == "kill":
            self.switch.arm(rng.randrange(len(messages)))
        seen = len(runner.handled)
        try:
            response: dict[str, Any] = dict(runner.handle(event, context))
        except SandboxKilled:
            runner.wait_idle()  # its other records ran on, as threads do; a real sandbox would be frozen
            self.faults.add("kill")
            return  # nothing is deleted: SQS delivers the batch again after the visibility timeout
        except Exception as error:
            runner.wait_idle()
            self.report.batch_crashes.append(f"invocation {self.report.invocations}: {type(error).__name__}: {error}")
            return
        finally:
            self.switch.disarm()
        this_batch = runner.handled[seen:]
        if fate == "budget":
            deferred = sum(1 for h in this_batch if h.error and "left in this invocation" in h.error)
            self.faults.add("time_budget_deferral", deferred)
        if fate == "crash":
            self.faults.add("crash")
            if any(h.outcome == Outcome.SENT.value for h in this_batch):
                self.faults.add("crash_after_send")
            return  # the sandbox died before the event source could delete anything
        ids = {m["MessageId"] for m in messages}
        failed = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
        if not failed <= ids:
            self.report.problems.append(f"invocation {self.report.invocations} reported unknown records: {response}")
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            )

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> SoakReport:
        started = time.perf_counter()
        c = self.config
        with contextlib.ExitStack() as stack:
            stack.enter_context(fake_aws_environment())
            stack.enter_context(mock_aws())
            clock = stack.enter_context(time_machine.travel(START, tick=False))
            stack.enter_context(quiet_asyncio())
            stack.enter_context(fast_moto_sqs())
            stack.enter_context(atomic_moto_dynamodb())
            webhooks = stack.enter_context(quiet(Receiver(responder=webhook_responder(self.far_end))))
            sms_api = stack.enter_context(quiet(Receiver(responder=sms_responder(self.far_end))))

            sqs = boto3.client("sqs", region_name=REGION)  # the producer's and the event source's
            url, arn, dlq_url = create_resources(sqs, "herald-soak", sms_token="soak-token")

            runner = self.build_herald(dlq_url, sms_api.url, stack)
            order = self.make_plan(webhooks.url)
            self.report.notifications = len(self.plan)
            waves = [order[i : i + c.wave] for i in range(0, len(order), c.wave)]
            for round_number in range(c.max_rounds):
                self.report.rounds = round_number + 1
                self.far_end.round = runner.round = round_number
                if waves:
                    self.send_wave(sqs, url, waves.pop(0))
                while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **RECEIVE_ATTRIBUTES).get(
                    "Messages", []
                ):
                    self.invoke(sqs, runner, url, arn, messages)
                if not waves and queue_depth(sqs, url) == 0:
                    break
                clock.shift(c.clock_step)
            runner.pool.shutdown(wait=True)
            clock.shift(43_201)  # past any visibility timeout: whatever is still on the queue is visible now
            self.account(sqs, url, dlq_url, runner)
        self.report.wall_seconds = time.perf_counter() - started
        return self.report

    def build_herald(self, dlq_url: str, sms_url: str, stack: contextlib.ExitStack) -> TrackedRunner:
        c = self.config
        env = {
            "HERALD_DLQ_URL": dlq_url,
            "HERALD_MAX_ATTEMPTS": str(c.max_attempts),
            "HERALD_RETRY_DELAY_SECONDS": str(c.retry_delay_seconds),
            "HERALD_CONCURRENCY": str(c.concurrency),
            "HERALD_EMAIL_PROVIDER": "fake_email",
            "HERALD_SMS_PROVIDER": "http_sms",
            "HERALD_WEBHOOK_PROVIDER": "webhook",
            "HERALD_WEBHOOK_ALLOW_PRIVATE": "true",
            "HERALD_WEBHOOK_CONNECT_TIMEOUT": "1",
            "HERALD_WEBHOOK_READ_TIMEOUT": str(c.read_timeout),
            "HERALD_HTTP_SMS_BASE_URL": f"{sms_url}/2010-04-01",
            "HERALD_HTTP_SMS_ACCOUNT_ID": SMS_ACCOUNT,
            "HERALD_HTTP_SMS_FROM": "+15550001111",
            "HERALD_HTTP_SMS_AUTH_TOKEN": f"ssm:{SMS_TOKEN_PARAMETER}",
            "HERALD_HTTP_SMS_CONNECT_TIMEOUT": "1",
            "HERALD_HTTP_SMS_READ_TIMEOUT": str(c.read_timeout),
            "HERALD_IDEMPOTENCY_TABLE": TABLE,
            "HERALD_FUNCTION_TIMEOUT_SECONDS": "60",
        }
        read = EnvReader(env)
        settings = Settings.read(read)
        providers: dict[str, Provider] = create_providers(["webhook", "http_sms"], ProviderContext(read, SecretStore()))
        read.check()
        providers["fake_email"] = FakeEmail(self.far_end, c.read_timeout)
        if c.statsd_unreachable:  # statsd on, aimed at a UDP port nobody listens on
            metrics.configure("127.0.0.1", closed_udp_port(), "herald")
            stack.callback(metrics.configure, None)
            if metrics._client is not None:
                metrics._client = CountingStats(metrics._client, self.faults)
        throttle = (c.dynamodb_throttle_rate, ["ThrottlingException", "ProvisionedThroughputExceededException"])
        dynamodb = aws_faults("dynamodb", {op: throttle for op in c.dynamodb_throttle_operations}, self.faults, c.seed)
        herald_sqs = aws_faults(
            "sqs",
            {
                "ChangeMessageVisibility": (c.visibility_error_rate, ["InternalError", "ServiceUnavailable"]),
                "SendMessage": (c.dlq_error_rate, ["InternalError", "KmsThrottled"]),
            },
            self.faults,
            c.seed,
        )("sqs")
        self.once = TrackedSendOnce(TABLE, settings.idempotency_ttl_seconds, client_factory=dynamodb)
        killable = {name: Killable(p, self.switch) for name, p in providers.items()}
        deliverer = Deliverer(settings, killable, SqsQueue(dlq_url, herald_sqs), once=self.once)
        return TrackedRunner(deliverer, settings.concurrency)

    # --- the books ------------------------------------------------------------------------------

    def account(self, sqs: Any, url: str, dlq_url: str, runner: TrackedRunner) -> None:
        r, c = self.report, self.config
        r.faults = Counter(self.faults.counts)
        r.herald_outcomes = Counter(h.outcome for h in runner.handled)
        history: defaultdict[str, list[Handled]] = defaultdict(list)
        for h in runner.handled:
            history[self.message_keys.get(h.message_id, h.message_id)].append(h)

        dead: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        for message in drain_all(sqs, dlq_url):
            r.dead_letters += 1
            attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
            source = attributes.get("source_message_id", "")
            key = self.message_keys.get(source)
            if key is None:
                r.problems.append(f"a dead letter without Herald's attributes or of an unknown message: {attributes}")
                continue
            if message["Body"] != self.bodies[source]:
                r.problems.append(f"{key}: the dead letter's body differs from the message's")
            if attributes.get("reason") not in ("invalid", "permanent", "exhausted") or not attributes.get(
                "last_error"
            ):
                r.problems.append(f"{key}: dead letter without a reason or last_error: {attributes}")
            dead[key].append(attributes)
        still_queued = {self.message_keys.get(m["MessageId"], m["MessageId"]) for m in drain_all(sqs, url)}

        for item in self.plan:
            accepted = self.far_end.accepted(item.key)
            letters = dead.get(item.key, [])
            if item.key in still_queued:
                r.unsettled.append(item.key)
            elif accepted >= 2:
                timeouts_seen = sum(1 for h in history[item.key] if h.error and _timed_out(h.error))
                timeouts_sent = sum(1 for d in self.far_end.requests[item.key] if d.answer == "read_timeout")
                if timeouts_seen > timeouts_sent:
                    # Herald's read timeout fired on an answer that was a 2xx (a loaded machine made a loopback
                    # reply slower than the timeout): the inherently ambiguous case, not injected and not
                    # Herald's to prevent (receivers dedupe on webhook-id). Counted apart.
                    r.lost_responses.append(item.key)
                else:
                    r.duplicates.append(item.key)
                    if self.once is not None and item.key in self.once.unrecorded:
                        r.unrecorded_window.append(item.key)
            elif accepted == 1 and letters:
                accepted_round = min(d.round for d in self.far_end.requests[item.key] if d.answer == "accepted")
                gave_up = [h.round for h in history[item.key] if h.outcome == Outcome.RETRY_FAILED.value]
                if all(a.get("last_error", "").startswith("AttemptsExhausted") for a in letters) and all(
                    round_ >= accepted_round for round_ in gave_up
                ):
                    r.sent_then_exhausted.append(item.key)
                else:
                    r.both.append(item.key)
            elif accepted == 1:
                r.sent_once += 1
            elif letters:
                r.dead_lettered[letters[0]["reason"]] += 1
                if item.channel == "invalid" and letters[0]["reason"] != "invalid":
                    r.problems.append(f"{item.key}: an invalid body dead-lettered as {letters[0]['reason']}")
                if letters[0]["reason"] == "exhausted" and len(self.far_end.requests[item.key]) < c.max_attempts:
                    r.exhausted_short += 1
            else:
                r.lost.append(item.key)
            if item.channel == "invalid" and accepted:
                r.problems.append(f"{item.key}: an invalid body reached a provider")
            if {item.key} & {*r.duplicates, *r.lost, *r.both, *r.unsettled, *r.sent_then_exhausted, *r.lost_responses}:
                r.details[item.key] = self.trace(item, history[item.key], letters)

    def trace(self, item: Planned, handled: list[Handled], letters: list[dict[str, str]]) -> str:
        lines = [f"{item.key} ({item.channel}, {item.copies} cop{'y' if item.copies == 1 else 'ies'})"]
        lines += [
            f"  round {h.round} invocation {h.invocation}: message {h.message_id[:8]} attempt {h.attempt} -> "
            f"{h.outcome}{f' ({h.error[:140]})' if h.error else ''}"
            for h in handled
        ]
        lines += [
            f"  provider {d.provider} round {d.round}: {d.answer}" for d in self.far_end.requests.get(item.key, [])
        ]
        if self.once is not None and item.key in self.once.unrecorded:
            lines.append("  UNRECORDED SEND: a send whose idempotency record could not be saved (UpdateItem failed)")
        lines += [
            f"  dead letter: {a.get('reason')} attempts {a.get('attempts')}: {a.get('last_error', '')[:160]}"
            for a in letters
        ]
        return "\n".join(lines)


def queue_depth(sqs: Any, url: str) -> int:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def drain_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every visible message on the queue, with its attributes (the clock is frozen: none comes back)."""
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **RECEIVE_ATTRIBUTES).get("Messages", []):
        found.extend(batch)
    return found


def _timed_out(error: str) -> bool:
    """Herald gave up waiting for the answer: a read timeout, or the wall-clock limit on the whole call."""
    return "read timeout" in error or "no whole answer" in error


def create_resources(sqs: Any, name: str, sms_token: str) -> tuple[str, str, str]:
    """Herald's queue (14-day retention, 6-minute visibility), its dead-letter queue, the idempotency
    table and the SMS token, in moto; returns the queue's URL and ARN and the dead-letter queue's URL."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "60"})
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": "360", "RedrivePolicy": redrive, "MessageRetentionPeriod": "1209600"},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=SMS_TOKEN_PARAMETER, Value=sms_token, Type="SecureString"
    )
    return url, arn, dlq_url


@contextlib.contextmanager
def fake_aws_environment() -> Iterator[None]:
    """Fake credentials and region for the run, so nothing can reach real AWS (moto answers everything)."""
    saved = {name: os.environ.get(name) for name in [*FAKE_CREDENTIALS, "AWS_PROFILE"]}
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def fast_moto_sqs() -> Iterator[None]:
    """moto's SQS is O(queue length) per message sent or received: it computes every queue attribute
    (approximate counts included) to read one, and reads the clock through datetime arithmetic for each
    message it scans. Two shims with the same answers: read the one attribute, and read the (simulated)
    clock with time.time(). A 1,000-notification soak went from ~40 s to ~15 s of wall time."""
    import moto.sqs.models as sqs_models

    def unix_time(dt: Any = None) -> float:
        return original_unix_time(dt) if dt is not None else time.time()

    def unix_time_millis(dt: Any = None) -> float:
        return original_unix_time_millis(dt) if dt is not None else time.time() * 1000.0

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return bool(int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time())

    original_unix_time, original_unix_time_millis = sqs_models.unix_time, sqs_models.unix_time_millis
    original_retained = sqs_models.SQSBackend.is_message_valid_based_on_retention_period
    sqs_models.unix_time, sqs_models.unix_time_millis = unix_time, unix_time_millis
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]
    try:
        yield
    finally:
        sqs_models.unix_time, sqs_models.unix_time_millis = original_unix_time, original_unix_time_millis
        sqs_models.SQSBackend.is_message_valid_based_on_retention_period = original_retained  # type: ignore[method-assign]


@contextlib.contextmanager
def atomic_moto_dynamodb() -> Iterator[None]:
    """DynamoDB applies a conditional write atomically; moto checks the condition and then writes, with no
    lock, so two threads' conditional PutItems on one key can both succeed (seen here: two copies of one
    notification both "won" the idempotency record). Serialise moto's item operations, as DynamoDB does."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ["put_item", "get_item", "update_item", "delete_item", "transact_write_items"]
    originals = {name: getattr(DynamoDBBackend, name) for name in names}

    def serialised(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, serialised(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)


@contextlib.contextmanager
def quiet_asyncio() -> Iterator[None]:
    """A killed invocation leaves tasks whose SandboxKilled nobody retrieves; asyncio would log each one."""
    log = logging.getLogger("asyncio")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def quiet(receiver: Receiver) -> Iterator[Receiver]:
    """A receiver that does not print a traceback when Herald hangs up on a slow answer (read timeout)."""
    receiver.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    with receiver:
        yield receiver


def run_soak(notifications: int, seed: int, **overrides: Any) -> SoakReport:
    """Drive ``notifications`` notifications through Herald under the faults above; see SoakReport."""
    return Soak(replace(SoakConfig(), notifications=notifications, seed=seed, **overrides)).run()


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("notifications", type=int, nargs="?", default=10_000)
    parser.add_argument("seed", type=int, nargs="?", default=1)
    parser.add_argument(
        "--throttle-success-saves",
        action="store_true",
        help="throttle the idempotency record's success save (UpdateItem) too: shows the duplicate window",
    )
    parser.add_argument("--prefix", default="soak", help="prefix of the printed figures")
    args = parser.parse_args(argv)
    operations = SoakConfig.dynamodb_throttle_operations
    if args.throttle_success_saves:
        operations = operations | {"UpdateItem"}
    from bench.__main__ import herald_logs_discarded

    with herald_logs_discarded():
        report = run_soak(args.notifications, args.seed, dynamodb_throttle_operations=operations)
    print(f"# soak: {args.notifications} notifications, seed {args.seed}, DynamoDB throttled: {sorted(operations)}")
    for name, value in report.lines(args.prefix):
        print(f"{name}: {value}", flush=True)
    for violation in report.violations:
        print(f"# VIOLATION {violation}")
    for trace in list(report.details.values())[:10]:
        print("# " + trace.replace("\n", "\n# "))


if __name__ == "__main__":
    main(sys.argv[1:])
