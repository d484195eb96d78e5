"""Wiring: settings, providers, queue and metrics, built once per container."""

from __future__ import annotations

from delivery import metrics
from delivery.config import EnvReader, Settings
from delivery.contract import ProviderContext
from delivery.core import Deliverer
from delivery.idempotency import SendAlways, SendGuard, SendOnce
from delivery.log import logger
from delivery.queue import MessageQueue, SqsQueue
from delivery.secrets import SecretStore
from providers.registry import MODULES, create_providers


def build_deliverer(env: EnvReader | None = None, queue: MessageQueue | None = None) -> Deliverer:
    """Read and validate all configuration (core and providers) and build the deliverer.

    Raises ConfigError listing every problem, so a bad deploy fails at start-up.
    """
    read = env or EnvReader()
    settings = Settings.read(read)
    secrets = SecretStore(max_age=settings.secrets_max_age_seconds)
    for variable, name in settings.provider_sources:
        if name not in MODULES:
            read.problems.append(f"{variable}={name!r} is not a provider: choose from {', '.join(sorted(MODULES))}")
    enabled = [name for name in settings.enabled_providers if name in MODULES]
    providers = create_providers(enabled, ProviderContext(read, secrets))
    for channel, route in settings.routes:
        for name in route:
            if name in providers and channel not in providers[name].channels:
                read.problems.append(f"provider {name!r} cannot send {channel} (check HERALD_{channel.upper()}_*)")
        longest = sum(providers[name].max_call_seconds for name in route if name in providers)
        longest += SendOnce.overhead_seconds if settings.idempotency_table else 0.0
        if longest + settings.time_margin_seconds > settings.function_timeout_seconds:
            read.problems.append(
                f"a {channel} send via {' then '.join(route)} can take {longest:.1f}s, which with the "
                f"{settings.time_margin_seconds}s margin does not fit HERALD_FUNCTION_TIMEOUT_SECONDS="
                f"{settings.function_timeout_seconds}: lower the providers' timeouts or raise the function timeout"
            )
    read.check()
    metrics.configure_from(settings.statsd)
    if settings.idempotency_table:
        once: SendGuard = SendOnce(settings.idempotency_table, settings.idempotency_ttl_seconds)
    else:
        once = SendAlways()
        logger.warning("IDEMPOTENCY OFF: HERALD_IDEMPOTENCY_TABLE is not set; a redelivered notification is sent again")
    return Deliverer(settings, providers, queue or SqsQueue(settings.dlq_url), once=once)
