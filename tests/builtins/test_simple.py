# -*- test-case-name: tests.builtins.test_simple -*-
"""
Tests for L{txinetd.builtins.simple}: the built-in internal services, their lookup
through Twisted plugins, and the example third-party plugin under
C{tests/plugins_example}.
"""

from __future__ import annotations

import calendar
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IProtocol,
    IPushProducer,
    IReactorUDP,
    ISystemHandle,
    ITCPTransport,
)
from twisted.internet.protocol import ClientFactory, DatagramProtocol, Protocol, ServerFactory
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.plugin import IPlugin
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

import twisted.plugins
from tests.integration.support import hasIPv6, portNumber
from tests.paths import TESTS
from txinetd.builtins import simple
from txinetd.builtins.simple import (
    BUILTINS,
    CharacterGenerator,
    ChargenProtocol,
    DatagramService,
    InternalContext,
    InternalServices,
    StreamService,
    WriteAndCloseProtocol,
    chargenLine,
    chargenLines,
    daytimeLine,
    shouldAnswer,
    timeBytes,
)
from txinetd.interfaces import IInternalService

EXAMPLE_PLUGINS = Path(TESTS) / "plugins_example"

NOV_22_2026 = calendar.timegm((2026, 11, 22, 1, 14, 59))
JUL_4_2026 = calendar.timegm((2026, 7, 4, 12, 0, 0))
TIME_WRAP = 2**32 - 2208988800
"""The Unix time at which the 32-bit time protocol value wraps to 0 (2036)."""

CENTRAL_EUROPE = "CET-1CEST,M3.5.0,M10.5.0/3"
LINE_0 = b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n"


def referenceLine(k: int, width: int = 72) -> bytes:
    """
    chargen line C{k} by the specification's formula:
    C{chr(0x21 + ((k mod 95) + j) mod 93)} for each column C{j}, then CR LF.
    """
    return bytes(0x21 + ((k % 95) + j) % 93 for j in range(width)) + b"\r\n"


def referenceLines(first: int, count: int) -> bytes:
    return b"".join(referenceLine(k) for k in range(first, first + count))


def referenceStream(first: int, length: int) -> bytes:
    """
    The first C{length} bytes of a chargen stream starting at line C{first}.
    """
    period = referenceLines(first, 95)
    return (period * (length // len(period) + 1))[:length]


def contextAt(seconds: float = 0.0) -> InternalContext:
    """
    A context whose clock stands at C{seconds}.
    """
    clock = Clock()
    clock.advance(seconds)
    return InternalContext(reactor=clock, serviceId="test", peer=("127.0.0.1", 40000))


def connect(service: IInternalService, context: InternalContext | None = None) -> StringTransport:
    """
    Connect a stream service's protocol to a L{StringTransport}.
    """
    transport = StringTransport()
    IProtocol(service.buildProtocol(context or contextAt())).makeConnection(transport)
    return transport


def connectChargen(
    stream: IInternalService, context: InternalContext | None = None
) -> tuple[ChargenProtocol, StringTransport]:
    """
    Connect a stream chargen to a L{StringTransport}.
    """
    protocol = stream.buildProtocol(context or contextAt())
    assert isinstance(protocol, ChargenProtocol)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def freshChargen() -> tuple[StreamService, DatagramService, CharacterGenerator]:
    """
    A stream and a dgram chargen sharing a new line counter.
    """
    generator = CharacterGenerator()
    return (
        StreamService("chargen", generator.buildProtocol),
        DatagramService("chargen", generator.answerDatagram),
        generator,
    )


class SocketLike(FileDescriptor):
    """
    A Twisted file descriptor whose kernel buffer accepts C{room} more bytes:
    the real write buffering and producer logic, without a socket.

    @ivar written: how many bytes the protocol has written.
    @ivar sent: what left through the "kernel".
    """

    def __init__(self) -> None:
        super().__init__(MemoryReactor())
        self.connected = 1
        self.room = 0
        self.written = 0
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.written += len(data)
        super().write(data)

    def writeSomeData(self, data: bytes) -> int:
        count = min(len(data), self.room)
        self.room -= count
        self.sent += data[:count]
        return count


class BuiltinsTests(SynchronousTestCase):
    """
    The set of built-ins and their interfaces.
    """

    def test_providers(self) -> None:
        """
        Every built-in provides L{IInternalService} and L{IPlugin}.
        """
        for service in BUILTINS:
            self.assertTrue(verifyObject(IInternalService, service))
            self.assertTrue(verifyObject(IPlugin, service))

    def test_names(self) -> None:
        """
        There is one built-in per service name and socket type.
        """
        pairs = sorted((service.name, service.socketType) for service in BUILTINS)
        expected = sorted(
            (name, socketType)
            for name in ("echo", "discard", "chargen", "daytime", "time")
            for socketType in ("stream", "dgram")
        )
        self.assertEqual(pairs, expected)

    def test_streamHasNoDatagrams(self) -> None:
        """
        A stream service refuses to answer a datagram.
        """
        self.assertRaises(TypeError, simple.echoStream.answerDatagram, b"x", contextAt())

    def test_dgramHasNoConnections(self) -> None:
        """
        A dgram service refuses to build a protocol.
        """
        self.assertRaises(TypeError, simple.echoDgram.buildProtocol, contextAt())


class ShouldAnswerTests(SynchronousTestCase):
    """
    L{shouldAnswer}: no replies to source ports below 1024.
    """

    def test_lowPorts(self) -> None:
        for port in (0, 7, 19, 1023):
            self.assertFalse(shouldAnswer(port), port)

    def test_highPorts(self) -> None:
        for port in (1024, 32768, 65535):
            self.assertTrue(shouldAnswer(port), port)


class EchoTests(SynchronousTestCase):
    """
    echo, stream and dgram.
    """

    def test_streamEchoes(self) -> None:
        """
        Everything received is written back, in order.
        """
        transport = StringTransport()
        protocol = simple.echoStream.buildProtocol(contextAt())
        protocol.makeConnection(transport)
        protocol.dataReceived(b"hello\r\n")
        protocol.dataReceived(b"\x00\xff world")
        self.assertEqual(transport.value(), b"hello\r\n\x00\xff world")
        self.assertFalse(transport.disconnecting)

    def test_streamClosesWhenClientDoes(self) -> None:
        """
        When the client stops sending, echo closes the connection.
        """
        transport = StringTransport()
        protocol = simple.echoStream.buildProtocol(contextAt())
        protocol.makeConnection(transport)
        IHalfCloseableProtocol(protocol).readConnectionLost()
        self.assertTrue(transport.disconnecting)

    def test_streamFlowControl(self) -> None:
        """
        The transport is its own producer: reading pauses while the echo
        cannot be sent, and resumes once it has drained.
        """
        transport = SocketLike()
        transport.startReading()
        protocol = simple.echoStream.buildProtocol(contextAt())
        protocol.makeConnection(transport)
        reactor = transport.reactor
        protocol.dataReceived(b"x" * (transport.bufferSize + 1))
        self.assertNotIn(transport, reactor.getReaders())
        transport.room = transport.bufferSize + 1
        transport.doWrite()
        self.assertEqual(len(transport.sent), transport.bufferSize + 1)
        self.assertIn(transport, reactor.getReaders())

    def test_dgramEchoes(self) -> None:
        self.assertEqual(simple.echoDgram.answerDatagram(b"ping\n", contextAt()), b"ping\n")

    def test_dgramEmpty(self) -> None:
        """
        An empty datagram gets an empty reply (not no reply).
        """
        self.assertEqual(simple.echoDgram.answerDatagram(b"", contextAt()), b"")

    def test_dgramTruncated(self) -> None:
        """
        Replies are cut to 2048 bytes.
        """
        data = bytes(range(256)) * 12
        self.assertEqual(simple.echoDgram.answerDatagram(data, contextAt()), data[:2048])
        exact = data[:2048]
        self.assertEqual(simple.echoDgram.answerDatagram(exact, contextAt()), exact)


class DiscardTests(SynchronousTestCase):
    """
    discard, stream and dgram.
    """

    def test_streamDiscards(self) -> None:
        transport = StringTransport()
        protocol = simple.discardStream.buildProtocol(contextAt())
        protocol.makeConnection(transport)
        protocol.dataReceived(b"anything\r\n" * 100)
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)

    def test_streamClosesWhenClientDoes(self) -> None:
        transport = StringTransport()
        protocol = simple.discardStream.buildProtocol(contextAt())
        protocol.makeConnection(transport)
        IHalfCloseableProtocol(protocol).readConnectionLost()
        self.assertTrue(transport.disconnecting)

    def test_dgramNoReply(self) -> None:
        self.assertIsNone(simple.discardDgram.answerDatagram(b"anything", contextAt()))


class ChargenLineTests(SynchronousTestCase):
    """
    The chargen line pattern.
    """

    def test_firstLine(self) -> None:
        self.assertEqual(chargenLine(0), LINE_0)
        self.assertEqual(referenceLine(0), LINE_0)

    def test_lines(self) -> None:
        """
        Every line of a period follows the specification's formula.
        """
        for k in range(2 * 95):
            self.assertEqual(chargenLine(k), referenceLine(k), k)

    def test_lineStarts(self) -> None:
        """
        Lines start at '!', '"', ... '}' (93 lines), then '!' and '"' again.
        """
        starts = bytes(chargenLine(k)[0] for k in range(95))
        self.assertEqual(starts, bytes(range(0x21, 0x7E)) + b'!"')

    def test_period(self) -> None:
        """
        The lines repeat after 95 lines, not 93.
        """
        self.assertEqual(chargenLines(95, 95), chargenLines(0, 95))
        self.assertEqual(chargenLine(93), chargenLine(0))
        self.assertEqual(chargenLine(94), chargenLine(1))
        self.assertNotEqual(chargenLine(95), chargenLine(2))

    def test_alphabet(self) -> None:
        """
        The 93 characters '!'..'}': no space, no '~'.
        """
        used = set(b"".join(chargenLine(k) for k in range(95)))
        self.assertEqual(used, set(range(0x21, 0x7E)) | {0x0D, 0x0A})

    def test_shortLine(self) -> None:
        self.assertEqual(chargenLine(13, 60), referenceLine(13, 60))
        self.assertEqual(len(chargenLine(13, 60)), 62)


class ChargenStreamTests(SynchronousTestCase):
    """
    Stream chargen: lines without end, under flow control.
    """

    def test_registersPullProducer(self) -> None:
        """
        The protocol registers itself as a pull producer and writes nothing
        before it is asked to.
        """
        protocol, transport = connectChargen(freshChargen()[0])
        self.assertIs(transport.producer, protocol)
        self.assertFalse(transport.streaming)
        self.assertEqual(transport.value(), b"")

    def test_firstLines(self) -> None:
        """
        A first client of a fresh counter starts at line 0; its input is
        ignored.
        """
        protocol, transport = connectChargen(freshChargen()[0])
        protocol.dataReceived(b"ignored\r\n")
        protocol.resumeProducing()
        output = transport.value()
        self.assertEqual(output[:74], LINE_0)
        self.assertEqual(len(output) % (95 * 74), 0)
        self.assertEqual(output, referenceLines(0, len(output) // 74))

    def test_writesOnlyWhenAsked(self) -> None:
        """
        The producer writes one block each time the transport asks for more
        and nothing in between, whatever time passes.
        """
        clock = Clock()
        protocol, transport = connectChargen(
            freshChargen()[0], InternalContext(clock, "test", None)
        )
        protocol.resumeProducing()
        block = transport.value()
        clock.advance(60)
        self.assertEqual(transport.value(), block)
        protocol.resumeProducing()
        self.assertEqual(transport.value(), referenceLines(0, 2 * len(block) // 74))

    def test_pausesWhenSocketFull(self) -> None:
        """
        On a real Twisted transport, chargen writes one block, then nothing
        while the socket does not take it, then the next block once it has.
        """
        stream = freshChargen()[0]
        transport = SocketLike()
        IProtocol(stream.buildProtocol(contextAt())).makeConnection(transport)
        block = transport.written
        self.assertGreater(block, 0)
        for _ in range(10):
            transport.doWrite()
        self.assertEqual(transport.written, block)
        self.assertEqual(transport.sent, b"")
        transport.room = block
        transport.doWrite()
        self.assertEqual(bytes(transport.sent), referenceLines(0, block // 74))
        self.assertEqual(transport.written, 2 * block)

    def test_stopProducing(self) -> None:
        """
        Once stopped, nothing more is written.
        """
        protocol, transport = connectChargen(freshChargen()[0])
        protocol.stopProducing()
        protocol.resumeProducing()
        self.assertEqual(transport.value(), b"")

    def test_connectionLost(self) -> None:
        """
        Once disconnected, nothing more is written.
        """
        protocol, transport = connectChargen(freshChargen()[0])
        protocol.connectionLost(Failure(Exception("gone")))
        protocol.resumeProducing()
        self.assertEqual(transport.value(), b"")

    def test_halfClose(self) -> None:
        """
        Lines go on after the client stops sending; once the write side is
        gone the connection closes.
        """
        protocol, transport = connectChargen(freshChargen()[0])
        protocol.readConnectionLost()
        self.assertFalse(transport.disconnecting)
        protocol.resumeProducing()
        self.assertNotEqual(transport.value(), b"")
        protocol.writeConnectionLost()
        self.assertTrue(transport.disconnecting)

    def test_streamLeavesCounter(self) -> None:
        """
        Stream clients do not advance the shared counter.
        """
        stream, _, generator = freshChargen()
        connectChargen(stream)[0].resumeProducing()
        self.assertEqual(generator.line, 0)
        protocol, transport = connectChargen(stream)
        protocol.resumeProducing()
        self.assertEqual(transport.value()[:74], LINE_0)


class ChargenDgramTests(SynchronousTestCase):
    """
    Dgram chargen and the counter it shares with stream chargen.
    """

    def test_reply(self) -> None:
        """
        A reply is 1024 bytes: 13 full lines and a 60-character line.
        """
        _, dgram, _ = freshChargen()
        reply = dgram.answerDatagram(b"anything", contextAt())
        self.assertEqual(reply, referenceLines(0, 13) + referenceLine(13, 60))
        assert reply is not None
        self.assertEqual(len(reply), 1024)

    def test_advances(self) -> None:
        """
        Each reply advances the counter by 14 lines, wrapping at 95.
        """
        _, dgram, generator = freshChargen()
        replies = [dgram.answerDatagram(b"", contextAt()) for _ in range(7)]
        self.assertEqual(generator.line, 98 % 95)
        for number, reply in enumerate(replies):
            first = 14 * number
            self.assertEqual(reply, referenceLines(first, 13) + referenceLine(first + 13, 60))

    def test_streamAfterDgram(self) -> None:
        """
        After one datagram, a new stream client starts at line 14 ('/').
        """
        stream, dgram, _ = freshChargen()
        dgram.answerDatagram(b"", contextAt())
        protocol, transport = connectChargen(stream)
        protocol.resumeProducing()
        output = transport.value()
        self.assertEqual(output[:1], b"/")
        self.assertEqual(output[: 95 * 74], referenceLines(14, 95))

    def test_freshObjectsIndependent(self) -> None:
        """
        Separately built chargens do not share their counter.
        """
        _, first, _ = freshChargen()
        _, second, _ = freshChargen()
        first.answerDatagram(b"", contextAt())
        self.assertEqual(second.answerDatagram(b"", contextAt())[:74], LINE_0)  # type: ignore[index]

    def test_builtinsShareCounter(self) -> None:
        """
        The registered stream and dgram chargen share one counter.
        """
        self.assertIs(
            simple.chargenStream.protocolFactory.__self__,  # type: ignore[attr-defined]
            simple.chargenDgram.answer.__self__,  # type: ignore[attr-defined]
        )


class DaytimeTests(SynchronousTestCase):
    """
    daytime, stream and dgram, at fixed instants in fixed time zones.
    """

    def setUp(self) -> None:
        self.savedZone = os.environ.get("TZ")
        self.setZone(CENTRAL_EUROPE)

    def tearDown(self) -> None:
        if self.savedZone is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = self.savedZone
        time.tzset()

    def setZone(self, zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    def test_utc(self) -> None:
        """
        The reference example, in UTC.
        """
        self.setZone("UTC0")
        self.assertEqual(daytimeLine(NOV_22_2026), b"22 NOV 2026 01:14:59 UTC\r\n")

    def test_winter(self) -> None:
        self.assertEqual(daytimeLine(NOV_22_2026), b"22 NOV 2026 02:14:59 CET\r\n")

    def test_summer(self) -> None:
        """
        The zone abbreviation is the one in force at that instant.
        """
        self.assertEqual(daytimeLine(JUL_4_2026), b"04 JUL 2026 14:00:00 CEST\r\n")

    def test_fraction(self) -> None:
        """
        Fractions of a second are dropped, not rounded.
        """
        self.assertEqual(daytimeLine(NOV_22_2026 + 0.999), b"22 NOV 2026 02:14:59 CET\r\n")

    def test_months(self) -> None:
        self.setZone("UTC0")
        months = [daytimeLine(calendar.timegm((2027, m, 9, 8, 7, 6)))[3:6] for m in range(1, 13)]
        self.assertEqual(b" ".join(months), b"JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC")
        self.assertEqual(
            daytimeLine(calendar.timegm((2027, 1, 9, 8, 7, 6))), b"09 JAN 2027 08:07:06 UTC\r\n"
        )

    def test_stream(self) -> None:
        """
        Stream daytime writes the line at once and closes.
        """
        transport = connect(simple.daytimeStream, contextAt(NOV_22_2026))
        self.assertEqual(transport.value(), b"22 NOV 2026 02:14:59 CET\r\n")
        self.assertTrue(transport.disconnecting)

    def test_dgram(self) -> None:
        reply = simple.daytimeDgram.answerDatagram(b"what time?", contextAt(JUL_4_2026))
        self.assertEqual(reply, b"04 JUL 2026 14:00:00 CEST\r\n")


class TimeTests(SynchronousTestCase):
    """
    time, stream and dgram: seconds since 1900 in 32 bits.
    """

    def test_epoch(self) -> None:
        self.assertEqual(timeBytes(0), b"\x83\xaa\x7e\x80")

    def test_recent(self) -> None:
        self.assertEqual(timeBytes(1_700_000_000.9), b"\xe8\xfe\x6f\x80")

    def test_wrap2036(self) -> None:
        """
        The value wraps to 0 on 2036-02-07 06:28:16 UTC.
        """
        self.assertEqual(TIME_WRAP, calendar.timegm((2036, 2, 7, 6, 28, 16)))
        self.assertEqual(timeBytes(TIME_WRAP - 1), b"\xff\xff\xff\xff")
        self.assertEqual(timeBytes(TIME_WRAP), b"\x00\x00\x00\x00")
        self.assertEqual(timeBytes(TIME_WRAP + 1), b"\x00\x00\x00\x01")

    def test_stream(self) -> None:
        """
        Stream time writes 4 bytes at once and closes.
        """
        transport = connect(simple.timeStream, contextAt(TIME_WRAP + 258))
        self.assertEqual(transport.value(), b"\x00\x00\x01\x02")
        self.assertTrue(transport.disconnecting)

    def test_dgram(self) -> None:
        reply = simple.timeDgram.answerDatagram(b"ignored", contextAt(0))
        self.assertEqual(reply, b"\x83\xaa\x7e\x80")


def rival(name: str, socketType: str = "stream") -> IInternalService:
    """
    A third-party service claiming C{name}.
    """
    if socketType == "dgram":
        return DatagramService(name, lambda data, context: b"rival")
    return StreamService(name, lambda context: WriteAndCloseProtocol(b"rival"))


def find(
    name: str, socketType: str, plugins: Iterable[IInternalService]
) -> IInternalService | None:
    return InternalServices(plugins).find(name, socketType)


class LookupTests(SynchronousTestCase):
    """
    L{InternalServices}.
    """

    def test_caseInsensitiveName(self) -> None:
        self.assertIs(find("EcHo", "stream", BUILTINS), simple.echoStream)
        self.assertIs(find("TIME", "dgram", BUILTINS), simple.timeDgram)

    def test_exactSocketType(self) -> None:
        self.assertIsNone(find("echo", "STREAM", BUILTINS))
        self.assertIsNone(find("echo", "raw", BUILTINS))

    def test_unknown(self) -> None:
        """
        Services removed from xinetd 2.3 are not built in.
        """
        for name in ("servers", "services", "xadmin", "nosuch"):
            self.assertIsNone(find(name, "stream", BUILTINS))

    def test_builtinPreferred(self) -> None:
        """
        txinetd's own built-in wins over a plugin claiming the same service,
        wherever it comes.
        """
        plugins = [rival("ECHO"), rival("echo", "dgram"), *BUILTINS]
        self.assertIs(find("echo", "stream", plugins), simple.echoStream)
        self.assertIs(find("echo", "dgram", plugins), simple.echoDgram)

    def test_firstPluginWins(self) -> None:
        """
        Among third-party plugins the first one given wins.
        """
        first, second = rival("hello"), rival("hello")
        self.assertIs(find("hello", "stream", [first, second]), first)
        self.assertIs(find("hello", "stream", [second, first]), second)

    def test_table(self) -> None:
        """
        The table holds each name (in lower case) and socket type once.
        """
        plugins = [rival("Hello"), rival("hello"), rival("echo"), simple.echoStream]
        self.assertEqual(
            sorted(InternalServices(plugins).table), [("echo", "stream"), ("hello", "stream")]
        )

    def test_installed(self) -> None:
        """
        By default the installed plugins are searched: txinetd's own plugin
        module registers every built-in.
        """
        installed = InternalServices()
        for service in BUILTINS:
            self.assertIs(installed.find(service.name, service.socketType), service)

    def test_noSensorPlugin(self) -> None:
        """
        What a SENSOR service runs is no plugin: a service named C{sensor}
        without the flag is no internal service, as in xinetd.
        """
        installed = InternalServices()
        self.assertEqual(
            (installed.find("sensor", "stream"), installed.find("sensor", "dgram")), (None, None)
        )


class InternalServerFactory(ServerFactory):
    """
    The smallest stream server for an internal service: one context per
    connection, with the peer's address.

    @ivar built: every protocol built.
    """

    def __init__(self, service: IInternalService, clock: Clock) -> None:
        self.service = service
        self.clock = clock
        self.built: list[Protocol] = []

    def buildProtocol(self, addr: IAddress | None) -> Protocol:
        assert isinstance(addr, IPv4Address | IPv6Address)
        protocol = self.service.buildProtocol(
            InternalContext(self.clock, "test", (addr.host, addr.port))
        )
        assert isinstance(protocol, Protocol)
        self.built.append(protocol)
        return protocol


class Collector(Protocol):
    """
    A client that sends C{data}, optionally stops sending, and collects what
    it receives until the connection closes or C{limit} bytes came.

    @ivar done: fires with the received bytes when the connection is lost.
    """

    def __init__(
        self, data: bytes = b"", halfClose: bool = False, limit: int = 0, paused: bool = False
    ) -> None:
        """
        @param paused: start without reading, with a small receive buffer.
        """
        self.data = data
        self.halfClose = halfClose
        self.limit = limit
        self.paused = paused
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        transport = ITCPTransport(self.transport)
        if self.paused:
            handle = ISystemHandle(transport).getHandle()
            assert isinstance(handle, socket.socket)
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            IPushProducer(transport).pauseProducing()
        transport.write(self.data)
        if self.halfClose:
            transport.loseWriteConnection()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.limit and len(self.received) >= self.limit and self.transport is not None:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.done.callback(bytes(self.received))


class CollectorFactory(ClientFactory):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def buildProtocol(self, addr: IAddress | None) -> Collector:
        return self.collector


class DatagramServer(DatagramProtocol):
    """
    The smallest UDP server for an internal service, as the service layer
    runs it: no reply to low ports, no reply when the answer is L{None}.

    @ivar handled: every datagram, once handled.
    """

    def __init__(self, service: IInternalService, clock: Clock) -> None:
        self.service = service
        self.clock = clock
        self.handled: DeferredQueue[bytes] = DeferredQueue()

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        host, port = addr[0], addr[1]
        if shouldAnswer(port):
            context = InternalContext(self.clock, "test", (host, port))
            reply = self.service.answerDatagram(datagram, context)
            if reply is not None and self.transport is not None:
                self.transport.write(reply, addr)
        self.handled.put(datagram)


class DatagramClient(DatagramProtocol):
    """
    Collects every reply with its source address.
    """

    def __init__(self) -> None:
        self.replies: DeferredQueue[tuple[bytes, tuple[str, int]]] = DeferredQueue()

    def datagramReceived(self, datagram: bytes, addr: tuple[str, int]) -> None:
        self.replies.put((datagram, (addr[0], addr[1])))


if TYPE_CHECKING:
    _IntegrationBase = TestCase
else:
    _IntegrationBase = object


class RealReactorMixin(_IntegrationBase):
    """
    Serve internal services with the real reactor on C{host}, port 0; the
    services' clock is a L{Clock} standing at 2026-11-22 01:14:59 UTC.
    """

    host: ClassVar[str]

    def setUp(self) -> None:
        from twisted.internet import reactor

        self.reactor = reactor
        self.clock = Clock()
        self.clock.advance(NOV_22_2026)

    def listen(self, service: IInternalService) -> tuple[InternalServerFactory, int]:
        factory = InternalServerFactory(service, self.clock)
        port = self.reactor.listenTCP(0, factory, interface=self.host)
        self.addCleanup(port.stopListening)
        return factory, portNumber(port)

    async def serve(self, service: IInternalService, client: Collector) -> bytes:
        """
        Connect C{client} to C{service} and return what it received.
        """
        _, port = self.listen(service)
        self.reactor.connectTCP(self.host, port, CollectorFactory(client))
        return await client.done

    async def waitUntil(self, condition: Callable[[], bool], failure: str) -> None:
        """
        Check C{condition} every 50 ms, for at most 5 s.
        """
        for _ in range(100):
            if condition():
                return
            await deferLater(self.reactor, 0.05, lambda: None)
        self.fail(failure)

    def listenUDP(self, protocol: DatagramProtocol) -> int:
        port = IReactorUDP(self.reactor).listenUDP(0, protocol, self.host, 8192)
        self.addCleanup(port.stopListening)
        return portNumber(port)

    async def ask(
        self, service: IInternalService, datagram: bytes
    ) -> tuple[bytes, tuple[str, int]]:
        """
        Send one datagram from a port >= 1024 and return the first reply.
        """
        server = self.listenUDP(DatagramServer(service, self.clock))
        client = DatagramClient()
        self.assertGreaterEqual(self.listenUDP(client), 1024)
        assert client.transport is not None
        client.transport.write(datagram, (self.host, server))
        return await client.replies.get()


class StreamIntegrationMixin(RealReactorMixin):
    """
    Every stream built-in over a real TCP connection.
    """

    async def test_echo(self) -> None:
        """
        A megabyte is echoed whole, then the connection closes after the
        client stops sending.
        """
        data = bytes(range(256)) * 4096
        received = await self.serve(simple.echoStream, Collector(data, halfClose=True))
        self.assertEqual(received, data)

    async def test_discard(self) -> None:
        received = await self.serve(simple.discardStream, Collector(b"x" * 100000, True))
        self.assertEqual(received, b"")

    async def test_chargen(self) -> None:
        received = await self.serve(freshChargen()[0], Collector(b"ignored\r\n", limit=200000))
        self.assertGreaterEqual(len(received), 200000)
        self.assertEqual(received, referenceStream(0, len(received)))

    async def test_chargenSlowClient(self) -> None:
        """
        While the client does not read, chargen stops producing once the
        socket buffers are full; when it reads again the lines go on where
        they stopped.
        """
        factory, port = self.listen(freshChargen()[0])
        client = Collector(limit=16 * 2**20, paused=True)
        self.reactor.connectTCP(self.host, port, CollectorFactory(client))
        await self.waitUntil(lambda: bool(factory.built), "no connection")
        [server] = factory.built
        assert isinstance(server, ChargenProtocol)
        blocks = [0]
        produce = server.resumeProducing

        def counting() -> None:
            blocks[0] += 1
            produce()

        self.patch(server, "resumeProducing", counting)
        seen = [-1]

        def stalled() -> bool:
            unchanged = seen[0] == blocks[0]
            seen[0] = blocks[0]
            return unchanged

        await self.waitUntil(stalled, "chargen went on writing to a client that does not read")
        self.assertLess(blocks[0] * len(server.block), 16 * 2**20)
        IPushProducer(client.transport).resumeProducing()
        received = await client.done
        self.assertGreaterEqual(len(received), 16 * 2**20)
        self.assertEqual(received, referenceStream(0, len(received)))

    async def test_daytime(self) -> None:
        received = await self.serve(simple.daytimeStream, Collector())
        self.assertEqual(received, daytimeLine(NOV_22_2026))

    async def test_time(self) -> None:
        received = await self.serve(simple.timeStream, Collector())
        self.assertEqual(received, timeBytes(NOV_22_2026))

    async def test_peer(self) -> None:
        """
        The context names the client's address.
        """
        contexts: list[InternalContext] = []

        def build(context: InternalContext) -> IProtocol:
            contexts.append(context)
            return WriteAndCloseProtocol(b"")

        await self.serve(StreamService("peer", build), Collector())
        [context] = contexts
        assert context.peer is not None
        self.assertEqual(context.peer[0], self.host)
        self.assertGreaterEqual(context.peer[1], 1024)


class DgramIntegrationMixin(RealReactorMixin):
    """
    Every dgram built-in over real UDP.
    """

    async def test_echo(self) -> None:
        data = bytes(range(256)) * 12
        reply, _ = await self.ask(simple.echoDgram, data)
        self.assertEqual(reply, data[:2048])

    async def test_chargen(self) -> None:
        reply, _ = await self.ask(freshChargen()[1], b"")
        self.assertEqual(reply, referenceLines(0, 13) + referenceLine(13, 60))

    async def test_daytime(self) -> None:
        reply, _ = await self.ask(simple.daytimeDgram, b"\n")
        self.assertEqual(reply, daytimeLine(NOV_22_2026))

    async def test_time(self) -> None:
        reply, _ = await self.ask(simple.timeDgram, b"")
        self.assertEqual(reply, timeBytes(NOV_22_2026))

    async def test_discard(self) -> None:
        """
        discard sends nothing back: the first reply the client gets is the
        one from an echo server it writes to after the discard server has
        handled its datagram.
        """
        discard = DatagramServer(simple.discardDgram, self.clock)
        discardPort = self.listenUDP(discard)
        echoAddress = (self.host, self.listenUDP(DatagramServer(simple.echoDgram, self.clock)))
        client = DatagramClient()
        self.listenUDP(client)
        assert client.transport is not None
        client.transport.write(b"dropped", (self.host, discardPort))
        self.assertEqual(await discard.handled.get(), b"dropped")
        client.transport.write(b"probe", echoAddress)
        reply, source = await client.replies.get()
        self.assertEqual((reply, source), (b"probe", echoAddress))


NO_IPV6 = None if hasIPv6() else "IPv6 is not available on ::1"


class StreamIPv4Tests(StreamIntegrationMixin, TestCase):
    host = "127.0.0.1"


class StreamIPv6Tests(StreamIntegrationMixin, TestCase):
    host = "::1"
    skip = NO_IPV6


class DgramIPv4Tests(DgramIntegrationMixin, TestCase):
    host = "127.0.0.1"


class DgramIPv6Tests(DgramIntegrationMixin, TestCase):
    host = "::1"
    skip = NO_IPV6


def examplePluginModules() -> Iterator[str]:
    prefix = "twisted.plugins.txinetd_example"
    return (name for name in list(sys.modules) if name.startswith(prefix))


class ExamplePluginTests(RealReactorMixin, TestCase):
    """
    A third-party plugin directory extends the internal services.
    """

    host = "127.0.0.1"

    def setUp(self) -> None:
        super().setUp()
        path = str(EXAMPLE_PLUGINS)
        pluginPath = str(EXAMPLE_PLUGINS / "twisted" / "plugins")
        sys.path.append(path)
        self.addCleanup(sys.path.remove, path)
        twisted.plugins.__path__.append(pluginPath)
        self.addCleanup(twisted.plugins.__path__.remove, pluginPath)
        self.addCleanup(self.forgetExampleModules)

    def forgetExampleModules(self) -> None:
        for name in examplePluginModules():
            del sys.modules[name]

    async def test_helloOverTCP(self) -> None:
        """
        The example's C{hello} stream service is found and served.  Another
        plugin module, C{txinetd_example_rivals}, also claims C{hello}: the
        module whose name sorts first wins.
        """
        service = InternalServices().find("Hello", "stream")
        assert service is not None
        self.assertNotIn(service, BUILTINS)
        received = await self.serve(service, Collector())
        self.assertEqual(received, b"hello\r\n")

    def test_upper(self) -> None:
        service = InternalServices().find("upper", "dgram")
        assert service is not None
        self.assertEqual(service.answerDatagram(b"abc\n", contextAt()), b"ABC\n")

    def test_available(self) -> None:
        available = InternalServices().table
        self.assertIn(("hello", "stream"), available)
        self.assertIn(("upper", "dgram"), available)
        self.assertIn(("echo", "stream"), available)
        self.assertNotIn(("upper", "stream"), available)

    def test_builtinStillPreferred(self) -> None:
        """
        A plugin module claiming C{echo} does not replace txinetd's own.
        """
        self.assertIs(InternalServices().find("echo", "stream"), simple.echoStream)

    def test_onlyOnPluginPath(self) -> None:
        """
        Once the example directory is off the plugin path, its services are
        gone: the clean-up of these tests leaves no trace.
        """
        self.assertIsNotNone(InternalServices().find("hello", "stream"))
        self.forgetExampleModules()
        pluginPath = str(EXAMPLE_PLUGINS / "twisted" / "plugins")
        twisted.plugins.__path__.remove(pluginPath)
        self.addCleanup(twisted.plugins.__path__.append, pluginPath)
        self.assertIsNone(InternalServices().find("hello", "stream"))
