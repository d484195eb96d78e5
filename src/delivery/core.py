"""The delivery policy: one queued message in, one outcome out.

Sent; retried later (``RETRY:``); given up after the last attempt (``RETRY FAILED:``,
dead-lettered); refused by the provider for good (``PERMANENT FAILURE:``, dead-lettered);
or never deliverable (``INVALID MESSAGE:``, dead-lettered at once). The dead-letter lines
are logged once the dead letter is written, so each alarm counts a message exactly once;
if the write fails, ``DEAD LETTER FAILED:`` is logged and the message stays on the queue.
Nothing here knows about Lambda; the only SQS it knows is the :class:`MessageQueue` port.
"""

from __future__ import annotations

import enum
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from delivery import metrics
from delivery.config import Settings
from delivery.contract import DeliveryError, Notification, PermanentError, Provider, RateLimitedError
from delivery.idempotency import AlreadyInProgress, SendAlways, SendGuard, SendRecord, StoreUnavailable
from delivery.log import logger
from delivery.masking import mask_recipient
from delivery.queue import MessageQueue, QueuedMessage
from delivery.retry import RetryPolicy
from delivery.validation import InvalidMessage, parse_notification

ERROR_TEXT_LIMIT = 1000


class Outcome(enum.StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # already sent earlier (idempotency record): acknowledged, not sent again
    DEFERRED = "deferred"  # not attempted in this invocation (time budget, record held elsewhere)
    RETRY = "retry"
    RETRY_FAILED = "retry_failed"
    PERMANENT = "permanent"
    INVALID = "invalid"


class DeadLetterReason(enum.StrEnum):
    INVALID = "invalid"
    PERMANENT = "permanent"
    EXHAUSTED = "exhausted"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    provider: str | None = None
    provider_message_id: str | None = None
    error: str | None = None

    @property
    def stays_on_queue(self) -> bool:
        """True when SQS must deliver the message again (the batch reports it as failed)."""
        return self.outcome in (Outcome.RETRY, Outcome.DEFERRED)


class DeadLetterFailed(Exception):
    """The dead-letter queue did not take the message: leave it on the source queue."""


Failure = tuple[str, Exception]  # (provider name, what it raised)
RemainingMillis = Callable[[], int]


class AttemptsExhausted(Exception):
    """No attempt is left for this notification."""


class NotSent(Exception):
    """No provider of the route accepted the notification."""

    def __init__(self, failures: list[Failure]) -> None:
        super().__init__(failures)
        self.failures = failures

    @property
    def permanent(self) -> bool:
        """The first provider refused for good (a fallback's refusal alone is not final)."""
        return len(self.failures) == 1 and isinstance(self.failures[0][1], PermanentError)


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        providers: Mapping[str, Provider],
        queue: MessageQueue,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        once: SendGuard | None = None,
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.queue = queue
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.clock = clock
        self.once = once or SendAlways()

    @metrics.counted_and_timed
    def deliver(self, message: QueuedMessage, remaining_millis: RemainingMillis | None = None) -> Result:
        """Deliver one message and settle it; raise DeadLetterFailed if it could not be settled.

        ``remaining_millis`` is the invocation's time left: no provider call starts that could not
        finish inside it (the record goes back on the queue instead).
        """
        logger.thread_safe_append_keys(sqs_message_id=message.message_id)
        try:
            try:
                notification = parse_notification(message.body)
            except InvalidMessage as invalid:
                reason = str(invalid)
            else:
                logger.thread_safe_append_keys(notification_id=notification.id)
                route = self._route(notification)
                if isinstance(route, str):
                    return self._invalid(message, notification, route)
                if message.attempt > self.policy.max_attempts:
                    return self._past_last_attempt(message, notification, route[0].name)
                return self._send(message, notification, route, remaining_millis)
            return self._invalid(message, None, reason)
        finally:
            logger.thread_safe_clear_keys()

    def _route(self, notification: Notification) -> list[Provider] | str:
        """The providers to try in order (a pinned one alone), or why there are none."""
        names = (notification.provider,) if notification.provider else self.settings.route(notification.channel)
        if not names:
            env = f"HERALD_{notification.channel.upper()}_PROVIDER"
            return f"no provider is configured for channel {notification.channel!r} (set {env})"
        route = []
        for name in names:
            provider = self.providers.get(name)
            if provider is None:
                enabled = ", ".join(sorted(self.providers)) or "none"
                return f"provider {name!r} is not enabled (enabled: {enabled})"
            if notification.channel not in provider.channels:
                return f"provider {name!r} does not send {notification.channel!r} notifications"
            route.append(provider)
        return route

    def _send(
        self,
        message: QueuedMessage,
        notification: Notification,
        route: list[Provider],
        remaining_millis: RemainingMillis | None,
    ) -> Result:
        needed = sum(p.max_call_seconds for p in route) + self.once.overhead_seconds + self.settings.time_margin_seconds
        if remaining_millis is not None and remaining_millis() < needed * 1000:
            left = remaining_millis() / 1000
            reason = f"{left:.1f}s left in this invocation, a send may need {needed:.1f}s"
            return self._defer(message, notification, route[0].name, reason, delay=0)
        failures: list[Failure] = []
        try:
            record = self.once.send(notification.id, lambda: self._attempt(message, notification, route, failures))
        except NotSent as not_sent:
            if not_sent.permanent:
                name, error = not_sent.failures[0]
                assert isinstance(error, PermanentError)
                return self._permanent(message, notification, name, error)
            return self._transient(message, notification, not_sent.failures)
        except AlreadyInProgress:
            reason = "another invocation holds its idempotency record (sending it now, or it crashed mid-send)"
            # Wait at least as long as that invocation can run, or the receive count climbs while it sends.
            delay = max(self.policy.delay_after(message.attempt), self.settings.function_timeout_seconds)
            return self._defer(message, notification, route[0].name, reason, delay)
        except StoreUnavailable as unavailable:
            return self._transient(message, notification, [("idempotency store", unavailable)])
        facts = self._facts(message, notification, record.provider, provider_message_id=record.provider_message_id)
        if record.replayed:
            return self._duplicate(message, notification, record)
        after = f" after {self._describe(notification, failures)}" if failures else ""
        logger.info(
            f"SENT: notification {notification.id} via {record.provider}{after} "
            f"(attempt {message.attempt}/{self.policy.max_attempts})",
            extra=facts,
        )
        if record.unrecorded:
            logger.warning(
                f"UNRECORDED SEND: notification {notification.id} was sent but its idempotency record could not "
                "be saved: a redelivery before it is deleted may send it again",
                extra=facts,
            )
        return self._count(Result(Outcome.SENT, record.provider, provider_message_id=record.provider_message_id))

    def _past_last_attempt(self, message: QueuedMessage, notification: Notification, provider: str) -> Result:
        """Received past the last attempt: an earlier attempt did not finish (a crash, a deferral, the
        dead-letter queue down). Settle it without sending: acknowledge it if its idempotency record
        says it was sent, else dead-letter it as exhausted."""
        error = AttemptsExhausted(
            f"receive count {message.attempt} is past the last attempt ({self.policy.max_attempts}) "
            "and no attempt sent it"
        )

        def no_more_sends() -> SendRecord:
            raise NotSent([(provider, error)])

        try:
            record = self.once.send(notification.id, no_more_sends)
        except AlreadyInProgress:
            reason = "another invocation holds its idempotency record (sending it now, or it crashed mid-send)"
            return self._defer(message, notification, provider, reason, self.settings.function_timeout_seconds)
        except (NotSent, StoreUnavailable):
            return self._give_up(message, notification, provider, f"AttemptsExhausted: {error}")
        return self._duplicate(message, notification, record)

    def _duplicate(self, message: QueuedMessage, notification: Notification, record: SendRecord) -> Result:
        logger.info(
            f"DUPLICATE SUPPRESSED: notification {notification.id} was already sent via {record.provider} "
            f"(provider message id {record.provider_message_id}); not sending it again",
            extra=self._facts(message, notification, record.provider, provider_message_id=record.provider_message_id),
        )
        return self._count(Result(Outcome.DUPLICATE, record.provider, record.provider_message_id))

    def _attempt(
        self, message: QueuedMessage, notification: Notification, route: list[Provider], failures: list[Failure]
    ) -> SendRecord:
        """Try the route's providers in turn; the first to accept sends. Raises NotSent otherwise."""
        for position, provider in enumerate(route):
            outcome = self._try(provider, notification)
            if isinstance(outcome, str):
                return SendRecord(provider.name, outcome)
            failures.append((provider.name, outcome))
            if isinstance(outcome, PermanentError) and position == 0:
                break  # the request itself is wrong: no fallback can help
            # A transient failure, or a fallback's refusal (the primary may still recover): go on.
            if position + 1 < len(route) and not isinstance(outcome, PermanentError):
                logger.warning(
                    f"FAILOVER: notification {notification.id} via {provider.name} failed with "
                    f"{self._describe(notification, [failures[-1]])}; trying {route[position + 1].name}",
                    extra=self._facts(message, notification, provider.name),
                )
                metrics.incr(f"delivery.{provider.name}.failover")
        raise NotSent(list(failures))

    def _defer(
        self, message: QueuedMessage, notification: Notification, provider: str, reason: str, delay: int
    ) -> Result:
        logger.info(
            f"DEFERRED: notification {notification.id} not attempted: {reason}; back on the queue in {delay}s",
            extra=self._facts(message, notification, provider, retry_in_seconds=delay),
        )
        try:
            self.queue.retry_later(message, delay)
        except Exception:  # noqa: BLE001 - it still comes back, after the queue's visibility timeout
            logger.exception(
                f"could not requeue notification {notification.id}; it returns after the visibility timeout"
            )
        return self._count(Result(Outcome.DEFERRED, provider, error=reason))

    @staticmethod
    def _try(provider: Provider, notification: Notification) -> str | Exception:
        """The provider's message id, or what it raised. Callers act outside this ``except``, so nothing
        they log or raise chains the provider's error (whose text may hold the recipient)."""
        started = time.perf_counter()
        try:
            return provider.send(notification)
        except Exception as error:  # noqa: BLE001 - a provider raises on any failure
            return error
        finally:
            metrics.timing(f"provider.{provider.name}.send", (time.perf_counter() - started) * 1000)

    def _transient(self, message: QueuedMessage, notification: Notification, failures: list[Failure]) -> Result:
        provider, first_error = failures[0]
        text = self._describe(notification, failures)
        if self.policy.exhausted(message.attempt):
            return self._give_up(message, notification, provider, text)
        retry_afters = [e.retry_after for _, e in failures if isinstance(e, RateLimitedError) and e.retry_after]
        delay = self.policy.delay_after(message.attempt, max(retry_afters) if retry_afters else None)
        facts = self._facts(
            message, notification, provider, error_class=type(first_error).__name__, error=text, retry_in_seconds=delay
        )
        unexpected = next((e for _, e in failures if not isinstance(e, DeliveryError)), None)
        if unexpected is not None:
            # Known provider errors need no traceback; anything else is a bug to look at (recipient masked).
            trace = "".join(traceback.format_exception(unexpected))
            facts["exception"] = self._error_text(notification, trace, limit=8000)
        logger.warning(
            f"RETRY: notification {notification.id} attempt {message.attempt}/{self.policy.max_attempts} "
            f"via {provider} failed with {text}; next try in {delay}s",
            extra=facts,
        )
        try:
            self.queue.retry_later(message, delay)
        except Exception:  # noqa: BLE001 - the message still comes back, after the queue's visibility timeout
            logger.exception(
                f"could not delay notification {notification.id} by {delay}s; "
                "it returns after the queue's visibility timeout instead",
                extra=facts,
            )
        return self._count(Result(Outcome.RETRY, provider, error=text))

    def _describe(self, notification: Notification, failures: list[Failure]) -> str:
        """``TransientError: 503`` for one failure; each provider's in turn after a failover."""
        (_, first), *rest = failures
        parts = [f"{type(first).__name__}: {self._error_text(notification, str(first))}"]
        parts += [
            f"failover to {name} failed with {type(e).__name__}: {self._error_text(notification, str(e))}"
            for name, e in rest
        ]
        return "; ".join(parts)

    def _give_up(self, message: QueuedMessage, notification: Notification, provider: str, text: str) -> Result:
        self._dead_letter(message, notification, DeadLetterReason.EXHAUSTED, provider, text)
        logger.error(
            f"RETRY FAILED: notification {notification.id} attempt {message.attempt}/{self.policy.max_attempts} "
            f"via {provider} failed with {text}; no attempts left, dead-lettered",
            extra=self._facts(message, notification, provider, error=text),
        )
        return self._count(Result(Outcome.RETRY_FAILED, provider, error=text))

    def _permanent(
        self, message: QueuedMessage, notification: Notification, provider: str, error: PermanentError
    ) -> Result:
        text = f"{type(error).__name__}: {self._error_text(notification, str(error))}"
        self._dead_letter(message, notification, DeadLetterReason.PERMANENT, provider, text)
        logger.error(
            f"PERMANENT FAILURE: notification {notification.id} attempt {message.attempt}/{self.policy.max_attempts} "
            f"via {provider} failed with {text}; not retrying, dead-lettered",
            extra=self._facts(message, notification, provider, error_class=type(error).__name__, error=text),
        )
        return self._count(Result(Outcome.PERMANENT, provider, error=text))

    def _invalid(self, message: QueuedMessage, notification: Notification | None, reason: str) -> Result:
        # The provider a producer asked for is kept on the dead letter, but never becomes a metric name.
        requested = notification.provider if notification else None
        self._dead_letter(message, notification, DeadLetterReason.INVALID, requested, reason)
        who = f"notification {notification.id}" if notification else f"message {message.message_id}"
        logger.error(
            f"INVALID MESSAGE: {who} cannot be delivered: {reason}; dead-lettered",
            extra={"attempt": message.attempt, "error": reason},
        )
        return self._count(Result(Outcome.INVALID, None, error=reason))

    def _dead_letter(
        self,
        message: QueuedMessage,
        notification: Notification | None,
        reason: DeadLetterReason,
        provider: str | None,
        error: str,
    ) -> None:
        attributes: dict[str, str | int] = {
            "reason": reason.value,
            "last_error": error[:ERROR_TEXT_LIMIT],
            "attempts": message.attempt,
            "provider": provider or "",
            "channel": notification.channel if notification else "",
            "notification_id": notification.id if notification else "",
            "critical": "true" if notification and notification.critical else "false",
            "first_seen": _iso(message.first_received_at) if message.first_received_at else "",
            "last_attempt": _iso(datetime.fromtimestamp(self.clock(), UTC)),
            "source_message_id": message.message_id,
        }
        try:
            self.queue.dead_letter(message, attributes)
        except Exception as error:
            logger.exception(
                f"DEAD LETTER FAILED: message {message.message_id} ({reason.value}) could not be dead-lettered "
                f"({type(error).__name__}); it stays on the queue and will be tried again",
                extra={"reason": reason.value, "attempt": message.attempt},
            )
            raise DeadLetterFailed(type(error).__name__) from error

    def _facts(
        self, message: QueuedMessage, notification: Notification, provider: str, **more: object
    ) -> dict[str, object]:
        return {
            "attempt": message.attempt,
            "max_attempts": self.policy.max_attempts,
            "provider": provider,
            "channel": notification.channel,
            "recipient": mask_recipient(notification.to),
            "critical": notification.critical,
            **more,
        }

    def _count(self, result: Result) -> Result:
        metrics.incr(f"delivery.{result.provider or 'none'}.{result.outcome.value}")
        return result

    @staticmethod
    def _error_text(notification: Notification, text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
        # Provider messages should already be masked; this catches any that slipped a recipient in.
        # Replace the recipient, not an already-masked form of it ("https://h/" inside "https://h/***").
        masked = mask_recipient(notification.to)
        text = re.sub(re.escape(notification.to) + r"(?!\*\*\*)", lambda _: masked, text or "(no message)")
        return text[:limit]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
