"""AWS clients (delivery/aws.py): each call stays within MAX_CALL_SECONDS, whatever AWS asks for."""

from __future__ import annotations

import json
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError

from delivery import aws
from herald.local.receiver import Receiver, Reply

THROTTLED = Reply(
    400,
    headers={"Content-Type": "application/x-amz-json-1.0", "x-amz-retry-after": "30000"},  # "wait 30 s"
    body=json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow"}).encode(),
)


def test_a_throttle_asking_for_a_long_wait_is_retried_within_the_calls_bound(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.reply(THROTTLED, THROTTLED, THROTTLED)
    waits: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", waits.append)  # record botocore's backoff, don't wait
    dynamodb: Any = aws.client("dynamodb", region_name="us-east-1")
    dynamodb.meta.events.register("before-sign", lambda request, **_: setattr(request, "url", receiver.url + "/"))

    with pytest.raises(ClientError, match="ThrottlingException"):
        dynamodb.get_item(TableName="t", Key={"id": {"S": "n-1"}})

    assert len(receiver.requests) == 3, "3 attempts in all"
    assert len(waits) == 2
    assert max(waits) <= 2.0, f"backoff {waits} honoured x-amz-retry-after"
