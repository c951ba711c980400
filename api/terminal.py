"""Ctrl-C stops the server, not the `make` that started it.

A terminal sends Ctrl-C's SIGINT to its whole foreground process group. Under `make run` that group
is make's, and make dies of the signal ("make: *** Interrupt", exit 130) even though the server shut
down cleanly. So a server started in the foreground of a terminal moves into a process group of its
own and makes that the terminal's foreground group, as a shell does for a job; on the way out it
hands the terminal back. In the background, or without a terminal, nothing changes.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager


def _set_foreground(fd: int, group: int) -> None:
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not call tcsetpgrp
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)


@contextmanager
def own_foreground_group():
    """Run the body in a process group of its own that holds the terminal, if the process is in its foreground."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        yield
        return
    try:
        group = os.getpgrp()
        if os.tcgetpgrp(fd) != group or os.getpid() == group:
            yield  # in the background (keep out of the shell's way), or already a group of its own
            return
        os.setpgid(0, 0)
        _set_foreground(fd, os.getpgrp())
        try:
            yield
        finally:
            _set_foreground(fd, group)
    finally:
        os.close(fd)
