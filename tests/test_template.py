"""template.yaml: the queue, function and alarms that production relies on, checked as data.

The metric filters are checked against the log lines Herald really emits, with the project's
own evaluator of CloudWatch filter-pattern semantics (moto has no TestMetricFilter).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from delivery.contract import PermanentError, TransientError
from delivery.idempotency import SendRecord
from delivery.redrive import CriticalRedrive, RedriveSettings
from herald.local.template import load_template, resources_of_type
from tests.conftest import LogLines, Queues, make_herald
from tests.support.filter_pattern import matches
from tests.support.providers import ScriptedProvider

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
FUNCTION = RESOURCES["DeliverFunction"]["Properties"]


def test_queue_visibility_timeout_is_at_least_six_times_the_function_timeout() -> None:
    timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    visibility = RESOURCES["NotificationQueue"]["Properties"]["VisibilityTimeout"]

    assert visibility >= 6 * timeout


def test_the_function_knows_its_own_timeout() -> None:
    env = FUNCTION["Environment"]["Variables"]

    assert int(env["HERALD_FUNCTION_TIMEOUT_SECONDS"]) == TEMPLATE["Globals"]["Function"]["Timeout"]


def test_idempotency_records_live_in_an_encrypted_table_with_ttl() -> None:
    table = RESOURCES["IdempotencyTable"]["Properties"]

    assert FUNCTION["Environment"]["Variables"]["HERALD_IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_queue_redrive_is_a_safety_net_above_the_last_attempt() -> None:
    redrive = RESOURCES["NotificationQueue"]["Properties"]["RedrivePolicy"]

    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "SafetyNetMaxReceiveCount"}
    assert PARAMETERS["SafetyNetMaxReceiveCount"]["Default"] > PARAMETERS["MaxAttempts"]["Default"]


def test_queues_are_encrypted_and_keep_messages_fourteen_days() -> None:
    for name in ("NotificationQueue", "DeadLetterQueue"):
        assert RESOURCES[name]["Properties"]["SqsManagedSseEnabled"] is True
        # Herald refuses retry policies longer than this (HERALD_MAX_ATTEMPTS x delays).
        assert RESOURCES[name]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_alert_topic_key_lets_cloudwatch_alarms_publish() -> None:
    # Alarms cannot publish to a topic under the AWS-managed SNS key: it needs its own key.
    assert RESOURCES["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    key = RESOURCES["AlertTopicKey"]["Properties"]
    [grant] = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert key["EnableKeyRotation"] is True


def test_event_source_reports_batch_item_failures_under_a_concurrency_cap() -> None:
    source = FUNCTION["Events"]["Notifications"]

    assert source["Type"] == "SQS"
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaximumConcurrency"}
    assert FUNCTION["Handler"] == "handlers.deliver.handler"
    assert FUNCTION["CodeUri"] == "src/"


def test_function_environment_carries_the_retry_policy_and_dead_letter_queue() -> None:
    env = FUNCTION["Environment"]["Variables"]

    assert env["HERALD_DLQ_URL"] == {"Ref": "DeadLetterQueue"}
    assert env["HERALD_MAX_ATTEMPTS"] == {"Ref": "MaxAttempts"}
    assert env["HERALD_RETRY_DELAY_SECONDS"] == {"Ref": "RetryDelaySeconds"}
    assert env["HERALD_WEBHOOK_ALLOW_PRIVATE"] == "false"
    assert PARAMETERS["RetryDelaySeconds"]["MaxValue"] == 43200


def role_statements() -> list[dict[str, Any]]:
    """The delivery role's statements, with each provider's conditional statement taken as present."""
    [policy] = RESOURCES["DeliverFunctionRole"]["Properties"]["Policies"]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in policy["PolicyDocument"]["Statement"]]


def test_function_role_grants_only_named_resources() -> None:
    statements = [s for s in role_statements() if s["Sid"] != "PublishSms"]

    assert all(s["Resource"] != "*" for s in statements)
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ses:SendEmail",
        "ssm:GetParameter",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


@pytest.mark.parametrize(
    ("sid", "condition", "resource_part"),
    [
        ("SendEmailAsTheIdentity", "UsesSes", "identity/${SesIdentity}"),
        ("ReadHttpSmsToken", "UsesHttpSms", "parameter${HttpSmsAuthTokenParameter}"),
        ("ReadWebhookSigningSecret", "SignsWebhooks", "parameter${WebhookSigningSecretParameter}"),
        ("PublishSms", "UsesSns", "*"),
    ],
)
def test_provider_permissions_exist_only_when_that_provider_is_used(
    sid: str, condition: str, resource_part: str
) -> None:
    [policy] = RESOURCES["DeliverFunctionRole"]["Properties"]["Policies"]
    [conditional] = [
        s["Fn::If"] for s in policy["PolicyDocument"]["Statement"] if "Fn::If" in s and s["Fn::If"][1]["Sid"] == sid
    ]

    assert conditional[0] == condition
    assert conditional[2] == {"Ref": "AWS::NoValue"}
    assert resource_part in json.dumps(conditional[1]["Resource"])


class ReplayFor:
    """The idempotency port, answering "already sent" for one notification id."""

    overhead_seconds = 0.0

    def __init__(self, notification_id: str) -> None:
        self.notification_id = notification_id

    def register_invocation(self, context: Any) -> None:
        pass

    def send(self, notification_id: str, send: Callable[[], SendRecord]) -> SendRecord:
        if notification_id == self.notification_id:
            return SendRecord("scripted", "scripted-earlier", replayed=True)
        return send()


@pytest.fixture
def emitted_lines(sqs: Any, queues: Queues, logs: LogLines, clock: time_machine.Coordinates) -> list[str]:
    """One of each line Herald emits for a record, produced by the real handler."""
    provider = ScriptedProvider()
    herald = make_herald(
        sqs, queues, {"scripted": provider}, HERALD_WEBHOOK_PROVIDER="scripted", HERALD_MAX_ATTEMPTS="2"
    )
    hook = {"channel": "webhook", "to": "https://example.com/h", "body": "x"}
    for notification_id in ("sent", "retried", "exhausted", "refused"):
        herald.send({"id": notification_id, **hook, "critical": notification_id == "exhausted"})
    herald.send("not json")
    provider.fail("retried", TransientError("503"))
    provider.fail_always("exhausted", TransientError("503"))
    provider.fail("refused", PermanentError("410"))
    herald.run_batch()
    clock.shift(301)
    herald.run_batch()
    herald.deliverer.once = ReplayFor("already-sent")  # its idempotency record says: sent before
    herald.send({"id": "already-sent", **hook})
    herald.run_batch()
    # The scheduled function's lines: one critical dead letter, which cannot go back (the queue is gone).
    missing_queue = queues.url + "-gone"
    CriticalRedrive(RedriveSettings(queues.dlq_url, missing_queue, wait_seconds=0), sqs).run()
    herald.send({"id": "stuck", **hook})
    provider.fail("stuck", PermanentError("410"))
    sqs.delete_queue(QueueUrl=queues.dlq_url)
    herald.run_batch()
    return logs.lines


EXPECTED_MATCHES = {
    "RetryMetricFilter": ["RETRY: notification retried", "RETRY: notification exhausted"],
    "RetryFailedMetricFilter": ["RETRY FAILED: notification exhausted"],
    # "stuck" is refused too, but its dead letter cannot be written: DEAD LETTER FAILED, not PERMANENT FAILURE.
    "PermanentFailureMetricFilter": ["PERMANENT FAILURE: notification refused"],
    "InvalidMessageMetricFilter": ["INVALID MESSAGE: message"],
    "DeadLetterFailedMetricFilter": ["DEAD LETTER FAILED: message"],
    "DuplicateSuppressedMetricFilter": ["DUPLICATE SUPPRESSED: notification already-sent"],
    "CriticalDeadLettersMetricFilter": ["CRITICAL REDRIVE: moved 0 of 1"],
    "RedriveFailedMetricFilter": ["REDRIVE FAILED: notification exhausted"],
}


@pytest.mark.parametrize("filter_name", sorted(EXPECTED_MATCHES))
def test_metric_filter_matches_exactly_its_own_log_lines(filter_name: str, emitted_lines: list[str]) -> None:
    pattern = RESOURCES[filter_name]["Properties"]["FilterPattern"]

    matched = [json.loads(line)["message"] for line in emitted_lines if matches(pattern, line)]

    expected = EXPECTED_MATCHES[filter_name]
    assert len(matched) == len(expected), matched
    for message, start in zip(sorted(matched), sorted(expected), strict=True):
        assert message.startswith(start)


def test_every_metric_filter_is_checked_against_real_lines() -> None:
    assert set(resources_of_type(TEMPLATE, "AWS::Logs::MetricFilter")) == set(EXPECTED_MATCHES)


def test_the_critical_dead_letter_metric_takes_its_value_from_the_line(emitted_lines: list[str]) -> None:
    [metric] = RESOURCES["CriticalDeadLettersMetricFilter"]["Properties"]["MetricTransformations"]
    [line] = [json.loads(x) for x in emitted_lines if json.loads(x)["message"].startswith("CRITICAL REDRIVE:")]

    assert metric["MetricValue"] == "$.critical_dead_letters"
    assert line["critical_dead_letters"] == 1


@pytest.mark.parametrize(
    ("alarm", "metric_filter", "log_group"),
    [
        ("RetriesBegunAlarm", "RetryMetricFilter", "DeliverLogGroup"),
        ("RetryFailedAlarm", "RetryFailedMetricFilter", "DeliverLogGroup"),
        ("DeadLetterFailedAlarm", "DeadLetterFailedMetricFilter", "DeliverLogGroup"),
        ("PermanentFailuresAlarm", "PermanentFailureMetricFilter", "DeliverLogGroup"),
        ("InvalidMessagesAlarm", "InvalidMessageMetricFilter", "DeliverLogGroup"),
        ("DuplicatesSuppressedAlarm", "DuplicateSuppressedMetricFilter", "DeliverLogGroup"),
        ("CriticalDeadLettersAlarm", "CriticalDeadLettersMetricFilter", "RedriveLogGroup"),
        ("RedriveFailedAlarm", "RedriveFailedMetricFilter", "RedriveLogGroup"),
    ],
)
def test_alarm_watches_its_metric_filter_and_notifies_the_alert_topic(
    alarm: str, metric_filter: str, log_group: str
) -> None:
    alarm_properties = RESOURCES[alarm]["Properties"]
    [metric] = RESOURCES[metric_filter]["Properties"]["MetricTransformations"]

    assert RESOURCES[metric_filter]["Properties"]["LogGroupName"] == {"Ref": log_group}
    assert (alarm_properties["Namespace"], alarm_properties["MetricName"]) == (
        metric["MetricNamespace"],
        metric["MetricName"],
    )
    assert {"Ref": "AlertTopic"} in alarm_properties["AlarmActions"]
    assert alarm_properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric", "dimension", "statistic"),
    [
        ("DeadLetterDepthAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "DeadLetterQueue", "Maximum"),
        ("DeadLetterAgeAlarm", "AWS/SQS", "ApproximateAgeOfOldestMessage", "DeadLetterQueue", "Maximum"),
        ("QueueAgeAlarm", "AWS/SQS", "ApproximateAgeOfOldestMessage", "NotificationQueue", "Maximum"),
        ("DeliverErrorsAlarm", "AWS/Lambda", "Errors", "DeliverFunction", "Sum"),
        ("DeliverThrottlesAlarm", "AWS/Lambda", "Throttles", "DeliverFunction", "Sum"),
        ("RedriveErrorsAlarm", "AWS/Lambda", "Errors", "RedriveFunction", "Sum"),
    ],
)
def test_aws_metric_alarm_watches_the_right_resource(
    alarm: str, namespace: str, metric: str, dimension: str, statistic: str
) -> None:
    properties = RESOURCES[alarm]["Properties"]
    [dimension_spec] = properties["Dimensions"]

    assert (properties["Namespace"], properties["MetricName"], properties["Statistic"]) == (
        namespace,
        metric,
        statistic,
    )
    if namespace == "AWS/SQS":
        assert dimension_spec == {"Name": "QueueName", "Value": {"Fn::GetAtt": [dimension, "QueueName"]}}
    else:
        assert dimension_spec == {"Name": "FunctionName", "Value": {"Ref": dimension}}


def test_every_alarm_notifies_the_alert_topic() -> None:
    alarms = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")

    assert len(alarms) >= 12
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}], name


def test_every_function_logs_to_a_log_group_with_retention() -> None:
    for name, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, name
