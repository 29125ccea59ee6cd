"""A real HTTP peer on loopback for the SDK tests: ``POST /v1/events`` as the protocol states it.

It records every request, answers like the server (per-event checks, per-id de-duplication,
answers replayed for a repeated ``Idempotency-Key``) and can be told to misbehave: answer a given
status, close the connection without an answer, process a batch and then lose the answer, or be
down entirely (:meth:`Peer.stop`, then :meth:`Peer.start` again on the same port).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_TYPES = ("llm_call", "job_start", "job_heartbeat", "job_stop")
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


@dataclass(frozen=True)
class Fail:
    """What to do with the next request instead of answering it normally.

    ``status``: answer that status (with ``headers``); ``status=0``: close the connection without
    an answer; ``lose_answer``: process the batch, then close without an answer.
    """

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    lose_answer: bool = False


@dataclass(frozen=True)
class Request:
    """One request as the peer received it."""

    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Peer:
    """The fake-free stand-in for the server's event endpoint (a real socket, real HTTP)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Request] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.failures: deque[Fail] = deque()
        self.token: str | None = None
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._sockets: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Peer:
        peer = self

        class Handler(_Handler):
            owner = peer

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Go down entirely: stop listening and cut open connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for sock in self._sockets:
                _cut(sock)
            self._sockets.clear()

    def fail(self, *failures: Fail) -> None:
        self.failures.extend(failures)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests arrived."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.requests) >= count

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Record one request and decide the answer (``status 0``: close without one)."""
        with self._lock:
            self.requests.append(Request(time.monotonic(), headers, body))
            failure = self.failures.popleft() if self.failures else None
            if failure is not None and not failure.lose_answer:
                return failure.status, failure.headers, b'{"detail": "told to fail"}'
            if self.token and headers.get("authorization") != f"Bearer {self.token}":
                return 401, {}, b'{"detail": "bad token"}'
            key = headers.get("idempotency-key")
            answer = self._answers.get(key or "") or self._process(body)
            if key:
                self._answers[key] = answer
            return (0 if failure else 200), {"Content-Type": "application/json"}, answer

    def _process(self, body: bytes) -> bytes:
        accepted, duplicates, rejected = 0, 0, []
        for index, line in enumerate(body.splitlines()):
            event = json.loads(line)
            errors = _check(event)
            if errors:
                rejected.append({"index": index, "id": event.get("id"), "errors": errors})
            elif event["id"] in self.events:
                duplicates += 1
            else:
                self.events[event["id"]] = event
                accepted += 1
        answer = {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}
        return json.dumps(answer).encode()

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._sockets.add if add else self._sockets.discard)(sock)


def _check(event: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    if event.get("type") not in EVENT_TYPES:
        errors.append({"field": "type", "value": event.get("type"), "message": "unknown type"})
    for name in ("model", "provider") if event.get("type") == "llm_call" else ():
        if not event.get(name):
            errors.append({"field": name, "value": None, "message": "required for llm_call"})
    for name in TOKEN_FIELDS:
        value = event.get(name, 0)
        if not isinstance(value, int) or value < 0:
            errors.append({"field": name, "value": value, "message": "must be an integer >= 0"})
    return errors


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    owner: Peer
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server

    def setup(self) -> None:
        super().setup()
        self.owner.track(self.connection, True)

    def finish(self) -> None:
        self.owner.track(self.connection, False)
        super().finish()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, answer = self.owner.answer(headers, body)
        if status == 0:
            self.close_connection = True
            _cut(self.connection)
            return
        self.send_response(status)
        for name, value in {**extra, "Content-Length": str(len(answer))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass
