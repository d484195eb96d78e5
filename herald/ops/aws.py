"""AWS sessions and clients for the operator CLI, and the queues it works on.

The standard AWS handling: ``--profile`` and ``--region`` go to a ``boto3.Session`` (so
``AWS_PROFILE``, ``AWS_REGION``, SSO and the rest work as in the AWS CLI), ``--endpoint-url``
or ``AWS_ENDPOINT_URL`` points every client at a local endpoint (``herald local``).

The queues come from a stack's outputs (``NotificationQueueUrl``, ``DeadLetterQueueUrl``) or
explicit URLs. Given only one of the two queues, the other is found from SQS's redrive
settings (the source queue's ``RedrivePolicy``, or the dead-letter queue's one source queue).
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from herald.ops.errors import HeraldError, UsageProblem

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

LOCAL_REGION = "us-east-1"  # a local endpoint (moto) takes any region
QUEUE_OUTPUT = "NotificationQueueUrl"
DLQ_OUTPUT = "DeadLetterQueueUrl"

# https://sqs.eu-west-1.amazonaws.com/123456789012/q and the legacy https://eu-west-1.queue.amazonaws.com/...
_QUEUE_HOST = re.compile(
    r"^(?:sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com|(?P<legacy>[a-z0-9-]+)\.queue\.amazonaws\.com)(?:\.cn)?$"
)


def region_from_queue_url(url: str) -> str | None:
    """The region an AWS queue URL names, or None (a local endpoint's URL names none)."""
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    found = _QUEUE_HOST.match(host)
    return (found.group("region") or found.group("legacy")) if found else None


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in {"localhost", "0.0.0.0", "::1"} or host.startswith("127.")  # noqa: S104 - a comparison


def is_fifo(queue_url: str) -> bool:
    return queue_url.endswith(".fifo")


class Aws:
    """One boto3 session, created on first use, and clients from it with bounded timeouts."""

    def __init__(self, profile: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> None:
        self.profile = profile
        self.region = region
        self.endpoint_url = endpoint_url

    @cached_property
    def session(self) -> Any:
        import boto3
        from botocore.exceptions import ProfileNotFound

        try:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound as error:
            raise UsageProblem(f"{error}: check --profile or AWS_PROFILE") from None

    def region_for(self, queue_url: str | None = None) -> str | None:
        """The region to use: --region; the profile's or AWS_DEFAULT_REGION; AWS_REGION (what Lambda and
        other SDKs set); the one the queue URL names; for an endpoint on this machine, any (us-east-1)."""
        return (
            self.region
            or self.session.region_name
            or os.environ.get("AWS_REGION")
            or (region_from_queue_url(queue_url) if queue_url else None)
            or (LOCAL_REGION if self.endpoint_url and _is_loopback(self.endpoint_url) else None)
        )

    def client(self, service: str, region: str | None = None) -> Any:
        from botocore.config import Config
        from botocore.exceptions import NoRegionError

        config = Config(
            connect_timeout=5,
            read_timeout=30,  # above the long poll's wait
            retries={"mode": "standard", "total_max_attempts": 5},
        )
        try:
            return self.session.client(
                service, region_name=region or self.region_for(), endpoint_url=self.endpoint_url, config=config
            )
        except NoRegionError:
            raise UsageProblem(
                "no AWS region: give --region, set AWS_DEFAULT_REGION, or configure a region for the profile"
            ) from None


class Target:
    """The notification queue and its dead-letter queue, resolved on first use.

    Precedence (decided by the caller): URLs given on the command line, then the stack's outputs,
    then HERALD_QUEUE_URL / HERALD_DLQ_URL from the environment.
    """

    def __init__(
        self, aws: Aws, stack: str | None = None, queue_url: str | None = None, dlq_url: str | None = None
    ) -> None:
        self.aws = aws
        self.stack = stack
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self.notes: list[str] = []  # how a queue was found, when it was not given

    @cached_property
    def outputs(self) -> dict[str, str]:
        if not self.stack:
            return {}
        from botocore.exceptions import ClientError

        cloudformation = self.aws.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=self.stack)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                region = cloudformation.meta.region_name
                raise UsageProblem(
                    f"stack {self.stack!r} does not exist in {region} (check --stack and --region)"
                ) from None
            raise
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", []) if "OutputValue" in o}

    def _from_stack(self, output: str) -> str | None:
        if not self.stack:
            return None
        value = self.outputs.get(output)
        if not value:
            have = ", ".join(sorted(self.outputs)) or "none"
            raise UsageProblem(f"stack {self.stack!r} has no output {output} (its outputs: {have}); is it Herald's?")
        return value

    @cached_property
    def queue_url(self) -> str:
        url = self._queue_url or self._from_stack(QUEUE_OUTPUT)
        if url:
            return url
        if self._dlq_url:
            return self._source_of(self._dlq_url)
        raise UsageProblem(
            "no queue given: use --stack NAME (its NotificationQueueUrl output), --queue-url URL, "
            "or set HERALD_QUEUE_URL"
        )

    @cached_property
    def dlq_url(self) -> str:
        url = self._dlq_url or self._from_stack(DLQ_OUTPUT)
        if url:
            return url
        if self._queue_url:
            return self._dead_letter_queue_of(self._queue_url)
        raise UsageProblem(
            "no dead-letter queue given: use --stack NAME (its DeadLetterQueueUrl output), --dlq-url URL, "
            "or set HERALD_DLQ_URL"
        )

    @cached_property
    def sqs(self) -> SQSClient:
        known = self._queue_url or self._dlq_url
        region = None if self.stack else self.aws.region_for(known)
        client: SQSClient = self.aws.client("sqs", region=region)
        return client

    def _dead_letter_queue_of(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
        policy = attributes.get("Attributes", {}).get("RedrivePolicy")
        if not policy:
            raise UsageProblem(
                f"{queue_url} has no redrive policy to find its dead-letter queue from: give --dlq-url or --stack"
            )
        arn = json.loads(policy)["deadLetterTargetArn"]
        *_, account, name = arn.split(":")
        url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self.notes.append(f"dead-letter queue {url} (from the queue's redrive policy)")
        return url

    def _source_of(self, dlq_url: str) -> str:
        sources = self.sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
        if len(sources) != 1:
            found = f"{len(sources)} queues use it" if sources else "no queue uses it"
            raise UsageProblem(f"cannot tell the source queue of {dlq_url} ({found}): give --queue-url or --stack")
        self.notes.append(f"queue {sources[0]} (the dead-letter queue's source)")
        return sources[0]


def describe_aws_error(error: Exception) -> str:
    """One line for an AWS error, naming the code the way the AWS CLI does."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "?")
        return f"AWS {operation} failed: {info.get('Code', '?')}: {info.get('Message', '')}".rstrip(": ")
    return f"AWS call failed: {type(error).__name__}: {error}"


class AwsFailure(HeraldError):
    """An AWS call failed (exit 1)."""
