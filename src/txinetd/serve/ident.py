# -*- test-case-name: tests.serve.test_ident -*-
"""
An RFC 1413 (ident) client, for C{USERID} in C{log_on_success} and
C{log_on_failure} and for the C{IDONLY} flag.

For a client connected to one of our services, L{queryIdent} asks the ident
server on the client's host which user owns the client's end: it connects
from the service's local address to port 113 of the client's address, sends
C{<client port>,<server port>} and reads one reply line.  The outcome is a
L{UserId}, whose text is what a C{USERID} entry logs, or a L{NoId} with the
reason a C{NOID} entry logs.

The reply is read as bytes and bounded: at most 1024 bytes up to its line
end, and at most 512 characters of user text, with control characters
replaced, so that an ident server cannot flood or forge log lines.

Services that listen on port 113 themselves never query ident (a lookup
would connect back to the same kind of service); that rule belongs to the
configuration, not to this module.
"""

from __future__ import annotations

import ipaddress
import pwd
import re
import socket
import struct
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from twisted.internet import error
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IConnector,
    IDelayedCall,
    IReactorTCP,
    IReactorTime,
)
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.failure import Failure

from txinetd.core.addresses import normaliseHost
from txinetd.core.config import IDENT_PORT
from txinetd.core.events import NoIdReason
from txinetd.core.logformat import sanitise
from txinetd.net.acceptor import PendingConnection

__all__ = [
    "MAX_REPLY",
    "MAX_TEXT",
    "IdentResult",
    "NoId",
    "UserId",
    "localUser",
    "parseIdentReply",
    "queryIdent",
]

MAX_REPLY = 1024
"""
The longest reply line read, line end included, in bytes.
"""

MAX_TEXT = 512
"""
The longest user text or bad line reported, in characters.
"""

_REPLY = re.compile(rb"\s*(\d{1,5})\s*,\s*(\d{1,5})\s*:\s*USERID\s*:(.*)", re.DOTALL)


@dataclass(frozen=True)
class UserId:
    """
    The ident server named the user.

    @ivar text: what follows C{USERID :} in its reply, such as
        C{UNIX : alice}: stripped, bounded and free of control characters.
    """

    text: str


@dataclass(frozen=True)
class NoId:
    """
    The ident lookup gave no user.

    @ivar reason: why.
    @ivar badLine: for a reply that could not be used, the reply (bounded
        and free of control characters) for the program log's
        C{Bad line received from identity server} message; L{None}
        otherwise.
    """

    reason: NoIdReason
    badLine: str | None = None


IdentResult = UserId | NoId


def _text(raw: bytes) -> str:
    """
    Bytes from an ident server as loggable text.
    """
    decoded = raw.strip().decode("utf-8", "replace").replace("\ufffd", "?")
    return sanitise(decoded[:MAX_TEXT])


def _badResponse(line: bytes) -> NoId:
    """
    The result of a reply that could not be used.
    """
    return NoId(NoIdReason.BAD_RESPONSE, _text(line))


def parseIdentReply(line: bytes, clientPort: int, serverPort: int) -> IdentResult:
    """
    Read an ident server's reply.

    @param line: the reply line, with or without its line end.
    @param clientPort: the client's port, the first port of the query.
    @param serverPort: our port, the second port of the query.
    @return: a L{UserId} for a reply C{<clientPort> , <serverPort> : USERID
        : <text>} (spaces optional) with a non-empty text, a L{NoId} with
        C{bad response} for anything else: other ports, C{ERROR} replies,
        garbage, lines longer than L{MAX_REPLY}.
    """
    match = _REPLY.fullmatch(line)
    if (
        len(line) > MAX_REPLY
        or match is None
        or (int(match[1]), int(match[2])) != (clientPort, serverPort)
        or not match[3].strip()
    ):
        return _badResponse(line)
    return UserId(_text(match[3]))


class _IdentClient(Protocol):
    """
    Sends the query and reads one reply line, keeping at most L{MAX_REPLY}
    bytes of it; what follows the line, or comes after L{MAX_REPLY} bytes
    without a line end, is dropped unread.
    """

    def __init__(self, query: _IdentQuery) -> None:
        self._query = query
        self._buffer = b""
        self._read = False

    def connectionMade(self) -> None:
        self._query.connected(self)
        assert self.transport is not None
        self.transport.write(self._query.request)

    def dataReceived(self, data: bytes) -> None:
        if self._read:
            return
        self._buffer += data[: MAX_REPLY - len(self._buffer)]
        end = self._buffer.find(b"\n")
        if end >= 0:
            self._settle(self._query.parse(self._buffer[:end]))
        elif len(self._buffer) >= MAX_REPLY:
            self._settle(_badResponse(self._buffer))

    def _settle(self, result: IdentResult) -> None:
        """
        The reply is read: give C{result} to the query, which closes.
        """
        self._read = True
        self._buffer = b""
        self._query.settle(result)

    def close(self) -> None:
        """
        Close the connection; only our short query could be left to send.
        """
        assert self.transport is not None
        self.transport.loseConnection()


def _failedConnection(reason: Failure) -> NoId:
    """
    The result of a connection attempt that failed.
    """
    if isinstance(reason.value, error.ConnectBindError):
        return NoId(NoIdReason.SYSTEM_ERROR)
    if isinstance(reason.value, error.TimeoutError):
        return NoId(NoIdReason.TIMEOUT)
    return NoId(NoIdReason.NO_SERVER)


class _IdentQuery(ClientFactory):
    """
    One ident lookup: the connection's factory, its timer and its result.

    The result is delivered only once the connection is closed, so no socket
    of the lookup outlives its L{Deferred}.

    @ivar deferred: fires with the L{IdentResult}.
    @ivar request: the query line.
    """

    noisy = False

    def __init__(self, clientPort: int, serverPort: int) -> None:
        self.deferred: Deferred[IdentResult] = Deferred(self._cancel)
        self.request = b"%d,%d\r\n" % (clientPort, serverPort)
        self._clientPort = clientPort
        self._serverPort = serverPort
        self._result: IdentResult | None = None
        self._cancelled = False
        self._timer: IDelayedCall | None = None
        self._connector: IConnector | None = None
        self._client: _IdentClient | None = None

    def parse(self, line: bytes) -> IdentResult:
        """
        Read the reply to this query.
        """
        return parseIdentReply(line, self._clientPort, self._serverPort)

    def startTimer(self, clock: IReactorTime, timeout: float) -> None:
        """
        Give up after C{timeout} seconds.
        """
        self._timer = clock.callLater(timeout, self._timedOut)

    def startedConnecting(self, connector: IConnector) -> None:
        self._connector = connector

    def buildProtocol(self, addr: IAddress | None) -> _IdentClient:
        return _IdentClient(self)

    def connected(self, client: _IdentClient) -> None:
        """
        The connection is up.
        """
        self._client = client

    def settle(self, result: IdentResult) -> None:
        """
        The reply is read: close the connection and deliver C{result}.
        """
        self._stopTimer()
        if self._result is None:
            self._result = result
        assert self._client is not None
        self._client.close()

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self._finish(_failedConnection(reason))

    def clientConnectionLost(self, connector: IConnector, reason: Failure) -> None:
        self._finish(NoId(NoIdReason.RECEIVE_ERROR))

    def _finish(self, default: IdentResult) -> None:
        """
        The connection is closed: deliver the result, or C{default} if there
        is none yet.
        """
        self._stopTimer()
        if not self._cancelled and not self.deferred.called:
            self.deferred.callback(default if self._result is None else self._result)

    def _stopTimer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timedOut(self) -> None:
        """
        No reply in time: give up with C{timeout}.
        """
        self._timer = None
        self._result = NoId(NoIdReason.TIMEOUT)
        self._stop()

    def _cancel(self, deferred: Deferred[IdentResult]) -> None:
        """
        The caller lost interest: end the lookup without a result.
        """
        self._cancelled = True
        self._stopTimer()
        self._stop()

    def _stop(self) -> None:
        """
        End the connection or the attempt to connect.
        """
        if self._client is not None:
            self._client.close()
        elif self._connector is not None:
            with suppress(error.NotConnectingError):
                self._connector.stopConnecting()


def _ipAddress(address: str) -> str:
    """
    Check a numeric address and show IPv4-mapped ones as IPv4.

    @raise ValueError: if C{address} is not a numeric IP address.
    """
    normal = normaliseHost(address)
    ipaddress.ip_address(normal)
    return normal


def queryIdent(
    reactor: IReactorTCP,
    localAddress: str,
    remoteAddress: str,
    clientPort: int,
    serverPort: int,
    timeout: float = 30.0,
    identPort: int = IDENT_PORT,
) -> Deferred[IdentResult]:
    """
    Ask the ident server on a client's host who owns the client's end of a
    connection.

    @param reactor: provides L{IReactorTCP} and L{IReactorTime}.
    @param localAddress: our numeric address on the connection; the lookup
        connects from it.
    @param remoteAddress: the client's numeric address, IPv4 or IPv6.
    @param clientPort: the client's port on the connection.
    @param serverPort: our port on the connection.
    @param timeout: seconds to wait for the whole exchange, connecting
        included.
    @param identPort: the ident server's port; other than 113 only in tests.
    @return: fires with a L{UserId} or a L{NoId}, never with a failure
        unless cancelled; by then the lookup's connection is closed.
    @raise ValueError: if an address is not a numeric IP address.
    """
    local = _ipAddress(localAddress)
    remote = _ipAddress(remoteAddress)
    query = _IdentQuery(clientPort, serverPort)
    query.startTimer(IReactorTime(reactor), timeout)
    reactor.connectTCP(remote, identPort, query, timeout=timeout, bindAddress=(local, 0))
    return query.deferred


#: struct ucred: pid, uid, gid.
_UCRED = struct.Struct("3i")


def localUser(connection: PendingConnection, certificate: Any) -> str | None:
    """
    Who connects, when txinetd knows without asking an ident server: the
    subject of a TLS client certificate (C{X509 : C=.., CN=..}), or the user
    of a UNIX-socket client (C{UNIX : alice}), in the USERID line's form.
    """
    if certificate is not None:
        return f"X509 : {certificate.subject}"
    if connection.peer is not None or connection.family != socket.AF_UNIX:
        return None
    try:
        credentials = connection.socket.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size
        )
    except OSError:
        return None
    uid = _UCRED.unpack(credentials)[1]
    try:
        return f"UNIX : {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"UNIX : {uid}"
