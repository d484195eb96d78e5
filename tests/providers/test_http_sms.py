"""The HTTP SMS API provider over real HTTP to a receiver on 127.0.0.1, its auth token read from moto's
SSM: the request, status classification, Retry-After, timeouts, connection reuse, the token's
handling and its configuration."""

from __future__ import annotations

import base64
import json
import socket
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto import mock_aws

from delivery.contract import Notification, PermanentError, RateLimitedError, TransientError
from delivery.secrets import SecretStore
from herald.local.receiver import Receiver, Reply
from providers import http_sms
from providers.http_sms import HttpSmsConfig, HttpSmsProvider
from tests.support.providers import provider_context
from tests.support.secrets import counted_ssm_secret

ACCOUNT = "AC0123456789"
TOKEN = "tok-9f8e7d6c5b4a39281706"
TOKEN_REF = "ssm:/herald/sms-token"
SENDER = "+15005550006"
NUMBER = "+447700900123"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
JSON = {"Content-Type": "application/json"}


def note(to: str = NUMBER, body: str = "Your code is 123456", notification_id: str = "n-1") -> Notification:
    return Notification(id=notification_id, channel="sms", to=to, body=body)


def json_reply(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {**JSON, **(headers or {})}, body=json.dumps(payload).encode())


CREATED = json_reply(201, {"sid": "SM123", "status": "queued"})


@pytest.fixture
def ssm_secret() -> Iterator[tuple[SecretStore, list[str]]]:
    """The token as a SecureString in moto's SSM, and a secret store that counts its SSM calls."""
    with counted_ssm_secret("/herald/sms-token", TOKEN) as found:
        yield found


def make_provider(base_url: str, store: SecretStore, **config: Any) -> HttpSmsProvider:
    settings = {
        "base_url": base_url,
        "account_id": ACCOUNT,
        "from_number": SENDER,
        "auth_token": TOKEN_REF,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        **config,
    }
    return HttpSmsProvider(HttpSmsConfig(**settings), secrets=store)


@pytest.fixture
def provider(receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]) -> Iterator[HttpSmsProvider]:
    """A provider for the receiver's API, with short timeouts; answers 201 {"sid": "SM123"} unless told."""
    receiver.route(MESSAGES_PATH, CREATED)
    made = make_provider(f"{receiver.url}/2010-04-01", ssm_secret[0])
    yield made
    made.session.close()


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- success and the request -----------------------------------------------------------------------


def test_201_returns_the_sid(provider: HttpSmsProvider, receiver: Receiver) -> None:
    assert provider.send(note()) == "SM123"

    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (json_reply(200, {"sid": "SM9"}), "SM9"),
        (json_reply(202, {"id": "msg-77"}), "msg-77"),
        (json_reply(201, {"status": "queued"}), "http-201"),
        (Reply(201, body=b"accepted"), "http-201"),
        (Reply(204, body=b""), "http-204"),
    ],
)
def test_2xx_is_success_and_returns_the_best_id_the_answer_has(
    provider: HttpSmsProvider, receiver: Receiver, reply: Reply, expected: str
) -> None:
    receiver.route(MESSAGES_PATH, reply)

    assert provider.send(note()) == expected


def test_request_is_a_form_post_of_to_from_and_body(provider: HttpSmsProvider, receiver: Receiver) -> None:
    provider.send(note(body='héllo ✓ & "quoted" +1'))

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode("ascii"), strict_parsing=True) == {
        "To": [NUMBER],
        "From": [SENDER],
        "Body": ['héllo ✓ & "quoted" +1'],
    }


def test_request_authenticates_with_account_id_and_token_as_basic_auth(
    provider: HttpSmsProvider, receiver: Receiver
) -> None:
    provider.send(note())

    [request] = receiver.requests
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{ACCOUNT}:{TOKEN}"


def test_trailing_slash_on_the_base_url_is_ignored(
    receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]
) -> None:
    receiver.route(MESSAGES_PATH, CREATED)
    provider = http_sms.create(
        provider_context(
            {
                "HERALD_HTTP_SMS_BASE_URL": f"{receiver.url}/2010-04-01/",
                "HERALD_HTTP_SMS_ACCOUNT_ID": ACCOUNT,
                "HERALD_HTTP_SMS_FROM": SENDER,
                "HERALD_HTTP_SMS_AUTH_TOKEN": TOKEN_REF,
            },
            ssm_secret[0],
        )
    )

    assert provider.send(note()) == "SM123"

    assert [r.path for r in receiver.requests] == [MESSAGES_PATH]
    provider.session.close()


# --- status classification -------------------------------------------------------------------------


def test_invalid_number_is_permanent_with_the_vendor_code_and_a_masked_number(
    provider: HttpSmsProvider, receiver: Receiver
) -> None:
    receiver.route(MESSAGES_PATH, json_reply(400, {"code": 21211, "message": f"Invalid 'To' Phone Number: {NUMBER}"}))

    with pytest.raises(PermanentError) as error:
        provider.send(note())

    message = str(error.value)
    assert "400" in message
    assert "code 21211" in message
    assert NUMBER not in message
    assert "+44******0123" in message


@pytest.mark.parametrize("reply", [Reply(400, body=b"bad request"), Reply(422, body=b""), Reply(410, body=b"gone")])
def test_other_client_errors_are_permanent(provider: HttpSmsProvider, receiver: Receiver, reply: Reply) -> None:
    receiver.route(MESSAGES_PATH, reply)

    with pytest.raises(PermanentError, match=f"answered {reply.status}"):
        provider.send(note())


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "30"}, 30),
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_429_is_rate_limited_with_the_retry_after_seconds(
    provider: HttpSmsProvider, receiver: Receiver, headers: dict[str, str], retry_after: float | None
) -> None:
    receiver.route(MESSAGES_PATH, json_reply(429, {"code": 20429, "message": "Too Many Requests"}, headers))

    with pytest.raises(RateLimitedError, match="answered 429") as error:
        provider.send(note())

    assert error.value.retry_after == retry_after


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_server_errors_are_transient_but_not_rate_limited(
    provider: HttpSmsProvider, receiver: Receiver, status: int
) -> None:
    receiver.route(MESSAGES_PATH, Reply(status, body=b"upstream trouble"))

    with pytest.raises(TransientError, match=f"answered {status}") as error:
        provider.send(note())

    assert not isinstance(error.value, RateLimitedError)


def test_503_with_retry_after_is_rate_limited(provider: HttpSmsProvider, receiver: Receiver) -> None:
    receiver.route(MESSAGES_PATH, Reply(503, {"Retry-After": "120"}, body=b"maintenance"))

    with pytest.raises(RateLimitedError, match="answered 503") as error:
        provider.send(note())

    assert error.value.retry_after == 120


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_not_found_are_transient_and_say_what_to_check(
    provider: HttpSmsProvider, receiver: Receiver, status: int
) -> None:
    receiver.route(MESSAGES_PATH, json_reply(status, {"code": 20003, "message": "Authenticate"}))

    with pytest.raises(TransientError) as error:
        provider.send(note())

    assert not isinstance(error.value, RateLimitedError)
    message = str(error.value)
    assert f"answered {status}" in message
    assert "check HERALD_HTTP_SMS_ACCOUNT_ID, the auth token and the base URL" in message


def test_redirect_is_not_followed_and_is_an_operator_fixable_transient(
    provider: HttpSmsProvider, receiver: Receiver
) -> None:
    receiver.route(MESSAGES_PATH, Reply(301, {"Location": f"{receiver.url}/elsewhere"}))

    with pytest.raises(TransientError, match=r"answered 301 .*check HERALD_HTTP_SMS_ACCOUNT_ID, the auth token and"):
        provider.send(note())

    assert [r.path for r in receiver.requests] == [MESSAGES_PATH]


# --- transport failures ----------------------------------------------------------------------------


def test_read_timeout_is_transient(receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]) -> None:
    receiver.route(MESSAGES_PATH, Reply(201, delay=1.0))
    provider = make_provider(f"{receiver.url}/2010-04-01", ssm_secret[0], read_timeout=0.2)

    with pytest.raises(TransientError, match="HTTP SMS API read timeout") as error:
        provider.send(note())

    assert not isinstance(error.value, RateLimitedError)
    provider.session.close()


def test_an_answer_trickling_past_the_call_limit_on_a_kept_alive_connection_is_transient(
    receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]
) -> None:
    # The first answer is quick; the second, on the same pooled connection, would take 3 s against a 0.6 s limit.
    receiver.route(MESSAGES_PATH, CREATED, Reply(201, body=b'{"sid": "SM124"}' + b" " * 14, trickle=0.1))
    provider = make_provider(f"{receiver.url}/2010-04-01", ssm_secret[0], connect_timeout=0.1, read_timeout=0.5)
    provider.send(note())

    with pytest.raises(TransientError, match=r"^HTTP SMS API: no whole answer within 0\.6s$"):
        provider.send(note())

    assert receiver.connections == 1
    provider.session.close()


def test_connection_refused_is_transient(ssm_secret: tuple[SecretStore, list[str]]) -> None:
    provider = make_provider(f"http://127.0.0.1:{unused_port()}/2010-04-01", ssm_secret[0])

    with pytest.raises(TransientError, match=r"HTTP SMS API unreachable \(ConnectionError\)") as error:
        provider.send(note())

    assert not isinstance(error.value, RateLimitedError)
    provider.session.close()


# --- the auth token --------------------------------------------------------------------------------


def test_token_is_fetched_once_across_many_sends(
    provider: HttpSmsProvider, receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]]
) -> None:
    _, calls = ssm_secret

    for i in range(20):
        provider.send(note(notification_id=f"n-{i}"))

    assert calls == ["GetParameter"]
    assert len(receiver.requests) == 20


@pytest.mark.parametrize(
    "reply",
    [
        json_reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
        json_reply(401, {"code": 20003, "message": "Authenticate"}),
        json_reply(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "5"}),
        Reply(500, body=b"oops"),
    ],
)
def test_token_never_appears_in_an_error_or_its_traceback(
    provider: HttpSmsProvider, receiver: Receiver, reply: Reply
) -> None:
    receiver.route(MESSAGES_PATH, reply)

    with pytest.raises(TransientError if reply.status != 400 else PermanentError) as error:
        provider.send(note())

    assert TOKEN not in str(error.value)
    assert TOKEN not in "".join(traceback.format_exception(error.value))


@pytest.mark.parametrize("failure", ["read timeout", "connection refused"])
def test_token_never_appears_in_a_transport_error_or_its_traceback(
    receiver: Receiver, ssm_secret: tuple[SecretStore, list[str]], failure: str
) -> None:
    receiver.route(MESSAGES_PATH, Reply(201, delay=1.0))
    base = f"{receiver.url}/2010-04-01" if failure == "read timeout" else f"http://127.0.0.1:{unused_port()}"
    provider = make_provider(base, ssm_secret[0], read_timeout=0.2)

    with pytest.raises(TransientError) as error:
        provider.send(note())

    printed = "".join(traceback.format_exception(error.value))
    assert "TransientError" in printed
    assert TOKEN not in printed
    provider.session.close()


def test_unreadable_token_is_transient_and_nothing_is_sent(receiver: Receiver) -> None:
    with mock_aws():  # no parameter was put: the read fails
        provider = make_provider(f"{receiver.url}/2010-04-01", SecretStore(client_factory=boto3.client))

        with pytest.raises(TransientError, match=f"HTTP SMS auth token unavailable: secret {TOKEN_REF}"):
            provider.send(note())

    assert receiver.requests == []
    assert receiver.connections == 0
    provider.session.close()


# --- connection reuse ------------------------------------------------------------------------------


def test_sends_reuse_one_connection(provider: HttpSmsProvider, receiver: Receiver) -> None:
    for i in range(20):
        provider.send(note(notification_id=f"n-{i}"))

    assert len(receiver.requests) == 20
    assert receiver.connections == 1


def test_connection_is_reused_after_error_statuses(provider: HttpSmsProvider, receiver: Receiver) -> None:
    receiver.route(
        MESSAGES_PATH,
        json_reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
        json_reply(429, {"code": 20429, "message": "Too Many Requests"}),
        Reply(503, body=b"busy"),
        CREATED,
    )
    for expected in (PermanentError, RateLimitedError, TransientError):
        with pytest.raises(expected):
            provider.send(note())

    assert provider.send(note()) == "SM123"
    assert len(receiver.requests) == 4
    assert receiver.connections == 1


# --- configuration from the environment ------------------------------------------------------------

FULL_ENV = {
    "HERALD_HTTP_SMS_BASE_URL": "https://sms.example.com/2010-04-01",
    "HERALD_HTTP_SMS_ACCOUNT_ID": ACCOUNT,
    "HERALD_HTTP_SMS_FROM": SENDER,
    "HERALD_HTTP_SMS_AUTH_TOKEN": TOKEN_REF,
}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            FULL_ENV,
            HttpSmsConfig(
                base_url="https://sms.example.com/2010-04-01",
                account_id=ACCOUNT,
                from_number=SENDER,
                auth_token=TOKEN_REF,
                connect_timeout=3.05,
                read_timeout=10.0,
            ),
        ),
        (
            {
                **FULL_ENV,
                "HERALD_HTTP_SMS_BASE_URL": " https://sms.example.com/2010-04-01/ ",
                "HERALD_HTTP_SMS_AUTH_TOKEN": "secretsmanager:herald/sms-token",
                "HERALD_HTTP_SMS_CONNECT_TIMEOUT": "1.5",
                "HERALD_HTTP_SMS_READ_TIMEOUT": "30",
            },
            HttpSmsConfig(
                base_url="https://sms.example.com/2010-04-01",
                account_id=ACCOUNT,
                from_number=SENDER,
                auth_token="secretsmanager:herald/sms-token",
                connect_timeout=1.5,
                read_timeout=30.0,
            ),
        ),
    ],
)
def test_config_is_parsed_from_the_environment(variables: dict[str, str], expected: HttpSmsConfig) -> None:
    context = provider_context(variables)

    provider = http_sms.create(context)

    assert provider.config == expected
    assert context.env.problems == []
    assert provider.url == f"https://sms.example.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    provider.session.close()


@pytest.mark.parametrize("name", list(FULL_ENV))
def test_missing_variable_is_a_problem_naming_it(name: str) -> None:
    context = provider_context({k: v for k, v in FULL_ENV.items() if k != name})

    http_sms.create(context).session.close()

    [problem] = context.env.problems
    assert problem.startswith(f"{name} is not set")


def test_every_missing_variable_is_reported_at_once() -> None:
    context = provider_context({})

    http_sms.create(context).session.close()

    assert sorted(problem.split(" ", 1)[0] for problem in context.env.problems) == sorted(FULL_ENV)


@pytest.mark.parametrize("value", [TOKEN, "Bearer:abc123secret", "sk_live_ssm:x"])
def test_plaintext_token_is_a_problem_that_does_not_echo_it(value: str) -> None:
    context = provider_context({**FULL_ENV, "HERALD_HTTP_SMS_AUTH_TOKEN": value})

    http_sms.create(context).session.close()

    [problem] = context.env.problems
    assert problem.startswith("HERALD_HTTP_SMS_AUTH_TOKEN must name the secret, as ssm:<parameter name>")
    assert value not in problem


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HERALD_HTTP_SMS_CONNECT_TIMEOUT", "fast"),
        ("HERALD_HTTP_SMS_CONNECT_TIMEOUT", "0"),
        ("HERALD_HTTP_SMS_CONNECT_TIMEOUT", "61"),
        ("HERALD_HTTP_SMS_READ_TIMEOUT", "-1"),
        ("HERALD_HTTP_SMS_READ_TIMEOUT", "301"),
        ("HERALD_HTTP_SMS_READ_TIMEOUT", "nan"),
    ],
)
def test_bad_timeout_is_a_problem_naming_the_variable(name: str, value: str) -> None:
    context = provider_context({**FULL_ENV, name: value})

    http_sms.create(context).session.close()

    [problem] = context.env.problems
    assert problem.startswith(f"{name}=")
