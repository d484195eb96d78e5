"""AWS clients with timeouts and bounded retries, created once per container, on first use.

boto3 costs ~0.3 s to import and each client ~0.1 s to create, so nothing here runs at
import time: a batch that never needs a client never pays for it.
"""

from __future__ import annotations

import threading
from typing import Any

# The longest one call can take with the defaults below: 3 attempts x (2 s connect + 3 s read), plus
# standard-mode backoff between them (at most 1 s, then 2 s; x-amz-retry-after is ignored).
MAX_CALL_SECONDS = 3 * (2.0 + 3.0) + 3.0

_lock = threading.Lock()  # creating clients from one session is not thread-safe
_session: Any = None


def client(
    service: str,
    connect_timeout: float = 2.0,
    read_timeout: float = 3.0,
    max_attempts: int = 3,
    region_name: str | None = None,
) -> Any:
    """A boto3 client whose calls give up within bounded time (standard retry mode: throttling is
    retried a little in-call, then surfaces for Herald to classify)."""
    global _session
    with _lock:
        import boto3
        from botocore.config import Config

        if _session is None:
            _session = boto3.session.Session()
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts},  # attempts, the first included
        )
        made = _session.client(service, config=config, region_name=region_name)
    service_event_name = made.meta.service_model.service_id.hyphenize()
    made.meta.events.register_first(f"needs-retry.{service_event_name}", _ignore_retry_after)
    return made


def _ignore_retry_after(response: Any = None, **_: Any) -> None:
    """Standard mode waits up to 5 s more per retry when AWS answers with ``x-amz-retry-after``, which
    would let one call outlast MAX_CALL_SECONDS. Without it, a throttle that outlasts the in-call
    retries surfaces to Herald, which retries the message later."""
    if response is not None:
        response[0].headers.pop("x-amz-retry-after", None)


class LazyClient:
    """One client per container for one service, created the first time it is needed (or given)."""

    def __init__(self, service: str, client: Any = None, **options: Any) -> None:
        self.service = service
        self.options = options
        self._client: Any = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = client(self.service, **self.options)
        return self._client


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
