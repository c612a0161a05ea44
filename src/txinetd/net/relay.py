# -*- test-case-name: tests.net.test_relay -*-
"""
C{redirect = host port}: relay an admitted connection to another host.

Both directions are relayed with Twisted's producer/consumer flow control,
so a slow side never makes txinetd buffer without bound.  A side that
shuts down its writing half has that half-close passed on to the other
(xinetd closes both at the first end; to a TLS target, it is passed on as
C{close_notify}: see L{TLSTargetSide}); when both have ended, or one is
lost, both are closed and the byte counts go to the TRAFFIC line.

Every relay ends in bounded time once one side is gone.  A side that
closes cleanly leaves its peer orphaned: the peer gets what was queued for
it and the end of the stream, what it still sends is read and dropped (so
it is never stuck writing to txinetd), and it is aborted if it has not
closed within L{FLUSH_TIMEOUT} seconds.  A side that is reset has its
peer aborted at once.  A half-close that the peer does not take within
L{FLUSH_TIMEOUT} (a peer that does not read) aborts that peer too.

A side's end of stream says nothing of whether it still reads: it may be
waiting for the rest of the exchange, or it may have closed for good; and a
side whose reading is paused (its peer does not take what it sends) may
have closed with its data still unsent.  Twisted watches neither socket.
So from then on the connection gets TCP keepalive probes (L{PROBE_IDLE},
L{PROBE_INTERVAL}, L{PROBE_COUNT}), which a closed peer's system answers
with a reset once it has forgotten the connection, and its socket is
checked for that error every L{LIVENESS_CHECK} seconds; a reset side ends
the relay.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IHalfCloseableProtocol,
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    IProtocol,
    IProtocolFactory,
    IPullProducer,
    IPushProducer,
    IReactorTime,
    IStreamClientEndpoint,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

#: How long connecting to the target may take.
CONNECT_TIMEOUT = 30
#: Seconds a side has to take what is queued for it (and the end of the
#: stream) once its peer has gone or half-closed, before it is aborted.
FLUSH_TIMEOUT = 30.0
#: Keepalive probing of a side that Twisted no longer reads: seconds of
#: silence before the first probe, seconds between probes, and how many
#: unanswered probes end the connection.
PROBE_IDLE = 60
PROBE_INTERVAL = 20
PROBE_COUNT = 3
#: How often the socket of a side that Twisted no longer reads is checked
#: for an error (a reset, or probes unanswered).
LIVENESS_CHECK = 5.0
_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def _tune(transport: Any, keepAlive: bool) -> None:
    """
    TCP_NODELAY (and keepalive) on a TCP connection's transport.  Twisted's
    UNIX socket transports declare L{ITCPTransport} too; the UNIX socket
    behind a TLS front is left alone (Twisted before 24.11 raises for the
    option there, which stopped the relay before it connected).
    """
    tcp = ITCPTransport(transport, None)
    if tcp is None or not _overIP(transport):
        return
    tcp.setTcpNoDelay(True)
    if keepAlive:
        tcp.setTcpKeepAlive(True)


def _overIP(transport: Any) -> bool:
    """
    Whether a transport may be over IP: not when its socket is of another
    family (a UNIX socket).
    """
    handle = getattr(transport, "getHandle", None)
    sock = handle() if handle is not None else None
    return not isinstance(sock, socket.socket) or sock.family in _IP_FAMILIES


def _probeLiveness(transport: Any) -> socket.socket | None:
    """
    Turn on keepalive probes (L{PROBE_IDLE}, L{PROBE_INTERVAL},
    L{PROBE_COUNT}) on a TCP connection; other transports (a UNIX socket
    behind a TLS front, a fake) are left alone.

    @return: the TCP connection's socket, or L{None}.
    """
    handle = getattr(transport, "getHandle", None)
    sock = handle() if handle is not None else None
    if not isinstance(sock, socket.socket) or sock.family not in _IP_FAMILIES:
        return None
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", PROBE_IDLE),
        ("TCP_KEEPINTVL", PROBE_INTERVAL),
        ("TCP_KEEPCNT", PROBE_COUNT),
    ):
        number = getattr(socket, name, None)
        if number is not None:
            options.append((socket.IPPROTO_TCP, number, value))
    for level, option, value in options:
        # Without probes, the socket is still checked for a reset.
        with contextlib.suppress(OSError):
            sock.setsockopt(level, option, value)
    return sock


class _QuietFactory(Factory):
    noisy = False


class Splice(TypingProtocol):
    """
    What the two sides of a relay report to.
    """

    def sideLost(self, side: Side, reason: Failure) -> None:
        """
        C{side}'s connection is gone, for C{reason}.
        """


def cleanly(reason: Failure) -> bool:
    """
    Whether a connection ended with a clean close rather than a reset or
    an error.
    """
    return isinstance(reason.value, ConnectionDone)


@implementer(IPushProducer, IHalfCloseableProtocol)
class Side(Protocol):
    """
    One end of a relay: what it receives is written to its peer, and its
    reading is paused while its peer cannot keep up.

    @cvar halfCloses: whether the transport can stop writing and still
        read (TCP, UNIX sockets); a TLS one is closed instead.
    @ivar readDone: the other end will send nothing more.
    @ivar writeDone: the end of our stream has been sent.
    @ivar orphaned: the peer is gone; what this side sends is dropped.
    @ivar liveness: while Twisted does not read this side (its other end
        ended its stream, or its reading is paused), the next check of the
        connection for an error.
    """

    halfCloses = True

    def __init__(
        self, relay: Splice, clock: IReactorTime, onConnected: Callable[[], None] | None = None
    ) -> None:
        self.relay = relay
        self.clock = clock
        self.onConnected = onConnected
        self.peer: Side | None = None
        self.received = 0
        self.lost = False
        self.readDone = False
        self.writeDone = False
        self.orphaned = False
        #: Whether the peer is registered as our transport's producer.
        self.consuming = False
        self.deadline: IDelayedCall | None = None
        self.liveness: IDelayedCall | None = None

    def connectionMade(self) -> None:
        if self.onConnected is not None:
            self.onConnected()

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        peer = self.peer
        if peer is not None and not peer.lost and peer.transport is not None:
            peer.transport.write(data)

    def readConnectionLost(self) -> None:
        """
        This side will send nothing more: pass the half-close on.
        """
        if self.readDone:
            return
        self.readDone = True
        self._watch()
        if self.peer is not None and not self.peer.lost:
            self.peer.halfClose()
        if self.writeDone:
            self.close()

    def halfClose(self) -> None:
        """
        Our peer stopped sending: stop writing once what is queued is sent,
        within L{FLUSH_TIMEOUT} seconds.
        """
        if self.transport is None or self.lost:
            return
        self._release()
        if self.halfCloses:
            self.transport.loseWriteConnection()  # type: ignore[attr-defined]
        else:
            self.close()
        self._startDeadline()

    def writeConnectionLost(self) -> None:
        self.writeDone = True
        if not self.orphaned:
            # The half-close was taken: both ends are still there.
            self._stopDeadline()
        if self.readDone:
            self.close()

    def orphan(self, reason: Failure) -> None:
        """
        The peer is gone for C{reason}.  After a clean close, this side
        gets what is queued and the end of the stream, what it still sends
        is dropped, and it is aborted unless it ends within
        L{FLUSH_TIMEOUT} seconds; after a reset or an error it is aborted
        at once.
        """
        if self.transport is None or self.lost or self.orphaned:
            return
        self.orphaned = True
        self.peer = None
        if not cleanly(reason):
            self.abort()
            return
        self.resumeProducing()
        if not self.writeDone:
            self.halfClose()
        elif self.readDone:
            self.close()
        self._startDeadline()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = True
        self._stopDeadline()
        self._unwatch()
        self.relay.sideLost(self, reason)

    def _watch(self) -> None:
        """
        Twisted no longer reads this side (its input ended, or its peer
        cannot keep up), so it would not see the connection fail: probe
        it, and check it for an error every L{LIVENESS_CHECK} seconds.
        """
        if self.liveness is None and not self.lost:
            sock = _probeLiveness(self.transport)
            if sock is not None:
                self.liveness = self.clock.callLater(LIVENESS_CHECK, self._checkLiveness, sock)

    def _unwatch(self) -> None:
        if self.liveness is not None and self.liveness.active():
            self.liveness.cancel()
        self.liveness = None

    def _checkLiveness(self, sock: socket.socket) -> None:
        """
        Twisted does not read this side: abort if its connection has
        failed (reset, or keepalive probes unanswered), else check again
        later.
        """
        self.liveness = None
        if self.lost:
            return
        try:
            failed = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0
        except OSError:
            failed = True
        if failed:
            self.abort()
        else:
            self.liveness = self.clock.callLater(LIVENESS_CHECK, self._checkLiveness, sock)

    def close(self) -> None:
        """
        Close once what is queued is sent (the peer's data is no longer
        waited for).
        """
        if self.transport is not None and not self.lost:
            self._release()
            self.transport.loseConnection()

    def abort(self) -> None:
        """
        Close at once, dropping what is queued.
        """
        if self.transport is not None and not self.lost:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def _release(self) -> None:
        """
        Stop taking data from the peer: a transport with a producer
        registered would never finish a close.
        """
        if self.consuming and not self.lost:
            self.consuming = False
            IConsumer(self.transport).unregisterProducer()

    def _startDeadline(self) -> None:
        if self.deadline is None and not self.lost:
            self.deadline = self.clock.callLater(FLUSH_TIMEOUT, self._expired)

    def _stopDeadline(self) -> None:
        if self.deadline is not None:
            if self.deadline.active():
                self.deadline.cancel()
            self.deadline = None

    def _expired(self) -> None:
        """
        What was queued was not taken in time: give up on this side.
        """
        self.deadline = None
        self.abort()

    def pauseProducing(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.pauseProducing()  # type: ignore[attr-defined]
            self._watch()

    def resumeProducing(self) -> None:
        # A transport reads again when resumed, even at the end of its input.
        if self.transport is not None and not (self.lost or self.readDone):
            self.transport.resumeProducing()  # type: ignore[attr-defined]
            self._unwatch()

    def stopProducing(self) -> None:
        """
        The peer's transport is gone; L{Splice.sideLost} deals with it.
        """


@implementer(IHandshakeListener)
class TLSSide(Side):
    """
    A side behind Twisted's TLS protocol.  Closing it sends C{close_notify}
    after what is queued and then closes the TCP connection, once the
    handshake is done, without waiting for the peer's C{close_notify}
    (which many clients never send).  Its peer's half-close closes it
    (but see L{TLSTargetSide}).

    @ivar reason: why the connection ended (OpenSSL's error for a failed
        handshake).
    """

    halfCloses = False

    def __init__(self, relay: Splice, clock: IReactorTime) -> None:
        super().__init__(relay, clock)
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


@implementer(IPullProducer)
class _Drain:
    """
    Tells when a TCP transport has handed everything written to it to the
    system, as its consumer's registered pull producer (which it asks for
    more once its buffer is empty); it unregisters itself then.
    """

    def __init__(self, consumer: IConsumer, drained: Callable[[], None]) -> None:
        self.consumer = consumer
        self.drained = drained
        self.registered = False
        consumer.registerProducer(self, False)
        self.registered = True

    def resumeProducing(self) -> None:
        # The first call comes from the registration itself.
        if self.registered:
            self.registered = False
            self.consumer.unregisterProducer()
            self.drained()

    def stopProducing(self) -> None:
        """
        The connection is gone; its side hears of it.
        """


class TLSTargetSide(TLSSide):
    """
    The target's side of a relay over TLS (C{redirect_tls}).  The client's
    half-close is passed on as TLS allows it: once what the client sent has
    been written inside TLS (after the handshake, so that nothing queued is
    lost), C{close_notify} follows, and the target's reply is still read
    (TLS 1.2 and 1.3 both let a side send on after the other's
    C{close_notify}) until the target closes, with its own C{close_notify}
    or the end of its TCP stream, both a clean end.  As with a TCP
    half-close, a target that has not taken the C{close_notify} (the TCP
    connection has not sent it) within L{FLUSH_TIMEOUT} seconds is aborted.

    @ivar notifying: the client's half-close is to be passed on, or was.
    """

    def __init__(self, relay: Splice, clock: IReactorTime) -> None:
        super().__init__(relay, clock)
        self.notifying = False

    def halfClose(self) -> None:
        if self.transport is None or self.lost or self.closing or self.notifying:
            return
        self._release()
        self.notifying = True
        self._startDeadline()
        if self.handshaken:
            self._notify()

    def noteHandshake(self) -> None:
        super().noteHandshake()
        if self.notifying:
            # After Twisted's TLS protocol has written what it held for the
            # end of the handshake.
            self.clock.callLater(0, self._notify)

    def _notify(self) -> None:
        """
        Send C{close_notify} after what is queued, and go on reading.
        """
        if self.closing or self.lost or self.transport is None:
            return
        # Twisted's TLS protocol sends close_notify once its buffers are
        # written, reads on, and closes the TCP connection at the target's
        # close_notify.
        self.transport.loseConnection()
        tcp = getattr(self.transport, "transport", None)
        if tcp is None:
            self.writeConnectionLost()
        else:
            _Drain(IConsumer(tcp), self._notified)

    def _notified(self) -> None:
        """
        The C{close_notify} was sent: the half-close was taken.
        """
        if not self.lost:
            self.writeConnectionLost()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # Twisted's TLS protocol reports an end of the TCP stream without
        # close_notify as a lost connection, as it does a reset; after the
        # client's close_notify, the former ends the target's reply cleanly.
        tcpReason = getattr(self.transport, "tcpReason", None)
        if (
            self.notifying
            and self.handshaken
            and isinstance(reason.value, ConnectionLost)
            and tcpReason is not None
            and cleanly(tcpReason)
        ):
            reason = tcpReason
        super().connectionLost(reason)


class _TLSConnection(BufferingTLSTransport):
    """
    Twisted's TLS protocol, noting why its TCP connection ended (it reports
    an end of stream without C{close_notify} as a lost connection, as it
    does a reset).

    @ivar tcpReason: why the TCP connection ended, once it has.
    """

    tcpReason: Failure | None = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.tcpReason = reason
        super().connectionLost(reason)


def _wrapped(protocol: Any) -> IProtocol:
    """
    The protocol inside a TLS connection.
    """
    wrapped: IProtocol = protocol.wrappedProtocol
    return wrapped


class _TLSFactory(TLSMemoryBIOFactory):
    protocol = _TLSConnection


@implementer(IStreamClientEndpoint)
class _TLSEndpoint:
    """
    TLS over another endpoint, as Twisted's C{wrapClientTLS} makes it, with
    L{_TLSConnection}.
    """

    def __init__(
        self, creator: IOpenSSLClientConnectionCreator, endpoint: IStreamClientEndpoint
    ) -> None:
        self.creator = creator
        self.endpoint = endpoint

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        connecting = self.endpoint.connect(_TLSFactory(self.creator, True, protocolFactory))
        return connecting.addCallback(_wrapped)


def connectSides(first: Side, second: Side) -> None:
    """
    Relay between two connected sides, with flow control both ways.
    """
    first.peer, second.peer = second, first
    assert first.transport is not None and second.transport is not None
    IConsumer(first.transport).registerProducer(second, True)
    IConsumer(second.transport).registerProducer(first, True)
    first.consuming = second.consuming = True
    for side in (first, second):
        if side.readDone and side.peer is not None:
            side.peer.halfClose()


def stopSides(sides: Iterable[Side | None], force: bool) -> None:
    """
    End a relay's connections (C{force}: abort them).
    """
    for side in sides:
        if side is None:
            continue
        if force:
            side.abort()
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
    @ivar preface: what the target is sent first, before anything of the
        client's (a PROXY protocol header).
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
        preface: bytes = b"",
    ) -> None:
        self.reactor = reactor
        self.tls = tls
        self.preface = preface
        self.address = address
        self.port = port
        self.keepAlive = keepAlive
        self.onEnd = onEnd
        self.onConnectFailed = onConnectFailed
        self.client = Side(self, reactor, self.clientConnected)
        self.target: Side | None = None
        self.ended = False

    def clientConnected(self) -> None:
        _tune(self.client.transport, False)
        self.client.pauseProducing()
        endpointType = TCP6ClientEndpoint if ":" in self.address else TCP4ClientEndpoint
        endpoint: IStreamClientEndpoint = endpointType(
            self.reactor, self.address, self.port, timeout=CONNECT_TIMEOUT
        )
        target: Side = Side(self, self.reactor)
        if self.tls is not None:
            # A handshake that fails (a certificate not valid for the name)
            # is a target that could not be reached.
            endpoint = _TLSEndpoint(self.tls, endpoint)
            target = TLSTargetSide(self, self.reactor)
        connecting = endpoint.connect(_QuietFactory.forProtocol(lambda: target))
        connecting.addCallbacks(self.targetConnected, self.targetFailed)

    def targetConnected(self, target: Side) -> None:
        if self.ended or self.client.lost:
            target.close()
            return
        self.target = target
        _tune(target.transport, self.keepAlive)
        if self.preface and target.transport is not None:
            target.transport.write(self.preface)
        connectSides(self.client, target)
        self.client.resumeProducing()

    def targetFailed(self, failure: Failure) -> None:
        if not self.client.lost:
            self.onConnectFailed(failure)
            self.client.close()

    def relayed(self) -> tuple[int, int]:
        """
        The bytes relayed so far: from the client to the target, and back.
        """
        target = self.target
        return self.client.received, 0 if target is None else target.received

    def stop(self, force: bool) -> None:
        """
        End the relay (C{force}: abort both connections).
        """
        stopSides((self.client, self.target), force)

    def sideLost(self, side: Side, reason: Failure) -> None:
        """
        Either side is gone: the other is orphaned (see L{Side.orphan});
        once both are gone, report the counts.
        """
        other = self.target if side is self.client else self.client
        if isinstance(side, TLSSide) and not side.handshaken and not self.client.lost:
            self.onConnectFailed(side.reason)
            self.target = None
            other = self.client
            other.close()
        elif other is not None:
            other.orphan(reason)
        if self.ended or not self.client.lost:
            return
        if self.target is not None and not self.target.lost:
            return
        self.ended = True
        target = self.target
        self.onEnd(self.client.received, target.received if target else 0, target is not None)
