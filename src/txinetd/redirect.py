# -*- test-case-name: tests.test_redirect -*-
"""
C{redirect = host port}: relay an admitted connection to another host.

Both directions are relayed with Twisted's producer/consumer flow control,
so a slow side never makes txinetd buffer without bound.  A side that
shuts down its writing half has that half-close passed on to the other
(xinetd closes both at the first end); when both have ended, or one is
lost, both are closed and the byte counts go to the TRAFFIC line.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.error import ConnectionDone, TimeoutError
from twisted.internet.interfaces import (
    IConsumer,
    IHalfCloseableProtocol,
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    IPushProducer,
    IStreamClientEndpoint,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

#: How long connecting to the target may take.
CONNECT_TIMEOUT = 30


def _tune(transport: Any, keepAlive: bool) -> None:
    tcp = ITCPTransport(transport, None)
    if tcp is None:
        return
    tcp.setTcpNoDelay(True)
    if keepAlive:
        tcp.setTcpKeepAlive(True)


class _QuietFactory(Factory):
    noisy = False


class Splice(TypingProtocol):
    """
    What the two sides of a relay report to.
    """

    def sideLost(self, side: Side) -> None:
        """
        C{side}'s connection is gone.
        """


@implementer(IPushProducer, IHalfCloseableProtocol)
class Side(Protocol):
    """
    One end of a relay: what it receives is written to its peer, and its
    reading is paused while its peer cannot keep up.

    @cvar halfCloses: whether the transport can stop writing and still
        read (TCP, UNIX sockets); a TLS one is closed instead.
    """

    halfCloses = True

    def __init__(self, relay: Splice, onConnected: Callable[[], None] | None = None) -> None:
        self.relay = relay
        self.onConnected = onConnected
        self.peer: Side | None = None
        self.received = 0
        self.lost = False
        self.readDone = False

    def connectionMade(self) -> None:
        if self.onConnected is not None:
            self.onConnected()

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def readConnectionLost(self) -> None:
        """
        This side will send nothing more: pass the half-close on.
        """
        self.readDone = True
        if self.peer is not None:
            self.peer.halfClose()

    def halfClose(self) -> None:
        """
        Our peer stopped sending: stop writing once what is queued is sent.
        """
        if self.transport is None or self.lost:
            return
        if self.halfCloses:
            self.transport.loseWriteConnection()  # type: ignore[attr-defined]
        else:
            self.close()

    def writeConnectionLost(self) -> None:
        if self.readDone:
            self.close()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = True
        self.relay.sideLost(self)

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.loseConnection()

    def pauseProducing(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def stopProducing(self) -> None:
        self.close()


@implementer(IHandshakeListener)
class TLSSide(Side):
    """
    A side behind Twisted's TLS protocol.  Closing it sends C{close_notify}
    after what is queued and then closes the TCP connection, once the
    handshake is done, without waiting for the peer's C{close_notify}
    (which many clients never send).

    @ivar reason: why the connection ended (OpenSSL's error for a failed
        handshake).
    """

    halfCloses = False

    def __init__(self, relay: Splice) -> None:
        super().__init__(relay)
        self.handshaken = False
        self.closing = False
        self.reason: Failure = Failure(  # type: ignore[no-untyped-call]
            ConnectionDone("closed during the TLS handshake")
        )

    def handshakeCompleted(self) -> None:
        self.noteHandshake()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if reason is not connectionDone:
            self.reason = reason
        super().connectionLost(reason)

    def close(self) -> None:
        super().close()
        self.closing = True
        self._closeUnderTLS()

    def noteHandshake(self) -> None:
        self.handshaken = True
        self._closeUnderTLS()

    def _closeUnderTLS(self) -> None:
        if not (self.closing and self.handshaken) or self.lost or self.transport is None:
            return
        underlying = getattr(self.transport, "transport", None)
        if underlying is not None:
            underlying.loseConnection()


def connectSides(first: Side, second: Side) -> None:
    """
    Relay between two connected sides, with flow control both ways.
    """
    first.peer, second.peer = second, first
    assert first.transport is not None and second.transport is not None
    IConsumer(first.transport).registerProducer(second, True)
    IConsumer(second.transport).registerProducer(first, True)
    for side in (first, second):
        if side.readDone and side.peer is not None:
            side.peer.halfClose()


def stopSides(sides: Iterable[Side | None], force: bool) -> None:
    """
    End a relay's connections (C{force}: abort them).
    """
    for side in sides:
        if side is None or side.transport is None or side.lost:
            continue
        if force:
            side.transport.abortConnection()  # type: ignore[attr-defined]
        else:
            side.close()


class Relay:
    """
    A client connection relayed to a target.

    @ivar client: the client's side, the protocol of the adopted connection;
        connecting to the target starts when it is connected.
    @ivar target: the target's side, once connected.
    @ivar onEnd: called once when the relay ends, with the bytes in (client
        to target), the bytes out (target to client) and whether the target
        was reached.
    @ivar onConnectFailed: called with the failure when the target cannot be
        reached (the client is then closed).
    """

    def __init__(
        self,
        reactor: Any,
        address: str,
        port: int,
        keepAlive: bool,
        onEnd: Callable[[int, int, bool], None],
        onConnectFailed: Callable[[Failure], None],
        tls: IOpenSSLClientConnectionCreator | None = None,
    ) -> None:
        self.reactor = reactor
        self.tls = tls
        self.address = address
        self.port = port
        self.keepAlive = keepAlive
        self.onEnd = onEnd
        self.onConnectFailed = onConnectFailed
        self.client = Side(self, self.clientConnected)
        self.target: Side | None = None
        self.ended = False

    def clientConnected(self) -> None:
        _tune(self.client.transport, False)
        self.client.pauseProducing()
        endpointType = TCP6ClientEndpoint if ":" in self.address else TCP4ClientEndpoint
        endpoint: IStreamClientEndpoint = endpointType(
            self.reactor, self.address, self.port, timeout=CONNECT_TIMEOUT
        )
        target: Side = Side(self)
        if self.tls is not None:
            # A handshake that fails (a certificate not valid for the name)
            # is a target that could not be reached.
            endpoint = wrapClientTLS(self.tls, endpoint)
            target = TLSSide(self)
        connecting = endpoint.connect(_QuietFactory.forProtocol(lambda: target))
        connecting.addCallbacks(self.targetConnected, self.targetFailed)

    def targetConnected(self, target: Side) -> None:
        if self.ended or self.client.lost:
            target.close()
            return
        self.target = target
        _tune(target.transport, self.keepAlive)
        connectSides(self.client, target)
        self.client.resumeProducing()

    def targetFailed(self, failure: Failure) -> None:
        if not self.client.lost:
            self.onConnectFailed(failure)
            self.client.close()

    def stop(self, force: bool) -> None:
        """
        End the relay (C{force}: abort both connections).
        """
        stopSides((self.client, self.target), force)

    def sideLost(self, side: Side) -> None:
        """
        Either side is gone: close the other (what it had queued is still
        sent); once both are gone, report the counts.
        """
        other = self.target if side is self.client else self.client
        if isinstance(side, TLSSide) and not side.handshaken and not self.client.lost:
            self.onConnectFailed(side.reason)
            self.target = None
        if other is not None:
            other.close()
        if self.ended or not self.client.lost:
            return
        if self.target is not None and not self.target.lost:
            return
        self.ended = True
        target = self.target
        self.onEnd(self.client.received, target.received if target else 0, target is not None)


def describeConnectError(failure: Failure) -> str:
    """
    The reason in C{can't connect to remote host <ip>: <reason>}, worded
    like xinetd's C{%m}.
    """
    error = failure.value
    number = getattr(error, "osError", None)
    if isinstance(number, int):
        return f"{os.strerror(number)} (errno = {number})"
    if isinstance(error, TimeoutError):
        return f"{os.strerror(errno.ETIMEDOUT)} (errno = {errno.ETIMEDOUT})"
    if type(error).__module__.split(".")[0] in ("OpenSSL", "service_identity"):
        # Only a TLS redirect gets these, and it has loaded the TLS module.
        from txinetd.tls import describeTLSFailure

        return f"TLS: {describeTLSFailure(failure)}"
    return str(error)
