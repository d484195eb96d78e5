"""HTTP plumbing shared by providers that speak HTTP: pooled sessions, a wall-clock limit on one call,
Retry-After, and the guard that keeps webhooks from reaching private networks (SSRF)."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection  # the type _get_conn returns

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Legacy numeric IPv4 spellings resolvers also accept: 2130706433, 127.1, 0x7f000001, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The target is, or resolves to, a private, loopback, link-local or metadata address."""


def is_public(address: IPAddress) -> bool:
    """True for globally routable addresses, looking through IPv6 forms that embed an IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return embedded.is_global
    return address.is_global


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally (in any spelling a resolver accepts), or None for a hostname."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_HOST.match(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise BlockedAddress(f"{host!r} is numeric but not an address") from None


def check_host(host: str, port: int) -> None:
    """Refuse a host that is or resolves to a non-public address, before any connection is made.

    Raises BlockedAddress, or OSError (socket.gaierror) when the name does not resolve.
    """
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedAddress(f"{host} is loopback")
    literal = literal_address(host)
    if literal is not None:
        if not is_public(literal):
            raise BlockedAddress(f"{literal} is not public")
        return
    resolved = {ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    blocked = sorted(str(a) for a in resolved if not is_public(a))
    if blocked:
        raise BlockedAddress(f"{host} resolves to {', '.join(blocked)}")


def _check_peer(sock: socket.socket) -> None:
    # The name was checked before connecting; checking the connected peer too defeats DNS rebinding
    # (a second lookup answering differently from the first).
    address = ipaddress.ip_address(sock.getpeername()[0])
    if not is_public(address):
        sock.close()
        raise BlockedAddress(f"connected to non-public {address}")


_call = threading.local()  # the limit of the call the current thread is making, if any


class CallOverran(Exception):
    """The call had no whole answer within its wall-clock limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no whole answer within {seconds:g}s")
        self.seconds = seconds


class WallClockLimit:
    """Shuts down the sockets of one call that is still running ``seconds`` after ``started``.

    A read timeout bounds each socket read, not the answer: a server trickling a byte every few
    seconds could hold a call, and the invocation, for ever. Past the limit the call fails and
    ``expired`` is True. Only connections the call holds are shut down: one it has given back to
    the pool may already serve another thread's call.
    """

    def __init__(self, seconds: float, started: float) -> None:
        self.seconds = seconds
        self.deadline = started + seconds
        self.expired = False
        self._held: set[BaseHTTPConnection] = set()
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def hold(self, connection: BaseHTTPConnection) -> None:
        with self._lock:
            self._held.add(connection)

    def release(self, connection: BaseHTTPConnection) -> None:
        with self._lock:
            self._held.discard(connection)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self._held:
                _shut_down(connection)


def _shut_down(connection: BaseHTTPConnection) -> None:
    sock = getattr(connection, "sock", None)  # None until connected
    if sock is not None:
        with suppress(OSError):  # already closed
            # The plain socket's shutdown, also under TLS: it wakes a read blocked in another thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _current_limit() -> WallClockLimit | None:
    return getattr(_call, "limit", None)


@contextmanager
def wall_clock_limit(seconds: float, started: float | None = None) -> Iterator[WallClockLimit]:
    """Hold the HTTP calls made in this block, on this thread, through a `pooled_session`, to ``seconds``
    from ``started`` (a `time.monotonic` reading; default now)."""
    limit = WallClockLimit(seconds, time.monotonic() if started is None else started)
    outer = _current_limit()
    _call.limit = limit
    limit._timer.start()
    try:
        yield limit
    finally:
        limit._timer.cancel()
        _call.limit = outer


def post_within(
    session: requests.Session, seconds: float, url: str, started: float | None = None, **kwargs: Any
) -> requests.Response:
    """``session.post``, held to ``seconds`` of wall-clock time from ``started`` (default now);
    raises CallOverran past it."""
    with wall_clock_limit(seconds, started) as limit:
        if limit.remaining() <= 0:
            raise CallOverran(seconds)
        try:
            return session.post(url, **kwargs)
        except requests.RequestException:
            if limit.expired:
                raise CallOverran(seconds) from None
            raise


class _LimitedConnectMixin:
    """Gives a connect no more than the call's remaining time, and fails it once that is gone."""

    timeout: Any

    def connect(self) -> None:
        limit = _current_limit()
        if limit is not None:
            remaining = limit.remaining()
            if remaining <= 0:
                raise CallOverran(limit.seconds)
            if not isinstance(self.timeout, int | float) or self.timeout > remaining:
                self.timeout = remaining  # the connect timeout, for this connect only
        super().connect()  # type: ignore[misc]
        if limit is not None and limit.expired:  # ran out during the TLS handshake, before the timer could see it
            self.close()  # type: ignore[attr-defined]
            raise CallOverran(limit.seconds)

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        limit = _current_limit()
        if limit is not None:
            remaining = limit.remaining()
            if limit.expired or remaining <= 0:  # ran out while resolving or connecting: no socket to shut then
                sock.close()
                raise CallOverran(limit.seconds)
            current = sock.gettimeout()
            sock.settimeout(remaining if current is None else min(current, remaining))  # the TLS handshake's too
        return sock


class _LimitedHTTPConnection(_LimitedConnectMixin, HTTPConnection):
    pass


class _LimitedHTTPSConnection(_LimitedConnectMixin, HTTPSConnection):
    pass


class _LimitedPoolMixin:
    """Tells the current call's limit which connections it holds."""

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        connection: BaseHTTPConnection = super()._get_conn(timeout)  # type: ignore[misc]
        limit = _current_limit()
        if limit is not None:
            limit.hold(connection)
        return connection

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        limit = _current_limit()
        if limit is not None and conn is not None:
            limit.release(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class _LimitedHTTPConnectionPool(_LimitedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _LimitedHTTPConnection


class _LimitedHTTPSConnectionPool(_LimitedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _LimitedHTTPSConnection


class _GuardedHTTPConnection(_LimitedHTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(_LimitedHTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPConnectionPool(_LimitedHTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(_LimitedHTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _Adapter(HTTPAdapter):
    def __init__(self, guard_private: bool) -> None:
        self.guard_private = guard_private
        super().__init__(pool_connections=16, pool_maxsize=100, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if self.guard_private:
            self.poolmanager.pool_classes_by_scheme = {
                "http": _GuardedHTTPConnectionPool,
                "https": _GuardedHTTPSConnectionPool,
            }
        else:
            self.poolmanager.pool_classes_by_scheme = {
                "http": _LimitedHTTPConnectionPool,
                "https": _LimitedHTTPSConnectionPool,
            }


def pooled_session(guard_private: bool = False) -> requests.Session:
    """A keep-alive session with enough pooled connections per host for every concurrent record;
    calls made inside `wall_clock_limit` are held to it."""
    session = requests.Session()
    session.trust_env = False  # no proxy variables or ~/.netrc credentials on requests Herald makes
    adapter = _Adapter(guard_private)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
