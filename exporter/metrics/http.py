"""HTTP: `/metrics`, `/healthz`, `/readyz`, with optional TLS and basic auth configured
like the Prometheus exporter-toolkit web config file (bcrypt password hashes).

Only `/metrics` is behind basic auth: kubelet probes must reach the health endpoints.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import sys
import threading
from base64 import b64decode
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bcrypt

from exporter.metrics.exposition import Exposition
from exporter.metrics.reports import report_files

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
"""socketserver's default is 5: with a few scrapers connecting at once while a scan
holds the interpreter, connections overflowed it and waited a 1 s SYN retransmit."""
SWITCH_INTERVAL_SECONDS = 0.0005
"""How long a thread may hold the interpreter while another waits for it (Python's
default: 5 ms). A scrape's request thread takes it a dozen times (accept, read, parse,
write); behind a CPU-bound scan thread each of those waited up to the full interval.
Switching only happens when a thread waits, so this costs nothing when idle."""

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebSettings:
    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    basic_auth_users: Mapping[str, str] = field(default_factory=dict)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Failed TLS handshakes, clients gone mid-response: a log line, not a traceback.
        log.debug("HTTP request from %s failed", client_address, exc_info=True)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def ssl_context(web: WebSettings) -> ssl.SSLContext | None:
    if web.cert_file is None or web.key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(web.cert_file), str(web.key_file))
    if web.client_auth_type != "NoClientCert":
        if web.client_ca_file is not None:
            context.load_verify_locations(str(web.client_ca_file))
        context.verify_mode = (
            ssl.CERT_REQUIRED
            if web.client_auth_type == "RequireAndVerifyClientCert"
            else ssl.CERT_OPTIONAL
        )
    return context


class _BasicAuth:
    """bcrypt checks cost ~0.1 s by design; a verified (user, password) pair is
    remembered by its SHA-256 so a scrape every 15 s does not pay that each time."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    def allows(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = b64decode(header[6:], validate=True).decode().partition(":")
        except ValueError:
            return False
        hashed = self._users.get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        with self._lock:
            if key in self._verified:
                return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed.encode())
        except ValueError:
            ok = False
        if ok:
            with self._lock:
                self._verified.add(key)
        return ok


def make_app(
    exposition: Exposition,
    healthy: Callable[[], tuple[bool, str]],
    ready: Callable[[], tuple[bool, str]],
    users: Mapping[str, str] | None = None,
    reports_dir: Path | None = None,
) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    auth = _BasicAuth(users) if users else None

    def text(
        start: StartResponse, status: str, body: str, extra: tuple[tuple[str, str], ...] = ()
    ) -> list[bytes]:
        data = (body + "\n").encode()
        start(
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(data))),
                *extra,
            ],
        )
        return [data]

    def app(environ: Environ, start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/healthz", "/readyz"):
            ok, why = (healthy if path == "/healthz" else ready)()
            return text(start, "200 OK" if ok else "503 Service Unavailable", why)
        protected = path == "/metrics" or path == "/reports" or path.startswith("/reports/")
        if protected and auth is not None and not auth.allows(environ.get("HTTP_AUTHORIZATION")):
            return text(
                start,
                "401 Unauthorized",
                "Unauthorized",
                (("WWW-Authenticate", 'Basic realm="netfence"'),),
            )
        if reports_dir is not None and (path == "/reports" or path.startswith("/reports/")):
            return report_files(reports_dir, path, start)
        if path == "/metrics":
            body, content_type, zipped = exposition.render(
                environ.get("HTTP_ACCEPT"), environ.get("HTTP_ACCEPT_ENCODING")
            )
            headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            if zipped:
                headers.append(("Content-Encoding", "gzip"))
            start("200 OK", headers)
            return [body]
        if path == "/":
            body = (
                b"<html><head><title>netfence</title></head><body><h1>netfence</h1>"
                b'<p><a href="metrics">metrics</a> <a href="healthz">healthz</a> '
                b'<a href="readyz">readyz</a></p></body></html>\n'
            )
            start("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
            return [body]
        return text(start, "404 Not Found", "not found")

    return app


class MetricsServer:
    """A threaded WSGI server in a background thread."""

    def __init__(
        self,
        exposition: Exposition,
        host: str,
        port: int,
        healthy: Callable[[], tuple[bool, str]],
        ready: Callable[[], tuple[bool, str]],
        web: WebSettings | None = None,
        reports_dir: Path | None = None,
    ) -> None:
        web = web or WebSettings()
        app = make_app(exposition, healthy, ready, web.basic_auth_users, reports_dir)
        self._server = make_server(
            host or "0.0.0.0",  # noqa: S104 - ":PORT" means every interface, as in Prometheus
            port,
            app,
            server_class=_Server,
            handler_class=_QuietHandler,
        )
        context = ssl_context(web)
        if context is not None:
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if context is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="netfence-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    def start(self) -> None:
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS))
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
