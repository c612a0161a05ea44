# -*- test-case-name: tests.integration.test_operating -*-
"""
xinetd's C{-pidfile}: the daemon's pid, written safely while it runs.
"""

from __future__ import annotations

import contextlib
import os

from txinetd.core.events import Level
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.safefiles import openForWriting, removeFile

__all__ = ["removePidFile", "writePidFile"]


def writePidFile(path: str) -> None:
    """
    Write C{"<pid>\\n"} to a new file (xinetd's -pidfile), never through a
    link another user planted; a failure is logged.
    """
    try:
        descriptor = openForWriting(path, os.O_WRONLY, replace=True)
        with os.fdopen(descriptor, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as e:
        programMessage(Level.ERROR, f"Cannot write the pid file {path}: {e.strerror}")


def removePidFile(path: str) -> None:
    with contextlib.suppress(OSError):
        removeFile(path)
