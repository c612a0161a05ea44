# -*- test-case-name: tests.test_systemd -*-
"""
Telling systemd how txinetd is doing (C{Type=notify}): C{READY=1} once
every service listens, C{RELOADING=1} then C{READY=1} around a
reconfiguration, C{STOPPING=1} when it stops.  Nothing is sent unless
systemd gave a C{NOTIFY_SOCKET}.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


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


def reloading(environ: Mapping[str, str] | None = None) -> bool:
    """
    C{RELOADING=1} with the C{MONOTONIC_USEC} systemd 253 wants with it.
    """
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nMONOTONIC_USEC={usec}", environ)
