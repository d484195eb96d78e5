"""Webhooks: an HTTP POST of the notification as JSON to the URL in ``to``.

2xx is success. 408, 425, 429 and 5xx are worth retrying (429, or 503 with
Retry-After, as rate-limited); redirects and every other 4xx can never succeed.
Timeouts and connection errors are transient. One pooled Session per container keeps
connections alive across records.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from delivery.config import EnvReader
from delivery.contract import Notification, PermanentError, ProviderContext, RateLimitedError, TransientError
from delivery.masking import mask_recipient

RETRYABLE_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "Herald-Webhooks/1"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    allow_private: bool = False

    @classmethod
    def from_env(cls, env: EnvReader) -> WebhookConfig:
        return cls(
            connect_timeout=env.decimal("HERALD_WEBHOOK_CONNECT_TIMEOUT", 3.05, 0.1, 60),
            read_timeout=env.decimal("HERALD_WEBHOOK_READ_TIMEOUT", 10.0, 0.1, 300),
            allow_private=env.flag("HERALD_WEBHOOK_ALLOW_PRIVATE"),
        )


class WebhookProvider:
    name = "webhook"
    channels = frozenset({"webhook"})

    def __init__(self, config: WebhookConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or _pooled_session()

    def send(self, notification: Notification) -> str:
        url = notification.to
        target = mask_recipient(url)
        self._check_target(url, target)
        sent_at = time.time()
        payload = {
            "type": "notification",
            "timestamp": datetime.fromtimestamp(sent_at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "data": {
                "id": notification.id,
                "subject": notification.subject,
                "body": notification.body,
                "critical": notification.critical,
                "metadata": notification.metadata,
            },
        }
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # Standard Webhooks header names: receivers dedupe on webhook-id (= notification id).
            "webhook-id": notification.id,
            "webhook-timestamp": str(int(sent_at)),
        }
        try:
            response = self.session.post(
                url,
                data=json.dumps(payload, separators=(",", ":")).encode(),
                headers=headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                allow_redirects=False,  # a redirect could point anywhere, including inside the VPC
            )
        except requests.Timeout as error:
            kind = "connect" if isinstance(error, requests.ConnectTimeout) else "read"
            limit = self.config.connect_timeout if kind == "connect" else self.config.read_timeout
            raise TransientError(f"{kind} timeout after {limit}s posting to {target}") from None
        except requests.ConnectionError:
            raise TransientError(f"could not connect to {target}") from None
        except requests.RequestException as error:
            raise TransientError(f"{type(error).__name__} posting to {target}") from None
        return self._classify(response, target)

    def _classify(self, response: requests.Response, target: str) -> str:
        status = response.status_code
        if 200 <= status < 300:
            return response.headers.get("X-Request-Id") or f"http-{status}"
        reason = f"{target} answered HTTP {status}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or (status == 503 and retry_after is not None):
            raise RateLimitedError(reason, retry_after)
        if status in RETRYABLE_STATUSES or status >= 500:
            raise TransientError(reason)
        if 300 <= status < 400:
            raise PermanentError(f"{reason} (redirects are not followed: use the final URL)")
        raise PermanentError(reason)

    def _check_target(self, url: str, target: str) -> None:
        parts = urlsplit(url)
        if self.config.allow_private:
            return
        if parts.scheme != "https":
            raise PermanentError(
                f"webhook target {target} is not https (plain http needs HERALD_WEBHOOK_ALLOW_PRIVATE=true)"
            )
        host = (parts.hostname or "").rstrip(".").lower()
        if host == "localhost" or host.endswith(".localhost") or _is_private_ip(host):
            raise PermanentError(
                f"webhook target {target} is a private or loopback address "
                "(allowed only with HERALD_WEBHOOK_ALLOW_PRIVATE=true)"
            )


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


# Legacy numeric IPv4 spellings the resolver also accepts: 2130706433, 127.1, 0x7f000001, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")


def _is_private_ip(host: str) -> bool:
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        if not _NUMERIC_HOST.match(host):
            return False  # a hostname: resolving it to check is the providers issue's SSRF guard
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return True  # numeric but not an address: refuse rather than guess what a resolver makes of it
    return not address.is_global


def _pooled_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy variables or ~/.netrc credentials on requests to arbitrary URLs
    # Enough pooled connections per host for every concurrent record to reuse one.
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=100, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def create(context: ProviderContext) -> WebhookProvider:
    return WebhookProvider(WebhookConfig.from_env(context.env))
