"""The cold-start baseline: a plain, hand-written SQS -> webhook Lambda handler with no Herald in it.

What a team would write first: an SQS client made at import (for dead-lettering by hand), a
Powertools Logger and BatchProcessor, ``json.loads`` of the body and ``requests.post`` to its URL.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import requests
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

sqs = boto3.client("sqs")
DLQ_URL = os.environ["HERALD_DLQ_URL"]
logger = Logger(service="diy")
processor = BatchProcessor(EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    notification = json.loads(record.body)
    response = requests.post(
        notification["to"],
        json={"id": notification["id"], "body": notification["body"]},
        timeout=(3.05, 10),
        allow_redirects=False,
    )
    if response.status_code >= 500:
        response.raise_for_status()  # retry: the record goes back to the queue
    if response.status_code >= 400:
        sqs.send_message(QueueUrl=DLQ_URL, MessageBody=record.body)
    logger.info(f"sent {notification['id']}", extra={"status": response.status_code})


def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event, record_handler, processor, context)
