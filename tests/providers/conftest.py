"""A fake DNS for provider tests: names resolve only to what a test says, and never leave the machine."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Resolver:
    """``answers[name]`` is a list of answers (each a list of IPs): one per lookup, the last repeats."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    resolver = Resolver()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in resolver.answers:
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
            except OSError:
                raise socket.gaierror(socket.EAI_NONAME, f"{name} is not in the test's fake DNS") from None
            return real_getaddrinfo(host, port, *args, **kwargs)  # a literal address: no lookup happens
        resolver.lookups.append(name)
        queued = resolver.answers[name]
        ips = queued.pop(0) if len(queued) > 1 else queued[0]
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 0)))
            for ip in ips
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return resolver
