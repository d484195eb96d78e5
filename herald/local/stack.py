"""Herald's resources on the embedded AWS endpoint, created from template.yaml itself.

The SAM template is transformed offline with samtranslator and created as a stack in moto's
CloudFormation, so the local run has the same queues, redrive policy, function configuration
and event source mapping as a deploy, with no second hand-written list to drift. What moto
cannot create (metric filters, alarms) is left out and listed once.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herald.local.template import TEMPLATE, load_template

STACK_NAME = "herald-local"
CODE_BUCKET = "herald-local-code"
CODE_KEY = "function.zip"
NOT_CREATED_LOCALLY = frozenset({"AWS::Logs::MetricFilter", "AWS::CloudWatch::Alarm"})


@dataclass(frozen=True)
class EventSource:
    """The function's SQS event source mapping, as the stack created it."""

    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int


@dataclass(frozen=True)
class LocalFunction:
    """A function's configuration, as the stack created it."""

    name: str
    handler: str
    timeout_seconds: int
    environment: dict[str, str]


@dataclass(frozen=True)
class LocalStack:
    endpoint: str | None
    outputs: dict[str, str]
    deliver: LocalFunction  # fed by the event source
    event_source: EventSource
    skipped: tuple[str, ...]
    redrive: LocalFunction  # the scheduled critical redrive

    @property
    def queue_url(self) -> str:
        return self.outputs["NotificationQueueUrl"]

    @property
    def dlq_url(self) -> str:
        return self.outputs["DeadLetterQueueUrl"]


class _NoManagedPolicies:
    """samtranslator looks up AWS managed policy ARNs; offline there are none to look up."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template_path: Path = TEMPLATE) -> tuple[dict[str, Any], list[str]]:
    """template.yaml as plain CloudFormation moto can create, and the resources left out."""
    from samtranslator.translator.transform import transform

    template = load_template(template_path)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":  # `sam package` would upload src/ for each
            resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    plain: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    plain.pop("Rules", None)  # deploy-time parameter checks; the local parameters are Herald's own
    skipped = sorted(
        f"{name} ({resource['Type']})"
        for name, resource in plain["Resources"].items()
        if resource["Type"] in NOT_CREATED_LOCALLY
    )
    plain["Resources"] = {
        name: resource for name, resource in plain["Resources"].items() if resource["Type"] not in NOT_CREATED_LOCALLY
    }
    return plain, skipped


def deploy(session: Any, endpoint: str | None, parameters: dict[str, str], source: Path) -> LocalStack:
    """Create the stack on the endpoint and read back what the function will run with."""
    plain, skipped = translate()
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=_zip(source))
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    cloudformation.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(plain),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"the local stack did not create: {stack['StackStatus']} {stack.get('StackStatusReason')}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    lambda_client = session.client("lambda", endpoint_url=endpoint)
    [mapping] = lambda_client.list_event_source_mappings(FunctionName=outputs["DeliverFunctionName"])[
        "EventSourceMappings"
    ]
    # moto's own mapping would try to run the function in Docker: the local pollers take its place.
    lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    sqs = session.client("sqs", endpoint_url=endpoint)
    queue_name = mapping["EventSourceArn"].rsplit(":", 1)[1]
    return LocalStack(
        endpoint=endpoint,
        outputs=outputs,
        deliver=_function(lambda_client, outputs["DeliverFunctionName"]),
        event_source=EventSource(
            queue_arn=mapping["EventSourceArn"],
            queue_url=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
            batch_size=int(mapping["BatchSize"]),
            batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
            maximum_concurrency=int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 2)),
        ),
        skipped=tuple(skipped),
        redrive=_function(lambda_client, outputs["RedriveFunctionName"]),
    )


def _function(lambda_client: Any, name: str) -> LocalFunction:
    configuration = lambda_client.get_function_configuration(FunctionName=name)
    return LocalFunction(
        name=configuration["FunctionName"],
        handler=configuration["Handler"],
        timeout_seconds=int(configuration["Timeout"]),
        environment={k: str(v) for k, v in configuration.get("Environment", {}).get("Variables", {}).items()},
    )


def _zip(source: Path) -> bytes:
    """The function's code, as `sam build` would package src/ (dependencies aside)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()
