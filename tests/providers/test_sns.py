"""The SNS SMS provider against moto's SNS: what reaches SNS, how SNS failures map onto the provider
contract, and its configuration."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from delivery.aws import LazyClient
from delivery.contract import Notification, PermanentError, RateLimitedError, TransientError
from providers import sns
from providers.sns import SnsConfig, SnsSmsProvider
from tests.support.providers import provider_context

REGION = "us-east-1"
NUMBER = "+447700900123"
SMS_TYPE = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}


def note(to: str = NUMBER, body: str = "Your code is 123456") -> Notification:
    return Notification(id="n-1", channel="sms", to=to, body=body)


def sms_messages(region: str = REGION) -> dict[str, tuple[str, str]]:
    """What moto's SNS recorded as sent by SMS: message id -> (phone number, message)."""
    return dict(sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages)


def captured_requests(provider: SnsSmsProvider) -> list[dict[str, Any]]:
    """The Publish parameters of each send from now on, exactly as the provider handed them to boto3."""
    calls: list[dict[str, Any]] = []
    provider.client.get().meta.events.register(
        "before-parameter-build.sns.Publish", lambda params, **_: calls.append(copy.deepcopy(params))
    )
    return calls


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def provider(aws: None) -> SnsSmsProvider:
    return SnsSmsProvider(SnsConfig())


# --- success -------------------------------------------------------------------------------------


def test_valid_e164_number_returns_the_message_id_sns_recorded(provider: SnsSmsProvider) -> None:
    message_id = provider.send(note(body="Your code is 123456 ✓"))

    assert sms_messages() == {message_id: (NUMBER, "Your code is 123456 ✓")}


def test_each_send_is_a_separate_sms(provider: SnsSmsProvider) -> None:
    ids = [provider.send(note(to=f"+1555010000{i}", body=f"message {i}")) for i in range(3)]

    assert len(set(ids)) == 3
    assert sms_messages() == {ids[i]: (f"+1555010000{i}", f"message {i}") for i in range(3)}


def test_sms_is_published_to_the_number_as_transactional(provider: SnsSmsProvider) -> None:
    requests = captured_requests(provider)

    provider.send(note(body="hello"))

    assert requests == [{"PhoneNumber": NUMBER, "Message": "hello", "MessageAttributes": SMS_TYPE}]


@pytest.mark.parametrize(
    ("config", "extra_attributes"),
    [
        (SnsConfig(), {}),
        (
            SnsConfig(sender_id="HERALD"),
            {"AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "HERALD"}},
        ),
        (
            SnsConfig(origination_number="+15550100999"),
            {"AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+15550100999"}},
        ),
        (
            SnsConfig(sender_id="HERALD", origination_number="+15550100999"),
            {
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "HERALD"},
                "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+15550100999"},
            },
        ),
    ],
)
def test_sender_id_and_origination_number_are_sent_only_when_configured(
    aws: None, config: SnsConfig, extra_attributes: dict[str, Any]
) -> None:
    provider = SnsSmsProvider(config)
    requests = captured_requests(provider)

    provider.send(note())

    [request] = requests
    assert request["MessageAttributes"] == {**SMS_TYPE, **extra_attributes}


def test_configured_region_is_where_the_sms_is_sent(aws: None) -> None:
    provider = SnsSmsProvider(SnsConfig(region="eu-west-1"))

    message_id = provider.send(note())

    assert list(sms_messages("eu-west-1")) == [message_id]
    assert sms_messages(REGION) == {}


def test_no_client_is_made_before_the_first_send(aws: None) -> None:
    provider = sns.create(provider_context({}))

    assert provider.client._client is None
    provider.send(note())
    assert provider.client._client is not None


# --- failures from SNS itself (moto) ---------------------------------------------------------------


@pytest.mark.parametrize("number", ["07700900123", "+44 7700 900123", "+0447700900123", "not-a-number"])
def test_number_not_in_e164_is_permanent_without_the_number(provider: SnsSmsProvider, number: str) -> None:
    with pytest.raises(PermanentError, match="SNS InvalidParameter") as error:
        provider.send(note(to=number))

    assert number not in str(error.value)
    assert sms_messages() == {}


# --- classification of SNS error codes (stubbed client) --------------------------------------------


@contextmanager
def stubbed_client(code: str, status: int = 400, message: str = "stubbed failure") -> Iterator[LazyClient]:
    """A real sns client whose next Publish answers with this error; checks the call was made."""
    client = boto3.client("sns", region_name=REGION)
    with Stubber(client) as stubber:
        stubber.add_client_error("publish", service_error_code=code, service_message=message, http_status_code=status)
        yield LazyClient("sns", client=client)
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code", ["Throttled", "ThrottledException", "Throttling", "ThrottlingException", "KMSThrottling"]
)
def test_throttling_codes_are_rate_limited(code: str) -> None:
    with stubbed_client(code, 429) as client, pytest.raises(RateLimitedError) as error:
        SnsSmsProvider(SnsConfig(), client=client).send(note())

    assert f"SNS {code}" in str(error.value)
    assert error.value.retry_after is None


@pytest.mark.parametrize("code", ["InvalidParameter", "InvalidParameterValue"])
def test_invalid_parameter_codes_are_permanent(code: str) -> None:
    with stubbed_client(code) as client, pytest.raises(PermanentError, match=f"SNS {code}"):
        SnsSmsProvider(SnsConfig(), client=client).send(note())


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InternalError", 500),
        ("AuthorizationError", 403),
        ("SomeCodeSnsAddsNextYear", 400),
    ],
)
def test_other_codes_are_transient_but_not_rate_limited(code: str, status: int) -> None:
    with stubbed_client(code, status) as client, pytest.raises(TransientError) as error:
        SnsSmsProvider(SnsConfig(), client=client).send(note())

    assert not isinstance(error.value, RateLimitedError)
    assert f"SNS {code}" in str(error.value)


def test_invalid_number_rejection_does_not_carry_the_number_whole() -> None:
    # The message real SNS returns for a number it will not publish to.
    message = f"Invalid parameter: PhoneNumber Reason: {NUMBER} is not valid to publish to"
    with stubbed_client("InvalidParameter", message=message) as client, pytest.raises(PermanentError) as error:
        SnsSmsProvider(SnsConfig(), client=client).send(note())

    assert NUMBER not in str(error.value)
    assert "PhoneNumber Reason: +44******0123 is not valid" in str(error.value)


# --- transport failures ----------------------------------------------------------------------------


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_transient() -> None:
    config = Config(connect_timeout=1.0, retries={"mode": "standard", "total_max_attempts": 1})
    client = LazyClient(
        "sns",
        client=boto3.client("sns", region_name=REGION, endpoint_url=f"http://127.0.0.1:{unused_port()}", config=config),
    )

    with pytest.raises(TransientError, match="SNS call failed: EndpointConnectionError") as error:
        SnsSmsProvider(SnsConfig(), client=client).send(note())

    assert not isinstance(error.value, RateLimitedError)
    assert NUMBER not in str(error.value)


# --- configuration from the environment ------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, SnsConfig()),
        (
            {
                "HERALD_SNS_SENDER_ID": "HERALD",
                "HERALD_SNS_ORIGINATION_NUMBER": " +15550100999 ",
                "HERALD_SNS_REGION": "eu-west-1",
            },
            SnsConfig(sender_id="HERALD", origination_number="+15550100999", region="eu-west-1"),
        ),
        ({"HERALD_SNS_SENDER_ID": "", "HERALD_SNS_REGION": " "}, SnsConfig()),
    ],
)
def test_config_is_parsed_from_the_environment(variables: dict[str, str], expected: SnsConfig) -> None:
    context = provider_context(variables)

    provider = sns.create(context)

    assert provider.config == expected
    assert context.env.problems == []
