# -*- test-case-name: tests.integration.test_faults -*-
"""
A server for fault tests: it writes C{ready <pid>} and a newline to its
client (fd 1), then misbehaves as its first argument says.

  - C{hang}: wait for a signal forever (SIGTERM ends it).
  - C{stubborn}: ignore SIGTERM, then wait forever (only SIGKILL ends it).
  - C{segv}: read address 0 (a real segmentation fault).
  - C{abort}: call abort().

Later arguments are ignored: tests pass a marker there to find their servers
in the process table.  No core file is written.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys


def crash(how: str) -> None:
    """
    End with a crash, without leaving a core file.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if how == "segv":
        ctypes.string_at(0)
    os.abort()


def main(args: list[str]) -> int:
    how = args[0]
    if how == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(1, f"ready {os.getpid()}\n".encode())
    if how in ("segv", "abort"):
        crash(how)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
