"""statsd metrics, checked on the wire: a real UDP socket on 127.0.0.1 plays the collector."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from delivery import metrics
from delivery.contract import PermanentError, TransientError
from tests.conftest import Herald
from tests.support.providers import ScriptedProvider


class Collector:
    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(2)
        self.port = self.socket.getsockname()[1]

    def packets(self, expected: int) -> list[str]:
        return [self.socket.recv(4096).decode() for _ in range(expected)]

    def drain(self) -> list[str]:
        self.socket.settimeout(0.2)
        received = []
        try:
            while True:
                received.append(self.socket.recv(4096).decode())
        except TimeoutError:
            return received


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    metrics.configure("127.0.0.1", server.port, "herald")
    yield server
    metrics.configure(None)
    server.socket.close()


@metrics.counted_and_timed
def resize_images() -> str:
    return "done"


def test_decorator_counts_and_times_under_a_name_inferred_from_the_function(collector: Collector) -> None:
    assert resize_images() == "done"

    counter, timer = collector.packets(2)
    assert counter == "herald.test_metrics.resize_images:1|c"
    assert timer.startswith("herald.test_metrics.resize_images:")
    assert timer.endswith("|ms")


def test_outcomes_are_counted_per_provider_without_recipients(
    collector: Collector, herald: Herald, scripted: ScriptedProvider
) -> None:
    herald.send({"id": "a", "channel": "sms", "to": "+447700900123", "body": "x"})
    herald.send({"id": "b", "channel": "email", "to": "jane@example.com", "subject": "s", "body": "x"})
    herald.send({"id": "c", "channel": "email", "to": "joe@example.com", "subject": "s", "body": "x"})
    herald.send("not json")
    scripted.fail("b", TransientError("503"))
    scripted.fail("c", PermanentError("bad address"))

    herald.run_batch()

    received = collector.drain()
    counters = sorted(p for p in received if p.startswith("herald.delivery."))
    assert counters == [
        "herald.delivery.none.invalid:1|c",
        "herald.delivery.scripted.permanent:1|c",
        "herald.delivery.scripted.retry:1|c",
        "herald.delivery.scripted.sent:1|c",
    ]
    assert "herald.core.deliver:1|c" in received
    assert not [p for p in received if "@" in p or "+44" in p]


def test_a_dead_statsd_collector_never_breaks_a_send(herald: Herald, scripted: ScriptedProvider) -> None:
    nothing_listens = Collector()
    port = nothing_listens.port
    nothing_listens.socket.close()
    metrics.configure("127.0.0.1", port, "herald")
    try:
        for i in range(3):
            herald.send({"id": f"n-{i}", "channel": "webhook", "to": "https://example.com/h", "body": "x"})

        assert herald.run_batch() == {"batchItemFailures": []}
    finally:
        metrics.configure(None)

    assert len(scripted.sent) == 3


def test_metrics_are_off_without_a_host(collector: Collector) -> None:
    metrics.configure(None)

    assert resize_images() == "done"

    assert collector.drain() == []
