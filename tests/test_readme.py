"""The README's examples run as written: the quick start against `make run`, and every other console block.

A `console` block holds commands (`$ ` lines, continued on indented lines) each followed by the
answer it gives; `...` in an answer stands for anything (ids, times). The blocks run in order in
one shell environment (variables carry over), in a folder that mirrors the repository, against a
server started by `make run` in a pseudo-terminal, which is stopped at the end by Ctrl-C.
"""
from __future__ import annotations

import doctest
import fcntl
import os
import re
import shlex
import signal
import subprocess
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```console\n(.*?)^```", re.M | re.S)


@dataclass
class Example:
    command: str
    want: str
    line: int


def examples(text: str) -> list[Example]:
    """Every command of every console block, with the answer written under it."""
    found: list[Example] = []
    for block in _BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        for offset, line in enumerate(block.group(1).splitlines()):
            if line.startswith("$ "):
                found.append(Example(line[2:], "", first_line + offset))
            elif found and line.startswith((" ", "\t")) and not found[-1].want:
                found[-1].command += "\n" + line
            elif found:
                found[-1].want += line + "\n"
    return found


class Terminal:
    """A command in a pseudo-terminal of its own, as a person runs it; its output is collected."""

    def __init__(self, command: list[str], cwd: Path, env: dict):
        master, slave = os.openpty()
        self.master, self.output = master, b""

        def controlling_terminal():  # the new session's terminal, so that ^C is delivered as a terminal does
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True, preexec_fn=controlling_terminal)
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def text(self) -> str:
        return self.output.decode(errors="replace").replace("\r\n", "\n")

    def ctrl_c(self, timeout: float = 30) -> int:
        os.write(self.master, b"\x03")
        try:
            return self.process.wait(timeout)
        finally:
            self._reader.join(5)
            os.close(self.master)


def _mirror(tmp_path: Path) -> Path:
    """A folder that looks like the repository (symlinks), so the examples' files land in it."""
    work = tmp_path / "samverka"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("var", ".git"):
            (work / entry.name).symlink_to(entry)
    return work


def _matches(want: str, got: str) -> bool:
    return doctest.OutputChecker().check_output(want, got, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "samverka").exists(), reason="needs `make` to have built .venv")
def test_every_readme_example_runs_as_written(tmp_path):
    text = README.read_text()
    work, state = _mirror(tmp_path), tmp_path / "shell-state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAMVERKA_", "MAKE", "MFLAGS"))}
    env.update(SAMVERKA_VAR_DIR=str(work / "var"), SAMVERKA_PORT="0", TERM="dumb")  # the server picks a free port
    state.write_text("")
    steps = examples(text)
    assert steps and steps[0].command == "make run", "the README starts with make run"
    server = Terminal(["make", "run"], work, env)
    try:
        port = _bound_port(server)
        here = lambda s: s.replace("localhost:8000", f"localhost:{port}").replace("127.0.0.1:8000",  # noqa: E731
                                                                                 f"127.0.0.1:{port}")
        _wait_for(f"http://127.0.0.1:{port}/health", server)
        assert _matches(here(steps[0].want), server.text()), server.text()
        for step in steps[1:]:
            saved = shlex.quote(str(state))  # the variables and functions the examples define, for the next
            script = f"set -a\n. {saved}\n{here(step.command)}\n{{ export -p; declare -f; }} > {saved}\n"
            ran = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                                 timeout=180)
            assert _matches(here(step.want), ran.stdout), \
                f"README.md line {step.line}: {step.command}\nwanted:\n{step.want}\ngot:\n{ran.stdout}{ran.stderr}"
    finally:
        code = server.ctrl_c()
    log = server.text()
    assert code == 0, log[-2000:]
    assert "Interrupt" not in log and "Terminated" not in log and "Traceback" not in log, log[-2000:]


def _bound_port(server: Terminal, timeout: float = 120) -> int:
    """The port `make run` bound, read from its banner."""
    deadline = time.monotonic() + timeout
    while not (found := re.search(r"samverka on http://127\.0\.0\.1:(\d+) ", server.text())):
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"make run printed no banner:\n{server.text()}")
        time.sleep(0.1)
    return int(found.group(1))


def _wait_for(url: str, server: Terminal, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"make run exited with {server.process.returncode}:\n{server.text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"make run did not serve within {timeout} s:\n{server.text()}")
