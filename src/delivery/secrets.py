"""Secrets (auth tokens, signing secrets) from SSM Parameter Store or Secrets Manager.

Read through Powertools Parameters, cached per container for ``max_age`` seconds: a
secret is fetched once, not per message, and refreshed after rotation. Values are never
logged; errors name the secret, never its value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from delivery.aws import client as aws_client

SCHEMES = ("ssm", "secretsmanager")


class SecretUnavailable(Exception):
    """The secret could not be read (missing, no permission, service down)."""


def parse_secret_ref(ref: str) -> tuple[str, str]:
    """``ssm:/herald/token`` -> ("ssm", "/herald/token"); ``secretsmanager:herald/token`` likewise."""
    scheme, _, name = ref.partition(":")
    if scheme not in SCHEMES or not name:
        raise ValueError(f"{ref!r} is not ssm:<parameter name> or secretsmanager:<secret name>")
    return scheme, name


class SecretStore:
    def __init__(self, max_age: int = 300, client_factory: Callable[[str], Any] = aws_client) -> None:
        self.max_age = max_age
        self.client_factory = client_factory
        self._providers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> str:
        scheme, name = parse_secret_ref(ref)
        # One reader at a time: ten records arriving together at cold start make one fetch, not ten.
        with self._lock:
            provider = self._provider(scheme)
            try:
                if scheme == "ssm":
                    value = provider.get(name, max_age=self.max_age, decrypt=True)
                else:
                    value = provider.get(name, max_age=self.max_age)
            except Exception as error:  # noqa: BLE001 - any failure to read a secret is retryable
                raise SecretUnavailable(f"secret {ref} could not be read ({type(error).__name__})") from None
        if isinstance(value, bytes):
            value = value.decode()
        if not isinstance(value, str) or not value:
            raise SecretUnavailable(f"secret {ref} is empty or not text")
        return value

    def _provider(self, scheme: str) -> Any:
        if scheme not in self._providers:
            from aws_lambda_powertools.utilities import parameters  # imports boto3: only when a secret is needed

            if scheme == "ssm":
                self._providers[scheme] = parameters.SSMProvider(boto3_client=self.client_factory("ssm"))
            else:
                self._providers[scheme] = parameters.SecretsProvider(boto3_client=self.client_factory("secretsmanager"))
        return self._providers[scheme]
