"""Feed a handler exactly as the Lambda SQS event source does.

Long polls for up to the mapping's batch size (waiting out its batching window), hands the
function Lambda's event shape with real attributes (receive counts, FIFO group ids), and
afterwards deletes the records the partial batch response did not report. An invocation that
raises, runs past the function timeout or answers with a malformed response fails the whole
batch, as in Lambda: nothing is deleted and SQS redelivers after the visibility timeout. Up to
``MaximumConcurrency`` pollers run at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from herald.local.events import RECEIVE_ATTRIBUTES, lambda_sqs_event
from herald.local.stack import EventSource

Handler = Callable[[dict[str, Any], Any], Any]
_log = logging.getLogger(__name__)


class LocalContext:
    """The parts of Lambda's context object a handler uses, with a real deadline."""

    def __init__(self, function_name: str, timeout_seconds: int) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class BatchResult:
    received: int
    failed: int
    error: str | None = None  # why the whole batch failed (exception, timeout, bad response)


class EventSourcePoller:
    def __init__(
        self,
        sqs: Any,
        source: EventSource,
        handler: Handler,
        function_name: str,
        timeout_seconds: int,
        wait_seconds: int = 1,
        fresh_handler: Callable[[], Handler] | None = None,
    ) -> None:
        self.sqs = sqs
        self.fresh_handler = fresh_handler
        self.source = source
        self.handler = handler
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self.wait_seconds = wait_seconds

    def poll_once(self) -> BatchResult | None:
        """One receive (waiting out the batching window) and one invocation; None if nothing came."""
        messages = self._receive_batch()
        if not messages:
            return None
        event = lambda_sqs_event(messages, self.source.queue_arn)
        response, error = self._invoke(event)
        ids = {m["MessageId"] for m in messages}
        failed_ids = _failed_ids(response, ids) if error is None else ids
        if failed_ids is None:
            error, failed_ids = "the partial batch response names records not in the batch", ids
        self._delete([m for m in messages if m["MessageId"] not in failed_ids])
        return BatchResult(len(messages), len(failed_ids), error)

    def run(self, stop: threading.Event, on_batch: Callable[[BatchResult], None] | None = None) -> None:
        while not stop.is_set():
            result = self.poll_once()
            if result is not None and on_batch is not None:
                on_batch(result)

    def _receive_batch(self) -> list[dict[str, Any]]:
        wanted = self.source.batch_size
        window_ends = time.monotonic() + self.source.batching_window_seconds
        messages: list[dict[str, Any]] = []
        while len(messages) < wanted:
            response = self.sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(10, wanted - len(messages)),
                WaitTimeSeconds=self.wait_seconds if not messages else 0,
                **RECEIVE_ATTRIBUTES,
            )
            batch = response.get("Messages", [])
            messages.extend(batch)
            if not messages or time.monotonic() >= window_ends:
                break
            if not batch:
                time.sleep(0.05)  # waiting out the batching window for more records
        return messages

    def _invoke(self, event: dict[str, Any]) -> tuple[Any, str | None]:
        outcome: dict[str, Any] = {}
        context = LocalContext(self.function_name, self.timeout_seconds)

        def call() -> None:
            outcome["error"] = "the invocation ended without an answer"  # e.g. SystemExit: the sandbox died
            try:
                outcome["response"] = self.handler(event, context)
                del outcome["error"]
            except Exception as error:  # noqa: BLE001 - Lambda reports any error as a failed invocation
                outcome["error"] = f"{type(error).__name__}: {error}"

        worker = threading.Thread(target=call, name=f"{self.function_name}-invocation", daemon=True)
        worker.start()
        worker.join(self.timeout_seconds)
        if worker.is_alive():
            # Lambda kills the sandbox and starts the next invocation in a fresh one. A thread cannot be
            # killed: its late result is ignored (its sends are what idempotency is for), and the next
            # invocation gets a fresh environment.
            if self.fresh_handler is not None:
                self.handler = self.fresh_handler()
            return None, f"Task timed out after {self.timeout_seconds} seconds"
        return outcome.get("response"), outcome.get("error")

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                # As in Lambda: an undeleted success comes back after the visibility timeout (idempotency absorbs it).
                _log.warning("could not delete a processed message: %s %s", failure.get("Code"), failure.get("Message"))


def _failed_ids(response: Any, batch_ids: set[str]) -> set[str] | None:
    """The records to leave on the queue; None when the response is malformed (the batch fails)."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    items = response.get("batchItemFailures") or []  # missing, null or empty: the whole batch succeeded
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in batch_ids:
            return None
        failed.add(identifier)
    return failed


class Pollers:
    """Up to the mapping's MaximumConcurrency pollers, each invoking the handler in turn."""

    def __init__(self, make_poller: Callable[[], EventSourcePoller], count: int) -> None:
        self.stop_event = threading.Event()
        self.results: list[BatchResult] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(
                target=make_poller().run, args=(self.stop_event, self._record), name=f"poller-{i}", daemon=True
            )
            for i in range(count)
        ]

    def _record(self, result: BatchResult) -> None:
        with self._lock:
            self.results.append(result)

    def start(self) -> Pollers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout)
