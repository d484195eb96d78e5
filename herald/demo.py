"""`make run`: Herald end to end on this machine, with no AWS account and no Docker.

An embedded AWS endpoint (moto's server) and a webhook receiver listen on 127.0.0.1; the
real Lambda handler (src/handlers/deliver.py) is fed exactly as the SQS event source feeds
it: long polls, Lambda's event shape, partial batch responses honoured (successes deleted,
failures left to come back), real receive counts. The retry delay is compressed to 2 s and
attempts to 3 so that a retry, a RETRY FAILED, a permanent failure and an invalid message
all happen within seconds.

The queues are created here with template.yaml's redrive settings; creating them from
template.yaml itself comes with the full local emulator.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections import Counter
from typing import Any

from herald.local.events import RECEIVE_ATTRIBUTES, lambda_sqs_event
from herald.local.receiver import Receiver, Reply

RETRY_DELAY_SECONDS = 2
MAX_ATTEMPTS = 3
DEADLINE_SECONDS = 60
PREFIXES = ("SENT:", "RETRY:", "RETRY FAILED:", "PERMANENT FAILURE:", "INVALID MESSAGE:", "DEAD LETTER FAILED:")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DemoLog(logging.Handler):
    """Shows Herald's log lines compactly (in Lambda each is one JSON document) and counts them."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.counts.update(p for p in PREFIXES if message.startswith(p))
        print(f"  +{time.monotonic() - self.started:5.1f}s  {record.levelname:<7} {message}", flush=True)


def main() -> int:
    started = time.monotonic()
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as missing:
        print(f"make run needs the project's dependencies ({missing.name} is missing): run it through `make run`.")
        return 2

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the endpoint's per-request access log
    endpoint_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=endpoint_port, verbose=False)
    server.start()
    receiver = Receiver().start()
    try:
        return run(boto3, f"http://127.0.0.1:{endpoint_port}", receiver, started)
    finally:
        receiver.stop()
        server.stop()


def run(boto3: Any, endpoint: str, receiver: Receiver, started: float) -> int:
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - the embedded endpoint accepts any credentials
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="herald-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="herald",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_ATTEMPTS + 2)}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    os.makedirs(".herald-local", exist_ok=True)
    os.environ.update(
        HERALD_DLQ_URL=dlq_url,
        HERALD_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        HERALD_RETRY_DELAY_SECONDS=str(RETRY_DELAY_SECONDS),
        HERALD_EMAIL_PROVIDER="local",
        HERALD_LOCAL_OUTBOX=".herald-local/outbox.jsonl",
        HERALD_WEBHOOK_ALLOW_PRIVATE="true",
    )
    receiver.route("/flaky", Reply(503), Reply(200))
    receiver.route("/gone", Reply(410))
    receiver.route("/down", Reply(503))

    print(f"Herald local demo: AWS endpoint {endpoint}, queue {queue_url}")
    print(f"retry delay {RETRY_DELAY_SECONDS}s (300s in production), {MAX_ATTEMPTS} attempts (48 in production)\n")
    sys.path.insert(0, "src")
    from delivery.log import logger
    from handlers import deliver  # the real Lambda handler; its cold start reads the environment above

    demo_log = DemoLog(started)
    logger._logger.handlers = [demo_log]

    notifications: list[dict[str, Any] | str] = [
        {"id": "welcome-1", "channel": "email", "to": "ada@example.com", "subject": "Welcome", "body": "Hello Ada"},
        {"id": "order-2", "channel": "webhook", "to": f"{receiver.url}/flaky", "body": "order shipped"},
        {"id": "order-3", "channel": "webhook", "to": f"{receiver.url}/down", "body": "order shipped"},
        {"id": "order-4", "channel": "webhook", "to": f"{receiver.url}/gone", "body": "order shipped"},
        "{this is not json",
    ]
    for notification in notifications:
        body = notification if isinstance(notification, str) else json.dumps(notification)
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    print(f"sent {len(notifications)} messages to the queue; polling as the Lambda event source does:\n")

    while time.monotonic() - started < DEADLINE_SECONDS and pending(sqs, queue_url):
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **RECEIVE_ATTRIBUTES
        )
        messages = received.get("Messages", [])
        if not messages:
            continue
        response = deliver.handler(lambda_sqs_event(messages, queue_arn), None)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
    return summarise(sqs, dlq_url, demo_log.counts, pending(sqs, queue_url), started)


def pending(sqs: Any, queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def summarise(sqs: Any, dlq_url: str, counts: Counter[str], left: int, started: float) -> int:
    dead = []
    while batch := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, **RECEIVE_ATTRIBUTES).get(
        "Messages", []
    ):
        dead.extend(batch)
    print(f"\nsummary after {time.monotonic() - started:.1f}s")
    print(f"  sent            {counts['SENT:']}")
    print(f"  retried         {counts['RETRY:']}  (RETRY lines)")
    print(f"  retries failed  {counts['RETRY FAILED:']}")
    print(f"  dead letters    {len(dead)}")
    for message in dead:
        attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
        who = attributes.get("notification_id") or attributes.get("source_message_id")
        print(f"    {attributes['reason']:<10} {who:<12} {attributes['last_error'][:90]}")
    print(f"  still queued    {left}")
    print("\nlocal email outbox: .herald-local/outbox.jsonl")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
