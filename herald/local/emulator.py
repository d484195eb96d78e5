"""Herald end to end on this machine: an embedded AWS endpoint (moto's server) with Herald's
stack created from template.yaml, loopback provider fakes, and pollers feeding the real handler."""

from __future__ import annotations

import base64
import importlib
import importlib.util
import logging
import os
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herald.local.fakes import SMS_API_PATH, start_fakes
from herald.local.poller import EventSourcePoller, Handler, LocalContext, Pollers
from herald.local.receiver import Receiver
from herald.local.stack import LocalStack, deploy

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src"
REGION = "us-east-1"
# Parameter names, not secrets: the values are random, made at each start.
SMS_TOKEN_PARAMETER = "/herald/local/http-sms-auth-token"  # noqa: S105
SIGNING_SECRET_PARAMETER = "/herald/local/webhook-signing-secret"  # noqa: S105
SES_IDENTITY = "example.com"
PREFIXES = ("SENT:", "RETRY:", "RETRY FAILED:", "PERMANENT FAILURE:", "INVALID MESSAGE:", "FAILOVER:")


class LocalRunError(Exception):
    """The local run cannot start; the message says what to do."""


@dataclass
class Options:
    port: int | None = None
    max_attempts: int = 3
    retry_delay_seconds: int = 2
    failure_rate: float = 0.0


class Tally(logging.Handler):
    """Counts Herald's outcome lines per provider, and shows each line compactly as it happens
    (in Lambda each is one JSON document)."""

    def __init__(self, echo: bool = True) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.echo = echo
        self.counts: Counter[tuple[str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        prefix = next((p for p in PREFIXES if message.startswith(p)), None)
        if prefix:
            self.counts[(str(getattr(record, "provider", None) or "-"), prefix.rstrip(":"))] += 1
        if self.echo:
            print(f"  +{time.monotonic() - self.started:5.1f}s  {record.levelname:<7} {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_port(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise LocalRunError(f"port {port} on 127.0.0.1 is taken: free it or choose another with --port") from None


class Emulator:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.server: Any = None
        self.webhooks: Receiver | None = None
        self.sms_api: Receiver | None = None
        self.stack: LocalStack | None = None
        self.pollers: Pollers | None = None

    def start(self) -> LocalStack:
        try:
            import boto3
            from moto.server import ThreadedMotoServer
        except ImportError as missing:
            raise LocalRunError(
                f"{missing.name} is not installed: run `make run` (it installs the pinned dependencies)"
            ) from None
        port = self.options.port or free_port()
        _check_port(port)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the endpoint's per-request access log
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - the embedded endpoint takes any credentials
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL=endpoint,
        )
        os.environ.pop("AWS_PROFILE", None)
        session = boto3.session.Session(region_name=REGION)
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.webhooks, self.sms_api = start_fakes(secret, self.options.failure_rate)
        ssm = session.client("ssm", endpoint_url=endpoint)
        ssm.put_parameter(Name=SIGNING_SECRET_PARAMETER, Value=secret, Type="SecureString")
        ssm.put_parameter(
            Name=SMS_TOKEN_PARAMETER, Value=base64.b64encode(os.urandom(18)).decode(), Type="SecureString"
        )
        session.client("sesv2", endpoint_url=endpoint).create_email_identity(EmailIdentity=SES_IDENTITY)
        self.stack = deploy(session, endpoint, self._parameters(), SOURCE)
        self.session = session
        return self.stack

    def _parameters(self) -> dict[str, str]:
        assert self.sms_api is not None
        return {
            "Environment": "local",
            "MaxAttempts": str(self.options.max_attempts),
            "RetryDelaySeconds": str(self.options.retry_delay_seconds),
            "SafetyNetMaxReceiveCount": str(self.options.max_attempts + 2),
            "EmailProvider": "ses",
            "SesFromAddress": f"herald@{SES_IDENTITY}",
            "SesIdentity": SES_IDENTITY,
            "SmsProvider": "http_sms",
            "SmsFallbackProvider": "sns",
            "HttpSmsBaseUrl": f"{self.sms_api.url}{SMS_API_PATH}",
            "HttpSmsAccountId": "AClocal",
            "HttpSmsFrom": "+15005550006",
            "HttpSmsAuthTokenParameter": SMS_TOKEN_PARAMETER,
            "WebhookSigningSecretParameter": SIGNING_SECRET_PARAMETER,
        }

    def load_handler(self) -> Handler:
        """A fresh execution environment: the real handler module imported anew with the function's
        environment, as at a Lambda cold start (its own deliverer, thread pool and idempotency config)."""
        assert self.stack is not None
        # The one local override: the provider fakes listen on loopback, which production refuses.
        deliver = self.stack.deliver
        return _cold_start(deliver.handler, {**deliver.environment, "HERALD_WEBHOOK_ALLOW_PRIVATE": "true"})

    def run_redrive(self) -> Any:
        """One scheduled run of the critical redrive: its real handler, cold, with its function's
        environment and timeout. Returns what the handler returns (the run's counts)."""
        assert self.stack is not None
        function = self.stack.redrive
        handler = _cold_start(function.handler, function.environment)
        return handler({}, LocalContext(function.name, function.timeout_seconds))

    def start_pollers(self) -> Pollers:
        """Up to MaximumConcurrency pollers, each with its own execution environment."""
        assert self.stack is not None
        stack, sqs = self.stack, self.session.client("sqs", endpoint_url=self.stack.endpoint)
        self.pollers = Pollers(
            lambda: EventSourcePoller(
                sqs,
                stack.event_source,
                self.load_handler(),
                stack.deliver.name,
                stack.deliver.timeout_seconds,
                fresh_handler=self.load_handler,
            ),
            stack.event_source.maximum_concurrency,
        ).start()
        return self.pollers

    def queue_depths(self) -> dict[str, int]:
        """Visible + in flight on the source queue, and visible on the dead-letter queue."""
        assert self.stack is not None
        sqs = self.session.client("sqs", endpoint_url=self.stack.endpoint)
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        source = sqs.get_queue_attributes(QueueUrl=self.stack.queue_url, AttributeNames=names)["Attributes"]
        dead = sqs.get_queue_attributes(QueueUrl=self.stack.dlq_url, AttributeNames=names[:1])["Attributes"]
        return {"queued": sum(int(source[n]) for n in names), "dead_letters": int(dead[names[0]])}

    def stop(self) -> None:
        if self.pollers is not None:
            self.pollers.stop()
        for fake in (self.webhooks, self.sms_api):
            if fake is not None:
                fake.stop()
        if self.server is not None:
            self.server.stop()


def _cold_start(handler_path: str, environment: dict[str, str]) -> Handler:
    """Import the handler's module anew (its module-level set-up runs again) with ``environment`` set.

    The variables stay set in this process, which hosts every local function: Herald's handlers read
    them only at import, and the functions' shared variables have the same values.
    """
    os.environ.update(environment)
    if str(SOURCE) not in sys.path:
        sys.path.insert(0, str(SOURCE))
    module_name, _, function_name = handler_path.rpartition(".")
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.loader is None:
        raise LocalRunError(f"the function's handler {handler_path} is not importable from {SOURCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, function_name)
    return handler
