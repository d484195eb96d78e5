"""Webhooks: an HTTP POST of the notification as JSON to the URL in ``to``, signed per the
Standard Webhooks convention (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

2xx is success. 408, 425, 429 and 5xx are worth retrying (429, or 503 with
Retry-After, as rate-limited); redirects and every other 4xx can never succeed.
Timeouts and connection errors are transient. Targets that are, or resolve to, private,
loopback, link-local or metadata addresses are refused (SSRF) unless
HERALD_WEBHOOK_ALLOW_PRIVATE=true. One pooled Session per container keeps connections alive.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from standardwebhooks import Webhook

from delivery.config import EnvReader
from delivery.contract import Notification, PermanentError, ProviderContext, RateLimitedError, TransientError
from delivery.masking import mask_recipient
from delivery.secrets import SecretStore, SecretUnavailable, parse_secret_ref
from providers.http import BlockedAddress, CallOverran, check_host, parse_retry_after, pooled_session, post_within

RETRYABLE_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "Herald-Webhooks/1"
ALLOW_PRIVATE_HINT = "allowed only with HERALD_WEBHOOK_ALLOW_PRIVATE=true"
REFUSED = "webhook target {target} is a private or loopback address ({detail}; " + ALLOW_PRIVATE_HINT + ")"

__all__ = ["WebhookConfig", "WebhookProvider", "create", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    allow_private: bool = False
    signing_secret: str | None = None  # a secret reference: ssm:/name or secretsmanager:name

    @classmethod
    def from_env(cls, env: EnvReader) -> WebhookConfig:
        signing_secret = env.text("HERALD_WEBHOOK_SIGNING_SECRET")
        if signing_secret is not None:
            try:
                parse_secret_ref(signing_secret)
            except ValueError:
                # Never echo the value: it may be the secret itself, pasted where its name belongs.
                env.problems.append(
                    "HERALD_WEBHOOK_SIGNING_SECRET must name the secret, as ssm:<parameter name> or "
                    "secretsmanager:<secret name>; the secret itself never goes in the environment"
                )
        return cls(
            connect_timeout=env.decimal("HERALD_WEBHOOK_CONNECT_TIMEOUT", 3.05, 0.1, 60),
            read_timeout=env.decimal("HERALD_WEBHOOK_READ_TIMEOUT", 10.0, 0.1, 300),
            allow_private=env.flag("HERALD_WEBHOOK_ALLOW_PRIVATE"),
            signing_secret=signing_secret,
        )


class WebhookProvider:
    name = "webhook"
    channels = frozenset({"webhook"})

    @property
    def max_call_seconds(self) -> float:
        return self.config.connect_timeout + self.config.read_timeout

    def __init__(
        self, config: WebhookConfig, session: requests.Session | None = None, secrets: SecretStore | None = None
    ) -> None:
        self.config = config
        self.session = session or pooled_session(guard_private=not config.allow_private)
        self.secrets = secrets or SecretStore()
        self._signer: tuple[str, Webhook] | None = None
        self._signer_lock = threading.Lock()

    def send(self, notification: Notification) -> str:
        url = notification.to
        target = mask_recipient(url)
        signer = self._current_signer()  # may fetch the secret: not the target's time
        started = time.monotonic()  # resolving the target's name counts against the call's limit
        self._check_target(url, target)
        sent_at = datetime.now(UTC).replace(microsecond=0)
        body = json.dumps(
            {
                "type": "notification",
                "timestamp": sent_at.isoformat().replace("+00:00", "Z"),
                "data": {
                    "id": notification.id,
                    "subject": notification.subject,
                    "body": notification.body,
                    "critical": notification.critical,
                    "metadata": notification.metadata,
                },
            },
            separators=(",", ":"),
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # Receivers dedupe on webhook-id (= notification id) and verify webhook-signature.
            "webhook-id": notification.id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
        }
        if signer is not None:
            headers["webhook-signature"] = signer.sign(notification.id, sent_at, body)
        try:
            response = post_within(
                self.session,
                self.max_call_seconds,
                url,
                started=started,
                data=body.encode(),
                headers=headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                allow_redirects=False,  # a redirect could point anywhere, including inside the VPC
            )
        except BlockedAddress as blocked:
            raise PermanentError(REFUSED.format(target=target, detail=blocked)) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema):
            raise PermanentError(f"webhook target {target} is not a URL that can be requested") from None
        except CallOverran as overran:
            raise TransientError(f"{overran} posting to {target}") from None
        except requests.Timeout as error:
            kind = "connect" if isinstance(error, requests.ConnectTimeout) else "read"
            limit = self.config.connect_timeout if kind == "connect" else self.config.read_timeout
            raise TransientError(f"{kind} timeout after {limit}s posting to {target}") from None
        except requests.ConnectionError:
            raise TransientError(f"could not connect to {target}") from None
        except requests.RequestException as error:
            raise TransientError(f"{type(error).__name__} posting to {target}") from None
        return self._classify(response, target)

    def _current_signer(self) -> Webhook | None:
        """The signer for the current secret value (the store refreshes it after max age: rotation)."""
        if self.config.signing_secret is None:
            return None
        try:
            secret = self.secrets.get(self.config.signing_secret)
        except SecretUnavailable as error:
            raise TransientError(f"cannot sign webhooks: {error}") from None
        with self._signer_lock:
            if self._signer is None or self._signer[0] != secret:
                try:
                    self._signer = (secret, Webhook(secret))
                except Exception:  # noqa: BLE001 - never echo a malformed secret
                    raise TransientError(
                        f"cannot sign webhooks: secret {self.config.signing_secret} is not a whsec_ base64 key"
                    ) from None
            return self._signer[1]

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
        if self.config.allow_private:
            return
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise PermanentError(f"webhook target {target} is not https (plain http is {ALLOW_PRIVATE_HINT})")
        try:
            check_host(parts.hostname or "", parts.port or 443)
        except BlockedAddress as blocked:
            raise PermanentError(REFUSED.format(target=target, detail=blocked)) from None
        except (OSError, UnicodeError) as error:
            raise TransientError(f"cannot resolve webhook target {target} ({type(error).__name__})") from None


def create(context: ProviderContext) -> WebhookProvider:
    return WebhookProvider(WebhookConfig.from_env(context.env), secrets=context.secrets)
