"""Real `samverka serve` and `samverka worker` processes, as an operator runs them, for tests and benchmarks."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-not-for-production-0123456789"


def environment(db_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The SAMVERKA_* environment of a deployment on `db_url` (the tests' token secret, fixture forms)."""
    return {**os.environ, "SAMVERKA_DATABASE_URL": db_url, "SAMVERKA_VAR_DIR": str(var_dir),
            "SAMVERKA_TOKEN_SECRET": TEST_SECRET, "SAMVERKA_FORMS_DIR": str(ROOT / "tests" / "fixtures" / "forms"),
            "SAMVERKA_WEBHOOK_ALLOW_PRIVATE": "true", **extra}


def answers(url: str, process: subprocess.Popen, seconds: float = 60) -> bool:
    """Whether `url` answers 200 within `seconds`, asked again while `process` (the one serving it) runs."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            return False
        time.sleep(0.1)


def _terminate(process: subprocess.Popen) -> None:
    """SIGTERM, then wait (kill after 30 s); a no-op for a process that has already ended."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class ServeProcess:
    """`samverka serve ARGS` on a port it binds itself (port 0, read back from its banner); log in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str, command: list[str] | None = None):
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen([*(command or [sys.executable, "-m", "api.cli"]), "serve", "--port", "0", *args],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.banner = self.process.stdout.readline()
        self._log.write(self.banner)
        # The log lines go on to the file; a pipe nobody reads would stop the server when it fills.
        self._drain = threading.Thread(target=shutil.copyfileobj, args=(self.process.stdout, self._log), daemon=True)
        self._drain.start()
        found = re.match(r"samverka on (http://127\.0\.0\.1:\d+) ", self.banner)
        if not found:
            self.stop()
            raise RuntimeError(f"no banner: {self.banner!r}\n{log_path.read_text()}")
        self.base_url = found.group(1)
        if not answers(f"{self.base_url}/health", self.process):
            self.stop()
            raise RuntimeError(f"server did not answer /health\n{log_path.read_text()}")

    def stop(self) -> int:
        """SIGTERM, then wait (kill after 30 s); the exit code."""
        _terminate(self.process)
        self._drain.join(10)
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> "ServeProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class WorkerProcess:
    """`samverka worker ARGS`; its JSON log lines in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str):
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", *args], cwd=ROOT, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> int:
        _terminate(self.process)
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> "WorkerProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds used so far by a process and its descendants, live or reaped (from /proc)."""
    ticks, children = os.sysconf("SC_CLK_TCK"), {}
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(x) for x in stats[pid][11:15]) / ticks  # utime stime cutime cstime
        todo.extend(children.get(pid, []))
    return total
