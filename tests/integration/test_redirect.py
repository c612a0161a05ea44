# -*- test-case-name: tests.integration.test_redirect -*-
"""
C{redirect = host port} end to end: the service tree on the real reactor
relays loopback clients to real backends run by the tests on 127.0.0.1 or
::1, and the exact lines of a FILE service log are checked.

The relay runs in the daemon's process, so its connections are inspected
in process: socket options on its transports, what it has read and what
the kernel holds, whether it still reads the backend.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import random
import select
import socket
import struct
import termios
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IHalfCloseableProtocol, IPullProducer, IPushProducer
from twisted.internet.protocol import Factory, Protocol, ServerFactory
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase
from zope.interface import implementer

from txinetd.net import relay as relaymodule
from txinetd.net.relay import PROBE_COUNT, PROBE_IDLE, PROBE_INTERVAL, Relay

from .support import collaborators, hasIPv6, reactor, withTimeout
from .test_access_limits import Scenario, StreamTarget, waitUntil

Generated = Generator[Deferred[Any], Any, None]

#: What the relay may hold in its own buffers, at most, while a client
#: does not read.
BUFFER_BOUND = 1 << 20

#: How much more memory (peak) the daemon's process may use while 100 MB
#: go through the relay both ways.
MEMORY_BOUND = 48 << 20

HUNDRED_MB = 100 * 1000 * 1000

#: Linux's ioctl for the bytes of a TCP send queue not yet sent (the
#: socket module does not name it).
SIOCOUTQNSD = 0x894B


def pattern(size: int, seed: int) -> bytes:
    """
    C{size} pseudo-random bytes.
    """
    return random.Random(seed).randbytes(size)


#: The stream the big transfer sends: this block over and over.  Its odd
#: length makes every chunk differ from its neighbours.
BLOCK = pattern((1 << 20) + 7, 1)
CHUNK = 1 << 18


def streamPiece(offset: int, size: int) -> bytes:
    """
    C{size} bytes of the endless repetition of L{BLOCK}, from C{offset}.
    """
    start = offset % len(BLOCK)
    piece = BLOCK[start : start + size]
    while len(piece) < size:
        piece += BLOCK[: size - len(piece)]
    return piece


@implementer(IHalfCloseableProtocol)
class Echo(Protocol):
    """
    Echoes everything, pausing its reading while its writes are buffered;
    closes after the client's end of stream.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.registerProducer(self.transport, True)  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def readConnectionLost(self) -> None:
        assert self.transport is not None
        self.transport.unregisterProducer()  # type: ignore[attr-defined]
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


@implementer(IHalfCloseableProtocol)
class Summary(Protocol):
    """
    Reads until the client's end of stream, then answers with how many
    bytes came and their SHA-256, and closes.
    """

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.count = 0

    def dataReceived(self, data: bytes) -> None:
        self.digest.update(data)
        self.count += len(data)

    def readConnectionLost(self) -> None:
        assert self.transport is not None
        self.transport.write(summaryOf(self.count, self.digest.hexdigest()))
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass


def summaryOf(count: int, digest: str) -> bytes:
    return f"received {count} bytes, sha256 {digest}\n".encode()


@implementer(IPushProducer)
class Streamer(Protocol):
    """
    Sends L{BLOCK} endlessly, as fast as its transport takes it.

    @ivar paused: whether its transport has paused it (it cannot write).
    @ivar sent: the bytes written to its transport.
    """

    def __init__(self) -> None:
        self.paused = False
        self.sent = 0

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.registerProducer(self, True)  # type: ignore[attr-defined]
        self.produce()

    def produce(self) -> None:
        while not self.paused and self.transport is not None and self.connected:
            self.transport.write(streamPiece(self.sent, CHUNK))
            self.sent += CHUNK

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.produce()

    def stopProducing(self) -> None:
        self.paused = True


@implementer(IHalfCloseableProtocol)
class Burst(Protocol):
    """
    Sends L{BURST} bytes at once and ends its stream; never reads.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(streamPiece(0, BURST))
        self.transport.loseWriteConnection()  # type: ignore[attr-defined]

    def readConnectionLost(self) -> None:
        pass

    def writeConnectionLost(self) -> None:
        pass


#: What L{Burst} sends: less than the relay reads before it stops reading
#: a target for a client that does not read, so that the relay sees the
#: target's end.
BURST = 48 << 10


@implementer(IHalfCloseableProtocol)
class Silent(Protocol):
    """
    Reads and never answers, not even at the end of its input.
    """

    def readConnectionLost(self) -> None:
        pass

    def writeConnectionLost(self) -> None:
        pass


class Backend(ServerFactory):
    """
    A server on loopback that builds C{protocolType} protocols and keeps
    them.
    """

    noisy = False

    def __init__(self, protocolType: type[Protocol]) -> None:
        self.protocolType = protocolType
        self.protocols: list[Protocol] = []
        self.peers: list[str] = []

    def buildProtocol(self, addr: Any) -> Protocol:
        protocol = self.protocolType()
        protocol.factory = self
        self.protocols.append(protocol)
        self.peers.append(str(addr.host))
        return protocol


@implementer(IPullProducer, IHalfCloseableProtocol)
class Pump(Protocol):
    """
    A client that sends C{total} bytes of the L{BLOCK} stream as fast as
    its transport takes them, half-closes, and hashes what it receives
    until the end.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self.received = 0
        self.digest = hashlib.sha256()
        self.done: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.registerProducer(self, False)  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        assert self.transport is not None
        if self.sent >= self.total:
            self.transport.unregisterProducer()  # type: ignore[attr-defined]
            self.transport.loseWriteConnection()  # type: ignore[attr-defined]
            return
        size = min(CHUNK, self.total - self.sent)
        self.transport.write(streamPiece(self.sent, size))
        self.sent += size

    def stopProducing(self) -> None:
        pass

    def dataReceived(self, data: bytes) -> None:
        self.digest.update(data)
        self.received += len(data)

    def readConnectionLost(self) -> None:
        assert self.transport is not None
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.done.called:
            self.done.callback(None)


def streamDigest(total: int) -> str:
    """
    The SHA-256 of the first C{total} bytes of the L{BLOCK} stream.
    """
    digest = hashlib.sha256()
    offset = 0
    while offset < total:
        size = min(CHUNK, total - offset)
        digest.update(streamPiece(offset, size))
        offset += size
    return digest.hexdigest()


def memoryStatus(field: str) -> int:
    """
    A C{Vm*} field of this process's status, in bytes.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def resetPeakMemory() -> None:
    """
    Reset this process's peak resident size (VmHWM) to its current size.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        raise SkipTest(f"cannot reset the peak memory size: {e}") from None


def queued(sock: socket.socket | int, request: int) -> int:
    """
    The bytes a socket's receive queue (C{FIONREAD}) or the bytes of its
    send queue not yet sent (C{SIOCOUTQNSD}) hold.
    """
    fd = sock if isinstance(sock, int) else sock.fileno()
    result = fcntl.ioctl(fd, request, struct.pack("i", 0))
    return int(struct.unpack("i", result)[0])


def writable(fd: int) -> bool:
    return bool(select.select([], [fd], [], 0)[1])


def handle(protocol: Protocol) -> socket.socket:
    """
    The socket under a protocol's TCP transport.
    """
    transport: Any = protocol.transport
    sock: socket.socket = transport.getHandle()
    return sock


class RedirectTestCase(TestCase):
    """
    A redirect service C{redir} to a backend this test runs.
    """

    def scenario(self) -> Scenario:
        return Scenario(self, StreamTarget("redir", "", "0"), collaborators())

    def backend(self, protocolType: type[Protocol], host: str = "127.0.0.1") -> tuple[Backend, int]:
        """
        Start a backend on an ephemeral port of C{host}; it stops, with
        every connection closed, after the test.
        """
        factory = Backend(protocolType)
        listening = reactor.listenTCP(0, factory, interface=host)
        self.addCleanup(listening.stopListening)
        return factory, int(listening.getHost().port)

    def start(self, s: Scenario, host: str, port: int, extra: str = "") -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        text = (
            f"service redir\n{{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
            f" port = 0\n user = {user}\n redirect = {host} {port}\n"
            f"{s.logging('PID HOST EXIT TRAFFIC')}{extra}}}\n"
        )
        s.start(text)

    def relay(self, s: Scenario) -> Relay:
        """
        The relay of the service's only session.
        """
        [session] = s.service("redir").sessions()
        relay = getattr(session.stopper, "__self__", None)
        assert isinstance(relay, Relay), relay
        return relay

    @inlineCallbacks
    def connectedRelay(self, s: Scenario) -> Generator[Deferred[Any], Any, Relay]:
        """
        Wait until the service has one session whose relay has reached the
        target.
        """
        yield waitUntil(lambda: len(s.service("redir").sessions()) == 1, "a session runs")
        relay = self.relay(s)
        yield waitUntil(lambda: relay.target is not None, "the target is reached")
        return relay

    def assertSession(self, s: Scenario, traffic: str | None, host: str = "127.0.0.1") -> None:
        """
        The service log shows one session from C{host}: START (pid 0: the
        relay runs in process), TRAFFIC if C{traffic} is given, EXIT.
        """
        lines = [f"START: redir pid=0 from={host}"]
        if traffic is not None:
            lines.append(f"TRAFFIC: redir {traffic}")
        lines.append("EXIT: redir status=0 pid=0")
        s.assertServiceLog(lines)


class TransferTests(RedirectTestCase):
    @inlineCallbacks
    def test_hundredMegabytesBothWays(self) -> Generated:
        """
        100 MB sent through the relay to an echoing backend while the echo
        comes back: every byte intact, the TRAFFIC counts exact, and the
        daemon's peak memory bounded.
        """
        s = self.scenario()
        _, backendPort = self.backend(Echo)
        self.start(s, "127.0.0.1", backendPort)
        expected = streamDigest(HUNDRED_MB)
        resetPeakMemory()
        before = memoryStatus("VmRSS")
        pump = Pump(HUNDRED_MB)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", s.port("redir"))
        yield endpoint.connect(Factory.forProtocol(lambda: pump))
        yield withTimeout(pump.done, 60)
        yield s.settled()
        peak = memoryStatus("VmHWM")
        self.assertEqual((pump.sent, pump.received), (HUNDRED_MB, HUNDRED_MB))
        self.assertEqual(pump.digest.hexdigest(), expected)
        self.assertLess(peak - before, MEMORY_BOUND)
        self.assertSession(s, f"in={HUNDRED_MB}(bytes) out={HUNDRED_MB}(bytes)")

    @inlineCallbacks
    def test_halfClose(self) -> Generated:
        """
        A client that sends, half-closes, then reads gets the backend's
        whole reply, which comes only after the end of its stream; TRAFFIC
        counts both directions exactly.
        """
        s = self.scenario()
        backend, backendPort = self.backend(Summary)
        self.start(s, "127.0.0.1", backendPort)
        payload = pattern(300_001, 2)
        client = yield s.connect("redir", send=payload, halfClose=True)
        received = yield client.whenEnded()
        yield s.settled()
        reply = summaryOf(len(payload), hashlib.sha256(payload).hexdigest())
        self.assertEqual(received, reply)
        self.assertEqual(backend.peers, ["127.0.0.1"])
        self.assertSession(s, f"in={len(payload)}(bytes) out={len(reply)}(bytes)")

    @inlineCallbacks
    def test_ipv6Target(self) -> Generated:
        """
        A target on ::1 is reached over IPv6, whatever the client's family.
        """
        if not hasIPv6():
            raise SkipTest("no IPv6 loopback")
        s = self.scenario()
        backend, backendPort = self.backend(Summary, "::1")
        self.start(s, "::1", backendPort)
        client = yield s.connect("redir", send=b"over six", halfClose=True)
        received = yield client.whenEnded()
        yield s.settled()
        reply = summaryOf(8, hashlib.sha256(b"over six").hexdigest())
        self.assertEqual(received, reply)
        self.assertEqual(backend.peers, ["::1"])
        self.assertSession(s, f"in=8(bytes) out={len(reply)}(bytes)")

    @inlineCallbacks
    def test_bannersFirst(self) -> Generated:
        """
        C{banner} and C{banner_success} reach the client before anything
        relayed.
        """
        s = self.scenario()
        _, backendPort = self.backend(Summary)
        banner = s.file("banner", b"hello\r\n")
        success = s.file("success", b"\x00go\n")
        self.start(
            s, "127.0.0.1", backendPort, f" banner = {banner}\n banner_success = {success}\n"
        )
        client = yield s.connect("redir", send=b"x", halfClose=True)
        received = yield client.whenEnded()
        yield s.settled()
        reply = summaryOf(1, hashlib.sha256(b"x").hexdigest())
        self.assertEqual(received, b"hello\r\n\x00go\n" + reply)
        self.assertSession(s, f"in=1(bytes) out={len(reply)}(bytes)")


class FlowControlTests(RedirectTestCase):
    @inlineCallbacks
    def test_clientNotReading(self) -> Generated:
        """
        A client that does not read while the backend streams: the relay
        stops reading the backend, which then cannot write any more, and
        what the relay holds in its own buffers stays bounded.
        """
        s = self.scenario()
        backend, backendPort = self.backend(Streamer)
        self.start(s, "127.0.0.1", backendPort)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(client.close)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", s.port("redir")))
        relay = yield self.connectedRelay(s)
        yield waitUntil(lambda: len(backend.protocols) == 1, "the backend is connected")
        [streamer] = backend.protocols
        assert isinstance(streamer, Streamer)
        target = relay.target
        assert target is not None

        def stalled() -> bool:
            return (
                streamer.paused
                and not writable(handle(streamer).fileno())
                and target.transport not in reactor.getReaders()
                and not writable(handle(relay.client).fileno())
            )

        yield waitUntil(stalled, "the relay and the backend have stalled", rounds=1000)
        # The relay's unsent bytes and the client's received ones. Bytes sent
        # but not yet acknowledged may be in the client's queue already, so
        # the relay's whole send queue (TIOCOUTQ) could count them twice;
        # without them, what is left over is what the relay holds plus what
        # is in flight, an upper bound.
        unsent = queued(handle(relay.client), SIOCOUTQNSD)
        inKernel = unsent + queued(client, termios.FIONREAD)
        held = target.received - inKernel
        self.assertGreaterEqual(held, 0)
        self.assertLess(held, BUFFER_BOUND)
        self.assertGreater(streamer.sent, target.received)
        client.close()
        yield s.settled()
        entries = s.serviceLog()
        self.assertEqual(entries[0], "START: redir pid=0 from=127.0.0.1")
        self.assertEqual(entries[1].split(" out=")[0], "TRAFFIC: redir in=0(bytes)")
        self.assertEqual(entries[2:], ["EXIT: redir status=0 pid=0"])


class EndTests(RedirectTestCase):
    """
    A relay ends in bounded time once one side is gone, even when the other
    side does not read.
    """

    @inlineCallbacks
    def test_targetGoneClientNotReading(self) -> Generated:
        """
        A target that sends more than a client reads, ends its stream and is
        then gone (its system resets the connection, as it does once it has
        forgotten a closed one): the relay finds out although it no longer
        reads the target, and ends the session; TRAFFIC and EXIT are logged
        and the slot is freed.
        """
        self.patch(relaymodule, "LIVENESS_CHECK", 0.1)
        s = self.scenario()
        backend, backendPort = self.backend(Burst)
        self.start(s, "127.0.0.1", backendPort)
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(client.close)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", s.port("redir")))
        relay = yield self.connectedRelay(s)
        yield waitUntil(
            lambda: relay.target is not None and relay.target.readDone, "the target's end arrived"
        )
        [burst] = backend.protocols
        assert burst.transport is not None
        burst.transport.abortConnection()  # type: ignore[attr-defined]
        yield s.settled()
        self.assertSession(s, f"in=0(bytes) out={BURST}(bytes)")

    @inlineCallbacks
    def test_clientEndProbed(self) -> Generated:
        """
        Once the client has ended its stream its connection is probed and
        watched, and a client gone for good (reset) is found out while the
        target stays silent: the target is aborted and the session ends.
        """
        self.patch(relaymodule, "LIVENESS_CHECK", 0.1)
        s = self.scenario()
        backend, backendPort = self.backend(Silent)
        self.start(s, "127.0.0.1", backendPort)
        client = yield s.connect("redir")
        relay = yield self.connectedRelay(s)
        inbound = handle(relay.client)
        assert client.transport is not None
        client.transport.loseWriteConnection()
        yield waitUntil(lambda: relay.client.readDone, "the client's end arrived")
        self.assertEqual(
            [
                inbound.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                inbound.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                inbound.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                inbound.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            ],
            [1, PROBE_IDLE, PROBE_INTERVAL, PROBE_COUNT],
        )
        client.transport.abortConnection()
        yield s.settled()
        self.assertSession(s, "in=0(bytes) out=0(bytes)")
        self.assertEqual(len(backend.protocols), 1)


class ConnectionTests(RedirectTestCase):
    def closedPort(self) -> int:
        """
        A port of 127.0.0.1 that refuses connections (bound, not
        listening).
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

    @inlineCallbacks
    def test_connectFailure(self) -> Generated:
        """
        A target that refuses: xinetd's program-log message, the client's
        connection closed without a byte, no TRAFFIC line.
        """
        s = self.scenario()
        port = self.closedPort()
        self.start(s, "127.0.0.1", port)
        received = yield s.exchange("redir")
        self.assertEqual(received, b"")
        self.assertIn(
            "can't connect to remote host 127.0.0.1: Connection refused (errno = 111)",
            s.messages,
        )
        self.assertSession(s, None)

    @inlineCallbacks
    def test_refused(self) -> Generated:
        """
        Access control is in front: a refused client is closed, logged with
        FAIL only, and the backend never sees a connection.
        """
        s = self.scenario()
        backend, backendPort = self.backend(Summary)
        self.start(s, "127.0.0.1", backendPort, " only_from = 127.0.0.2\n")
        received = yield s.exchange("redir")
        self.assertEqual(received, b"")
        s.assertServiceLog(["FAIL: redir address from=127.0.0.1"])
        self.assertEqual(backend.protocols, [])

    @inlineCallbacks
    def checkOptions(self, extra: str, keepAlive: int) -> Generated:
        """
        The relay's two connections: TCP_NODELAY on both, SO_KEEPALIVE as
        C{keepAlive} on the outbound one.
        """
        s = self.scenario()
        _, backendPort = self.backend(Summary)
        self.start(s, "127.0.0.1", backendPort, extra)
        client = yield s.connect("redir")
        relay = yield self.connectedRelay(s)
        assert relay.target is not None
        outbound, inbound = handle(relay.target), handle(relay.client)
        options = [
            outbound.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            outbound.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
            inbound.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
        ]
        self.assertEqual([bool(option) for option in options], [bool(keepAlive), True, True])
        self.assertEqual(outbound.getpeername()[1], backendPort)
        yield client.close()
        yield s.settled()

    def test_keepAlive(self) -> Deferred[None]:
        return self.checkOptions(" flags = KEEPALIVE\n", 1)

    def test_noKeepAlive(self) -> Deferred[None]:
        return self.checkOptions("", 0)
