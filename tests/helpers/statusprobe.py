# -*- test-case-name: tests.integration.test_isolation -*-
"""
A server for tests: it writes, as one JSON object on fd 1, what the kernel
says about the process it runs in, then exits.

The report: C{pid}; C{status}, the fields of C{/proc/self/status} that
describe its privileges (C{Uid} and C{Gid}: real, effective, saved and
filesystem ids; C{Groups}; the capability sets C{CapInh}, C{CapPrm},
C{CapEff}, C{CapBnd} and C{CapAmb} as integers; C{NoNewPrivs}); C{fds}
(every open descriptor -> what it refers to); C{env} (the environment it
was executed with, as [name, value] pairs in order); C{peer} (the peer
address of the socket on fd 0, or L{None}).

It uses only the standard library, so that any user can run it with the
system's Python.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

#: The fields of /proc/self/status that are lists of numbers.
NUMBER_LISTS = ("Uid", "Gid", "Groups")

#: The fields that are capability masks, in hexadecimal.
CAPABILITIES = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def status() -> dict[str, Any]:
    """
    The privilege fields of C{/proc/self/status}.
    """
    fields: dict[str, Any] = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in NUMBER_LISTS:
                fields[name] = [int(number) for number in value.split()]
            elif name in CAPABILITIES:
                fields[name] = int(value, 16)
            elif name == "NoNewPrivs":
                fields[name] = int(value)
    return fields


def descriptors() -> dict[str, str]:
    """
    Every open descriptor and what it refers to (the listing's own
    descriptor is closed by the time it is looked at).
    """
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[name] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue
    return found


def environment() -> list[list[str]]:
    """
    The environment the process was executed with.
    """
    with open("/proc/self/environ", "rb") as f:
        entries = [entry for entry in f.read().split(b"\0") if entry]
    return [[os.fsdecode(part) for part in entry.split(b"=", 1)] for entry in entries]


def peer() -> Any:
    """
    The peer of the socket on fd 0, as [host, port].
    """
    try:
        with socket.socket(fileno=os.dup(0)) as sock:
            return list(sock.getpeername())[:2]
    except OSError:
        return None


def report() -> dict[str, Any]:
    fds = descriptors()
    return {
        "pid": os.getpid(),
        "status": status(),
        "fds": fds,
        "env": environment(),
        "peer": peer(),
    }


def main() -> int:
    data = json.dumps(report()).encode() + b"\n"
    while data:
        data = data[os.write(1, data) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())
