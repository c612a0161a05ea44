# -*- test-case-name: tests.net.test_proxyheader -*-
"""
Reading the PROXY protocol header (HAProxy's, version 1 or 2) that a load
balancer sends before anything else on a connection.

The header is read off the accepted socket itself, without a Twisted
transport and without ever reading past its end: each read first peeks
(C{MSG_PEEK}) at what has arrived, then takes exactly the bytes that are
known to belong to the header.  What follows the header stays in the
kernel's buffer, so that the socket can still be given to an external
server on its fds 0-2, put behind TLS or adopted by a built-in, exactly as
if the balancer had not been there.  (A relay would cost a process's worth
of copying for every connection; a peek costs one system call.)

The read is bounded: at most L{V1_MAX} bytes for a version 1 line, at most
L{V2_MAX} for a version 2 header, and a timeout.  The parsing itself is
Twisted's (L{twisted.protocols.haproxy}), with the addresses checked again
here: a header is only believed if its addresses are IP addresses of one
family and its ports are ports.
"""

from __future__ import annotations

import socket
import struct
from ipaddress import ip_address
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.protocols.haproxy._exceptions import InvalidProxyHeader
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.core.proxyprotocol import V2_SIGNATURE, ProxiedAddresses, ProxyVersion

__all__ = [
    "V1_MAX",
    "V2_MAX",
    "ProxyHeaderError",
    "parseHeader",
    "readProxyHeader",
]

#: The longest version 1 line, CRLF included (the specification's bound).
V1_MAX = 107

#: The longest version 2 header txinetd reads: the 16 fixed bytes, the
#: longest addresses (two UNIX paths, 216 bytes) and room for the TLVs a
#: balancer adds (unique id, ALPN, TLS details).
V2_MAX = 16 + 216 + 1024

_V1_PREFIX = b"PROXY "
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


class ProxyHeaderError(Exception):
    """
    No usable header arrived; the message says why, in txinetd's words
    (never the client's bytes).
    """


def _versionOf(data: bytes, versions: frozenset[ProxyVersion]) -> ProxyVersion:
    """
    Which accepted version C{data} (the first bytes, at least one) starts.

    @raise ProxyHeaderError: if it starts none of them.
    """
    for version, prefix in ((ProxyVersion.V1, _V1_PREFIX), (ProxyVersion.V2, V2_SIGNATURE)):
        if prefix.startswith(data[: len(prefix)]):
            if version not in versions:
                raise ProxyHeaderError(f"a version {version.value} header, which is not accepted")
            return version
    raise ProxyHeaderError("no PROXY header")


def headerLength(data: bytes, versions: frozenset[ProxyVersion]) -> int | None:
    """
    How long the header that C{data} starts is, if C{data} says it yet.

    @raise ProxyHeaderError: if C{data} cannot start a header, or starts
        one longer than txinetd reads.
    """
    version = _versionOf(data, versions)
    if version is ProxyVersion.V1:
        end = data.find(b"\n")
        if end >= 0:
            if end == 0 or data[end - 1 : end] != b"\r" or end + 1 > V1_MAX:
                raise ProxyHeaderError("a bad version 1 line")
            return end + 1
        if len(data) >= V1_MAX:
            raise ProxyHeaderError("a version 1 line longer than 107 bytes")
        return None
    if len(data) < 16:
        return None
    length: int = 16 + struct.unpack("!H", data[14:16])[0]
    if length > V2_MAX:
        raise ProxyHeaderError(f"a version 2 header of {length} bytes")
    return length


def parseHeader(header: bytes) -> ProxiedAddresses | None:
    """
    What a whole header says: the client and where it connected, or
    L{None} if it names no client (C{LOCAL}, C{UNKNOWN}, a family other
    than TCP over IPv4 or IPv6).

    @raise ProxyHeaderError: if it is not a valid header.
    """
    try:
        if header.startswith(V2_SIGNATURE):
            if header[13] & 0x0F not in (0, 1):
                # Datagrams (UDP) or an unknown transport: not this connection.
                raise ProxyHeaderError("a version 2 header for another transport")
            info = V2Parser.parse(header)
        else:
            line = header[:-2]
            if line == b"PROXY UNKNOWN" or line.startswith(b"PROXY UNKNOWN "):
                return None
            if line.count(b" ") != 5:
                raise ProxyHeaderError("a bad version 1 line")
            info = V1Parser.parse(line)
            _checkV1Line(line)
    except InvalidProxyHeader:
        raise ProxyHeaderError("an invalid header") from None
    except (KeyError, IndexError, ValueError, UnicodeError):
        raise ProxyHeaderError("an invalid header") from None
    source, destination = info.source, info.destination
    if not (_isIP(source) and _isIP(destination)):
        return None
    try:
        return ProxiedAddresses.of(
            (source.host, source.port),  # type: ignore[union-attr]
            (destination.host, destination.port),  # type: ignore[union-attr]
        )
    except ValueError:
        raise ProxyHeaderError("a header with bad addresses") from None


def _isIP(address: Any) -> bool:
    return getattr(address, "type", None) == "TCP" and hasattr(address, "host")


def _checkV1Line(line: bytes) -> None:
    """
    The addresses of a version 1 line are of the family it names, and its
    ports decimal numbers without sign or leading zeroes, as the
    specification writes them.
    """
    words = line.split(b" ")
    version = 4 if words[1] == b"TCP4" else 6
    for host in words[2:4]:
        if b"%" in host or ip_address(host.decode("ascii")).version != version:
            raise ProxyHeaderError("a bad version 1 line")
    for port in words[4:6]:
        if not port.isdigit() or (len(port) > 1 and port.startswith(b"0")) or len(port) > 5:
            raise ProxyHeaderError("a bad version 1 line")


@implementer(IReadDescriptor)
class _HeaderReader:
    """
    Reads one header off a connected socket, never past its end.
    """

    def __init__(
        self,
        reactor: Any,
        sock: socket.socket,
        versions: frozenset[ProxyVersion],
        timeout: float,
    ) -> None:
        self.reactor = reactor
        self.socket = sock
        self.versions = versions
        self.received = b""
        self.result: Deferred[ProxiedAddresses | None] = Deferred(self._cancelled)
        self.timer = reactor.callLater(timeout, self._fail, "no whole header in time")
        self.reading = True
        reactor.addReader(self)

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "txinetd.proxyheader"

    def doRead(self) -> None:
        try:
            self._read()
        except ProxyHeaderError as e:
            self._fail(str(e))
        except OSError as e:
            self._fail(f"the connection failed: {e.strerror}")

    def _read(self) -> None:
        room = max(V1_MAX, V2_MAX) - len(self.received)
        peeked = self.socket.recv(room, _PEEK)
        if not peeked:
            raise ProxyHeaderError("the connection ended before the header")
        seen = self.received + peeked
        length = headerLength(seen, self.versions)
        wanted = len(peeked) if length is None else length - len(self.received)
        # Take the header's bytes, and nothing after them.
        taken = self.socket.recv(min(wanted, len(peeked)), socket.MSG_DONTWAIT)
        if not taken:
            raise ProxyHeaderError("the connection ended before the header")
        self.received += taken
        if length is not None and len(self.received) == length:
            self._done(parseHeader(self.received))

    def _stop(self) -> None:
        if self.reading:
            self.reading = False
            self.reactor.removeReader(self)
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None

    def _done(self, addresses: ProxiedAddresses | None) -> None:
        self._stop()
        self.result.callback(addresses)

    def _fail(self, why: str) -> None:
        if self.result.called:
            return
        self._stop()
        self.result.errback(ProxyHeaderError(why))

    def _cancelled(self, result: Deferred[ProxiedAddresses | None]) -> None:
        self._stop()

    def connectionLost(self, reason: Failure) -> None:
        self._fail("the connection was lost")


def readProxyHeader(
    reactor: IReactorFDSet,
    sock: socket.socket,
    versions: frozenset[ProxyVersion],
    timeout: float,
) -> Deferred[ProxiedAddresses | None]:
    """
    Read the header that starts what arrives on C{sock}, and nothing more.

    @return: a L{Deferred} that fires with what the header says (L{None}:
        it names no client), or fails with L{ProxyHeaderError}; cancelling
        it stops the read.
    """
    reader = _HeaderReader(reactor, sock, versions, timeout)
    return reader.result
