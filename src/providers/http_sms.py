"""SMS through an HTTP SMS API of the widely used "Messages" shape: a form POST of To, From and
Body to ``{base}/Accounts/{account}/Messages.json`` with the account id and auth token as basic auth.

The base URL is configuration, so the same module talks to a real vendor in production and to a
loopback server in tests. 2xx is success; 400 (invalid number, malformed request) can never succeed;
429 is rate-limited (Retry-After honoured); 5xx, timeouts and connection errors are transient; so are
401/403/404 and redirects, which mean Herald's credentials, account or base URL are wrong - something
an operator can fix within the retry window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from delivery.config import EnvReader
from delivery.contract import Notification, PermanentError, ProviderContext, RateLimitedError, TransientError
from delivery.masking import mask_recipient
from delivery.secrets import SecretStore, SecretUnavailable, parse_secret_ref
from providers.http import CallOverran, parse_retry_after, pooled_session, post_within

# Wrong credentials, account or base URL (a redirect means the URL is not the API's): fixable by an operator.
OPERATOR_FIXABLE = frozenset({301, 302, 303, 307, 308, 401, 403, 404})


@dataclass(frozen=True, slots=True)
class HttpSmsConfig:
    base_url: str
    account_id: str
    from_number: str
    auth_token: str  # a secret reference: ssm:/name or secretsmanager:name
    connect_timeout: float = 3.05
    read_timeout: float = 10.0

    @classmethod
    def from_env(cls, env: EnvReader) -> HttpSmsConfig:
        auth_token = env.required(
            "HERALD_HTTP_SMS_AUTH_TOKEN", "name the token's secret: ssm:/name or secretsmanager:name"
        )
        if auth_token:
            try:
                parse_secret_ref(auth_token)
            except ValueError:
                env.problems.append(
                    "HERALD_HTTP_SMS_AUTH_TOKEN must name the secret, as ssm:<parameter name> or "
                    "secretsmanager:<secret name>; the token itself never goes in the environment"
                )
        return cls(
            base_url=(env.required("HERALD_HTTP_SMS_BASE_URL", "the API's base URL") or "").rstrip("/"),
            account_id=env.required("HERALD_HTTP_SMS_ACCOUNT_ID", "the API account id"),
            from_number=env.required("HERALD_HTTP_SMS_FROM", "the sending number or sender id"),
            auth_token=auth_token,
            connect_timeout=env.decimal("HERALD_HTTP_SMS_CONNECT_TIMEOUT", 3.05, 0.1, 60),
            read_timeout=env.decimal("HERALD_HTTP_SMS_READ_TIMEOUT", 10.0, 0.1, 300),
        )


class HttpSmsProvider:
    name = "http_sms"
    channels = frozenset({"sms"})

    @property
    def max_call_seconds(self) -> float:
        return self.config.connect_timeout + self.config.read_timeout

    def __init__(
        self, config: HttpSmsConfig, secrets: SecretStore | None = None, session: requests.Session | None = None
    ) -> None:
        self.config = config
        self.secrets = secrets or SecretStore()
        self.session = session or pooled_session()
        self.url = f"{config.base_url}/Accounts/{config.account_id}/Messages.json"

    def send(self, notification: Notification) -> str:
        try:
            token = self.secrets.get(self.config.auth_token)
        except SecretUnavailable as error:
            raise TransientError(f"HTTP SMS auth token unavailable: {error}") from None
        try:
            response = post_within(
                self.session,
                self.max_call_seconds,
                self.url,
                data={"To": notification.to, "From": self.config.from_number, "Body": notification.body},
                auth=(self.config.account_id, token),
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                allow_redirects=False,
            )
        except CallOverran as overran:
            raise TransientError(f"HTTP SMS API: {overran}") from None
        except requests.Timeout as error:
            kind = "connect" if isinstance(error, requests.ConnectTimeout) else "read"
            raise TransientError(f"HTTP SMS API {kind} timeout") from None
        except requests.RequestException as error:
            raise TransientError(f"HTTP SMS API unreachable ({type(error).__name__})") from None
        return self._classify(response, notification)

    def _classify(self, response: requests.Response, notification: Notification) -> str:
        status = response.status_code
        detail = _error_detail(response).replace(notification.to, mask_recipient(notification.to))
        if 200 <= status < 300:
            body = _json(response)
            return str(body.get("sid") or body.get("id") or f"http-{status}")
        reason = f"HTTP SMS API answered {status}{detail}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or (status == 503 and retry_after is not None):
            raise RateLimitedError(reason, retry_after)
        if status in OPERATOR_FIXABLE:
            raise TransientError(f"{reason} (check HERALD_HTTP_SMS_ACCOUNT_ID, the auth token and the base URL)")
        if status >= 500 or status == 408:
            raise TransientError(reason)
        raise PermanentError(reason)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_detail(response: requests.Response) -> str:
    body = _json(response)
    code, message = body.get("code"), body.get("message")
    if code is None and message is None:
        return ""
    return f" (code {code}: {str(message)[:200]})"


def create(context: ProviderContext) -> HttpSmsProvider:
    return HttpSmsProvider(HttpSmsConfig.from_env(context.env), secrets=context.secrets)
