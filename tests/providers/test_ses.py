"""The SES email provider against moto's SESv2: what reaches SES, how SES failures map onto the
provider contract, and its configuration."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from delivery.aws import LazyClient
from delivery.contract import Notification, PermanentError, RateLimitedError, TransientError
from herald.local.receiver import Receiver, Reply
from providers import ses
from providers.ses import SesConfig, SesEmailProvider
from tests.support.providers import provider_context

REGION = "us-east-1"
SENDER = "no-reply@example.com"
RECIPIENT = "jane.doe@example.org"


def note(to: str = RECIPIENT, **fields: Any) -> Notification:
    return Notification(
        id="n-1",
        channel="email",
        to=to,
        subject=fields.pop("subject", "Your code"),
        body=fields.pop("body", "Your code is 123456"),
        **fields,
    )


def sent_messages(region: str = REGION) -> list[Any]:
    """What moto's SES recorded as sent (SESv2 shares the SES backend)."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


def captured_requests(provider: SesEmailProvider) -> list[dict[str, Any]]:
    """The SendEmail parameters of each send from now on, exactly as the provider handed them to boto3."""
    calls: list[dict[str, Any]] = []
    provider.client.get().meta.events.register(
        "before-parameter-build.sesv2.SendEmail", lambda params, **_: calls.append(copy.deepcopy(params))
    )
    return calls


@pytest.fixture
def aws() -> Iterator[None]:
    """Moto's AWS, with example.com verified as a sending domain in us-east-1."""
    with mock_aws():
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="example.com")
        yield


@pytest.fixture
def provider(aws: None) -> SesEmailProvider:
    return SesEmailProvider(SesConfig(from_address=SENDER))


# --- success -------------------------------------------------------------------------------------


def test_send_from_a_verified_sender_returns_the_message_id_ses_recorded(provider: SesEmailProvider) -> None:
    message_id = provider.send(note(subject="Your code", body="Your code is 123456"))

    [message] = sent_messages()
    assert message_id == message.id
    assert message.source == SENDER
    assert message.destinations == {"ToAddresses": [RECIPIENT]}
    assert message.subject == "Your code"
    assert message.body == "Your code is 123456"


def test_each_send_is_a_separate_ses_message(provider: SesEmailProvider) -> None:
    ids = [provider.send(note(to=f"user{i}@example.org")) for i in range(3)]

    assert [m.id for m in sent_messages()] == ids
    assert len(set(ids)) == 3
    assert [m.destinations["ToAddresses"] for m in sent_messages()] == [[f"user{i}@example.org"] for i in range(3)]


def test_text_only_notification_sends_one_utf8_text_part(provider: SesEmailProvider) -> None:
    requests = captured_requests(provider)

    provider.send(note(subject="Grüße ✓", body="héllo ✓"))

    [request] = requests
    assert request["FromEmailAddress"] == SENDER
    assert request["Destination"] == {"ToAddresses": [RECIPIENT]}
    assert request["Content"] == {
        "Simple": {
            "Subject": {"Data": "Grüße ✓", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "héllo ✓", "Charset": "UTF-8"}},
        }
    }


def test_html_is_sent_alongside_the_text_part(provider: SesEmailProvider) -> None:
    requests = captured_requests(provider)

    provider.send(note(body="plain version", html="<p>html version</p>"))

    [request] = requests
    assert request["Content"]["Simple"]["Body"] == {
        "Text": {"Data": "plain version", "Charset": "UTF-8"},
        "Html": {"Data": "<p>html version</p>", "Charset": "UTF-8"},
    }
    [message] = sent_messages()
    assert message.body == "<p>html version</p>"  # moto keeps the HTML part when there is one


@pytest.mark.parametrize(
    ("configuration_set", "expected"),
    [
        ("herald-events", {"ConfigurationSetName": "herald-events"}),
        (None, {}),
    ],
)
def test_configuration_set_is_named_only_when_configured(
    aws: None, configuration_set: str | None, expected: dict[str, str]
) -> None:
    provider = SesEmailProvider(SesConfig(from_address=SENDER, configuration_set=configuration_set))
    requests = captured_requests(provider)

    provider.send(note())

    [request] = requests
    assert {k: v for k, v in request.items() if k == "ConfigurationSetName"} == expected


def test_configured_region_is_where_the_email_is_sent(aws: None) -> None:
    boto3.client("sesv2", region_name="eu-west-1").create_email_identity(EmailIdentity="example.eu")
    provider = SesEmailProvider(SesConfig(from_address="no-reply@example.eu", region="eu-west-1"))

    message_id = provider.send(note())

    assert [m.id for m in sent_messages("eu-west-1")] == [message_id]
    assert sent_messages(REGION) == []


def test_no_client_is_made_before_the_first_send(aws: None) -> None:
    provider = ses.create(provider_context({"HERALD_SES_FROM_ADDRESS": SENDER}))

    assert provider.client._client is None
    provider.send(note())
    assert provider.client._client is not None


# --- failures from SES itself (moto) ---------------------------------------------------------------


def test_unverified_sender_is_permanent_message_rejected_without_the_recipient(aws: None) -> None:
    provider = SesEmailProvider(SesConfig(from_address="no-reply@unverified.example"))

    with pytest.raises(PermanentError, match="MessageRejected") as error:
        provider.send(note())

    assert RECIPIENT not in str(error.value)
    assert sent_messages() == []


def test_recipient_without_a_domain_is_permanent(provider: SesEmailProvider) -> None:
    with pytest.raises(PermanentError, match="InvalidParameterValue"):
        provider.send(note(to="jane.doe"))

    assert sent_messages() == []


# --- classification of every SES error code (stubbed client) --------------------------------------


@contextmanager
def stubbed_client(code: str, status: int = 400, message: str = "stubbed failure") -> Iterator[LazyClient]:
    """A real sesv2 client whose next SendEmail answers with this error; checks the call was made."""
    client = boto3.client("sesv2", region_name=REGION)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "send_email", service_error_code=code, service_message=message, http_status_code=status
        )
        yield LazyClient("sesv2", client=client)
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("LimitExceededException", 400),
    ],
)
def test_throttling_codes_are_rate_limited(code: str, status: int) -> None:
    with stubbed_client(code, status) as client, pytest.raises(RateLimitedError) as error:
        SesEmailProvider(SesConfig(from_address=SENDER), client=client).send(note())

    assert f"SES {code}" in str(error.value)
    assert error.value.retry_after is None


@pytest.mark.parametrize(
    "code",
    [
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "BadRequestException",
        "InvalidParameterValue",
    ],
)
def test_codes_that_can_never_succeed_are_permanent(code: str) -> None:
    with stubbed_client(code) as client, pytest.raises(PermanentError) as error:
        SesEmailProvider(SesConfig(from_address=SENDER), client=client).send(note())

    assert f"SES {code}" in str(error.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccountSuspendedException", 400),
        ("SendingPausedException", 400),
        ("NotFoundException", 404),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
        ("AccessDeniedException", 403),
        ("SomeCodeSesAddsNextYear", 400),
    ],
)
def test_codes_an_operator_or_time_can_fix_are_transient_but_not_rate_limited(code: str, status: int) -> None:
    with stubbed_client(code, status) as client, pytest.raises(TransientError) as error:
        SesEmailProvider(SesConfig(from_address=SENDER), client=client).send(note())

    assert not isinstance(error.value, RateLimitedError)
    assert f"SES {code}" in str(error.value)


def test_sandbox_rejection_does_not_carry_the_recipient_whole() -> None:
    # The message real SES returns in the sandbox when the recipient is not verified.
    with (
        stubbed_client(
            "MessageRejected",
            message=f"Email address is not verified. The following identities failed the check in region US-EAST-1: "
            f"{RECIPIENT}",
        ) as client,
        pytest.raises(PermanentError) as error,
    ):
        SesEmailProvider(SesConfig(from_address=SENDER), client=client).send(note())

    assert RECIPIENT not in str(error.value)
    assert "failed the check in region US-EAST-1: j***@example.org" in str(error.value)


# --- transport failures (a real client pointed at 127.0.0.1) --------------------------------------


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_at(endpoint_url: str, read_timeout: float = 5.0) -> LazyClient:
    """A sesv2 client for a loopback endpoint: short timeouts, one attempt (no in-call retries)."""
    config = Config(
        connect_timeout=1.0, read_timeout=read_timeout, retries={"mode": "standard", "total_max_attempts": 1}
    )
    return LazyClient(
        "sesv2", client=boto3.client("sesv2", region_name=REGION, endpoint_url=endpoint_url, config=config)
    )


def test_connection_refused_is_transient() -> None:
    provider = SesEmailProvider(SesConfig(from_address=SENDER), client=client_at(f"http://127.0.0.1:{unused_port()}"))

    with pytest.raises(TransientError, match="SES call failed: EndpointConnectionError") as error:
        provider.send(note())

    assert not isinstance(error.value, RateLimitedError)


def test_read_timeout_is_transient(receiver: Receiver) -> None:
    receiver.reply(Reply(delay=1.0))
    provider = SesEmailProvider(SesConfig(from_address=SENDER), client=client_at(receiver.url, read_timeout=0.2))

    with pytest.raises(TransientError, match="SES call failed: ReadTimeoutError") as error:
        provider.send(note())

    assert not isinstance(error.value, RateLimitedError)
    assert [r.path for r in receiver.requests] == ["/v2/email/outbound-emails"]


def test_the_providers_own_client_makes_at_most_three_attempts(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.route(
        "/v2/email/outbound-emails",
        Reply(500, {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalFailure"}, body=b"{}"),
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", receiver.url)  # the default client, pointed at the receiver
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # no sleeping between tries
    provider = SesEmailProvider(SesConfig(from_address=SENDER))

    with pytest.raises(TransientError, match="SES InternalFailure"):
        provider.send(note())

    assert len(receiver.requests) == 3


# --- configuration from the environment ------------------------------------------------------------


def test_missing_from_address_is_a_problem_naming_the_variable() -> None:
    context = provider_context({})

    ses.create(context)

    [problem] = context.env.problems
    assert problem.startswith("HERALD_SES_FROM_ADDRESS is not set")


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"HERALD_SES_FROM_ADDRESS": SENDER}, SesConfig(from_address=SENDER)),
        (
            {
                "HERALD_SES_FROM_ADDRESS": f" {SENDER} ",
                "HERALD_SES_CONFIGURATION_SET": "herald-events",
                "HERALD_SES_REGION": "eu-west-1",
            },
            SesConfig(from_address=SENDER, configuration_set="herald-events", region="eu-west-1"),
        ),
        (
            {"HERALD_SES_FROM_ADDRESS": SENDER, "HERALD_SES_CONFIGURATION_SET": "", "HERALD_SES_REGION": " "},
            SesConfig(from_address=SENDER),
        ),
    ],
)
def test_config_is_parsed_from_the_environment(variables: dict[str, str], expected: SesConfig) -> None:
    context = provider_context(variables)

    provider = ses.create(context)

    assert provider.config == expected
    assert context.env.problems == []
