# -*- test-case-name: tests.test_namespaces -*-
"""
Network namespaces for tests, for the calling thread only: the reactor's
thread, where a test makes its sockets and starts its processes.

As root, every test runs in a network namespace of its own whose only
interface is the loopback (see C{tests/conftest.py}): whatever a test
listens on, the wildcard address included, is reachable from that
namespace alone, its ports never collide with anything else on the
machine, and no packet of it can leave the machine.

Standard library only.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Callable

#: C{CLONE_NEWNET} of <sched.h>.
CLONE_NEWNET = 0x40000000

#: <linux/sockios.h> and <net/if.h>.
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

#: A C{struct ifreq} with the interface name and the flags (40 bytes).
IFREQ = struct.Struct("16sh22x")

#: This thread's network namespace.
OWN = "/proc/thread-self/ns/net"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def setNetwork(fd: int) -> None:
    """
    Move this thread into the network namespace open as C{fd}.
    """
    _check(_libc.setns(fd, CLONE_NEWNET))


def loopbackUp() -> None:
    """
    Bring this namespace's loopback interface up (C{ip link set lo up}).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = IFREQ.pack(b"lo", 0)
        _, flags = IFREQ.unpack(fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request))
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, IFREQ.pack(b"lo", flags | IFF_UP))


def namespaceId(path: str = OWN) -> int:
    """
    The inode that identifies the network namespace at C{path}.
    """
    return os.stat(path).st_ino


def enterNewNetwork() -> Callable[[], None]:
    """
    Move this thread into a new network namespace whose loopback is up.
    The namespace ends with the last socket and process in it.

    @return: what moves the thread back to the namespace it was in.
    @raise OSError: if the namespace cannot be made (C{EPERM} without
        C{CAP_SYS_ADMIN}).
    """
    saved = os.open(OWN, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.unshare(CLONE_NEWNET))
    except BaseException:
        os.close(saved)
        raise

    def leave() -> None:
        try:
            setNetwork(saved)
        finally:
            os.close(saved)

    try:
        loopbackUp()
    except BaseException:
        leave()
        raise
    return leave
