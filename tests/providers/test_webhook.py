"""The webhook provider over real HTTP to a receiver on 127.0.0.1: payload, status classification,
Retry-After, redirects, timeouts, connection reuse, the SSRF refusals and its configuration."""

from __future__ import annotations

import base64
import json
import socket
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from standardwebhooks import Webhook, WebhookVerificationError

from delivery.contract import Notification, PermanentError, RateLimitedError, TransientError
from delivery.secrets import SecretStore
from herald.local.receiver import Receiver, Reply
from providers import webhook
from providers.webhook import WebhookConfig, WebhookProvider, parse_retry_after
from tests.providers.conftest import Resolver
from tests.support.providers import provider_context
from tests.support.secrets import counted_ssm_secret

SECRET_PATH = "/hooks/t/s3cr3t-token"


def note(to: str, notification_id: str = "n-1", **fields: Any) -> Notification:
    return Notification(id=notification_id, channel="webhook", to=to, body=fields.pop("body", "hi"), **fields)


class RecordingSession(requests.Session):
    """A Session that never touches the network: records each request and answers with a canned response."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.status = status
        self.reply_headers = headers or {}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.calls.append((str(method), str(url)))
        response = requests.Response()
        response.status_code = self.status
        response.headers.update(self.reply_headers)
        response._content = b""
        response.url = str(url)
        return response


def make_provider(**config: Any) -> WebhookProvider:
    return WebhookProvider(
        WebhookConfig(**{"connect_timeout": 1.0, "read_timeout": 2.0, "allow_private": True, **config})
    )


@pytest.fixture
def provider() -> Iterator[WebhookProvider]:
    """A provider allowed to post to the plain-http receiver on 127.0.0.1, with short timeouts."""
    made = make_provider()
    yield made
    made.session.close()


@pytest.fixture
def strict_session() -> RecordingSession:
    return RecordingSession(200, {"X-Request-Id": "req-public"})


@pytest.fixture
def strict_provider(strict_session: RecordingSession) -> WebhookProvider:
    """A provider with the production default (allow_private=False) whose Session never reaches the network."""
    return WebhookProvider(WebhookConfig(), session=strict_session)


# --- success -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_is_success_and_returns_a_message_id(provider: WebhookProvider, receiver: Receiver, status: int) -> None:
    receiver.reply(Reply(status, body=b""))

    message_id = provider.send(note(f"{receiver.url}/h"))

    assert isinstance(message_id, str)
    assert message_id
    assert len(receiver.requests) == 1


def test_x_request_id_header_is_the_message_id(provider: WebhookProvider, receiver: Receiver) -> None:
    receiver.reply(Reply(202, {"X-Request-Id": "req-7f3a"}))

    assert provider.send(note(f"{receiver.url}/h")) == "req-7f3a"


# --- the request -----------------------------------------------------------------------------------


def test_post_carries_the_notification_as_json(provider: WebhookProvider, receiver: Receiver) -> None:
    metadata = {"order": 42, "tags": ["a", "b"], "nested": {"ok": True}}
    provider.send(
        note(f"{receiver.url}/hooks/orders", "n-42", body='héllo ✓ "quoted"\n', critical=True, metadata=metadata)
    )

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/orders"
    payload = json.loads(request.body)
    assert payload["type"] == "notification"
    assert payload["data"] == {
        "id": "n-42",
        "subject": None,
        "body": 'héllo ✓ "quoted"\n',
        "critical": True,
        "metadata": metadata,
    }
    assert set(payload) == {"type", "timestamp", "data"}


def test_post_has_json_content_type_and_standard_webhook_headers(provider: WebhookProvider, receiver: Receiver) -> None:
    before = time.time()
    provider.send(note(f"{receiver.url}/h", "n-9"))
    after = time.time()

    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "n-9"
    stamp = request.headers["webhook-timestamp"]
    assert stamp.isdigit()
    assert int(before) <= int(stamp) <= after


def test_payload_timestamp_is_utc_iso_and_matches_the_webhook_timestamp_header(
    provider: WebhookProvider, receiver: Receiver
) -> None:
    provider.send(note(f"{receiver.url}/h"))

    [request] = receiver.requests
    timestamp = json.loads(request.body)["timestamp"]
    assert timestamp.endswith("Z")
    parsed = datetime.fromisoformat(timestamp.removesuffix("Z") + "+00:00")
    assert parsed.timestamp() == int(request.headers["webhook-timestamp"])


# --- status classification -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_client_error_is_permanent_and_names_status_and_masked_target(
    provider: WebhookProvider, receiver: Receiver, status: int
) -> None:
    receiver.reply(Reply(status))

    with pytest.raises(PermanentError) as error:
        provider.send(note(f"{receiver.url}{SECRET_PATH}"))

    message = str(error.value)
    assert f"HTTP {status}" in message
    assert f"{receiver.url}/***" in message
    assert "s3cr3t" not in message


@pytest.mark.parametrize("status", [408, 425, 500, 502, 503, 504])
def test_retryable_status_is_transient_but_not_rate_limited(
    provider: WebhookProvider, receiver: Receiver, status: int
) -> None:
    receiver.reply(Reply(status))

    with pytest.raises(TransientError) as error:
        provider.send(note(f"{receiver.url}{SECRET_PATH}"))

    assert not isinstance(error.value, RateLimitedError)
    assert f"HTTP {status}" in str(error.value)
    assert "s3cr3t" not in str(error.value)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "120"}, 120),
        (429, {}, None),
        (503, {"Retry-After": "30"}, 30),
        (429, {"Retry-After": "soon"}, None),
    ],
)
def test_throttling_is_rate_limited_with_the_retry_after_seconds(
    provider: WebhookProvider, receiver: Receiver, status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    receiver.reply(Reply(status, headers))

    with pytest.raises(RateLimitedError) as error:
        provider.send(note(f"{receiver.url}/h"))

    assert error.value.retry_after == retry_after


def test_retry_after_http_date_is_converted_to_seconds_from_now(provider: WebhookProvider, receiver: Receiver) -> None:
    before = time.time()
    receiver.reply(Reply(429, {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)}))

    with pytest.raises(RateLimitedError) as error:
        provider.send(note(f"{receiver.url}/h"))

    elapsed = time.time() - before
    assert error.value.retry_after is not None
    # The HTTP-date drops sub-second precision (up to 1 s less) and the send itself takes `elapsed`.
    assert 60 - 1 - elapsed - 0.5 <= error.value.retry_after <= 60 + 0.5


@pytest.mark.parametrize("value", ["garbage", "soon", "1.5", "-5", "", "   ", "Wed, 99 Foo 2020 99:99:99 GMT", None])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 45 ", 45.0),
        ("Sun, 09 Sep 2001 01:47:40 GMT", 60.0),  # 1_000_000_060
        ("Sun, 09 Sep 2001 01:45:40 GMT", 0.0),  # in the past: retry now, never negative
    ],
)
def test_retry_after_seconds_and_dates_relative_to_now(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=1_000_000_000) == expected


def test_retry_after_with_a_superscript_digit_is_unreadable_not_a_crash(
    provider: WebhookProvider, receiver: Receiver
) -> None:
    receiver.reply(Reply(429, {"Retry-After": "\xb2"}))

    with pytest.raises(RateLimitedError) as error:
        provider.send(note(f"{receiver.url}/h"))

    assert error.value.retry_after is None


# --- redirects -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_permanent_and_not_followed(provider: WebhookProvider, receiver: Receiver, status: int) -> None:
    receiver.reply(Reply(status, {"Location": f"{receiver.url}/elsewhere"}))

    with pytest.raises(PermanentError, match="redirects are not followed") as error:
        provider.send(note(f"{receiver.url}{SECRET_PATH}"))

    assert [r.path for r in receiver.requests] == [SECRET_PATH]
    assert f"HTTP {status}" in str(error.value)


# --- transport failures ----------------------------------------------------------------------------


def test_read_timeout_is_transient(receiver: Receiver) -> None:
    provider = make_provider(read_timeout=0.2)
    receiver.reply(Reply(delay=1.0))

    with pytest.raises(TransientError, match=r"read timeout after 0\.2s") as error:
        provider.send(note(f"{receiver.url}{SECRET_PATH}"))

    assert not isinstance(error.value, RateLimitedError)
    assert "s3cr3t" not in str(error.value)
    provider.session.close()


def test_an_answer_trickling_past_the_call_limit_is_transient(receiver: Receiver) -> None:
    # Each byte comes well within the read timeout; the whole answer would take 3 s, over the 0.6 s limit.
    provider = make_provider(connect_timeout=0.1, read_timeout=0.5)
    receiver.reply(Reply(body=b"x" * 30, trickle=0.1))

    with pytest.raises(
        TransientError, match=r"no whole answer within 0\.6s posting to http://127\.0\.0\.1:\d+/\*\*\*$"
    ):
        provider.send(note(f"{receiver.url}{SECRET_PATH}"))

    provider.session.close()


def test_a_slow_but_whole_answer_within_the_call_limit_is_delivered(receiver: Receiver) -> None:
    provider = make_provider(connect_timeout=0.5, read_timeout=2.0)
    receiver.reply(Reply(body=b"x" * 3, trickle=0.1))

    assert provider.send(note(f"{receiver.url}{SECRET_PATH}"))
    provider.session.close()


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_transient(provider: WebhookProvider) -> None:
    port = unused_port()

    with pytest.raises(TransientError, match="could not connect") as error:
        provider.send(note(f"http://127.0.0.1:{port}{SECRET_PATH}"))

    assert f"http://127.0.0.1:{port}/***" in str(error.value)
    assert "s3cr3t" not in str(error.value)


def test_transport_error_traceback_does_not_carry_the_unmasked_url(provider: WebhookProvider) -> None:
    with pytest.raises(TransientError) as error:
        provider.send(note(f"http://127.0.0.1:{unused_port()}{SECRET_PATH}"))

    printed = "".join(traceback.format_exception(error.value))
    assert "could not connect" in printed
    assert "s3cr3t" not in printed


# --- connection reuse ------------------------------------------------------------------------------


def test_sends_to_one_receiver_reuse_one_connection(provider: WebhookProvider, receiver: Receiver) -> None:
    for i in range(20):
        provider.send(note(f"{receiver.url}/h", f"n-{i}"))

    assert len(receiver.requests) == 20
    assert receiver.connections == 1


def test_connection_is_reused_after_an_error_status(provider: WebhookProvider, receiver: Receiver) -> None:
    receiver.reply(Reply(503, body=b"busy"), Reply(410, body=b"gone"))
    for expected in (TransientError, PermanentError):
        with pytest.raises(expected):
            provider.send(note(f"{receiver.url}/h"))
    provider.send(note(f"{receiver.url}/h"))

    assert len(receiver.requests) == 3
    assert receiver.connections == 1


# --- SSRF refusals (allow_private=False) -----------------------------------------------------------


def test_plain_http_is_refused_before_connecting(receiver: Receiver) -> None:
    provider = WebhookProvider(WebhookConfig())

    with pytest.raises(PermanentError, match="is not https") as error:
        provider.send(note(f"{receiver.url}{SECRET_PATH}"))

    assert "s3cr3t" not in str(error.value)
    assert receiver.requests == []
    assert receiver.connections == 0
    provider.session.close()


def test_plain_http_to_a_public_host_is_refused_without_network_io(
    strict_provider: WebhookProvider, strict_session: RecordingSession
) -> None:
    with pytest.raises(PermanentError, match="is not https"):
        strict_provider.send(note("http://hooks.example.com/h"))

    assert strict_session.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://127.0.0.1:8443/x",
        "https://10.0.0.1/x",
        "https://192.168.1.20/x",
        "https://172.16.0.1/x",
        "https://169.254.169.254/latest",
        "https://0.0.0.0/x",
        "https://localhost/x",
        "https://LOCALHOST./x",
        "https://foo.localhost/x",
        "https://[::1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://[fe80::1]/x",
        "https://[fd00::1]/x",
        "https://user:pw@10.0.0.1/x",
    ],
)
def test_private_or_loopback_target_is_refused_without_network_io(
    strict_provider: WebhookProvider, strict_session: RecordingSession, url: str
) -> None:
    with pytest.raises(PermanentError, match="private or loopback") as error:
        strict_provider.send(note(url))

    assert strict_session.calls == []
    assert "/x" not in str(error.value)
    assert "/latest" not in str(error.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/x",  # 127.0.0.1
        "https://127.1/x",
        "https://0x7f000001/x",
        "https://0177.0.0.1/x",
        "https://167772161/x",  # 10.0.0.1
        "https://0/x",  # 0.0.0.0
    ],
)
def test_numeric_ipv4_spellings_of_private_addresses_are_refused(
    strict_provider: WebhookProvider, strict_session: RecordingSession, url: str
) -> None:
    with pytest.raises(PermanentError, match="private or loopback"):
        strict_provider.send(note(url))

    assert strict_session.calls == []


def test_public_https_hostname_passes_the_check(
    strict_provider: WebhookProvider, strict_session: RecordingSession, resolve: Resolver
) -> None:
    url = "https://hooks.example.com/t/abc"
    resolve.add("hooks.example.com", ["93.184.216.34"])

    assert strict_provider.send(note(url)) == "req-public"

    assert strict_session.calls == [("POST", url)]


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "https://10.0.0.1/x", "https://localhost/x"])
def test_allow_private_lets_plain_http_and_private_targets_through(url: str) -> None:
    session = RecordingSession(204)
    provider = WebhookProvider(WebhookConfig(allow_private=True), session=session)

    provider.send(note(url))

    assert session.calls == [("POST", url)]


# --- configuration from the environment ------------------------------------------------------------


def test_config_defaults_when_nothing_is_set() -> None:
    context = provider_context({})

    provider = webhook.create(context)

    assert provider.config == WebhookConfig(connect_timeout=3.05, read_timeout=10.0, allow_private=False)
    assert context.env.problems == []
    provider.session.close()


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"HERALD_WEBHOOK_CONNECT_TIMEOUT": "1.5", "HERALD_WEBHOOK_READ_TIMEOUT": "30"},
            WebhookConfig(connect_timeout=1.5, read_timeout=30.0, allow_private=False),
        ),
        ({"HERALD_WEBHOOK_ALLOW_PRIVATE": "true"}, WebhookConfig(allow_private=True)),
        ({"HERALD_WEBHOOK_ALLOW_PRIVATE": "1"}, WebhookConfig(allow_private=True)),
        ({"HERALD_WEBHOOK_ALLOW_PRIVATE": "no"}, WebhookConfig(allow_private=False)),
        ({"HERALD_WEBHOOK_READ_TIMEOUT": " 0.1 "}, WebhookConfig(read_timeout=0.1)),
    ],
)
def test_config_is_parsed_from_the_environment(variables: dict[str, str], expected: WebhookConfig) -> None:
    context = provider_context(variables)

    provider = webhook.create(context)

    assert provider.config == expected
    assert context.env.problems == []
    provider.session.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HERALD_WEBHOOK_CONNECT_TIMEOUT", "fast"),
        ("HERALD_WEBHOOK_CONNECT_TIMEOUT", "-1"),
        ("HERALD_WEBHOOK_CONNECT_TIMEOUT", "0"),
        ("HERALD_WEBHOOK_CONNECT_TIMEOUT", "61"),
        ("HERALD_WEBHOOK_READ_TIMEOUT", "fast"),
        ("HERALD_WEBHOOK_READ_TIMEOUT", "-1"),
        ("HERALD_WEBHOOK_READ_TIMEOUT", "301"),
        ("HERALD_WEBHOOK_READ_TIMEOUT", "inf"),
        ("HERALD_WEBHOOK_ALLOW_PRIVATE", "maybe"),
    ],
)
def test_bad_config_value_is_a_problem_naming_the_variable(name: str, value: str) -> None:
    context = provider_context({name: value})

    webhook.create(context).session.close()

    [problem] = context.env.problems
    assert problem.startswith(f"{name}=")
    assert value in problem


@pytest.mark.parametrize("name", ["HERALD_WEBHOOK_CONNECT_TIMEOUT", "HERALD_WEBHOOK_READ_TIMEOUT"])
def test_nan_timeout_is_a_problem_naming_the_variable(name: str) -> None:
    context = provider_context({name: "nan"})

    webhook.create(context).session.close()

    [problem] = context.env.problems
    assert problem.startswith(f"{name}=")


def test_read_timeout_from_the_environment_is_applied(receiver: Receiver) -> None:
    provider = webhook.create(
        provider_context({"HERALD_WEBHOOK_READ_TIMEOUT": "0.2", "HERALD_WEBHOOK_ALLOW_PRIVATE": "true"})
    )
    receiver.reply(Reply(delay=1.0))

    with pytest.raises(TransientError, match=r"read timeout after 0\.2s"):
        provider.send(note(f"{receiver.url}/h"))

    provider.session.close()


# --- SSRF: names that resolve to private addresses, and DNS rebinding -------------------------------


def test_hostname_resolving_to_a_private_address_is_refused_before_connecting(
    strict_provider: WebhookProvider, strict_session: RecordingSession, resolve: Resolver
) -> None:
    resolve.add("internal.example.test", ["93.184.216.34", "10.0.0.7"])

    with pytest.raises(PermanentError, match=r"private or loopback address \(internal.example.test resolves to 10"):
        strict_provider.send(note("https://internal.example.test/hook"))

    assert strict_session.calls == []


def test_connected_peer_is_checked_too_so_dns_rebinding_cannot_reach_a_private_address(
    receiver: Receiver, resolve: Resolver
) -> None:
    # First lookup (Herald's check) says public; the connection's own lookup says loopback.
    resolve.add("rebind.example.test", ["93.184.216.34"], ["127.0.0.1"])
    provider = WebhookProvider(WebhookConfig(connect_timeout=1, read_timeout=1))
    port = receiver.server.server_address[1]

    with pytest.raises(PermanentError, match="private or loopback address"):
        provider.send(note(f"https://rebind.example.test:{port}/hook"))

    assert resolve.lookups == ["rebind.example.test", "rebind.example.test"]
    assert receiver.requests == []


def test_unresolvable_hostname_is_transient(strict_provider: WebhookProvider, resolve: Resolver) -> None:
    with pytest.raises(TransientError, match=r"cannot resolve webhook target https://nowhere\.example\.test/"):
        strict_provider.send(note("https://nowhere.example.test/hook"))


# --- Standard Webhooks signatures -------------------------------------------------------------------

SIGNING_SECRET = "whsec_" + base64.b64encode(b"herald-test-signing-key-32-bytes").decode()


@pytest.fixture
def ssm_secret() -> Iterator[tuple[SecretStore, list[str]]]:
    """A SecureString in moto's SSM, and a secret store that counts its GetParameter calls."""
    with counted_ssm_secret("/herald/webhook-secret", SIGNING_SECRET) as found:
        yield found


def signed_provider(store: SecretStore) -> WebhookProvider:
    config = WebhookConfig(allow_private=True, signing_secret="ssm:/herald/webhook-secret")
    return WebhookProvider(config, secrets=store)


def test_signature_verifies_with_a_standard_webhooks_receiver(
    receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]
) -> None:
    store, _ = ssm_secret

    signed_provider(store).send(note(f"{receiver.url}/hook"))

    [request] = receiver.requests
    payload = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    assert payload["data"]["id"] == "n-1"
    assert request.headers["webhook-signature"].startswith("v1,")


def test_a_tampered_body_fails_verification(receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]) -> None:
    store, _ = ssm_secret

    signed_provider(store).send(note(f"{receiver.url}/hook"))

    [request] = receiver.requests
    tampered = request.body.replace(b'"body":"hi"', b'"body":"pay attacker"')
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        Webhook(SIGNING_SECRET).verify(tampered, request.headers)


def test_signing_secret_is_fetched_once_across_many_sends(
    receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]
) -> None:
    store, calls = ssm_secret
    provider = signed_provider(store)

    for i in range(25):
        provider.send(note(f"{receiver.url}/hook", notification_id=f"n-{i}"))

    assert calls == ["GetParameter"]
    assert len(receiver.requests) == 25


def test_unreadable_signing_secret_is_transient_and_never_sends_unsigned(receiver: Receiver) -> None:
    with mock_aws():
        provider = signed_provider(SecretStore(client_factory=boto3.client))

        with pytest.raises(TransientError, match="cannot sign webhooks: secret ssm:/herald/webhook-secret"):
            provider.send(note(f"{receiver.url}/hook"))

    assert receiver.requests == []


def test_signing_secret_must_be_a_secret_reference() -> None:
    context = provider_context({"HERALD_WEBHOOK_SIGNING_SECRET": "whsec_plaintext-in-env"})

    webhook.create(context)

    [problem] = context.env.problems
    assert problem.startswith("HERALD_WEBHOOK_SIGNING_SECRET must name the secret, as ssm:<parameter name>")
    assert "whsec_plaintext" not in problem, "a secret pasted into the variable must not be echoed"
