"""Real peers on loopback for the delivery tests: an HTTP server and SMTP servers (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Request:
    """One request the HTTP peer received."""

    path: str
    headers: dict[str, str]
    body: bytes


#: What the peer answers: status, headers, body — or a function of the request giving them.
Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Request], Reply]


@dataclass
class HttpPeer:
    """Answers POSTs with ``replies`` in order (the last one repeats) and records every request."""

    replies: list[Reply | Responder]
    received: list[Request] = field(default_factory=list)
    url: str = ""

    def answer(self, request: Request) -> Reply:
        self.received.append(request)
        reply = self.replies[min(len(self.received), len(self.replies)) - 1]
        return reply(request) if callable(reply) else reply


@contextmanager
def http_peer(*replies: Reply | Responder) -> Iterator[HttpPeer]:
    """An HTTP server on 127.0.0.1 (port 0) in a thread; ``peer.url`` is its base URL."""
    peer = HttpPeer(list(replies))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers, content = peer.answer(Request(self.path, dict(self.headers), body))
            self.send_response(status)
            for name, value in {"Content-Length": str(len(content)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler keeping every message; ``fail_first`` DATA replies come first."""

    def __init__(self, fail_first: tuple[str, ...] = ()) -> None:
        self.envelopes: list[Envelope] = []
        self.sessions: list[Session] = []
        self.failures = list(fail_first)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.failures:
            return self.failures.pop(0)
        self.envelopes.append(envelope)
        self.sessions.append(session)
        return "250 OK"


@dataclass
class Passwords:
    """An aiosmtpd authenticator accepting one login and password."""

    login: str
    password: str
    tried: list[str] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.tried.append(data.login.decode())
        ok = data.login.decode() == self.login and data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_peer(handler: Mailbox, **options: Any) -> Iterator[Controller]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; ``options`` go to its Controller."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(folder: Path) -> Certificate:
    """Write a self-signed EC certificate valid from 2000 to 2099.

    The TLS handshake checks validity against the system clock, which a moved-clock run does not
    move (it moves Python's), so the window is fixed and wide: no date this runs on matters.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Fixed and wide, never "now": OpenSSL checks it against the system clock, which a
        # moved-clock run (time-machine moves Python's clock only) does not move.
        .not_valid_before(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2099, 12, 31, tzinfo=dt.UTC))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    paths.key.write_bytes(pem)
    return paths


def header_map(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with lower-case names."""
    return {k.lower(): v for k, v in headers.items()}
