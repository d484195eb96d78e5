"""Effectively-once sending: an idempotency record per notification id around the provider calls.

Powertools Idempotency with a DynamoDB table. The first delivery of a notification id saves an
"in progress" record, calls the providers, and saves the result; a redelivery of an id already
sent returns that result without calling any provider. A failed send deletes the record so the
retry can proceed; a record left "in progress" by a crashed invocation expires with that
invocation's remaining time. When the store cannot be reached before a send, nothing is sent
(the record is retried, never sent blind); when it fails only after the provider accepted, the
send stands and the duplicate window is logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from delivery.aws import client as aws_client

KEY_PREFIX = "herald-notification"  # stable across code changes: renaming a function must not reset dedupe


@dataclass(frozen=True, slots=True)
class SendRecord:
    """Who sent a notification; what a redelivery gets back instead of a second send."""

    provider: str
    provider_message_id: str
    replayed: bool = False  # True: sent earlier, suppressed now
    unrecorded: bool = False  # True: sent now, but the record could not be saved


class SendGuard(Protocol):
    """What the core needs of the idempotency store: run a send at most once per notification id."""

    overhead_seconds: float  # the longest the guard itself adds to one send

    def register_invocation(self, context: Any) -> None: ...

    def send(self, notification_id: str, send: Callable[[], SendRecord]) -> SendRecord: ...


class AlreadyInProgress(Exception):
    """Another invocation holds this notification's record (sending now, or crashed mid-send)."""


class StoreUnavailable(Exception):
    """The idempotency store could not be used before sending: nothing was sent."""


# DynamoDB calls get short timeouts: they sit inside the time budget of every send (twice: the
# "in progress" record before, the result after), and a slow store must not push a send past the
# function timeout. 2 attempts x (1 s connect + 2 s read) + 1 s backoff.
STORE_CALL_SECONDS = 2 * (1.0 + 2.0) + 1.0


def _store_client(service: str) -> Any:
    return aws_client(service, connect_timeout=1.0, read_timeout=2.0, max_attempts=2)


class SendOnce:
    # Added to every send's time budget: the "in progress" save, the result save, and one more try at it.
    overhead_seconds = 3 * STORE_CALL_SECONDS + 0.2

    def __init__(self, table: str, ttl_seconds: int, client_factory: Callable[[str], Any] = _store_client) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds
        self.client_factory = client_factory
        self._tools: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _persistence(self) -> tuple[Any, Any]:
        # Created on first use: Powertools' DynamoDB layer imports boto3, which costs cold start.
        with self._lock:
            if self._tools is None:
                from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

                config = IdempotencyConfig(
                    event_key_jmespath="id", raise_on_no_idempotency_key=True, expires_after_seconds=self.ttl_seconds
                )
                store = DynamoDBPersistenceLayer(table_name=self.table, boto3_client=self.client_factory("dynamodb"))
                self._tools = (config, store)
            return self._tools

    def register_invocation(self, context: Any) -> None:
        """In-progress records expire with this invocation's remaining time."""
        config, _ = self._persistence()
        config.register_lambda_context(context)

    def send(self, notification_id: str, send: Callable[[], SendRecord]) -> SendRecord:
        """Run ``send`` at most once per notification id; ``send`` raises when nothing was sent."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            BaseError,
            IdempotencyAlreadyInProgressError,
        )

        config, store = self._persistence()
        sent: list[SendRecord] = []
        failed: list[Exception] = []

        def attempt(notification: dict[str, str]) -> dict[str, str]:
            try:
                record = send()
            except Exception as error:
                failed.append(error)
                raise
            sent.append(record)
            return {"provider": record.provider, "provider_message_id": record.provider_message_id}

        once = idempotent_function(
            attempt, data_keyword_argument="notification", persistence_store=store, config=config, key_prefix=KEY_PREFIX
        )
        try:
            result = once(notification={"id": notification_id})
        except IdempotencyAlreadyInProgressError:
            raise AlreadyInProgress(notification_id) from None
        except BaseError as error:  # the store failed (persistence, inconsistent state...): never sent blind
            if sent:
                # The provider accepted; only saving that failed. The send stands (retrying would send twice),
                # and the record is saved again: left "in progress" it would expire and let a redelivery send.
                recorded = self._save_again(store, notification_id, sent[0])
                return SendRecord(sent[0].provider, sent[0].provider_message_id, unrecorded=not recorded)
            if failed:
                # The providers failed, then the record could not be released: the providers' failure still
                # decides (a refusal stays permanent); the record expires before any retry can proceed.
                raise failed[0] from None
            cause = error.__cause__ or error
            raise StoreUnavailable(f"{type(error).__name__} ({type(cause).__name__})") from None
        if sent:
            return sent[0]
        return SendRecord(str(result["provider"]), str(result["provider_message_id"]), replayed=True)

    @staticmethod
    def _save_again(store: Any, notification_id: str, record: SendRecord) -> bool:
        """One more try at saving a successful send's record (throttling passes in moments); True if saved."""
        time.sleep(0.2)
        try:
            store.save_success(
                data={"id": notification_id},
                result={"provider": record.provider, "provider_message_id": record.provider_message_id},
            )
        except Exception:  # noqa: BLE001 - still failing: the caller reports an unrecorded send
            return False
        return True


class SendAlways:
    """No idempotency store configured: every delivery sends."""

    overhead_seconds = 0.0

    def register_invocation(self, context: Any) -> None:
        pass

    def send(self, notification_id: str, send: Callable[[], SendRecord]) -> SendRecord:
        return send()
