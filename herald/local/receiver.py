"""A real HTTP server on 127.0.0.1 that plays a webhook receiver (or any HTTP provider) locally and in tests."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"ok"
    trickle: float = 0.0  # seconds between the body's bytes: a server that answers, slowly


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[[ReceivedRequest], Reply]


class Receiver:
    """Answers each request with the next scripted Reply for its path, else the next scripted Reply,
    else the responder's or the default Reply; records every request and counts TCP connections."""

    def __init__(self, default: Reply | None = None, responder: Responder | None = None) -> None:
        self.default = default or Reply()
        self.responder = responder
        self.script: deque[Reply] = deque()
        self.routes: dict[str, deque[Reply]] = {}
        self.requests: list[ReceivedRequest] = []
        self.connections = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be counted
            # Headers and body go out in separate writes: without this each answer waits ~40 ms on delayed ACKs.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                request = ReceivedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.requests.append(request)
                    reply = receiver._next_reply(request)
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if not reply.trickle:
                    self.wfile.write(reply.body)
                    return
                try:
                    for byte in reply.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64  # a batch opens up to HERALD_CONCURRENCY connections at once

            def get_request(self) -> Any:
                connection = super().get_request()
                with receiver._lock:
                    receiver.connections += 1
                return connection

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests, whatever their path, with these replies in order."""
        with self._lock:
            self.script.extend(replies)

    def route(self, path: str, *replies: Reply) -> None:
        """Answer requests to ``path`` with these replies in order; the last one repeats."""
        with self._lock:
            self.routes[path] = deque(replies)

    def _next_reply(self, request: ReceivedRequest) -> Reply:
        route = self.routes.get(request.path)
        if route:
            return route.popleft() if len(route) > 1 else route[0]
        if self.script:
            return self.script.popleft()
        return self.responder(request) if self.responder else self.default

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
