"""
The service tree with the real reactor: every built-in service over TCP and
UDP, IPv4 and IPv6, on dual-stack and single-family sockets.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from tests.tcpinfo import segmentsReceived
from txinetd.builtins.simple import chargenLines
from txinetd.daemon.service import ListeningService
from txinetd.daemon.tree import XinetdService

from .support import (
    captureLog,
    collaborators,
    hasIPv6,
    internalService,
    loadText,
    reactor,
    tcpExchange,
    udpExchange,
)

TIME_OFFSET = 2208988800


def startTree(testCase: TestCase, text: str) -> XinetdService:
    """
    Load a configuration, start its tree, and stop it after the test.
    """
    config = loadText(text)
    assert not config.errors, config.errors
    tree = XinetdService(config, collaborators())
    tree.privilegedStartService()
    tree.startService()
    testCase.addCleanup(tree.stopService)
    return tree


def portOf(tree: XinetdService, name: str) -> int:
    child = tree.getServiceNamed(name)
    assert isinstance(child, ListeningService)
    address = child.address
    assert address is not None, f"{name} is not listening"
    return address[1]


ALL = "".join(
    internalService(name, kind)
    for name in ("echo", "discard", "chargen", "daytime", "time")
    for kind in ("stream", "dgram")
)


def _answerSegments(port: int) -> tuple[bytes, int]:
    """
    Read a service's answer to the end of the stream, sending nothing.

    @return: the answer, and how many segments the client received.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        received = b""
        while chunk := client.recv(4096):
            received += chunk
        return received, segmentsReceived(client)


def _answerAfterSpeaking(port: int) -> bytes:
    """
    Send a CRLF, then read the answer until the connection ends or is reset.
    """
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"\r\n")
        try:
            while chunk := client.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
    return received


class BuiltinServiceTests(TestCase):
    """
    Each built-in through a dual-stack listening socket, from IPv4 and IPv6
    clients.
    """

    def setUp(self) -> None:
        self.tree = startTree(self, ALL)

    def hosts(self) -> list[str]:
        return ["127.0.0.1", "::1"] if hasIPv6() else ["127.0.0.1"]

    @inlineCallbacks
    def test_echoStream(self) -> Any:
        for host in self.hosts():
            payload = b"hello\r\n" * 1000
            received = yield tcpExchange(host, portOf(self.tree, "echo-stream"), payload)
            self.assertEqual(received, payload)

    @inlineCallbacks
    def test_discardStream(self) -> Any:
        for host in self.hosts():
            received = yield tcpExchange(host, portOf(self.tree, "discard-stream"), b"x" * 10000)
            self.assertEqual(received, b"")

    @inlineCallbacks
    def test_chargenStream(self) -> Any:
        for host in self.hosts():
            received = yield tcpExchange(
                host, portOf(self.tree, "chargen-stream"), halfClose=False, limit=74 * 200
            )
            # The line counter is the daemon's (advanced by dgram chargen), so
            # the stream starts at some line of the 95-line period.
            starts = [k for k in range(95) if received[: 74 * 200] == chargenLines(k, 200)]
            self.assertEqual(len(starts), 1)

    @inlineCallbacks
    def test_daytimeStream(self) -> Any:
        for host in self.hosts():
            before = time.time()
            received = yield tcpExchange(host, portOf(self.tree, "daytime-stream"), halfClose=False)
            self.assertRegex(received, rb"^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\r\n$")
            parsed = time.strptime(received[:20].decode().title(), "%d %b %Y %H:%M:%S")
            self.assertLess(abs(time.mktime(parsed) - before), 5)

    @inlineCallbacks
    def test_timeStream(self) -> Any:
        for host in self.hosts():
            received = yield tcpExchange(host, portOf(self.tree, "time-stream"), halfClose=False)
            self.assertEqual(len(received), 4)
            (seconds,) = struct.unpack("!I", received)
            self.assertLess(abs(seconds - TIME_OFFSET - time.time()), 5)

    @inlineCallbacks
    def test_answerLeavesWithTheEnd(self) -> Any:
        """
        daytime's and time's answers reach the client in one segment with
        the end of the stream: the SYN-ACK and that segment are all it
        receives.
        """
        for name, length in (("daytime-stream", 26), ("time-stream", 4)):
            received, segments = yield deferToThread(_answerSegments, portOf(self.tree, name))
            self.assertEqual((len(received), segments), (length, 2), name)

    @inlineCallbacks
    def test_answerToAClientThatSpeaks(self) -> Any:
        """
        A client that sends a line first, which daytime and time never read,
        still gets the answer (the connection may then be reset).
        """
        for name, length in (("daytime-stream", 26), ("time-stream", 4)):
            received = yield deferToThread(_answerAfterSpeaking, portOf(self.tree, name))
            self.assertEqual(len(received), length, name)

    @inlineCallbacks
    def test_echoDgram(self) -> Any:
        for host in self.hosts():
            reply = yield udpExchange(host, portOf(self.tree, "echo-dgram"), b"ping")
            self.assertEqual(reply, b"ping")

    @inlineCallbacks
    def test_echoDgramTruncates(self) -> Any:
        reply = yield udpExchange("127.0.0.1", portOf(self.tree, "echo-dgram"), b"a" * 5000)
        self.assertEqual(reply, b"a" * 2048)

    @inlineCallbacks
    def test_chargenDgram(self) -> Any:
        for host in self.hosts():
            reply = yield udpExchange(host, portOf(self.tree, "chargen-dgram"), b"")
            self.assertEqual(len(reply), 1024)
            self.assertTrue(reply.endswith(b"\r\n"))

    @inlineCallbacks
    def test_daytimeDgram(self) -> Any:
        for host in self.hosts():
            reply = yield udpExchange(host, portOf(self.tree, "daytime-dgram"), b"?")
            self.assertRegex(reply, rb"^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\r\n$")

    @inlineCallbacks
    def test_timeDgram(self) -> Any:
        for host in self.hosts():
            reply = yield udpExchange(host, portOf(self.tree, "time-dgram"), b"?")
            (seconds,) = struct.unpack("!I", reply)
            self.assertLess(abs(seconds - TIME_OFFSET - time.time()), 5)

    @inlineCallbacks
    def test_discardDgramAndEchoAfter(self) -> Any:
        """
        discard answers nothing; the daemon keeps answering other datagrams.
        """
        discard = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(discard.close)
        discard.sendto(b"gone", ("127.0.0.1", portOf(self.tree, "discard-dgram")))
        reply = yield udpExchange("127.0.0.1", portOf(self.tree, "echo-dgram"), b"still here")
        self.assertEqual(reply, b"still here")

    def test_lowSourcePortNotAnswered(self) -> Deferred[None]:
        """
        A datagram from a source port below 1024 gets no answer, while the
        same datagram from a high port does (reflection-loop protection).
        """
        low = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(low.close)
        low.bind(("127.0.0.1", 0 if not _canBindLow() else _freeLowPort()))
        lowPort = low.getsockname()[1]
        if lowPort >= 1024:
            self.skipTest("cannot bind a port below 1024 here")
        low.setblocking(False)
        low.sendto(b"loop?", ("127.0.0.1", portOf(self.tree, "echo-dgram")))
        reply = udpExchange("127.0.0.1", portOf(self.tree, "echo-dgram"), b"marker")

        def check(answer: bytes) -> None:
            self.assertEqual(answer, b"marker")
            with self.assertRaises(BlockingIOError):
                low.recv(100)

        return reply.addCallback(check)


def _canBindLow() -> bool:
    import os

    return os.geteuid() == 0


def _freeLowPort() -> int:
    for port in range(1000, 900, -1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return 0


class SocketOptionTests(TestCase):
    """
    Families, bind addresses and socket options of the listening sockets.
    """

    def sockname(self, tree: XinetdService, name: str) -> tuple[str, int]:
        child = tree.getServiceNamed(name)
        assert isinstance(child, ListeningService) and child.address is not None
        return child.address

    def sockets(self, tree: XinetdService, name: str) -> list[socket.socket]:
        child = tree.getServiceNamed(name)
        assert isinstance(child, ListeningService) and child.port is not None
        return [reader.socket for reader in child.port.readers]

    def layout(self, sock: socket.socket) -> tuple[Any, ...]:
        """
        A socket's family, address, V6ONLY option (IPv6) and SO_REUSEADDR.
        """
        v6only = None
        if sock.family == socket.AF_INET6:
            v6only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        reuse = sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        return sock.family, sock.getsockname()[0], v6only, reuse

    def test_dualStackDefault(self) -> None:
        """
        Without bind or flags a service listens on two sockets of one port:
        IPv6 on :: with V6ONLY on, and IPv4 on 0.0.0.0 (so that an IPv4
        client comes in on an AF_INET socket).
        """
        tree = startTree(self, internalService("echo", "stream"))
        sockets = self.sockets(tree, "echo-stream")
        self.assertEqual(
            [self.layout(sock) for sock in sockets],
            [(socket.AF_INET6, "::", 1, 1), (socket.AF_INET, "0.0.0.0", None, 1)],
        )
        port = sockets[0].getsockname()[1]
        self.assertEqual([sock.getsockname()[1] for sock in sockets], [port, port])
        (state,) = tree.serviceStates()
        self.assertEqual(
            (state.state, state.address, state.addresses),
            ("Active", ("::", port), (("::", port), ("0.0.0.0", port))),
        )

    def test_dualStackDatagram(self) -> None:
        """
        An internal dgram service listens on both sockets too, and answers
        on each.
        """
        tree = startTree(self, internalService("echo", "dgram"))
        self.assertEqual(
            [self.layout(sock)[:3] for sock in self.sockets(tree, "echo-dgram")],
            [(socket.AF_INET6, "::", 1), (socket.AF_INET, "0.0.0.0", None)],
        )

    def test_v6onlyYes(self) -> None:
        """
        C{v6only = yes} makes one IPv6 socket with V6ONLY on; C{v6only = no}
        keeps the service dual-stack (xinetd turns V6ONLY on for any value).
        """
        tree = startTree(
            self,
            internalService("echo", "stream", extra=" v6only = yes\n")
            + internalService("time", "stream", extra=" v6only = no\n"),
        )
        self.assertEqual(
            [self.layout(sock)[:3] for sock in self.sockets(tree, "echo-stream")],
            [(socket.AF_INET6, "::", 1)],
        )
        self.assertEqual(
            [self.layout(sock)[:3] for sock in self.sockets(tree, "time-stream")],
            [(socket.AF_INET6, "::", 1), (socket.AF_INET, "0.0.0.0", None)],
        )

    def test_bindEveryIPv6Address(self) -> None:
        """
        C{bind = ::} is dual stack as well; C{bind = ::1} is one socket.
        """
        tree = startTree(
            self,
            internalService("echo", "stream", extra=" bind = ::\n")
            + internalService("time", "stream", extra=" bind = ::1\n"),
        )
        self.assertEqual(len(self.sockets(tree, "echo-stream")), 2)
        self.assertEqual(
            [self.layout(sock)[:2] for sock in self.sockets(tree, "time-stream")],
            [(socket.AF_INET6, "::1")],
        )

    def test_flagsIPv4AndOptions(self) -> None:
        tree = startTree(
            self, internalService("echo", "stream", extra=" flags = IPv4 NODELAY KEEPALIVE\n")
        )
        sock = tree.getServiceNamed("echo-stream").port.socket
        self.assertEqual(sock.family, socket.AF_INET)
        self.assertEqual(sock.getsockname()[0], "0.0.0.0")
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)
        self.assertEqual(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)

    @inlineCallbacks
    def test_bindLoopback(self) -> Any:
        """
        C{bind = 127.0.0.1} listens on that address only.
        """
        tree = startTree(self, internalService("echo", "stream", extra=" bind = 127.0.0.1\n"))
        host, port = self.sockname(tree, "echo-stream")
        self.assertEqual(host, "127.0.0.1")
        received = yield tcpExchange("127.0.0.1", port, b"bound")
        self.assertEqual(received, b"bound")

    def test_bindFailureDeactivatesOneService(self) -> None:
        """
        A service whose port is taken is deactivated with a logged error; the
        others start.
        """
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        texts = captureLog(self)
        tree = startTree(
            self,
            internalService("echo", "stream", port, " bind = 127.0.0.1\n")
            + internalService("time", "stream"),
        )
        self.assertIn(
            "bind failed (Address already in use (errno = 98)). service = echo-stream on "
            f"127.0.0.1 port {port}/tcp",
            texts,
        )
        self.assertIn("Service echo-stream failed to start and is deactivated.", texts)
        self.assertIsNone(tree.getServiceNamed("echo-stream").address)
        self.assertIsNotNone(tree.getServiceNamed("time-stream").address)

    def test_sameIdDifferentPorts(self) -> None:
        """
        Two entries with one id on different ports both start, under
        distinct names.
        """
        text = internalService("echo", "stream").replace("id = echo-stream", "id = e") * 2
        tree = startTree(self, text)
        names = sorted(str(child.name) for child in tree.listening())
        self.assertEqual(len(names), 2)
        self.assertIn("e", names)


class WaitYesStreamTests(TestCase):
    """
    An internal stream service with C{wait = yes} serves one connection at a
    time: its port is not read while a connection lives.
    """

    @inlineCallbacks
    def test_oneAtATime(self) -> Any:
        text = internalService("echo", "stream").replace("wait = no", "wait = yes")
        tree = startTree(self, text)
        child = tree.getServiceNamed("echo-stream")
        assert isinstance(child, ListeningService)
        port = portOf(tree, "echo-stream")
        assert child.port is not None
        acceptors = child.port.readers
        self.assertEqual(len(acceptors), 2)
        first = yield tcpExchange("127.0.0.1", port, b"one", halfClose=False, limit=3)
        self.assertEqual(first, b"one")
        self.assertEqual(set(acceptors) & set(reactor.getReaders()), set())
        reader = _Holder()
        yield connectHolder(reader, port)
        yield reader.received
        self.assertEqual(set(acceptors) & set(reactor.getReaders()), set())
        reader.transport.loseConnection()  # type: ignore[union-attr]
        second = yield tcpExchange("127.0.0.1", port, b"two")
        self.assertEqual(second, b"two")


class _Holder(Protocol):
    """
    A client that sends a line and keeps the connection open.
    """

    def __init__(self) -> None:
        self.received: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"held")

    def dataReceived(self, data: bytes) -> None:
        if not self.received.called:
            self.received.callback(data)


def connectHolder(holder: _Holder, port: int) -> Deferred[Any]:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    return endpoint.connect(Factory.forProtocol(lambda: holder))


class AtOnceTests(TestCase):
    """
    A client of echo or discard that has sent everything, and shut its side
    down, before it is accepted is served at once on the accepted socket:
    the same bytes, and the same START and EXIT, as through a transport.
    """

    def setUp(self) -> None:
        self.events: list[object] = []
        config = loadText(ALL)
        tree = XinetdService(config, collaborators(observers=(self.events.append,)))
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        self.tree = tree

    def sendAll(self, name: str, payload: bytes) -> Deferred[bytes]:
        """
        Connect, send C{payload} and shut the sending side down before the
        daemon can accept (the reactor does not run meanwhile), then read
        the reply to its end in a thread.
        """
        client = socket.create_connection(("127.0.0.1", portOf(self.tree, name)))
        self.addCleanup(client.close)
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        client.settimeout(10)

        def readAll() -> bytes:
            chunks = []
            while chunk := client.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

        return deferToThread(readAll)

    def assertStartAndExit(self, serviceId: str) -> None:
        kinds = [
            (type(event).__name__, event.pid)  # type: ignore[attr-defined]
            for event in self.events
            if getattr(event, "service", None) == serviceId
        ]
        self.assertEqual(kinds, [("Started", 0), ("Exited", 0)])

    @inlineCallbacks
    def test_echo(self) -> Any:
        payload = bytes(range(256)) * 100
        received = yield self.sendAll("echo-stream", payload)
        self.assertEqual(received, payload)
        self.assertStartAndExit("echo-stream")

    @inlineCallbacks
    def test_echoNothing(self) -> Any:
        received = yield self.sendAll("echo-stream", b"")
        self.assertEqual(received, b"")
        self.assertStartAndExit("echo-stream")

    @inlineCallbacks
    def test_discard(self) -> Any:
        received = yield self.sendAll("discard-stream", b"x" * 5000)
        self.assertEqual(received, b"")
        self.assertStartAndExit("discard-stream")
