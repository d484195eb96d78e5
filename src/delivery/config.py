"""Configuration: one typed, validated object built once at cold start from the environment.

Every problem found is reported at once, each naming the variable and what to set,
so a bad deploy fails at start-up instead of on the first message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

# SQS refuses a visibility timeout above 12 hours, and keeps a message at most 14 days.
SQS_MAX_VISIBILITY_SECONDS = 43_200
SQS_MAX_RETENTION_SECONDS = 1_209_600
CHANNELS = ("email", "sms", "webhook")

T = TypeVar("T")


class ConfigError(Exception):
    """The environment does not describe a configuration Herald can run with."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "Herald cannot start; fix these environment variables:\n" + "\n".join(f"  - {p}" for p in problems)
        )


class EnvReader:
    """Reads typed values from an environment mapping, collecting every problem before failing."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def required(self, name: str, hint: str) -> str:
        value = self.text(name)
        if value is None:
            self.problems.append(f"{name} is not set: {hint}")
            return ""
        return value

    def _number(self, name: str, default: T, parse: Callable[[str], T], kind: str, low: T, high: T | None) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        try:
            value = parse(raw)  # NaN passes no range check below: value != value catches it
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not {kind}: use {kind} {bounds}")
            return default
        if value != value or value < low or (high is not None and value > high):  # type: ignore[operator]
            self.problems.append(f"{name}={raw} is out of range: use {kind} {bounds}")
            return default
        return value

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        return self._number(name, default, int, "a whole number", low, high)

    def decimal(self, name: str, default: float, low: float, high: float | None = None) -> float:
        return self._number(name, default, float, "a number", low, high)

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        self.problems.append(f"{name}={raw!r} is not a boolean: use true or false")
        return default

    def integers(self, name: str, low: int, high: int) -> tuple[int, ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        try:
            values = tuple(int(part) for part in raw.split(","))
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a comma-separated list of whole numbers")
            return ()
        if any(v < low or v > high for v in values):
            self.problems.append(f"{name}={raw} has a value out of range: each must be between {low} and {high}")
            return ()
        return values

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


@dataclass(frozen=True, slots=True)
class StatsdSettings:
    host: str | None = None  # None: metrics off
    port: int = 8125
    prefix: str = "herald"

    @classmethod
    def read(cls, env: EnvReader) -> StatsdSettings:
        return cls(
            host=env.text("STATSD_HOST"),
            port=env.integer("STATSD_PORT", 8125, 1, 65535),
            prefix=env.text("STATSD_PREFIX", "herald") or "herald",
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Herald's delivery settings (provider-specific settings live with each provider)."""

    dlq_url: str
    max_attempts: int = 48
    retry_delay_seconds: int = 300
    retry_schedule: tuple[int, ...] = ()
    retry_jitter: float = 0.0
    concurrency: int = 10
    # channel -> (primary provider, optional fallback tried in the same attempt on a transient failure)
    routes: tuple[tuple[str, tuple[str, ...]], ...] = (("webhook", ("webhook",)),)
    extra_providers: tuple[str, ...] = ()
    secrets_max_age_seconds: int = 300
    idempotency_table: str | None = None
    idempotency_ttl_seconds: int = 14 * 24 * 3600
    function_timeout_seconds: int = 60
    time_margin_seconds: float = 2.0
    statsd: StatsdSettings = field(default_factory=StatsdSettings)

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> Settings:
        """Build and validate the settings; raise ConfigError naming every bad variable."""
        read = env or EnvReader()
        settings = cls.read(read)
        read.check()
        return settings

    @classmethod
    def read(cls, env: EnvReader) -> Settings:
        """Build the settings, leaving any problems in ``env.problems`` for the caller to check."""
        routes = []
        for channel in CHANNELS:
            primary = env.text(f"HERALD_{channel.upper()}_PROVIDER", "webhook" if channel == "webhook" else None)
            fallback = env.text(f"HERALD_{channel.upper()}_FALLBACK_PROVIDER")
            if primary is None and fallback is not None:
                env.problems.append(
                    f"HERALD_{channel.upper()}_FALLBACK_PROVIDER is set but HERALD_{channel.upper()}_PROVIDER is not"
                )
            if primary is not None:
                routes.append((channel, (primary,) if fallback in (None, primary) else (primary, fallback)))
        extra = env.text("HERALD_EXTRA_PROVIDERS")
        settings = cls(
            dlq_url=env.required("HERALD_DLQ_URL", "set it to the dead-letter queue's URL"),
            max_attempts=env.integer("HERALD_MAX_ATTEMPTS", 48, 1, 1000),
            retry_delay_seconds=env.integer("HERALD_RETRY_DELAY_SECONDS", 300, 0, SQS_MAX_VISIBILITY_SECONDS),
            retry_schedule=env.integers("HERALD_RETRY_SCHEDULE", 0, SQS_MAX_VISIBILITY_SECONDS),
            retry_jitter=env.decimal("HERALD_RETRY_JITTER", 0.0, 0.0, 1.0),
            concurrency=env.integer("HERALD_CONCURRENCY", 10, 1, 100),
            routes=tuple((channel, names) for channel, names in routes if names),
            extra_providers=tuple(p.strip() for p in extra.split(",") if p.strip()) if extra else (),
            secrets_max_age_seconds=env.integer("HERALD_SECRETS_MAX_AGE_SECONDS", 300, 0, 86400),
            idempotency_table=env.text("HERALD_IDEMPOTENCY_TABLE"),
            idempotency_ttl_seconds=env.integer("HERALD_IDEMPOTENCY_TTL_SECONDS", 14 * 24 * 3600, 60, 365 * 86400),
            function_timeout_seconds=env.integer("HERALD_FUNCTION_TIMEOUT_SECONDS", 60, 1, 900),
            time_margin_seconds=env.decimal("HERALD_TIME_MARGIN_SECONDS", 2.0, 0.0, 60.0),
            statsd=StatsdSettings.read(env),
        )
        span = settings.retry_span_seconds
        if span > SQS_MAX_RETENTION_SECONDS:
            env.problems.append(
                f"HERALD_MAX_ATTEMPTS={settings.max_attempts} with these retry delays keeps retrying for "
                f"{span / 86400:.1f} days, longer than SQS keeps a message (14 days): "
                "lower HERALD_MAX_ATTEMPTS or the delays"
            )
        return settings

    @property
    def retry_span_seconds(self) -> int:
        """How long the retries of one notification last at most (jitter only shortens it)."""
        if not self.retry_schedule:
            return self.retry_delay_seconds * (self.max_attempts - 1)
        last = len(self.retry_schedule)
        return sum(self.retry_schedule[min(n, last) - 1] for n in range(1, self.max_attempts))

    def route(self, channel: str) -> tuple[str, ...]:
        """The providers for a channel, in the order to try them; empty if none is configured."""
        return dict(self.routes).get(channel, ())

    @property
    def provider_sources(self) -> list[tuple[str, str]]:
        """(environment variable, provider name) for every provider named, to report bad names precisely."""
        sources = []
        for channel, route in self.routes:
            variables = (f"HERALD_{channel.upper()}_PROVIDER", f"HERALD_{channel.upper()}_FALLBACK_PROVIDER")
            sources += list(zip(variables, route, strict=False))
        return sources + [("HERALD_EXTRA_PROVIDERS", name) for name in self.extra_providers]

    @property
    def enabled_providers(self) -> tuple[str, ...]:
        names = [name for _, route in self.routes for name in route] + list(self.extra_providers)
        return tuple(dict.fromkeys(names))
