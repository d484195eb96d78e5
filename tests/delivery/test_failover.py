"""Failover: a channel's fallback provider is tried in the same attempt when the primary fails transiently."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from delivery.app import build_deliverer
from delivery.config import ConfigError, EnvReader
from delivery.contract import PermanentError, RateLimitedError, TransientError
from tests.conftest import Herald, LogLines, Queues, make_herald
from tests.support.providers import ScriptedProvider
from tests.support.sqs import drain

SMS = {"id": "s-1", "channel": "sms", "to": "+447700900123", "body": "code 1234"}


@pytest.fixture
def primary() -> ScriptedProvider:
    return ScriptedProvider("primary")


@pytest.fixture
def backup() -> ScriptedProvider:
    return ScriptedProvider("backup")


@pytest.fixture
def herald(sqs: Any, queues: Queues, primary: ScriptedProvider, backup: ScriptedProvider) -> Herald:
    return make_herald(
        sqs,
        queues,
        {"primary": primary, "backup": backup},
        HERALD_SMS_PROVIDER="primary",
        HERALD_SMS_FALLBACK_PROVIDER="backup",
    )


def test_transient_primary_failure_is_sent_by_the_fallback_in_the_same_attempt(
    herald: Herald, primary: ScriptedProvider, backup: ScriptedProvider, logs: LogLines
) -> None:
    herald.send(SMS)
    primary.fail("s-1", TransientError("carrier timeout"))

    assert herald.run_batch() == {"batchItemFailures": []}

    assert [n.id for n in backup.sent] == ["s-1"]
    [failover] = logs.with_prefix("FAILOVER:")
    assert failover["message"] == (
        "FAILOVER: notification s-1 via primary failed with TransientError: carrier timeout; trying backup"
    )
    [sent] = logs.with_prefix("SENT:")
    assert sent["message"] == ("SENT: notification s-1 via backup after TransientError: carrier timeout (attempt 1/48)")


def test_both_failing_is_one_retry_naming_both_errors(
    herald: Herald, primary: ScriptedProvider, backup: ScriptedProvider, logs: LogLines
) -> None:
    message_id = herald.send(SMS)
    primary.fail("s-1", TransientError("503"))
    backup.fail("s-1", KeyError("bug"))

    assert herald.run_batch() == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    [retry] = logs.with_prefix("RETRY:")
    assert retry["message"] == (
        "RETRY: notification s-1 attempt 1/48 via primary failed with TransientError: 503; "
        "failover to backup failed with KeyError: 'bug'; next try in 300s"
    )
    assert "Traceback" in retry["exception"]


def test_permanent_failure_of_the_primary_does_not_fail_over(
    herald: Herald, primary: ScriptedProvider, backup: ScriptedProvider, sqs: Any, queues: Queues
) -> None:
    herald.send(SMS)
    primary.fail("s-1", PermanentError("not a mobile number"))

    herald.run_batch()

    assert backup.attempts == []
    [dead] = drain(sqs, queues.dlq_url)
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "permanent"


def test_permanent_refusal_by_the_fallback_after_a_transient_primary_is_retried(
    herald: Herald, primary: ScriptedProvider, backup: ScriptedProvider, sqs: Any, queues: Queues
) -> None:
    message_id = herald.send(SMS)
    primary.fail("s-1", TransientError("503"))
    backup.fail("s-1", PermanentError("sender id not registered"))

    assert herald.run_batch() == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    assert drain(sqs, queues.dlq_url) == []


def test_a_pinned_provider_is_the_only_one_tried(
    herald: Herald, primary: ScriptedProvider, backup: ScriptedProvider
) -> None:
    message_id = herald.send({**SMS, "provider": "primary"})
    primary.fail("s-1", TransientError("503"))

    assert herald.run_batch() == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    assert backup.attempts == []


def test_the_longest_retry_after_of_the_failed_providers_sets_the_delay(
    herald: Herald, primary: ScriptedProvider, backup: ScriptedProvider, clock: time_machine.Coordinates
) -> None:
    herald.send(SMS)
    primary.fail("s-1", RateLimitedError("429", retry_after=600))
    backup.fail("s-1", RateLimitedError("429", retry_after=900))

    herald.run_batch()

    clock.shift(899)
    assert herald.run_batch() == {}
    clock.shift(2)
    assert herald.run_batch() == {"batchItemFailures": []}


def test_a_fallback_that_cannot_send_the_channel_stops_start_up(queues: Queues) -> None:
    env = {
        "HERALD_DLQ_URL": queues.dlq_url,
        "HERALD_SMS_PROVIDER": "local",
        "HERALD_SMS_FALLBACK_PROVIDER": "webhook",
    }

    with pytest.raises(ConfigError, match="provider 'webhook' cannot send sms"):
        build_deliverer(EnvReader(env))


def test_a_fallback_without_a_primary_stops_start_up(queues: Queues) -> None:
    env = {"HERALD_DLQ_URL": queues.dlq_url, "HERALD_EMAIL_FALLBACK_PROVIDER": "local"}

    with pytest.raises(ConfigError, match="HERALD_EMAIL_FALLBACK_PROVIDER is set but HERALD_EMAIL_PROVIDER is not"):
        build_deliverer(EnvReader(env))
