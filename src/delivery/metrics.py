"""statsd metrics that never slow down or break a send.

Off unless STATSD_HOST is set. statsd speaks UDP, so a dead collector costs a
``sendto`` and nothing else; any error inside the client is swallowed here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from delivery.config import StatsdSettings

P = ParamSpec("P")
R = TypeVar("R")

_log = logging.getLogger(__name__)


class StatsClient(Protocol):
    def incr(self, stat: str, count: int = 1, rate: float = 1) -> None: ...
    def timing(self, stat: str, delta: float, rate: float = 1) -> None: ...


_client: StatsClient | None = None


def configure_from(settings: StatsdSettings) -> None:
    configure(settings.host, settings.port, settings.prefix)


def configure(host: str | None, port: int = 8125, prefix: str = "herald") -> None:
    """Point metrics at a statsd collector, or turn them off when ``host`` is None."""
    global _client
    if host is None:
        _client = None
        return
    try:
        import statsd  # imported only when metrics are on: keeps cold start lean

        _client = statsd.StatsClient(host, port, prefix=prefix)
    except Exception:  # noqa: BLE001
        # An unresolvable host must not stop deliveries; say so once and carry on without metrics.
        _log.warning("statsd disabled: cannot use STATSD_HOST=%s port %s", host, port, exc_info=True)
        _client = None


def incr(stat: str, count: int = 1) -> None:
    client = _client
    if client is None or count == 0:
        return
    with contextlib.suppress(Exception):  # metrics must never break a send
        client.incr(stat, count)


def timing(stat: str, millis: float) -> None:
    client = _client
    if client is None:
        return
    with contextlib.suppress(Exception):  # metrics must never break a send
        client.timing(stat, millis)


def stat_name_for(func: Callable[..., Any]) -> str:
    """``delivery.core.Deliverer.deliver`` -> ``core.deliver``: short, stable, no recipients."""
    return f"{func.__module__.rpartition('.')[2]}.{func.__name__}"


def counted_and_timed(func: Callable[P, R]) -> Callable[P, R]:
    """Count each call and time it, under a stat name inferred from the function (seed 003)."""
    name = stat_name_for(func)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            incr(name)
            timing(name, (time.perf_counter() - started) * 1000)

    return wrapper
