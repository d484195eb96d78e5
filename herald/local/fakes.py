"""Loopback servers that behave like the providers' far ends, so webhooks and HTTP SMS go over
real HTTP locally: a Standard Webhooks receiver that verifies Herald's signatures, and an HTTP
SMS API of the "Messages" shape. Each fails a configurable share of requests."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from standardwebhooks import Webhook, WebhookVerificationError

from herald.local.receiver import ReceivedRequest, Receiver, Reply

SMS_API_PATH = "/2010-04-01"
INVALID_NUMBER_SUFFIX = "0000"  # the fake SMS API refuses numbers ending in 0000, as a vendor refuses bad ones
OUTAGE_NUMBER_SUFFIX = "5555"  # ...and answers 503 for numbers ending in 5555, as in a carrier outage


@dataclass
class WebhookScenarios:
    """Paths with fixed behaviour, for demos: /gone answers 410, /down 503, /flaky 503 once per
    notification then 200. Anything else fails at ``failure_rate``."""

    secret: str
    failure_rate: float = 0.0
    seed: int = 7
    _seen_flaky: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._verifier = Webhook(self.secret)

    def __call__(self, request: ReceivedRequest) -> Reply:
        try:
            self._verifier.verify(request.body, request.headers)
        except WebhookVerificationError:
            return Reply(401, body=b"bad signature")
        path = request.path.split("?")[0]
        if path.endswith("/gone"):
            return Reply(410, body=b"gone")
        if path.endswith("/down"):
            return Reply(503, body=b"down")
        with self._lock:
            if path.endswith("/flaky") and request.headers.get("webhook-id") not in self._seen_flaky:
                self._seen_flaky.add(request.headers.get("webhook-id", ""))
                return Reply(503, body=b"flaky")
            failed = self._random.random() < self.failure_rate
        return Reply(503, body=b"random failure") if failed else Reply(200, body=b"ok")


@dataclass
class SmsApi:
    """201 with a sid; 400 (code 21211) for numbers ending in 0000; 503 for numbers ending in 5555
    and at ``failure_rate``."""

    failure_rate: float = 0.0
    seed: int = 11
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._sent = 0

    def __call__(self, request: ReceivedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("To", "").endswith(INVALID_NUMBER_SUFFIX):
            return _json(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
        if form.get("To", "").endswith(OUTAGE_NUMBER_SUFFIX):
            return _json(503, {"code": 30008, "message": "Carrier outage"})
        with self._lock:
            if self._random.random() < self.failure_rate:
                return _json(503, {"code": 20503, "message": "Service unavailable"})
            self._sent += 1
            return _json(201, {"sid": f"SMlocal{self._sent:06d}", "status": "queued"})


def _json(status: int, body: dict[str, object]) -> Reply:
    return Reply(status, {"Content-Type": "application/json"}, body=json.dumps(body).encode())


def start_fakes(secret: str, failure_rate: float) -> tuple[Receiver, Receiver]:
    """The webhook receiver and the SMS API, listening on free ports of 127.0.0.1."""
    return (
        Receiver(responder=WebhookScenarios(secret, failure_rate)).start(),
        Receiver(responder=SmsApi(failure_rate)).start(),
    )
