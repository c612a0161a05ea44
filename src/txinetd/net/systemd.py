# -*- test-case-name: tests.net.test_systemd -*-
"""
Working with systemd.

Telling systemd how txinetd is doing (C{Type=notify}): C{READY=1} once
every service listens, C{RELOADING=1} then C{READY=1} around a
reconfiguration, C{STOPPING=1} when it stops; each C{READY=1} comes with a
C{STATUS=} saying what runs (and whether the last reconfiguration failed).  Nothing is sent unless
systemd gave a C{NOTIFY_SOCKET}.

Socket activation: the listening sockets a C{.socket} unit passes
(C{LISTEN_FDS}, C{LISTEN_PID}, C{LISTEN_FDNAMES}), which services name with
C{listen = systemd:name=NAME}.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

#: The first descriptor systemd passes.
LISTEN_FDS_START = 3
LISTEN_VARIABLES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
#: What systemd gives the service's main process for itself, which no
#: server inherits (a server that called sd_notify would speak for txinetd).
MANAGER_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def notifyAddress(environ: Mapping[str, str]) -> str | bytes | None:
    """
    The socket address in C{NOTIFY_SOCKET}: a path, or an abstract address
    (leading C{@}) as bytes.
    """
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return None
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """
    Send one sd_notify message, e.g. C{"READY=1"}.

    @return: whether it was sent.
    """
    address = notifyAddress(os.environ if environ is None else environ)
    if address is None:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False
    return True


def ready(status: str, environ: Mapping[str, str] | None = None) -> bool:
    """
    C{READY=1} with a C{STATUS=} line, which C{systemctl status} shows:
    after start-up, and after a reconfiguration, whether it worked or not.
    """
    return notify(f"READY=1\nSTATUS={status}", environ)


def reloading(environ: Mapping[str, str] | None = None) -> bool:
    """
    C{RELOADING=1} with the C{MONOTONIC_USEC} systemd 253 wants with it.
    """
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={usec}", environ)


@dataclass(frozen=True)
class ListenFds:
    """
    The listening descriptors systemd passed to this process.

    @ivar fds: the descriptors, in order (3, 4, ...).
    @ivar names: their C{FileDescriptorName}s, in the same order.
    """

    fds: tuple[int, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def fromEnvironment(cls, environ: Mapping[str, str], pid: int) -> ListenFds:
        """
        Read C{LISTEN_FDS}, C{LISTEN_PID} and C{LISTEN_FDNAMES}; nothing
        was passed unless C{LISTEN_PID} is C{pid}.
        """
        try:
            count = int(environ.get("LISTEN_FDS", "0"))
            forUs = int(environ.get("LISTEN_PID", "0")) == pid
        except ValueError:
            return cls()
        if not forUs or count <= 0:
            return cls()
        fds = tuple(range(LISTEN_FDS_START, LISTEN_FDS_START + count))
        names = environ["LISTEN_FDNAMES"].split(":") if environ.get("LISTEN_FDNAMES") else []
        names += ["unknown"] * (count - len(names))
        return cls(fds, tuple(names[:count]))

    @classmethod
    def take(cls, environ: MutableMapping[str, str]) -> ListenFds:
        """
        The descriptors passed to this process, made close-on-exec so that
        no server inherits them; the variables are removed from C{environ}.
        """
        passed = cls.fromEnvironment(environ, os.getpid()) or cls.leftByTwisted(environ)
        for name in LISTEN_VARIABLES:
            environ.pop(name, None)
        for fd in passed.fds:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                return cls()
        return passed

    @classmethod
    def leftByTwisted(cls, environ: Mapping[str, str]) -> ListenFds:
        """
        The descriptors when Twisted has already taken C{LISTEN_FDS} and
        C{LISTEN_PID} out of the environment (its C{systemd:} endpoint
        parser does so, for this process only, when Twisted's endpoints
        module is imported) and left C{LISTEN_FDNAMES}: one descriptor per
        name from 3, each of which must be an open socket.
        """
        if "LISTEN_FDS" in environ or not environ.get("LISTEN_FDNAMES"):
            return cls()
        names = tuple(environ["LISTEN_FDNAMES"].split(":"))
        fds = tuple(range(LISTEN_FDS_START, LISTEN_FDS_START + len(names)))
        for fd in fds:
            try:
                if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                    return cls()
            except OSError:
                return cls()
        return cls(fds, names)

    def __bool__(self) -> bool:
        return bool(self.fds)

    def find(self, name: str | None, index: int | None) -> int | None:
        """
        The descriptor of a name (the first one with it) or an index, or
        L{None} if none was passed.
        """
        if name is not None:
            return self.fds[self.names.index(name)] if name in self.names else None
        if index is not None and index < len(self.fds):
            return self.fds[index]
        return None

    def describe(self) -> str:
        """
        What was passed, for an error message.
        """
        if not self.fds:
            return "systemd passed no sockets"
        listed = ", ".join(f"{i}={n}" for i, n in enumerate(self.names))
        return f"systemd passed {listed}"
