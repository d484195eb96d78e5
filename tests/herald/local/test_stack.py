"""The local stack is template.yaml itself, created in moto's CloudFormation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from herald.local.stack import deploy

SOURCE = Path(__file__).resolve().parents[3] / "src"


def test_the_stack_has_the_templates_queues_function_and_event_source(sqs: Any) -> None:
    stack = deploy(boto3.session.Session(region_name="us-east-1"), None, {"MaxAttempts": "3"}, SOURCE)

    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert int(redrive["maxReceiveCount"]) == 60
    assert stack.deliver.environment["HERALD_DLQ_URL"] == stack.dlq_url
    assert stack.deliver.environment["HERALD_MAX_ATTEMPTS"] == "3"
    assert stack.deliver.handler == "handlers.deliver.handler"
    assert stack.deliver.timeout_seconds == 60
    assert (stack.event_source.batch_size, stack.event_source.maximum_concurrency) == (10, 5)
    assert stack.event_source.queue_url == stack.queue_url


def test_what_moto_cannot_create_is_listed_not_silently_dropped(sqs: Any) -> None:
    stack = deploy(boto3.session.Session(region_name="us-east-1"), None, {}, SOURCE)

    assert "RetryFailedMetricFilter (AWS::Logs::MetricFilter)" in stack.skipped
    assert "RetryFailedAlarm (AWS::CloudWatch::Alarm)" in stack.skipped
    assert all(name.endswith(("(AWS::Logs::MetricFilter)", "(AWS::CloudWatch::Alarm)")) for name in stack.skipped)
