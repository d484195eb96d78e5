"""Lambda entry point: SQS batch -> Herald delivery core -> partial batch response.

Configuration is read and validated here, once, at cold start: a bad environment
stops the function at init with a message naming each variable to fix.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from delivery.app import build_deliverer
from handlers.sqs_batch import SqsBatchRunner

_deliverer = build_deliverer()
_runner = SqsBatchRunner(_deliverer, _deliverer.settings.concurrency)


def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return _runner.handle(event, context)
