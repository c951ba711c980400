"""Several API processes on one port, each accepting on a listening socket of its own (SO_REUSEPORT).

Processes that share one listening socket do not share its connections: the one whose event loop wakes first
accepts every connection waiting, so a burst of keep-alive clients (a reverse proxy's pool, thirty-two
caseworkers' screens) can land on one process while the others idle; measured in issue 19, a run at 32 clients
then did 55 completions/s instead of 117. With a socket per process the kernel spreads new connections over the
processes by their addresses' hash. The supervisor holds the port (bound, not listening: it takes no
connections), starts one process per worker, starts a worker again when it dies, and stops them all on SIGTERM
or Ctrl-C; if it dies itself, they stop too (Linux).
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time

log = logging.getLogger("samverka.serve")
_RESTART_AFTER = (1.0, 30.0)  # seconds before starting a dead worker again: first, and at most (doubling)
_STEADY = 10.0  # a worker that ran this long had started well: the next restart waits the first delay again


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) that other sockets of this user may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def supported() -> bool:
    """Whether this system spreads connections over sockets sharing a port (Linux and the BSDs do)."""
    return hasattr(socket, "SO_REUSEPORT")


def _die_with(supervisor: int) -> None:  # pragma: no cover - runs in the spawned worker process
    """Linux: SIGTERM this process when its supervisor dies, even by SIGKILL (or the OOM killer); else the workers
    would go on serving the port unsupervised, beside the next `samverka serve` started on it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != supervisor:  # it died before that took effect
        sys.exit(0)


def _worker(host: str, port: int, supervisor: int) -> None:  # pragma: no cover - runs in the spawned worker process
    """One API process: its own listening socket on the shared port, the app built from the environment."""
    _die_with(supervisor)
    import uvicorn

    # Logging is set up by the app factory (api.app.serve_app), which uvicorn calls before it logs anything.
    # Bound, not listening: uvicorn listens (backlog 2048) once the app is loaded and started, so no connection
    # is handed to this process while it still imports the app (seconds, during which it would only wait).
    sock = reuse_port_socket(host, port)
    for signum in (signal.SIGINT, signal.SIGTERM):  # uvicorn installs its own; none before it has started
        signal.signal(signum, signal.SIG_DFL)
    config = uvicorn.Config("api.app:serve_app", factory=True, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """`workers` API processes on (host, port); `run` returns when they have stopped."""

    def __init__(self, host: str, port: int, workers: int):
        self.held = reuse_port_socket(host, port)  # the port, held (and learnt, for port 0) but never listened on
        self.host, self.port, self.workers = host, self.held.getsockname()[1], workers
        self._stop = threading.Event()
        self._context = multiprocessing.get_context("spawn")

    def _start(self) -> multiprocessing.Process:
        process = self._context.Process(target=_worker, args=(self.host, self.port, os.getpid()), name="samverka-api")
        process.start()
        return process

    def stop(self, *_) -> None:
        """Ask every worker to stop (a signal handler)."""
        self._stop.set()

    def run(self) -> int:
        """Serve until stopped: a worker that dies is started again, after a pause that grows while it keeps
        dying. 0 once every worker has stopped after being asked to."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.stop)
        slots = [(self._start(), time.monotonic(), _RESTART_AFTER[0]) for _ in range(self.workers)]
        try:
            while not self._stop.wait(0.2):
                for index, (process, started, pause) in enumerate(slots):
                    if process.is_alive():
                        continue
                    ran = time.monotonic() - started
                    pause = _RESTART_AFTER[0] if ran >= _STEADY else min(pause * 2, _RESTART_AFTER[1])
                    log.warning("API process %s ended (exit code %s) after %.0f s; starting another in %.0f s",
                                process.pid, process.exitcode, ran, pause)
                    if self._stop.wait(pause):
                        break
                    slots[index] = (self._start(), time.monotonic(), pause)
        finally:
            for process, _, _ in slots:
                if process.is_alive():
                    process.terminate()  # SIGTERM: uvicorn finishes the requests it has, then exits
            for process, _, _ in slots:
                process.join(30)
                if process.is_alive():
                    process.kill()
                    process.join(5)
            self.held.close()
        return 0
