"""template.yaml transformed offline (samtranslator) and created as a stack in moto's CloudFormation:
what AWS would build, checked on the resources moto made."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from herald.local.stack import LocalStack, deploy

SOURCE = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def stack(sqs: Any) -> LocalStack:
    return deploy(boto3.session.Session(region_name="us-east-1"), None, {}, SOURCE)


def test_the_queue_redrives_to_the_dead_letter_queue_above_the_last_attempt(sqs: Any, stack: LocalStack) -> None:
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])

    assert redrive["deadLetterTargetArn"].endswith(stack.dlq_url.rsplit("/", 1)[1])
    assert int(redrive["maxReceiveCount"]) > int(stack.deliver.environment["HERALD_MAX_ATTEMPTS"])
    assert int(attributes["VisibilityTimeout"]) >= 6 * stack.deliver.timeout_seconds


def test_the_event_source_reports_batch_item_failures_under_a_concurrency_cap(stack: LocalStack) -> None:
    [mapping] = boto3.client("lambda").list_event_source_mappings(FunctionName=stack.deliver.name)[
        "EventSourceMappings"
    ]

    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert mapping["EventSourceArn"] == stack.event_source.queue_arn


def test_the_critical_redrive_runs_daily(stack: LocalStack) -> None:
    events = boto3.client("events")
    rules = events.list_rules()["Rules"]
    [rule] = [r for r in rules if r.get("ScheduleExpression")]
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]

    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert target["Arn"].endswith(f":function:{stack.outputs['RedriveFunctionName']}")


def role_statements(function_name: str) -> list[dict[str, Any]]:
    role_arn = boto3.client("lambda").get_function_configuration(FunctionName=function_name)["Role"]
    iam = boto3.client("iam")
    role = role_arn.rsplit("/", 1)[1]
    [policy] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    if isinstance(document, str):
        # moto's CloudFormation stores inline policies as Python reprs; IAM proper returns JSON.
        document = ast.literal_eval(unquote(document))
    # Provider grants not chosen are AWS::NoValue: absent in AWS, None in moto's copy.
    statements: list[dict[str, Any]] = [s for s in document["Statement"] if s]
    return statements


def granted(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_the_delivery_role_may_only_consume_its_queue_dead_letter_and_write_its_records(stack: LocalStack) -> None:
    statements = role_statements(stack.deliver.name)

    assert granted(statements) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert all(s["Resource"] != "*" for s in statements)


def test_the_redrive_role_may_only_read_dead_letters_and_resend_to_the_queue(stack: LocalStack) -> None:
    statements = {s["Sid"]: s for s in role_statements(stack.outputs["RedriveFunctionName"])}

    assert granted(list(statements.values())) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert statements["ReadDeadLetters"]["Resource"].endswith(stack.dlq_url.rsplit("/", 1)[1])
    assert statements["ResendNotifications"]["Resource"].endswith(stack.queue_url.rsplit("/", 1)[1])


def test_the_redrive_function_knows_both_queues(stack: LocalStack) -> None:
    config = boto3.client("lambda").get_function_configuration(FunctionName=stack.outputs["RedriveFunctionName"])
    env = config["Environment"]["Variables"]

    assert (env["HERALD_DLQ_URL"], env["HERALD_SOURCE_QUEUE_URL"]) == (stack.dlq_url, stack.queue_url)
    assert config["Timeout"] * 3 <= int(env["HERALD_REDRIVE_HOLD_SECONDS"])
