# -*- test-case-name: tests.net.test_acceptor -*-
"""
The raw accept path.

txinetd accepts stream connections itself instead of letting a Twisted port
do it: a connection may be handed to a server process, and a Twisted
transport shuts its socket down when it lets go of it, under the server's
feet.  Until txinetd knows what to do with a connection it holds a plain
blocking socket (which is what a server expects on fds 0-2); banners are
written to it without ever blocking the reactor.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IReactorFDSet,
    IReactorSocket,
    IReadDescriptor,
    IWriteDescriptor,
)
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.core.addresses import addressOf

#: Connections accepted per readable event, so that one busy service does
#: not starve the others.
ACCEPTS_PER_WAKEUP = 64

_SEND_FLAGS = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL

#: The flags of an answer that the connection's close follows: MSG_MORE
#: holds its last, partial segment back, so that the close's FIN leaves in
#: it, a segment (and a wake-up of the client) fewer for every connection.
_CLOSING_FLAGS = _SEND_FLAGS | socket.MSG_MORE

#: The families whose stream sockets are TCP.
_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)

log = Logger(namespace="txinetd")

#: accept() errors that mean "out of descriptors".
DESCRIPTOR_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

#: Linux's IPV6_ADDRFORM socket option (not in Python's socket module).
IPV6_ADDRFORM = 1


@implementer(IReadDescriptor)
class StreamAcceptor:
    """
    Reads a listening stream socket and hands every accepted connection to
    a callable.

    @ivar onConnection: called with each L{PendingConnection}.
    @ivar onDescriptorsExhausted: called with the errno when accept() fails
        for want of descriptors (xinetd then deactivates the service).
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        sock: socket.socket,
        onConnection: Callable[[PendingConnection], None],
        onDescriptorsExhausted: Callable[[int], None],
        wrap: Callable[[int], socket.socket] | None = None,
    ) -> None:
        """
        @param wrap: makes the socket of an accepted descriptor (default: a
            socket of C{sock}'s family, type and protocol, as
            C{socket.accept()} makes it, in blocking mode).
        """
        self.reactor = reactor
        self.socket = sock
        self.onConnection = onConnection
        self.onDescriptorsExhausted = onDescriptorsExhausted
        self.reading = False
        #: The local address of every connection, when it is known
        #: beforehand (one system call less for each), and as shown.
        self._local = fixedLocalAddress(sock)
        self._shownLocal = addressOf(self._local)
        #: The family of every accepted socket, and what makes it (given
        #: as plain numbers: the socket module's accept() converts them to
        #: enums each time).
        self._family = int(sock.family)
        self._wrap = wrap or partial(socket.socket, self._family, int(sock.type), int(sock.proto))

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "txinetd.net.acceptor"

    def startReading(self) -> None:
        """
        Start accepting.
        """
        if not self.reading:
            self.reading = True
            self.reactor.addReader(self)

    def stopReading(self) -> None:
        """
        Stop accepting (pending connections wait in the backlog).
        """
        if self.reading:
            self.reading = False
            self.reactor.removeReader(self)

    def doRead(self) -> None:
        family, wrap = self._family, self._wrap
        # The socket module's own accept(): the descriptor and the address.
        accept = self.socket._accept  # type: ignore[attr-defined]
        for _ in range(ACCEPTS_PER_WAKEUP):
            if not self.reading:
                return
            try:
                fd, peer = accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in DESCRIPTOR_ERRORS:
                    self.onDescriptorsExhausted(e.errno or 0)
                    return
                continue
            # A blocking socket (accept4 gives none of the listening
            # socket's O_NONBLOCK), as socket.accept() makes it.
            connection = wrap(fd)
            local = self._local
            shownLocal = self._shownLocal
            if local is None:
                try:
                    local = connection.getsockname()
                except OSError:
                    connection.close()
                    continue
                shownLocal = addressOf(local)
            pending = PendingConnection(self.reactor, connection, peer, local, shownLocal, family)
            try:
                self.onConnection(pending)
            except Exception:
                # One connection's failure never stops the service.
                log.failure("Unexpected error accepting a connection")
                pending.close()

    def connectionLost(self, reason: Failure) -> None:
        self.reading = False


def fixedLocalAddress(sock: socket.socket) -> Any:
    """
    The local address every connection accepted on C{sock} has, when it is
    known beforehand: that of an IPv4 or IPv6 socket bound to one address
    (not a wildcard); else L{None}, and each connection is asked its own.
    """
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        address = sock.getsockname()
    except OSError:
        return None
    if address[0] in ("0.0.0.0", "::") or not address[1]:
        return None
    return address


@implementer(IWriteDescriptor)
class PendingConnection:
    """
    An accepted connection that nothing owns yet.

    @ivar socket: the connected socket, in blocking mode.
    @ivar peer: the client's normalised (host, port); L{None} on a UNIX
        socket.
    @ivar local: our normalised (host, port); L{None} on a UNIX socket.
    @ivar rawPeer: the client's address as the socket reports it.
    @ivar rawLocal: ours, likewise.
    @ivar whenSecured: for a connection behind TLS, returns a L{Deferred}
        that fires with the client's certificate (or L{None}) once the
        handshake is done; L{None} for a plaintext connection.
    @ivar environment: what an external server gets in its environment
        besides the service's (the TLS client certificate's names).
    @ivar userId: who the client is (a USERID line's text), when known
        before its service runs.
    @cvar holdsLastSegment: whether the kernel takes MSG_MORE (see
        L{sendNow}); found out at the first refusal.
    """

    holdsLastSegment = True

    def __init__(
        self,
        reactor: IReactorFDSet,
        sock: socket.socket,
        rawPeer: Any,
        rawLocal: Any,
        local: tuple[str, int] | Literal[False] | None = False,
        family: int | None = None,
    ) -> None:
        """
        @param local: C{rawLocal} as shown, when the caller knows it
            (L{False}: worked out here).
        @param family: the socket's address family, when the caller knows
            it.
        """
        self.reactor = reactor
        self.socket = sock
        self.rawPeer = rawPeer
        self.rawLocal = rawLocal
        self.peer = addressOf(rawPeer)
        self.local = addressOf(rawLocal) if local is False else local
        self.whenSecured: Callable[[], Deferred[Any]] | None = None
        self.environment: dict[str, str] = {}
        self.userId: str | None = None
        self.family = sock.family if family is None else family
        self._queue: deque[tuple[bytes, Deferred[None]]] = deque()
        self._writing = False
        self.closed = False
        #: Whether a closing send left its last segment held for the FIN.
        self._lastHeld = False

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "txinetd.connection"

    def sendNow(self, data: bytes, closing: bool = False) -> bytes:
        """
        Write what the kernel takes of C{data} now, without blocking, if
        nothing is queued before it.

        @param closing: the caller closes the connection as soon as all of
            C{data} is written (and sends any rest with L{send} at once, which
            lets the held segment go): over TCP the last segment waits for
            the close's FIN, to leave with it.
        @return: what is left to L{send} (empty: all of it was written).
        """
        if self.closed or self._queue or not data:
            return data
        holding = closing and self.holdsLastSegment and self.family in _TCP_FAMILIES
        try:
            sent = self.socket.send(data, _CLOSING_FLAGS if holding else _SEND_FLAGS)
        except OSError as e:
            if holding and e.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                # A kernel that refuses MSG_MORE: the answer and the FIN go
                # apart, as they do from xinetd.
                PendingConnection.holdsLastSegment = False
                return self.sendNow(data)
            # It would block, or the connection failed: L{send} says which.
            return data
        self._lastHeld = holding
        return data[sent:]

    def send(self, data: bytes) -> Deferred[None]:
        """
        Write C{data} after what earlier calls queued, without blocking the
        reactor.

        @return: a L{Deferred} of its own that fires when every byte of
            C{data} is with the kernel, or fails if the connection failed or
            was closed first.
        """
        sent: Deferred[None] = Deferred()
        if self.closed:
            sent.errback(ConnectionDone("the connection was closed"))
            return sent
        self._queue.append((data, sent))
        if not self._writing:
            self._flush()
        return sent

    def _flush(self) -> None:
        while self._queue:
            data, sent = self._queue[0]
            try:
                while data:
                    data = data[self.socket.send(data, _SEND_FLAGS) :]
            except BlockingIOError:
                self._queue[0] = (data, sent)
                self._startWriting()
                return
            except OSError as e:
                self._failAll(e)
                return
            self._queue.popleft()
            if not self._queue:
                self._stopWriting()
            sent.callback(None)

    def _startWriting(self) -> None:
        if not self._writing:
            self._writing = True
            self.reactor.addWriter(self)

    def _stopWriting(self) -> None:
        if self._writing:
            self._writing = False
            self.reactor.removeWriter(self)

    def _failAll(self, reason: BaseException | Failure) -> None:
        self._stopWriting()
        queued, self._queue = self._queue, deque()
        for _, sent in queued:
            sent.errback(reason)

    def doWrite(self) -> None:
        self._flush()

    def connectionLost(self, reason: Failure) -> None:
        self._failAll(reason)

    def close(self) -> None:
        """
        Close txinetd's copy of the socket.  This never shuts the connection
        down, so a server holding another copy keeps it; without one, the
        client sees the connection end.
        """
        if self.closed:
            return
        self.closed = True
        self._failAll(ConnectionDone("the connection was closed before it was sent"))
        if self._lastHeld:
            # The held segment leaves with the FIN of this shutdown.  A close
            # alone would do the same, unless the client sent something that
            # was not read (a daytime client's CRLF): then the kernel resets
            # the connection and drops what it still holds, the answer too.
            # (It fails only on a connection the client has ended.)
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_WR)
        self.socket.close()


class _OneProtocol(ServerFactory):
    """
    Gives the one connection it is used for the protocol already built for
    it.
    """

    noisy = False

    def __init__(self, protocol: Protocol) -> None:
        self.built = protocol

    def buildProtocol(self, addr: Any) -> Protocol:
        return self.built


def attachProtocol(reactor: IReactorSocket, fileno: int, family: int, protocol: Protocol) -> None:
    """
    Give a connected socket to a new Twisted transport that runs
    C{protocol}.  The transport has a copy of the socket: the caller
    closes its own (never shutting it down).

    @raise OSError: if the reactor cannot take it (out of descriptors, or
        the connection failed already).
    """
    reactor.adoptStreamConnection(fileno, socket.AddressFamily(family), _OneProtocol(protocol))


def asIPv4(connection: PendingConnection) -> bool:
    """
    Make the connection of an IPv4 client on a dual-stack socket an AF_INET
    socket (Linux's C{IPV6_ADDRFORM}), so that a server it is handed to
    sees a plain IPv4 peer.

    @return: whether the connection was converted (L{False}: it needs no
        conversion).
    @raise OSError: if the kernel cannot convert it (gVisor and newer
        kernels have no C{IPV6_ADDRFORM}: C{ENOPROTOOPT}).
    """
    if connection.family != socket.AF_INET6 or not isinstance(connection.rawPeer, tuple):
        return False
    if not str(connection.rawPeer[0]).lower().startswith("::ffff:"):
        return False
    connection.socket.setsockopt(socket.IPPROTO_IPV6, IPV6_ADDRFORM, socket.AF_INET)
    connection.family = socket.AF_INET
    return True
