"""A provider for testing the core's policy: it fails as each test scripts, and records its sends."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable

from delivery.config import EnvReader
from delivery.contract import Notification, ProviderContext
from delivery.secrets import SecretStore


class ScriptedProvider:
    """Raises the failures scripted for a notification id, one per attempt, then succeeds."""

    channels = frozenset({"email", "sms", "webhook"})
    max_call_seconds = 1.0

    def __init__(self, name: str = "scripted") -> None:
        self.name = name
        self.failures: defaultdict[str, deque[BaseException]] = defaultdict(deque)
        self.always: dict[str, BaseException] = {}
        self.attempts: list[str] = []
        self.sent: list[Notification] = []
        self.before_send: Callable[[Notification], None] | None = None
        self._lock = threading.Lock()

    def fail(self, notification_id: str, *failures: BaseException) -> None:
        """Fail the next attempts of this notification with these errors, in order."""
        self.failures[notification_id].extend(failures)

    def fail_always(self, notification_id: str, failure: BaseException) -> None:
        self.always[notification_id] = failure

    def send(self, notification: Notification) -> str:
        if self.before_send is not None:
            self.before_send(notification)
        with self._lock:
            self.attempts.append(notification.id)
            queued = self.failures[notification.id]
            failure = queued.popleft() if queued else self.always.get(notification.id)
            if failure is None:
                self.sent.append(notification)
                return f"{self.name}-{len(self.sent)}"
        raise failure

    def attempts_of(self, notification_id: str) -> int:
        return self.attempts.count(notification_id)


def provider_context(env: dict[str, str], secrets: SecretStore | None = None) -> ProviderContext:
    """What build_deliverer hands a provider module's create(), for these environment variables."""
    return ProviderContext(EnvReader(env), secrets or SecretStore())
