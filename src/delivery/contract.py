"""The contract between the delivery core and providers.

A provider gets a validated :class:`Notification`, returns the provider's message
id on success, and raises one of the errors below on *any* failure. Nothing else
passes between them: providers know nothing about SQS, retries or dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from delivery.config import EnvReader
from delivery.secrets import SecretStore


@dataclass(frozen=True, slots=True)
class Notification:
    """One validated notification, as a producer put it on the queue (contract v1)."""

    id: str
    channel: str
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    critical: bool = False
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """Base of the provider contract: a send did not succeed."""


class TransientError(DeliveryError):
    """The send may succeed later (timeouts, connection errors, 5xx, throttling)."""


class RateLimitedError(TransientError):
    """The provider asked us to slow down; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """The request can never succeed as it stands (bad recipient, 4xx): do not retry."""


class Provider(Protocol):
    """What the core needs of a provider module's provider object."""

    name: str
    channels: frozenset[str]
    # The longest one send() can take (its timeouts and retries): no call starts without this much time left.
    max_call_seconds: float

    def send(self, notification: Notification) -> str:
        """Deliver the notification; return the provider's message id; raise a DeliveryError on failure."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What a provider module's ``create(context)`` gets at start-up: configuration and secrets."""

    env: EnvReader
    secrets: SecretStore
