"""EmulatorServer: the Emulator on a loopback HTTP socket, served from a background thread.

    with EmulatorServer(Emulator()) as server:
        httpx.get(f"{server.url}/v1/customers", headers=...)

Quiet: nothing is written to stderr per request or per broken connection. Injected
latency is waited out in the handler thread (``Emulator.sleep``), outside the
Emulator's lock; an injected drop closes the connection without any response.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from ksync.emulator.app import Emulator

# How often the serving loop checks for a stop request, in seconds.
_POLL_INTERVAL = 0.01  # seconds; how quickly stop() returns


def is_loopback(host: str) -> bool:
    """Whether a host name or address only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator, family: int) -> None:
        self.address_family = family
        self.emulator = emulator
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup of the host: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is the client's business: stay quiet."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        body = self._read_body()
        emulator = cast(_HTTPServer, self.server).emulator
        answer = emulator.handle(self.command, self.path, dict(self.headers.items()), body)
        if answer.delay > 0:
            emulator.sleep(answer.delay)
        if answer.dropped:  # close without a byte of response
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailer lines up to the blank one
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging: the Emulator keeps its own request log."""


class EmulatorServer:
    """Serves an Emulator over HTTP on ``host:port`` (port 0 picks a free one).

    A context manager: entering binds and starts serving in a daemon thread, leaving
    stops and closes the socket. ``start()``/``stop()`` do the same by hand. A host
    that is not loopback raises ValueError unless ``allow_remote`` is true.
    """

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to listen on {host}: not a loopback address (allow_remote=True to force)"
            )
        self.emulator = emulator
        self.host = host
        self._requested_port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound; RuntimeError before ``start``."""
        if self._httpd is None:
            raise RuntimeError("EmulatorServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` with the actual port, e.g. ``http://127.0.0.1:50123``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._httpd is not None:
            raise RuntimeError("EmulatorServer is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        httpd = _HTTPServer((self.host, self._requested_port), self.emulator, family)
        try:
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},
                name=f"ksync-emulator-{httpd.server_address[1]}",
                daemon=True,
            )
            thread.start()
        except BaseException:
            httpd.server_close()
            raise
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; does nothing if not started."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        thread.join()
        httpd.server_close()
        self._httpd = self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
