# -*- test-case-name: tests.core.test_addresses -*-
"""
Client addresses, as txinetd shows and matches them.

An IPv4 client of a dual-stack socket (C{::ffff:a.b.c.d}) is the IPv4
client it is, C{a.b.c.d}, everywhere: in log lines, C{REMOTE_HOST}, the
access rules and name look-ups.  This module is the one place that says so.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, TypeAlias

__all__ = ["NO_ADDRESS", "IPAddress", "addressOf", "clientAddress", "normaliseHost"]

IPAddress: TypeAlias = IPv4Address | IPv6Address

NO_ADDRESS = "<no address>"
"""
What C{from=}, C{NOID} lines, the state dump and C{REMOTE_HOST} show when
the connection has no peer address (stream services with C{wait = yes},
UNIX sockets).
"""


def normaliseHost(host: str) -> str:
    """
    A numeric address as txinetd shows it: an IPv4-mapped IPv6 address
    (C{::ffff:127.0.0.1}) as the IPv4 address it is, anything else as
    given.
    """
    if "ffff" not in host.lower():
        return host
    try:
        address = ip_address(host)
    except ValueError:
        return host
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return host


def addressOf(sockaddr: Any) -> tuple[str, int] | None:
    """
    The normalised (host, port) of a socket address tuple, or L{None} for
    a UNIX socket's address (a path), which has neither.
    """
    if not isinstance(sockaddr, tuple):
        return None
    return normaliseHost(str(sockaddr[0])), int(sockaddr[1])


def clientAddress(address: str | IPAddress) -> IPAddress:
    """
    Parse a client address, an IPv4-mapped IPv6 address as the IPv4 address
    it is.

    @raise ValueError: if C{address} is not an IP address.
    """
    parsed = ip_address(address) if isinstance(address, str) else address
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed
