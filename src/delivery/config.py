"""Configuration: one typed, validated object built once at cold start from the environment.

Every problem found is reported at once, each naming the variable and what to set,
so a bad deploy fails at start-up instead of on the first message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

# SQS refuses a visibility timeout above 12 hours.
SQS_MAX_VISIBILITY_SECONDS = 43_200
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
        try:
            value = parse(raw)  # NaN passes no range check below: value != value catches it
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not {kind}")
            return default
        if value != value or value < low or (high is not None and value > high):  # type: ignore[operator]
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
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
    statsd_host: str | None = None
    statsd_port: int = 8125
    statsd_prefix: str = "herald"

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> Settings:
        """Build and validate the settings; raise ConfigError naming every bad variable."""
        read = env or EnvReader()
        settings = cls.read(read)
        read.check()
        return settings

    @classmethod
    def read(cls, read: EnvReader) -> Settings:
        """Build the settings, leaving any problems in ``read.problems`` for the caller to check."""
        routes = []
        for channel in CHANNELS:
            primary = read.text(f"HERALD_{channel.upper()}_PROVIDER", "webhook" if channel == "webhook" else None)
            fallback = read.text(f"HERALD_{channel.upper()}_FALLBACK_PROVIDER")
            if primary is None and fallback is not None:
                read.problems.append(
                    f"HERALD_{channel.upper()}_FALLBACK_PROVIDER is set but HERALD_{channel.upper()}_PROVIDER is not"
                )
            if primary is not None:
                routes.append((channel, (primary,) if fallback in (None, primary) else (primary, fallback)))
        extra = read.text("HERALD_EXTRA_PROVIDERS")
        return cls(
            dlq_url=read.required("HERALD_DLQ_URL", "set it to the dead-letter queue's URL"),
            max_attempts=read.integer("HERALD_MAX_ATTEMPTS", 48, low=1),
            retry_delay_seconds=read.integer("HERALD_RETRY_DELAY_SECONDS", 300, 0, SQS_MAX_VISIBILITY_SECONDS),
            retry_schedule=read.integers("HERALD_RETRY_SCHEDULE", 0, SQS_MAX_VISIBILITY_SECONDS),
            retry_jitter=read.decimal("HERALD_RETRY_JITTER", 0.0, 0.0, 1.0),
            concurrency=read.integer("HERALD_CONCURRENCY", 10, 1, 100),
            routes=tuple((channel, names) for channel, names in routes if names),
            extra_providers=tuple(p.strip() for p in extra.split(",") if p.strip()) if extra else (),
            secrets_max_age_seconds=read.integer("HERALD_SECRETS_MAX_AGE_SECONDS", 300, 0, 86400),
            statsd_host=read.text("STATSD_HOST"),
            statsd_port=read.integer("STATSD_PORT", 8125, 1, 65535),
            statsd_prefix=read.text("STATSD_PREFIX", "herald") or "herald",
        )

    def route(self, channel: str) -> tuple[str, ...]:
        """The providers for a channel, in the order to try them; empty if none is configured."""
        return dict(self.routes).get(channel, ())

    @property
    def enabled_providers(self) -> tuple[str, ...]:
        names = [name for _, route in self.routes for name in route] + list(self.extra_providers)
        return tuple(dict.fromkeys(names))
