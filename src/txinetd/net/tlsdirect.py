# -*- test-case-name: tests.net.test_tlsdirect -*-
"""
TLS in front of a service that runs in process: the plaintext stays in
memory, with no socketpair between the TLS layer and the service.

The TLS connection's protocol is first a L{PlaintextEnd}, which tells the
handshake's outcome and holds what the client sends while the connection
goes through admission; L{DirectConnection} is what admission and the
runner see (its banners and replies are written inside TLS, its close
ends the TLS connection), and L{DirectConnection.serve} hands the
plaintext, with what was held, to the service's protocol, whose transport
is then the TLS layer itself (L{DirectTLSProtocol}): its writes are
encrypted and sent, its producer paused when the client does not read,
its close sends C{close_notify}.
"""

from __future__ import annotations

import errno
from typing import Any, cast
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IHandshakeListener, IProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.policies import ProtocolWrapper
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.net.acceptor import PendingConnection
from txinetd.net.tlsbulk import BulkTLSProtocol

__all__ = ["HELD_LIMIT", "DirectConnection", "DirectTLSProtocol", "PlaintextEnd"]

#: The most plaintext held for a service that does not run yet: beyond it
#: the client is no longer read until the service takes over.
HELD_LIMIT = 2**16


class HandshakeListener(TypingProtocol):
    """
    What a L{PlaintextEnd} tells of its TLS connection.
    """

    def handshakeDone(self) -> None:
        """
        The handshake is done.
        """

    def tlsLost(self, reason: Failure) -> None:
        """
        The TLS connection is gone, for C{reason}.
        """


class DirectTLSProtocol(BulkTLSProtocol):
    """
    L{BulkTLSProtocol} as the transport of a service's protocol: it closes
    its TCP connection once its own C{close_notify} is out after the
    handshake, without waiting for the client's (which many clients never
    send), as L{txinetd.net.relay.TLSSide} does for a bridge; and it
    connects with less work.
    """

    def makeConnection(self, transport: Any) -> None:
        """
        Connect to C{transport} as L{TLSMemoryBIOProtocol.makeConnection}
        does, without its first declarations: it declares each of the
        transport's interfaces in turn, each replacing the last, before
        L{ProtocolWrapper.makeConnection} declares them all at once (ten
        zope declarations a connection, where one does).  This needs the
        factory's C{_creatorCallable} (Twisted 26.4 and later); without it,
        Twisted's own C{makeConnection} connects.
        """
        create = getattr(self.factory, "_creatorCallable", None)
        if create is None:
            TLSMemoryBIOProtocol.makeConnection(self, transport)  # type: ignore[no-untyped-call]
            return
        self._tlsConnection = create(self)
        self._appSendBuffer = []
        ProtocolWrapper.makeConnection(self, transport)  # type: ignore[no-untyped-call]
        self._checkHandshakeStatus()  # type: ignore[no-untyped-call]

    def _shutdownTLS(self) -> None:
        if self._tlsConnection is None:
            # Lost already: nothing to shut down.
            return
        super()._shutdownTLS()  # type: ignore[no-untyped-call]
        if self._handshakeDone and self.transport is not None:
            self.transport.loseConnection()


@implementer(IHandshakeListener)
class PlaintextEnd(Protocol):
    """
    The protocol of a TLS connection until its service runs: it tells the
    handshake's outcome and holds what the client sends, and stops reading
    the client once L{HELD_LIMIT} bytes are held.

    @ivar held: what the client sent, not yet served.
    @ivar paused: whether reading is paused for what is held.
    @ivar handshaken: whether the handshake is done.
    @ivar lostReason: why the TLS connection ended, once it did.
    @ivar served: whether a service's protocol has taken over.
    """

    def __init__(self, listener: HandshakeListener) -> None:
        self.listener = listener
        self.held: list[bytes] = []
        self.heldSize = 0
        self.paused = False
        self.handshaken = False
        self.lostReason: Failure | None = None
        self.served = False

    def handshakeCompleted(self) -> None:
        self.handshaken = True
        self.listener.handshakeDone()

    def dataReceived(self, data: bytes) -> None:
        self.held.append(data)
        self.heldSize += len(data)
        if self.heldSize >= HELD_LIMIT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lostReason = reason
        self.listener.tlsLost(reason)


class DirectConnection(PendingConnection):
    """
    An accepted connection behind TLS whose plaintext stays in process.
    What is sent (banners, a reply) is written inside TLS, closing it ends
    the TLS connection (cleanly once the handshake is done or something was
    sent; at once otherwise), and L{serve} gives it to a service's protocol.

    Its C{socket} is the TLS transport's, for its options and credentials
    only: the TLS transport reads and writes it, and closes it.  It has no
    descriptor to hand over (L{fileno} raises).

    @ivar tls: the TLS connection.
    @ivar end: its protocol until the service runs.
    @ivar written: whether anything was sent.
    """

    def __init__(
        self, reactor: Any, accepted: PendingConnection, tls: DirectTLSProtocol, end: PlaintextEnd
    ) -> None:
        transport: Any = tls.transport
        super().__init__(reactor, transport.getHandle(), accepted.rawPeer, accepted.rawLocal)
        # The client's addresses, which a PROXY header may have named.
        self.peer, self.local = accepted.peer, accepted.local
        self.family = accepted.family
        #: Twisted's TLS protocol is untyped.
        self.tls: Any = tls
        self.end = end
        self.written = False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "a TLS connection served in process has no descriptor")

    def sendNow(self, data: bytes, closing: bool = False) -> bytes:
        """
        Write nothing on the socket, which carries TLS records: all of
        C{data} is given back, for L{send} to write inside TLS.
        """
        return data

    def send(self, data: bytes) -> Deferred[None]:
        """
        Write C{data} inside TLS (before the handshake is done, TLS holds
        it until then; once the connection is lost, it is dropped).

        @return: a L{Deferred} that has fired, unless the connection was
            closed: then it has failed, as L{PendingConnection.send}'s.
        """
        if self.closed:
            return super().send(data)
        self.written = True
        self.tls.write(data)
        return succeed(None)

    def close(self) -> None:
        """
        End the connection, unless a service's protocol has it: what was
        sent goes first, then C{close_notify}; a client never sent a word
        before its handshake is done is cut off at once.
        """
        if self.closed:
            return
        self.closed = True
        end = self.end
        if end.served or end.lostReason is not None:
            return
        if self.written or end.handshaken:
            self.tls.loseConnection()
        else:
            self.tls.abortConnection()

    def serve(self, protocol: IProtocol) -> None:
        """
        Give the plaintext to C{protocol}: it is connected to the TLS layer
        and given what the client already sent; if the connection is gone
        already, it is told so in the next turn of the reactor.
        """
        end = self.end
        self.closed = end.served = True
        tls = self.tls
        lost = end.lostReason
        if lost is None:
            tls.wrappedProtocol = protocol
        protocol.makeConnection(tls)
        if lost is None and end.paused:
            end.paused = False
            tls.resumeProducing()
        held, end.held = end.held, []
        for data in held:
            protocol.dataReceived(data)
        if lost is not None:
            cast(Any, self.reactor).callLater(0, protocol.connectionLost, lost)
