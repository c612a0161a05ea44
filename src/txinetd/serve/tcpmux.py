# -*- test-case-name: tests.serve.test_tcpmux -*-
"""
The tcpmux multiplexer (RFC 1078): the client names a service on its first
line and is handed to it.

The name is read from the raw accepted socket without ever blocking the
reactor: txinetd peeks at what has arrived to find the end of the line, then
consumes exactly the line.  Every byte the client sent after the line stays
in the socket for the target service, which may be an external server given
the socket itself.  (xinetd makes one read of up to 1024 bytes: a name split
across segments fails, and whatever followed the line is lost.)

Replies, as xinetd sends them: C{+Go} CR LF and a NUL byte before a
C{TCPMUXPLUS} service runs (L{acceptReply}, which the caller sends once the
target's own access rules and limits have admitted the client: a refused
client gets no C{+Go}), nothing before a plain C{TCPMUX} one (its server
answers for itself), C{-Service name not found} CR LF and a NUL byte for an
unknown name.  As RFC 1078 asks, the name C{HELP} (in any case, unless a
tcpmux service has that name) lists the tcpmux services, one per line.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.core.config import Listening, ServiceConfig
from txinetd.core.values import ServiceType
from txinetd.net.acceptor import PendingConnection
from txinetd.serve.admission import Admission
from txinetd.serve.runner import Runner
from txinetd.serve.session import Session

#: The longest first line, CR LF included (xinetd's read buffer).
MAX_LINE = 1024
#: Seconds a client has to send its first line.
NAME_TIMEOUT = 30.0

GO = b"+Go\r\n\x00"
"""Sent before a C{TCPMUXPLUS} service runs."""
NOT_FOUND = b"-Service name not found\r\n\x00"
"""Sent for a name that no tcpmux service has, before closing."""
HELP = "help"
"""The name that lists the services (RFC 1078)."""

_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT
_DISCARD_SIZE = 65536
_DISCARD_READS = 16


def parseLine(line: bytes) -> str | None:
    """
    The service name of a complete first line.

    @param line: the bytes up to and including the first LF.
    @return: the name, or L{None} if the line does not end in CR LF or has
        no name.
    """
    if len(line) <= 2 or not line.endswith(b"\r\n"):
        return None
    return line[:-2].decode("utf-8", "replace")


def _consumable(peeked: bytes) -> int:
    """
    How many of the peeked bytes belong to the first line: up to and
    including its LF, or all of them when it has not arrived yet.
    """
    end = peeked.find(b"\n")
    return len(peeked) if end < 0 else end + 1


@implementer(IReadDescriptor)
class _NameReader:
    """
    Reads the first line of a connection, one readable event at a time.

    @ivar line: the bytes of the line consumed so far.
    @ivar result: fires with the name, or L{None}.
    """

    def __init__(self, reactor: Any, connection: PendingConnection, timeout: float) -> None:
        self.reactor = reactor
        self.connection = connection
        self.line = b""
        self.result: Deferred[str | None] = Deferred(lambda d: self._stop())
        self.timer = reactor.callLater(timeout, self._finish, None)
        reactor.addReader(self)

    def fileno(self) -> int:
        return self.connection.fileno()

    def logPrefix(self) -> str:
        return "txinetd.serve.tcpmux"

    def doRead(self) -> None:
        sock = self.connection.socket
        try:
            peeked = sock.recv(MAX_LINE - len(self.line), _PEEK)
            if not peeked:
                self._finish(None)
                return
            self.line += sock.recv(_consumable(peeked), socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            self._finish(None)
            return
        if self.line.endswith(b"\n"):
            self._finish(parseLine(self.line))
        elif len(self.line) >= MAX_LINE:
            self._finish(None)

    def connectionLost(self, reason: Failure) -> None:
        self._finish(None)

    def _stop(self) -> None:
        self.reactor.removeReader(self)
        if self.timer.active():
            self.timer.cancel()

    def _finish(self, name: str | None) -> None:
        if not self.result.called:
            self._stop()
            self.result.callback(name)


def readServiceName(
    reactor: Any, connection: PendingConnection, timeout: float = NAME_TIMEOUT
) -> Deferred[str | None]:
    """
    Read the service name a tcpmux client sends on its first line.

    Exactly the line is taken from the socket; the bytes after it stay there.
    No send on C{connection} may be pending meanwhile (the reactor watches
    its descriptor for reading only).

    @param reactor: an L{IReactorFDSet} and L{IReactorTime} provider.
    @param connection: the accepted connection.
    @param timeout: seconds the client has to send the line.
    @return: a cancellable L{Deferred} that fires with the name; with
        L{None} if the line has no name, does not end in CR LF, is longer
        than L{MAX_LINE} bytes, or does not come in time, or if the
        client closes or the connection fails first.  The connection is
        never closed here.
    """
    return _NameReader(reactor, connection, timeout).result


def tcpmuxServices(services: Iterable[ServiceConfig]) -> list[ServiceConfig]:
    """
    The services reached through tcpmux (C{type} TCPMUX or TCPMUXPLUS), in
    their order.
    """
    return [service for service in services if service.listening is Listening.THROUGH_TCPMUX]


def findTarget(name: str, services: Iterable[ServiceConfig]) -> ServiceConfig | None:
    """
    The tcpmux service a client asked for.

    @param name: the name the client sent.
    @param services: the configured services, in configuration order.
    @return: the first TCPMUX or TCPMUXPLUS service whose service name
        matches C{name} ignoring case, or L{None}.
    """
    wanted = name.lower()
    for service in tcpmuxServices(services):
        if service.name.lower() == wanted:
            return service
    return None


def acceptReply(target: ServiceConfig) -> bytes:
    """
    What the client gets before C{target} runs: L{GO} for a TCPMUXPLUS
    service, nothing for a plain TCPMUX one.
    """
    return GO if ServiceType.TCPMUXPLUS in target.type else b""


def helpReply(services: Iterable[ServiceConfig]) -> bytes:
    """
    The answer to C{HELP}: the distinct names of the tcpmux services, each
    followed by CR LF, in configuration order.
    """
    names = dict.fromkeys(service.name for service in tcpmuxServices(services))
    return b"".join(name.encode("utf-8") + b"\r\n" for name in names)


def discardInput(sock: socket.socket) -> None:
    """
    Read and discard what a client has sent so far (at most 1 MiB), so
    that closing the socket ends the connection normally: closing with
    unread input resets it, and the client may lose the reply.
    """
    for _ in range(_DISCARD_READS):
        try:
            if not sock.recv(_DISCARD_SIZE, socket.MSG_DONTWAIT):
                return
        except OSError:
            return


def multiplex(
    reactor: Any,
    connection: PendingConnection,
    services: Iterable[ServiceConfig],
    timeout: float = NAME_TIMEOUT,
) -> Deferred[ServiceConfig | None]:
    """
    Serve a tcpmux connection up to the point where its target takes over.

    A bad or missing name closes the connection silently.  C{HELP} gets the
    list of services and an unknown name gets L{NOT_FOUND}, then what the
    client sent after its line is discarded and the connection closed.
    For a known name the connection stays open and the line consumed;
    nothing is sent: the caller checks the target's access rules and
    limits, then sends L{acceptReply}.

    @param reactor: an L{IReactorFDSet} and L{IReactorTime} provider.
    @param connection: the accepted connection; no send may be pending.
    @param services: the configured services, in configuration order.
    @param timeout: seconds the client has to send its first line.
    @return: a L{Deferred} that fires with the target service, or with
        L{None} once the connection is closed.  Cancelled while the name
        is awaited, it fails with L{twisted.internet.defer.CancelledError}
        and the caller closes the connection; cancelled while a reply is
        sent, it closes the connection and fires with L{None}.
    """
    candidates = list(services)
    name = readServiceName(reactor, connection, timeout)
    return name.addCallback(_answer, connection, candidates)


def _answer(
    name: str | None, connection: PendingConnection, services: list[ServiceConfig]
) -> Deferred[ServiceConfig | None] | None:
    if name is None:
        connection.close()
        return None
    target = findTarget(name, services)
    if target is not None:
        return succeed(target)
    reply = helpReply(services) if name.lower() == HELP else NOT_FOUND
    return _sendThenClose(connection, reply)


def _sendThenClose(connection: PendingConnection, reply: bytes) -> Deferred[ServiceConfig | None]:
    """
    Send C{reply}, then close the connection; fire with L{None}.
    """

    def sent(ignored: object) -> None:
        discardInput(connection.socket)
        connection.close()

    def failed(reason: Failure) -> None:
        connection.close()

    return connection.send(reply).addCallbacks(sent, failed)


class TcpmuxTarget(TypingProtocol):
    """
    A service clients reach through tcpmux, as it is now.
    """

    config: ServiceConfig
    admission: Admission
    runner: Runner


class TcpmuxRunner:
    """
    The tcpmux service: reads the service name, then runs the named
    TCPMUX service on the connection, through that service's own checks
    (a refused client gets no C{+Go}).  Stopping the session while it waits
    for the name closes the connection; its EXIT is logged.
    """

    def __init__(self, reactor: Any, targets: Callable[[], Sequence[TcpmuxTarget]]) -> None:
        """
        @param targets: the services reachable through tcpmux now.
        """
        self.reactor = reactor
        self.targets = targets

    def run(self, connection: PendingConnection, session: Session) -> None:
        session.begin(0)
        targets = self.targets()
        choosing = multiplex(self.reactor, connection, [target.config for target in targets])
        session.stopWith(lambda force: choosing.cancel())
        choosing.addCallback(self._chosen, connection)
        choosing.addErrback(lambda failure: connection.close())
        choosing.addBoth(lambda _: session.ended(0))

    def _chosen(self, chosen: ServiceConfig | None, connection: PendingConnection) -> None:
        if chosen is None:
            return
        for target in self.targets():
            if target.config is chosen:
                target.admission.admit(connection, target.runner, acceptReply(chosen))
                return
        connection.close()
