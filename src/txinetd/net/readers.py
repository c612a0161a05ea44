# -*- test-case-name: tests.net.test_readers -*-
"""
What reads a service's listening sockets, besides the acceptor
(L{txinetd.net.acceptor.StreamAcceptor}): L{Listeners}, the readers of one
service's sockets together, and the L{WaitingWatcher} of a socket that a
server takes (C{wait = yes}), with what txinetd does to such a socket
itself: L{peekSender}, L{discardDatagrams}, L{acceptAndClose}.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.core.addresses import addressOf

__all__ = [
    "Listeners",
    "WaitingWatcher",
    "acceptAndClose",
    "discardDatagrams",
    "peekSender",
]


def _boundAddress(reader: Any) -> tuple[str, int] | None:
    sock = getattr(reader, "socket", None)
    if sock is None:
        return None
    try:
        bound = sock.getsockname()
    except OSError:
        return None
    if not isinstance(bound, tuple):
        return None
    return str(bound[0]), int(bound[1])


class Listeners:
    """
    The readers of one service's listening sockets (L{StreamAcceptor}s,
    C{wait = yes} watchers or Twisted datagram ports), started, paused and
    stopped together.

    @ivar readers: the readers, the primary socket's first.
    """

    def __init__(self, readers: Sequence[Any]) -> None:
        self.readers = tuple(readers)

    @property
    def socket(self) -> socket.socket:
        """
        The primary socket.
        """
        primary: socket.socket = self.readers[0].socket
        return primary

    @property
    def reading(self) -> bool:
        """
        Whether every socket is being read.
        """
        return all(getattr(reader, "reading", True) for reader in self.readers)

    def startReading(self) -> None:
        for reader in self.readers:
            reader.startReading()

    def stopReading(self) -> None:
        for reader in self.readers:
            reader.stopReading()

    @property
    def address(self) -> tuple[str, int] | None:
        """
        The (host, port) of the primary socket.
        """
        return _boundAddress(self.readers[0])

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """
        The (host, port) of every IP socket.
        """
        bound = (_boundAddress(reader) for reader in self.readers)
        return tuple(address for address in bound if address is not None)

    def stopListening(self) -> Deferred[None] | None:
        """
        Stop reading every socket; Twisted ports are stopped (and close
        their socket).

        @return: a L{Deferred} that fires when the Twisted ports have
            stopped, or L{None} if there is none.
        """
        stopping: list[Deferred[Any]] = []
        for reader in self.readers:
            stop = getattr(reader, "stopListening", None)
            if stop is None:
                reader.stopReading()
            else:
                stopping.append(maybeDeferred(stop))
        if not stopping:
            return None
        return gatherResults(stopping).addCallback(lambda _: None)


@implementer(IReadDescriptor)
class WaitingWatcher:
    """
    Calls back when a socket becomes readable, without reading it: the
    C{wait = yes} services, whose server reads the socket itself.
    """

    def __init__(
        self, reactor: IReactorFDSet, sock: socket.socket, onReadable: Callable[[], None]
    ) -> None:
        self.reactor = reactor
        self.socket = sock
        self.onReadable = onReadable
        self.reading = False

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "txinetd.wait"

    def startReading(self) -> None:
        if not self.reading:
            self.reading = True
            self.reactor.addReader(self)

    def stopReading(self) -> None:
        if self.reading:
            self.reading = False
            self.reactor.removeReader(self)

    def doRead(self) -> None:
        self.onReadable()

    def connectionLost(self, reason: Failure) -> None:
        self.reading = False


def peekSender(sock: socket.socket) -> tuple[str, int] | None:
    """
    The sender of the first queued datagram, leaving it queued; L{None} if
    there is none.
    """
    try:
        _, sender = sock.recvfrom(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        # An error queued on the socket (an ICMP report): reading it clears it.
        return None
    return addressOf(sender)


def discardDatagrams(sock: socket.socket, limit: int = 10000) -> int:
    """
    Read and discard the datagrams queued on a socket (at most C{limit}).

    @return: how many were discarded.
    """
    count = 0
    while count < limit:
        try:
            sock.recv(1, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            continue
        count += 1
    return count


def acceptAndClose(sock: socket.socket) -> None:
    """
    Take a pending connection off a listening socket and close it (a
    C{wait = yes} stream service that refused to start a server).  The
    socket is blocking for its servers; no server holds it now, so it is
    made non-blocking for the accept only.
    """
    sock.setblocking(False)
    try:
        connection, _ = sock.accept()
    except OSError:
        return
    finally:
        sock.setblocking(True)
    connection.close()
