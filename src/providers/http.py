"""HTTP plumbing shared by providers that speak HTTP: pooled sessions, Retry-After, and the
guard that keeps webhooks from reaching private networks (SSRF)."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

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


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }


def pooled_session(guard_private: bool = False) -> requests.Session:
    """A keep-alive session with enough pooled connections per host for every concurrent record."""
    session = requests.Session()
    session.trust_env = False  # no proxy variables or ~/.netrc credentials on requests Herald makes
    adapter_class = _GuardedAdapter if guard_private else HTTPAdapter
    adapter = adapter_class(pool_connections=16, pool_maxsize=100, max_retries=0)
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
