"""`samverka serve --workers N`: a listening socket per worker process, a dead worker started again, a clean stop."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from processes import ServeProcess, environment

LISTEN, ESTABLISHED = "0A", "01"  # TCP states as /proc/net/tcp writes them


def _children(pid: int) -> set[int]:
    """The live child processes of `pid`."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets on local `port` in `state` process `pid` has open (inodes of its fds in /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return 0
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, st, inode = fields[1], fields[3], fields[9]
        if int(local.split(":")[1], 16) == port and st == state and inode in inodes:
            count += 1
    return count


def _workers(server: ServeProcess, port: int, want: int, timeout: float = 30) -> set[int]:
    """The server's children that listen on its port (not multiprocessing's resource tracker), once there are `want`."""
    deadline = time.monotonic() + timeout
    while True:
        found = {child for child in _children(server.process.pid) if _sockets(child, port, LISTEN)}
        if len(found) == want:
            return found
        assert time.monotonic() < deadline, f"{len(found)} workers listening\n{server.log_path.read_text()}"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_workers_share_the_connections_outlive_a_killed_one_and_stop_together_on_sigterm(pg_url, tmp_path):
    # One server for the whole story: a supervised start costs ~10 s here (the parent and then each worker import
    # the app), so three servers would triple the file's time.
    server = ServeProcess(environment(pg_url, tmp_path / "var"), tmp_path / "serve.log", "--workers", "2")
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        workers = _workers(server, port, 2)
        _spread_over(workers, port)
        killed = _kill_one_and_see_it_started_again(server, port, workers)
        workers = _workers(server, port, 2)
        assert server.stop() == 0  # SIGTERM to the supervisor
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert f"API process {killed} ended (exit code -9)" in log, log
    assert not any(_alive(pid) for pid in workers), log
    with pytest.raises(OSError):  # nothing listens on the port any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert "Traceback" not in log, log


def _spread_over(workers: set[int], port: int) -> None:
    """32 keep-alive connections opened at once land on both workers."""
    # Each is kept alive after one answer. The kernel picks a listening socket by the hash of each connection's
    # addresses, so each lands on either worker with chance 1/2; a worker gets fewer than 2 of 32 with
    # probability 2 * (1 + 32) / 2**32, about 1.5e-8 (16 connections: 5e-4, too often for a test suite). One
    # socket shared by both processes would let whichever wakes first accept the whole burst.
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
    try:
        for connection in connections:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: samverka\r\n\r\n")
        for connection in connections:
            assert connection.recv(4096).startswith(b"HTTP/1.1 200 "), "no answer"
        spread = {pid: _sockets(pid, port, ESTABLISHED) for pid in workers}
        assert sum(spread.values()) == 32 and min(spread.values()) >= 2, spread
    finally:
        for connection in connections:
            connection.close()


def _kill_one_and_see_it_started_again(server: ServeProcess, port: int, workers: set[int]) -> int:
    """SIGKILL a worker: /health keeps answering on new connections and a new worker listens; the killed pid."""
    killed = min(workers)
    os.kill(killed, signal.SIGKILL)
    # New connections go to the worker left (the dead one's socket has left the port) until another starts.
    deadline, answers = time.monotonic() + 30, []
    while True:
        answers.append(httpx.get(f"{server.base_url}/health", timeout=5).status_code)
        now = {child for child in _children(server.process.pid) if _sockets(child, port, LISTEN)}
        if len(now) == 2 and killed not in now:
            break
        assert time.monotonic() < deadline, f"not started again, {answers.count(200)} answers meanwhile"
        time.sleep(0.05)
    assert set(answers) == {200}, answers
    assert not _alive(killed) and workers - {killed} < now
    return killed


def test_the_workers_stop_when_their_supervisor_is_killed(pg_url, tmp_path):
    # SIGKILL (or the OOM killer) leaves the supervisor no time to stop them; unstopped, they would go on
    # serving the port unsupervised, beside the next `samverka serve` started on it.
    server = ServeProcess(environment(pg_url, tmp_path / "var"), tmp_path / "serve.log", "--workers", "2")
    workers: set[int] = set()
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        workers = _workers(server, port, 2)
        server.process.kill()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their supervisor"
            time.sleep(0.1)
    finally:
        server.stop()
        for pid in workers:  # a failed run leaves none behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
