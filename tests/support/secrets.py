"""A secret in moto's SSM, and a secret store that counts the SSM calls it makes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from delivery.secrets import SecretStore


@contextmanager
def counted_ssm_secret(name: str, value: str) -> Iterator[tuple[SecretStore, list[str]]]:
    """``name`` as a SecureString in moto's SSM; yields a store (5-minute max age) and the API calls it made."""
    calls: list[str] = []
    with mock_aws():
        boto3.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString")

        def counting_client(service: str) -> Any:
            client = boto3.client(service)
            client.meta.events.register(f"before-call.{service}.*", lambda **kw: calls.append(kw["model"].name))
            return client

        yield SecretStore(max_age=300, client_factory=counting_client), calls
