"""The wall-clock limit on one HTTP call (providers/http.py), against a real server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from typing import Any

import pytest
import requests

from herald.local.receiver import Receiver, Reply
from providers.http import CallOverran, pooled_session, post_within, wall_clock_limit


def test_a_limit_that_runs_out_while_the_name_resolves_still_stops_the_call(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No socket exists yet when the limit runs out, so there is nothing to shut down then.
    real_getaddrinfo = socket.getaddrinfo

    def slow_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return real_getaddrinfo(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    receiver.reply(Reply(body=b"x" * 30, trickle=0.1))  # would take 3 s once connected
    session = pooled_session()

    with pytest.raises(CallOverran, match=r"no whole answer within 0\.3s"):
        post_within(session, 0.3, f"{receiver.url}/hook", data=b"{}", timeout=(1.0, 1.0))

    session.close()


class SilentServer:
    """Accepts TCP connections and never answers; records whether a client sent anything."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.connections.append(connection)
                connection.settimeout(2)
                with suppress(OSError):
                    self.received += connection.recv(4096)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.listener.close()


def test_a_limit_that_runs_out_while_the_name_resolves_starts_no_tls_handshake(monkeypatch: pytest.MonkeyPatch) -> None:
    server = SilentServer()
    real_getaddrinfo = socket.getaddrinfo

    def slow_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return real_getaddrinfo(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    session = pooled_session()

    with pytest.raises(CallOverran):
        post_within(session, 0.3, f"https://127.0.0.1:{server.port}/hook", data=b"{}", timeout=(1.0, 1.0))

    time.sleep(0.2)  # a ClientHello, had one been sent, has arrived
    assert server.received == b"", "a TLS handshake began after the call's time was up"
    session.close()
    server.close()


def test_a_call_started_with_its_time_already_spent_is_not_made(receiver: Receiver) -> None:
    session = pooled_session()

    with pytest.raises(CallOverran):
        post_within(session, 0.5, f"{receiver.url}/hook", started=time.monotonic() - 1, data=b"{}", timeout=1)

    assert receiver.requests == []
    session.close()


def test_a_connection_given_back_to_the_pool_is_not_shut_down_when_the_limit_later_runs_out(
    receiver: Receiver,
) -> None:
    # Once back in the pool, the connection may serve another thread's call: it is no longer this call's.
    session = pooled_session()
    with wall_clock_limit(0.2) as limit:
        assert session.post(f"{receiver.url}/first", data=b"{}", timeout=1).status_code == 200
        time.sleep(0.4)
        assert limit.expired

    assert session.post(f"{receiver.url}/second", data=b"{}", timeout=1).status_code == 200
    assert receiver.connections == 1, "the kept-alive connection was shut down and a new one opened"
    session.close()


def test_limits_nest_and_the_outer_one_holds_again_after_the_inner_one(receiver: Receiver) -> None:
    receiver.reply(Reply(body=b"x" * 30, trickle=0.1))
    session = pooled_session()

    with wall_clock_limit(0.4) as outer:
        with wall_clock_limit(10):
            pass
        with pytest.raises(requests.RequestException):  # the socket was shut down under it
            session.post(f"{receiver.url}/hook", data=b"{}", timeout=(1.0, 1.0))
        assert outer.expired

    session.close()
