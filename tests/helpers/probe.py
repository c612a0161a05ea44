# -*- test-case-name: tests.integration.test_spawn_real -*-
"""
A server for tests: it reports the process state it was started with as one
JSON object, then ends as its arguments say.

Arguments (after the script's path), in any order:
  - C{accept}: fd 0 is a listening socket; report to one accepted
    connection instead of fd 1.
  - C{datagram}: fd 0 is a UDP socket; report in reply to one datagram.
  - C{wait}: after reporting, read fd 0 until the client closes it.
  - C{exit=N}: exit with status N (default 0).
  - C{signal=N}: kill itself with signal N.

The report: C{argv}; C{uid}, C{gid} (real, effective, saved); C{groups};
C{umask}; C{nice}; C{rlimits} (name -> [soft, hard]); C{env} (the
environment it was executed with, as [name, value] pairs in order);
C{fds} (every open descriptor -> what it refers to); C{stdio} (for fds 0-2:
whether each is a socket, its inode, its type, its local and peer address);
C{cwd}; C{pid}; C{sid}; C{pgid}.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import stat
import sys
import time
from typing import Any


def environment() -> list[list[str]]:
    """
    The environment the process was executed with (the interpreter may
    have added to C{os.environ} since).
    """
    with open("/proc/self/environ", "rb") as f:
        entries = [entry for entry in f.read().split(b"\0") if entry]
    return [[os.fsdecode(part) for part in entry.split(b"=", 1)] for entry in entries]


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


def address(sock: socket.socket, peer: bool) -> Any:
    try:
        return list(sock.getpeername() if peer else sock.getsockname())
    except OSError:
        return None


def describe(fd: int) -> dict[str, Any]:
    """
    What descriptor C{fd} is.
    """
    try:
        info = os.fstat(fd)
    except OSError:
        return {"open": False}
    description: dict[str, Any] = {
        "open": True,
        "socket": stat.S_ISSOCK(info.st_mode),
        "inode": info.st_ino,
    }
    if description["socket"]:
        sock = socket.socket(fileno=os.dup(fd))
        with sock:
            description["type"] = int(sock.type)
            description["local"] = address(sock, False)
            description["peer"] = address(sock, True)
    return description


def statusField(name: str) -> str:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(name)


def report() -> dict[str, Any]:
    fds = descriptors()
    return {
        "argv": sys.argv,
        "uid": list(os.getresuid()),
        "gid": list(os.getresgid()),
        "groups": sorted(os.getgroups()),
        "umask": int(statusField("Umask"), 8),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "rlimits": {
            name: list(resource.getrlimit(getattr(resource, name)))
            for name in dir(resource)
            if name.startswith("RLIMIT_")
        },
        "env": environment(),
        "fds": fds,
        "stdio": {str(fd): describe(fd) for fd in (0, 1, 2)},
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "pgid": os.getpgid(0),
    }


def writeAll(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def main(args: list[str]) -> int:
    data = json.dumps(report()).encode() + b"\n"
    if "accept" in args or "datagram" in args:
        respond(socket.socket(fileno=os.dup(0)), data, "accept" in args)
    else:
        writeAll(1, data)
    if "wait" in args:
        while os.read(0, 4096):
            pass
    options = dict(arg.split("=", 1) for arg in args if "=" in arg)
    if "signal" in options:
        os.kill(os.getpid(), int(options["signal"]))
        time.sleep(10)
    return int(options.get("exit", "0"))


def respond(sock: socket.socket, data: bytes, accept: bool) -> None:
    """
    Send C{data} to the first client of a listening or datagram socket.
    """
    with sock:
        if accept:
            connection, _ = sock.accept()
            with connection:
                connection.sendall(data)
        else:
            _, sender = sock.recvfrom(65536)
            sock.sendto(data, sender)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
