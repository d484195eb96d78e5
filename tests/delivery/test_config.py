"""Configuration is read once, typed, and refuses what SQS cannot honour, naming each variable."""

from __future__ import annotations

import pytest

from delivery.app import build_deliverer
from delivery.config import ConfigError, EnvReader, Settings

DLQ = {"HERALD_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/herald-dlq"}


def settings(**env: str) -> Settings:
    return Settings.from_env(EnvReader({**DLQ, **env}))


def test_defaults_are_48_attempts_five_minutes_apart_ten_at_a_time() -> None:
    result = settings()

    assert (result.max_attempts, result.retry_delay_seconds, result.concurrency) == (48, 300, 10)
    assert result.route("webhook") == ("webhook",)
    assert result.route("email") == ()
    assert result.statsd.host is None


def test_values_are_read_from_the_environment() -> None:
    result = settings(
        HERALD_MAX_ATTEMPTS="5",
        HERALD_RETRY_DELAY_SECONDS="60",
        HERALD_RETRY_SCHEDULE="60,300,1800",
        HERALD_RETRY_JITTER="0.2",
        HERALD_CONCURRENCY="4",
        HERALD_SMS_PROVIDER="local",
        HERALD_EXTRA_PROVIDERS="local, webhook",
        STATSD_HOST="127.0.0.1",
        STATSD_PORT="9125",
        STATSD_PREFIX="herald.prod",
    )

    assert result.max_attempts == 5
    assert result.retry_schedule == (60, 300, 1800)
    assert result.retry_jitter == 0.2
    assert result.route("sms") == ("local",)
    assert result.enabled_providers == ("local", "webhook")
    assert (result.statsd.host, result.statsd.port, result.statsd.prefix) == ("127.0.0.1", 9125, "herald.prod")


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"HERALD_RETRY_DELAY_SECONDS": "43201"}, "HERALD_RETRY_DELAY_SECONDS=43201 is out of range"),
        ({"HERALD_RETRY_DELAY_SECONDS": "5m"}, "HERALD_RETRY_DELAY_SECONDS='5m' is not a whole number"),
        ({"HERALD_MAX_ATTEMPTS": "0"}, "HERALD_MAX_ATTEMPTS=0 is out of range: use a whole number between 1 and 1000"),
        ({"HERALD_MAX_ATTEMPTS": "forty"}, "HERALD_MAX_ATTEMPTS='forty' is not a whole number: use a whole number"),
        (
            {"HERALD_MAX_ATTEMPTS": "48", "HERALD_RETRY_DELAY_SECONDS": "43200"},
            "HERALD_MAX_ATTEMPTS=48 with these retry delays keeps retrying for 23.5 days, longer than SQS keeps",
        ),
        (
            {"HERALD_MAX_ATTEMPTS": "34", "HERALD_RETRY_SCHEDULE": "60,300,1800,7200,43200"},
            "keeps retrying for 14.6 days",
        ),
        ({"HERALD_RETRY_SCHEDULE": "60,86400"}, "HERALD_RETRY_SCHEDULE=60,86400 has a value out of range"),
        ({"HERALD_RETRY_SCHEDULE": "1m,5m"}, "HERALD_RETRY_SCHEDULE='1m,5m' is not a comma-separated list"),
        ({"HERALD_RETRY_JITTER": "2"}, "HERALD_RETRY_JITTER=2 is out of range"),
        ({"HERALD_CONCURRENCY": "0"}, "HERALD_CONCURRENCY=0 is out of range"),
        ({"STATSD_PORT": "70000"}, "STATSD_PORT=70000 is out of range"),
        ({"HERALD_DLQ_URL": ""}, "HERALD_DLQ_URL is not set"),
    ],
)
def test_a_value_herald_cannot_honour_stops_start_up_naming_the_variable(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings(**env)

    assert problem in str(error.value)
    assert str(error.value).startswith("Herald cannot start; fix these environment variables:")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        build_deliverer(
            EnvReader({"HERALD_MAX_ATTEMPTS": "0", "HERALD_EMAIL_PROVIDER": "carrier-pigeon", "STATSD_PORT": "x"})
        )

    assert len(error.value.problems) == 4
    assert (
        "HERALD_EMAIL_PROVIDER='carrier-pigeon' is not a provider: choose from http_sms, local, ses, sns, webhook"
        in str(error.value)
    )


def test_provider_configuration_is_checked_at_start_up() -> None:
    with pytest.raises(ConfigError, match="HERALD_WEBHOOK_READ_TIMEOUT='soon' is not a number"):
        build_deliverer(EnvReader({**DLQ, "HERALD_WEBHOOK_READ_TIMEOUT": "soon"}))
