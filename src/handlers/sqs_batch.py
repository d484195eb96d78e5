"""Lambda SQS event -> the delivery core, concurrently, with a partial batch response.

Records run on a bounded thread pool (providers do blocking I/O) under Powertools'
AsyncBatchProcessor. On FIFO queues records of one message group run in order, and
once one fails the rest of its group is held back (reported failed, not attempted);
other groups carry on.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from delivery.core import Deliverer, RemainingMillis, Result
from delivery.log import logger
from delivery.queue import QueuedMessage


class RecordStaysOnQueue(Exception):
    """Report this record as a batch item failure so SQS delivers it again."""


class GroupHeldBack(RecordStaysOnQueue):
    """An earlier record of the same FIFO message group did not succeed in this batch."""


class SqsBatchRunner:
    def __init__(self, deliverer: Deliverer, concurrency: int) -> None:
        self.deliverer = deliverer
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="herald-delivery")

    def handle(self, event: dict[str, Any], context: Any = None) -> PartialItemFailureResponse:
        if not event.get("Records"):
            return {"batchItemFailures": []}  # Lambda never sends an empty batch; Powertools would raise
        # Per invocation: the completion of the latest record seen for each FIFO message group.
        group_tails: dict[str, asyncio.Future[bool]] = {}
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if context is not None:
            self.deliverer.once.register_invocation(context)

        async def record_handler(record: SQSRecord) -> None:
            loop = asyncio.get_running_loop()
            group = record.attributes.message_group_id
            previous = group_tails.get(group) if group else None
            done: asyncio.Future[bool] | None = None
            if group:
                done = group_tails[group] = loop.create_future()
            succeeded = False
            try:
                if previous is not None and not await previous:
                    logger.info(
                        f"HELD BACK: message {record.message_id} waits for an earlier message of its FIFO group",
                        extra={"sqs_message_id": record.message_id, "message_group_id": group},
                    )
                    raise GroupHeldBack(record.message_id)
                result = await loop.run_in_executor(self.pool, self._deliver, record, remaining)
                if result.stays_on_queue:
                    raise RecordStaysOnQueue(result.outcome.value)
                succeeded = True
            finally:
                if done is not None:
                    done.set_result(succeeded)

        # A processor per invocation: its state must not be shared by concurrent callers (local poller).
        processor = AsyncBatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
        return async_process_partial_response(event, record_handler, processor, context)

    def _deliver(self, record: SQSRecord, remaining_millis: RemainingMillis | None) -> Result:
        return self.deliverer.deliver(to_queued_message(record), remaining_millis)


def to_queued_message(record: SQSRecord) -> QueuedMessage:
    attributes = record.attributes
    first_received = attributes.approximate_first_receive_timestamp
    return QueuedMessage(
        message_id=record.message_id,
        body=record.body,
        receipt_handle=record.receipt_handle,
        queue_url=_queue_url(record.event_source_arn),
        attempt=int(attributes.approximate_receive_count),
        first_received_at=datetime.fromtimestamp(int(first_received) / 1000, UTC) if first_received else None,
        group_id=attributes.message_group_id,
    )


@functools.lru_cache(maxsize=32)
def _queue_url(arn: str) -> str:
    """``arn:aws:sqs:eu-west-2:123456789012:herald`` -> that queue's URL, with no API call."""
    _, partition, _, region, account, name = arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"
