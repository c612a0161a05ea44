# -*- test-case-name: tests.net.test_readers -*-
"""
Tests for L{txinetd.net.readers}: the readers of a service's sockets, and
what txinetd does to a socket that servers take.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests.net.test_listening import FakeSockets, refuse, service
from txinetd.net.listening import openBoundSockets
from txinetd.net.readers import (
    Listeners,
    WaitingWatcher,
    acceptAndClose,
    discardDatagrams,
    peekSender,
)


class Reader:
    """
    A reader of a socket, as a L{StreamAcceptor} is.
    """

    def __init__(self, sock: Any) -> None:
        self.socket = sock
        self.reading = False

    def startReading(self) -> None:
        self.reading = True

    def stopReading(self) -> None:
        self.reading = False


class Port(Reader):
    """
    A Twisted port, which stops listening itself.
    """

    def __init__(self, sock: Any) -> None:
        super().__init__(sock)
        self.stopped: Deferred[None] = Deferred()

    def stopListening(self) -> Deferred[None]:
        self.reading = False
        return self.stopped


class ListenersTests(SynchronousTestCase):
    """
    L{Listeners} starts, pauses and stops every reader of a service.
    """

    def sockets(self) -> list[Any]:
        fakes = FakeSockets()
        made: list[Any] = openBoundSockets(service(), refuse, makeSocket=fakes)
        return made

    def test_readers(self) -> None:
        six, four = self.sockets()
        listeners = Listeners([Reader(six), Reader(four)])
        self.assertFalse(listeners.reading)
        listeners.startReading()
        self.assertTrue(listeners.reading)
        listeners.readers[1].stopReading()
        self.assertFalse(listeners.reading)
        listeners.stopReading()
        self.assertEqual([reader.reading for reader in listeners.readers], [False, False])
        self.assertIs(listeners.socket, six)
        self.assertEqual(listeners.address, six.bound)
        self.assertEqual(listeners.addresses, (six.bound, four.bound))
        self.assertIsNone(listeners.stopListening())

    def test_ports(self) -> None:
        """
        Twisted ports are stopped; the result fires when all have stopped.
        """
        six, four = self.sockets()
        ports = [Port(six), Port(four)]
        stopping = Listeners(ports).stopListening()
        assert stopping is not None
        done: list[object] = []
        stopping.addCallback(done.append)
        ports[0].stopped.callback(None)
        self.assertEqual(done, [])
        ports[1].stopped.callback(None)
        self.assertEqual(done, [None])

    def test_noAddress(self) -> None:
        """
        A UNIX socket has no (host, port).
        """
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(unix.close)
        listeners = Listeners([Reader(unix)])
        self.assertIsNone(listeners.address)
        self.assertEqual(listeners.addresses, ())
        self.assertEqual(Listeners([Port(None)]).addresses, ())


class WaitingWatcherTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactor()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        self.calls: list[None] = []
        self.watcher = WaitingWatcher(self.reactor, self.sock, lambda: self.calls.append(None))

    def test_startStop(self) -> None:
        """
        Reading starts and stops once however often it is asked.
        """
        self.assertEqual(self.watcher.fileno(), self.sock.fileno())
        self.watcher.startReading()
        self.watcher.startReading()
        self.assertEqual(self.reactor.getReaders(), [self.watcher])
        self.assertTrue(self.watcher.reading)
        self.watcher.stopReading()
        self.watcher.stopReading()
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertFalse(self.watcher.reading)

    def test_doRead(self) -> None:
        """
        Readable: the callable is called and nothing is read.
        """
        receiver = self.sock
        receiver.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"kept", receiver.getsockname())
        self.watcher.doRead()
        self.assertEqual(self.calls, [None])
        self.assertEqual(receiver.recv(10, socket.MSG_DONTWAIT), b"kept")

    def test_connectionLost(self) -> None:
        self.watcher.startReading()
        self.watcher.connectionLost(Failure(Exception("gone")))
        self.assertFalse(self.watcher.reading)


class DatagramSocketTests(SynchronousTestCase):
    """
    L{peekSender} and L{discardDatagrams} on loopback UDP sockets.
    """

    def udp(self, family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        return sock

    def pair(self) -> tuple[socket.socket, socket.socket, tuple[str, int]]:
        receiver = self.udp()
        receiver.bind(("127.0.0.1", 0))
        sender = self.udp()
        sender.bind(("127.0.0.1", 0))
        return receiver, sender, receiver.getsockname()

    def test_peekNothing(self) -> None:
        receiver, _, _ = self.pair()
        self.assertIsNone(peekSender(receiver))

    def test_peekLeavesTheDatagram(self) -> None:
        receiver, sender, address = self.pair()
        sender.sendto(b"first", address)
        self.assertEqual(peekSender(receiver), ("127.0.0.1", sender.getsockname()[1]))
        self.assertEqual(receiver.recv(100, socket.MSG_DONTWAIT), b"first")

    def test_peekDualStack(self) -> None:
        """
        An IPv4 sender of a dual-stack socket is named by its IPv4 address.
        """
        receiver = self.udp(socket.AF_INET6)
        receiver.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        receiver.bind(("::", 0))
        sender = self.udp()
        sender.bind(("127.0.0.1", 0))
        sender.sendto(b"x", ("127.0.0.1", receiver.getsockname()[1]))
        self.assertEqual(peekSender(receiver), ("127.0.0.1", sender.getsockname()[1]))

    def test_peekQueuedError(self) -> None:
        """
        An error queued on the socket (a port unreachable report) is no
        sender.
        """
        closed = self.udp()
        closed.bind(("127.0.0.1", 0))
        target = closed.getsockname()
        closed.close()
        sender = self.udp()
        sender.connect(target)
        sender.send(b"nobody listens")
        self.assertIsNone(peekSender(sender))

    def test_drain(self) -> None:
        receiver, sender, address = self.pair()
        for payload in (b"a", b"b", b"c"):
            sender.sendto(payload, address)
        self.assertEqual(discardDatagrams(receiver), 3)
        self.assertIsNone(peekSender(receiver))
        self.assertEqual(discardDatagrams(receiver), 0)

    def test_drainLimit(self) -> None:
        receiver, sender, address = self.pair()
        for payload in (b"a", b"b", b"c"):
            sender.sendto(payload, address)
        self.assertEqual(discardDatagrams(receiver, limit=1), 1)
        self.assertEqual(receiver.recv(10, socket.MSG_DONTWAIT), b"b")

    def test_drainBlockingSocket(self) -> None:
        """
        A blocking socket (the one a C{wait = yes} server shares) is drained
        without blocking.
        """
        receiver, sender, address = self.pair()
        receiver.setblocking(True)
        sender.sendto(b"a", address)
        self.assertEqual(discardDatagrams(receiver), 1)


class AcceptAndCloseTests(SynchronousTestCase):
    def listener(self, blocking: bool) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        sock.setblocking(blocking)
        return sock

    def test_pendingConnectionClosed(self) -> None:
        """
        The pending connection is accepted and closed: its client reads
        the end of the stream; nothing is left pending.
        """
        listener = self.listener(blocking=True)
        client = socket.create_connection(listener.getsockname())
        self.addCleanup(client.close)
        acceptAndClose(listener)
        client.settimeout(5)
        self.assertEqual(client.recv(10), b"")
        listener.setblocking(False)
        self.assertRaises(BlockingIOError, listener.accept)

    def test_nothingPending(self) -> None:
        """
        Without a pending connection it returns at once, even though the
        socket is blocking (as C{wait = yes} servers need it), and the
        socket stays blocking.
        """
        listener = self.listener(blocking=True)
        acceptAndClose(listener)
        self.assertTrue(listener.getblocking())
