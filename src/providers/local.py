"""The local provider: appends each delivery as a JSON line to a file (or stdout).

For the embedded local run and demos; it never fails on its own.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from pathlib import Path

from delivery.contract import Notification, ProviderContext
from delivery.masking import mask_recipient


class LocalProvider:
    name = "local"
    channels = frozenset({"email", "sms", "webhook"})
    max_call_seconds = 1.0

    def __init__(self, outbox: Path | None) -> None:
        self.outbox = outbox
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def send(self, notification: Notification) -> str:
        message_id = f"local-{next(self._ids)}"
        delivery = {
            "provider_message_id": message_id,
            "id": notification.id,
            "channel": notification.channel,
            "to": notification.to,
            "subject": notification.subject,
            "body": notification.body,
        }
        with self._lock:
            if self.outbox is None:
                # stdout ends up in the function's logs: no whole recipients there.
                print(json.dumps({**delivery, "to": mask_recipient(notification.to)}), file=sys.stdout, flush=True)
            else:
                with self.outbox.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(delivery) + "\n")
        return message_id


def create(context: ProviderContext) -> LocalProvider:
    if context.env.text("AWS_LAMBDA_FUNCTION_NAME"):
        # In Lambda it would log "sent" for notifications nobody receives.
        context.env.problems.append("the local provider is for local runs only: choose a real provider in Lambda")
    path = context.env.text("HERALD_LOCAL_OUTBOX")
    return LocalProvider(Path(path) if path else None)
