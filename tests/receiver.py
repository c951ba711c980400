"""A real HTTP receiver on loopback for webhook tests: records what arrives, can fail or be switched off."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Answers 204 (or `status`), keeps every request; `stop()` makes the port refuse connections.

    Port 0 (the default) binds a free port on the first start; a restart binds the same one again."""

    def __init__(self, port: int = 0, delay: float = 0.0):
        self.port, self.status, self.received, self.delay = port, 204, [], delay
        self.location: str | None = None  # sent with the answer, for a redirecting receiver
        self._lock = threading.Lock()
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay)  # a slow receiver keeps the sender mid-delivery
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Tarpit:
    """A receiver that accepts, reads the request and then drips its answer one byte at a time, for `seconds`."""

    def __init__(self, port: int, seconds: float = 120.0, every: float = 0.2):
        self.port, self.seconds, self.every = port, seconds, every
        self.open = 0  # connections it is dripping to right now
        self._listener = socket.socket()
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Tarpit":
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen()
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\n" + b"x-slow: " + b"." * 10_000
        deadline = time.monotonic() + self.seconds
        self.open += 1
        with connection:
            try:
                connection.recv(65536)
                for byte in answer:
                    if time.monotonic() > deadline or self._stopped.is_set():
                        break
                    connection.sendall(bytes([byte]))
                    time.sleep(self.every)
            except OSError:
                pass  # the sender hung up: what a total deadline does
            finally:
                self.open -= 1

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
