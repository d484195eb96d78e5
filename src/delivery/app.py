"""Wiring: settings, providers, queue and metrics, built once per container."""

from __future__ import annotations

from delivery import metrics
from delivery.config import EnvReader, Settings
from delivery.contract import ProviderContext
from delivery.core import Deliverer
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
    read.check()
    metrics.configure(settings.statsd_host, settings.statsd_port, settings.statsd_prefix)
    return Deliverer(settings, providers, queue or SqsQueue(settings.dlq_url))
