"""Parse and validate a queue message body against message contract v1 (schemas/notification-v1.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema

from delivery.contract import Notification

SCHEMA_PATH = Path(__file__).with_name("schemas") / "notification-v1.json"
_validate = fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


class InvalidMessage(Exception):
    """The body can never be delivered as it stands; the message says why."""


def parse_notification(body: str) -> Notification:
    """Return the notification in ``body`` or raise InvalidMessage with a reason fit for an operator."""
    try:
        data: Any = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise InvalidMessage(f"body is not JSON: {_short(error)}") from None
    try:
        # JSON escapes can spell lone surrogates ("\ud800"): text no provider, log or queue can carry.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage("body has text that is not valid Unicode (a lone surrogate escape)") from None
    except RecursionError:
        raise InvalidMessage("schema: message is nested too deeply") from None
    try:
        data = _validate(data)
    except fastjsonschema.JsonSchemaValueException as error:
        # fastjsonschema names the document "data"; operators know it as the message.
        raise InvalidMessage("schema: " + error.message.replace("data", "message", 1)) from None
    except RecursionError:
        raise InvalidMessage("schema: message is nested too deeply") from None
    return Notification(
        id=data["id"],
        channel=data["channel"],
        to=data["to"],
        body=data["body"],
        subject=data.get("subject"),
        html=data.get("html"),
        critical=data["critical"],
        provider=data.get("provider"),
        metadata=data.get("metadata", {}),
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _short(error: BaseException, limit: int = 200) -> str:
    text = str(error)
    return text if len(text) <= limit else text[: limit - 3] + "..."
