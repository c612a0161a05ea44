# -*- test-case-name: tests.test_fuzz_protocols -*-
"""
Every protocol txinetd reads from the network, fed generated input: the
tcpmux service name, xadmin commands, the C{servers} and C{services}
services, ident (RFC 1413) replies and the built-ins (echo, discard,
chargen, daytime, time; stream and dgram).

The input is garbage mixed with the words, separators and line ends the
protocols look for (NUL, CR, LF, escape sequences, bytes that are not
UTF-8, runs long enough to reach every line limit), split at random points
as TCP may deliver it.  For every example: no exception escapes, the
outcome is the one a model of the protocol predicts whatever the split,
the connection ends (or keeps serving) as it should, what the protocol
buffers stays within its limit, and its timeout fires on the clock.

Time is a L{Clock}; transports are L{StringTransport}s, except for tcpmux,
which reads a raw socket (a UNIX socket pair, driven by a
L{MemoryReactorClock}), and one test of xadmin's flow control on a real
loopback connection.

C{TXINETD_SOAK=1} runs L{tests.soak.SOAK_FACTOR} times as many examples.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import socket
import struct
import time
import unicodedata
from collections.abc import Generator
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import error
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.interfaces import IProtocol, IReadDescriptor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.builtins.test_introspect import (
    AVAILABLE_TEXT,
    HELP_TEXT,
    RUNNING_TEXT,
    SERVERS_TEXT,
    SERVICES_TEXT,
    FakeView,
)
from tests.integration.support import pollUntil, portNumber, reactor
from tests.serve.test_tcpmux import loadServices
from tests.soak import fuzzed
from txinetd.builtins.introspect import ServersProtocol, ServicesProtocol, XadminProtocol
from txinetd.builtins.simple import (
    BUILTINS,
    CHARGEN_DATAGRAM_SIZE,
    DGRAM,
    ECHO_DATAGRAM_LIMIT,
    SENSORS,
    CharacterGenerator,
    InternalContext,
    StreamService,
    daytimeStream,
    discardStream,
    echoStream,
    shouldAnswer,
    timeStream,
)
from txinetd.core.config import ServiceConfig
from txinetd.core.events import NoIdReason
from txinetd.net.acceptor import PendingConnection
from txinetd.serve.ident import MAX_REPLY, MAX_TEXT, IdentResult, NoId, UserId, queryIdent
from txinetd.serve.internal import ServedProtocol
from txinetd.serve.tcpmux import MAX_LINE, NAME_TIMEOUT, NOT_FOUND, multiplex

#: Bytes that mean something to one of the protocols, mixed into the garbage.
TOKENS = (
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"\x1b[2J",
    b"\xff\xfe",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\xc2\x9b",
    b" ",
    b"\t",
    b"help",
    b"HELP",
    b"show",
    b"run",
    b"avail",
    b"bye",
    b"Quit",
    b"exit",
    b"alpha",
    b"Beta",
    b"echo",
    b"USERID",
    b"ERROR",
    b"UNIX",
    b":",
    b",",
)

#: Long runs of a short piece: lines that reach every protocol's limit.
RUNS = st.builds(operator.mul, st.binary(min_size=1, max_size=3), st.integers(0, 1100))

#: What a client or an ident server may send.
NETWORK_BYTES = st.lists(
    st.one_of(st.binary(max_size=40), st.sampled_from(TOKENS), RUNS), max_size=24
).map(b"".join)

TEN_MEGABYTES = 10 * 1024 * 1024
#: The size of one read of a Twisted TCP transport.
READ_SIZE = 65536
#: Socket buffer sizes of the flow-control test, and what its client tries
#: to send.
SMALL_BUFFER = 16384
FLOOD = 2 * 1024 * 1024


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """
    C{data} cut at the given offsets, without empty pieces.
    """
    bounds = [0, *sorted(cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds) if end > start]


@st.composite
def chunked(
    draw: st.DrawFn, payloads: st.SearchStrategy[bytes] = NETWORK_BYTES
) -> tuple[bytes, list[bytes]]:
    """
    Some bytes and the pieces they arrive in.
    """
    data = draw(payloads)
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    return data, split(data, cuts)


def isControl(character: str) -> bool:
    """
    Whether a character is one no log or terminal should get raw: C0, DEL,
    C1, the Unicode line and paragraph separators, a lone surrogate.
    """
    return unicodedata.category(character) in ("Cc", "Zl", "Zp", "Cs")


class StreamSession:
    """
    A stream protocol served as txinetd serves an internal service: wrapped
    in a L{ServedProtocol}, on a L{StringTransport}.

    @ivar ends: how many times the session was told its connection ended.
    """

    def __init__(self, protocol: IProtocol) -> None:
        self.ends = 0
        self.served = ServedProtocol(protocol, self._ended)
        self.transport = StringTransport()
        self.served.makeConnection(self.transport)

    def _ended(self) -> None:
        self.ends += 1

    def feed(self, chunks: list[bytes]) -> None:
        """
        Deliver the client's pieces.
        """
        for chunk in chunks:
            self.served.dataReceived(chunk)

    def output(self) -> bytes:
        return bytes(self.transport.value())

    def lose(self) -> None:
        """
        The connection is gone.
        """
        self.served.connectionLost(Failure(error.ConnectionDone()))


def context(clock: Clock | None = None) -> InternalContext:
    """
    An internal service's context with a clock at 0 unless given.
    """
    return InternalContext(clock or Clock(), "fuzz", ("192.0.2.1", 40000))


# --- the built-ins ------------------------------------------------------------


def chargenModelLine(k: int) -> bytes:
    """
    Line C{k} of chargen, from the definition: 72 characters
    C{chr(0x21 + ((k mod 95) + j) mod 93)}, then CR LF.
    """
    return bytes(0x21 + ((k % 95) + j) % 93 for j in range(72)) + b"\r\n"


#: chargen's 95-line period, from the definition.
CHARGEN_PERIOD = b"".join(chargenModelLine(k) for k in range(95))


def chargenModel(first: int, size: int) -> bytes:
    """
    The first C{size} bytes chargen sends starting at line C{first}.
    """
    start = first % 95 * 74
    return (CHARGEN_PERIOD * (size // len(CHARGEN_PERIOD) + 2))[start : start + size]


def daytimeModel(seconds: float) -> bytes:
    """
    The daytime line of an instant, from its local time.
    """
    t = time.localtime(seconds)
    month = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC"[3 * t.tm_mon - 3 : 3 * t.tm_mon]
    return (
        f"{t.tm_mday:02d} {month} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {time.strftime('%Z', t)}\r\n"
    ).encode("ascii", "replace")


class StreamBuiltinFuzzTests(SynchronousTestCase):
    """
    The stream built-ins with arbitrary client input in arbitrary pieces.
    """

    @fuzzed(300)
    @given(chunked())
    def test_echo(self, sent: tuple[bytes, list[bytes]]) -> None:
        """
        echo sends back exactly what came, with the transport as its own
        streaming producer (reading pauses while the echo backs up), and
        closes when the client stops sending.
        """
        data, chunks = sent
        session = StreamSession(echoStream.buildProtocol(context()))
        session.feed(chunks)
        self.assertEqual(session.output(), data)
        self.assertIs(session.transport.producer, session.transport)
        self.assertTrue(session.transport.streaming)
        self.assertFalse(session.transport.disconnecting)
        session.served.readConnectionLost()
        self.assertTrue(session.transport.disconnecting)
        session.lose()
        self.assertEqual(session.ends, 1)

    @fuzzed(300)
    @given(chunked())
    def test_discard(self, sent: tuple[bytes, list[bytes]]) -> None:
        """
        discard sends nothing and closes when the client stops sending.
        """
        _, chunks = sent
        session = StreamSession(discardStream.buildProtocol(context()))
        session.feed(chunks)
        self.assertEqual((session.output(), session.transport.disconnecting), (b"", False))
        session.served.readConnectionLost()
        self.assertTrue(session.transport.disconnecting)
        session.lose()
        self.assertEqual((session.output(), session.ends), (b"", 1))

    @fuzzed(150)
    @given(
        st.integers(0, 10**6),
        st.lists(st.tuples(st.binary(max_size=200), st.integers(0, 2)), max_size=6),
        st.booleans(),
    )
    def test_chargen(
        self, first: int, exchanges: list[tuple[bytes, int]], halfClosed: bool
    ) -> None:
        """
        chargen sends the line pattern from its first line on, one block
        each time the transport pulls, whatever the client sends and after
        the client stops sending; it stops when told and closes when it can
        write no more.
        """
        generator = CharacterGenerator()
        generator.line = first % 95
        protocol = generator.buildProtocol(context())
        session = StreamSession(protocol)
        producer = session.transport.producer
        assert producer is not None
        self.assertFalse(session.transport.streaming)
        pulls = 0
        for garbage, count in exchanges:
            session.served.dataReceived(garbage)
            for _ in range(count):
                producer.resumeProducing()
            pulls += count
        if halfClosed:
            session.served.readConnectionLost()
            producer.resumeProducing()
            pulls += 1
        output = session.output()
        self.assertEqual(len(output) % (95 * 74), 0)
        self.assertEqual(output, chargenModel(first, len(output)))
        self.assertEqual(len(output) > 0, pulls > 0)
        self.assertFalse(session.transport.disconnecting)
        producer.stopProducing()
        producer.resumeProducing()
        self.assertEqual(session.output(), output)
        session.served.writeConnectionLost()
        self.assertTrue(session.transport.disconnecting)
        session.lose()
        self.assertEqual(session.ends, 1)

    @fuzzed(200)
    @given(st.floats(0, 2**32 - 1, allow_nan=False), chunked(), st.booleans())
    def test_daytimeAndTime(
        self, seconds: float, sent: tuple[bytes, list[bytes]], daytime: bool
    ) -> None:
        """
        daytime and time write their one reply at once and close; what the
        client sends changes nothing.
        """
        clock = Clock()
        clock.advance(seconds)
        service: StreamService = daytimeStream if daytime else timeStream
        session = StreamSession(service.buildProtocol(context(clock)))
        reply = session.output()
        self.assertTrue(session.transport.disconnecting)
        session.feed(sent[1])
        self.assertEqual(session.output(), reply)
        assert service.reply is not None
        self.assertEqual(service.reply(context(clock)), reply)
        if daytime:
            self.assertEqual(reply, daytimeModel(seconds))
        else:
            self.assertEqual(struct.unpack("!I", reply), ((int(seconds) + 2208988800) % 2**32,))
        session.lose()
        self.assertEqual(session.ends, 1)


class DatagramBuiltinFuzzTests(SynchronousTestCase):
    """
    The dgram built-ins with arbitrary datagrams.
    """

    def setUp(self) -> None:
        # chargen's line counter is the daemon's: a fresh one stands in for it.
        self.services = {
            service.name: service.answerDatagram
            for service in BUILTINS
            if service.socketType == DGRAM and service.name != "chargen"
        }
        self.services["chargen"] = CharacterGenerator().answerDatagram
        self.services["sensor"] = SENSORS["dgram"].answerDatagram

    @fuzzed(300)
    @given(
        st.one_of(st.binary(max_size=3000), RUNS.map(lambda run: run * 20)),
        st.integers(0, 65535),
        st.floats(0, 2**32 - 1, allow_nan=False),
    )
    def test_answers(self, datagram: bytes, port: int, seconds: float) -> None:
        """
        Every answer is bounded and what the service defines: echo the
        datagram up to 2048 bytes, discard nothing, chargen 1024 bytes of
        the pattern, daytime one line, time 4 bytes; no source port below
        1024 is ever answered.
        """
        clock = Clock()
        clock.advance(seconds)
        ctx = context(clock)
        answers = {name: answer(datagram, ctx) for name, answer in self.services.items()}
        self.assertEqual(answers["echo"], datagram[:ECHO_DATAGRAM_LIMIT])
        self.assertIsNone(answers["discard"])
        self.assertIsNone(answers["sensor"])
        self.assertEqual(answers["daytime"], daytimeModel(seconds))
        self.assertEqual(answers["time"], struct.pack("!I", (int(seconds) + 2208988800) % 2**32))
        self.assertEqual(len(answers["chargen"] or b""), CHARGEN_DATAGRAM_SIZE)
        for answer in answers.values():
            self.assertLessEqual(len(answer or b""), ECHO_DATAGRAM_LIMIT)
        self.assertEqual(shouldAnswer(port), port >= 1024)

    @fuzzed(100)
    @given(st.lists(st.binary(max_size=100), min_size=1, max_size=20), st.integers(0, 94))
    def test_chargenCounter(self, datagrams: list[bytes], first: int) -> None:
        """
        Each chargen datagram is 13 lines and 60 characters of the pattern,
        and the next one starts 14 lines later, whatever the datagrams hold.
        """
        generator = CharacterGenerator()
        generator.line = first
        for index, datagram in enumerate(datagrams):
            start = first + 14 * index
            expected = chargenModel(start, 13 * 74) + chargenModelLine(start + 13)[:60] + b"\r\n"
            self.assertEqual(generator.answerDatagram(datagram, context()), expected)


# --- servers, services and xadmin ------------------------------------------------


class IntrospectionFuzzTests(SynchronousTestCase):
    """
    The introspection services with arbitrary client input.
    """

    @fuzzed(200)
    @given(chunked(), st.booleans())
    def test_oneShot(self, sent: tuple[bytes, list[bytes]], servers: bool) -> None:
        """
        C{servers} and C{services} write their list at once and close; the
        client's input changes nothing.
        """
        view = FakeView()
        protocol = ServersProtocol(view) if servers else ServicesProtocol(view)
        expected = SERVERS_TEXT if servers else SERVICES_TEXT
        session = StreamSession(protocol)
        session.feed(sent[1])
        self.assertEqual((session.output(), session.transport.disconnecting), (expected, True))
        session.lose()
        self.assertEqual(session.ends, 1)


def xadminModel(data: bytes) -> tuple[bytes, bool]:
    """
    What an xadmin session of L{FakeView} answers to everything C{data}
    holds, and whether
    it ends: a prompt, then per LF-terminated line its answer and a new
    prompt, until a line (or an unfinished one) longer than 256 bytes or
    an ending command.
    """
    answers = {
        "help": HELP_TEXT,
        "show run": RUNNING_TEXT,
        "show avail": AVAILABLE_TEXT,
        "show": b"show what? show run | show avail\n",
    }
    output = [b"> "]
    *lines, rest = data.split(b"\n")
    for line in lines:
        if len(line) > 256:
            return b"".join([*output, b"line too long\n"]), True
        command = " ".join(line.decode("utf-8", "replace").lower().split())
        if command in ("bye", "exit", "quit"):
            return b"".join([*output, b"bye bye\n"]), True
        if command.startswith("show "):
            output.append(answers.get(command, answers["show"]))
        elif command:
            unknown = f"unknown command: {command} (try help)\n".encode()
            output.append(answers.get(command, unknown))
        output.append(b"> ")
    if len(rest) > 256:
        return b"".join([*output, b"line too long\n"]), True
    return b"".join(output), False


def xadminBuffered(protocol: XadminProtocol) -> int:
    """
    How many bytes of an unfinished line an xadmin session holds.
    """
    return len(protocol._buffer)


XADMIN_COMMANDS = st.lists(
    st.one_of(
        st.sampled_from(
            [b"help", b"show run", b"SHOW  Avail", b"show", b"show me", b"", b"bye", b"\tquit "]
        ),
        st.binary(max_size=30),
        RUNS,
    ),
    max_size=12,
).map(lambda lines: b"\n".join(lines))


class XadminFuzzTests(SynchronousTestCase):
    """
    xadmin sessions with arbitrary input in arbitrary pieces.
    """

    @fuzzed(400)
    @given(chunked(st.one_of(NETWORK_BYTES, XADMIN_COMMANDS)), st.booleans())
    def test_session(self, sent: tuple[bytes, list[bytes]], keepSending: bool) -> None:
        """
        The session answers as the model says whatever the pieces; it holds
        at most 256 bytes of an unfinished line; the session is the
        transport's producer until it ends; once it ends, nothing more is
        read or written even if the client goes on sending.
        """
        data, chunks = sent
        view = FakeView()
        protocol = XadminProtocol(view)
        session = StreamSession(protocol)
        self.assertIs(session.transport.producer, protocol)
        self.assertTrue(session.transport.streaming)
        for chunk in chunks:
            if session.transport.disconnecting and not keepSending:
                break
            session.served.dataReceived(chunk)
            self.assertLessEqual(xadminBuffered(protocol), XadminProtocol.MAX_LENGTH)
        expected, ends = xadminModel(data)
        self.assertEqual(session.output(), expected)
        self.assertEqual(session.transport.disconnecting, ends)
        self.assertEqual(session.transport.producer is None, ends)
        session.lose()
        self.assertEqual(session.ends, 1)

    def test_tenMegabyteLine(self) -> None:
        """
        A 10 MB line without a line end, read by read: the session ends at
        the first read with C{line too long} and never holds more than 256
        bytes of it.
        """
        protocol = XadminProtocol(FakeView())
        session = StreamSession(protocol)
        largest = 0
        for _ in range(TEN_MEGABYTES // READ_SIZE):
            session.served.dataReceived(b"A" * READ_SIZE)
            largest = max(largest, xadminBuffered(protocol))
        self.assertEqual(
            (session.output(), session.transport.disconnecting, largest),
            (b"> line too long\n", True, 0),
        )


class XadminFlowControlTests(TestCase):
    """
    xadmin on a real loopback connection with small socket buffers, with
    clients that send commands faster than they read the answers.
    """

    def setUp(self) -> None:
        self.sessions: list[XadminProtocol] = []

        def build() -> XadminProtocol:
            self.sessions.append(XadminProtocol(FakeView()))
            return self.sessions[-1]

        port = reactor.listenTCP(0, Factory.forProtocol(build), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(self.client.close)
        for sock in (port.socket, self.client):
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, SMALL_BUFFER)
        self.client.connect(("127.0.0.1", portNumber(port)))
        self.client.setblocking(False)

    @inlineCallbacks
    def test_floodWithoutReading(self) -> Generator[Deferred[Any], Any, None]:
        """
        The daemon stops reading once the answers back up: the client can
        no longer send, and the daemon buffers at most the answers to one
        read.  (Without flow control, every line sent is read and its
        answer kept: 25 times the client's bytes.)
        """
        lines = b"show avail\n" * 100
        sent = idle = 0
        while sent < FLOOD and idle < 20:
            try:
                sent += self.client.send(lines)
                idle = 0
            except BlockingIOError:
                idle += 1
                yield deferLater(reactor, 0.01, lambda: None)
        transport = cast(Any, self.sessions[0].transport)
        buffered = len(transport.dataBuffer) + transport._tempDataLen
        self.assertEqual((sent < FLOOD, transport.producerPaused), (True, True))
        self.assertLess(buffered, FLOOD // 2)
        transport.abortConnection()
        yield deferLater(reactor, 0.01, lambda: None)

    @inlineCallbacks
    def test_endWhilePaused(self) -> Generator[Deferred[Any], Any, None]:
        """
        C{bye} read together with commands whose answers filled the
        buffers (reading paused): every answer and the farewell arrive,
        then the connection closes.  (A transport still paused by its own
        producer would never close.)
        """
        commands = b"help\n" * 2000 + b"bye\n"
        received = bytearray()
        pending = commands

        def exchange() -> bytes | None:
            nonlocal pending
            if pending:
                with contextlib.suppress(BlockingIOError):
                    pending = pending[self.client.send(pending) :]
            for _ in range(100):
                try:
                    data = self.client.recv(READ_SIZE)
                except BlockingIOError:
                    return None
                if not data:
                    return bytes(received)
                received.extend(data)
            return None

        answers = yield pollUntil(exchange, lambda: f"the end, after {len(received)} bytes")
        self.assertEqual(answers, b"> " + (HELP_TEXT + b"> ") * 2000 + b"bye bye\n")


# --- tcpmux ----------------------------------------------------------------------


#: The tcpmux targets of L{tests.serve.test_tcpmux.CONFIG}, by the name a client
#: sends in lower case: the first TCPMUX or TCPMUXPLUS service of that name
#: in any case, and what the client gets from the multiplexer before the
#: target runs: nothing (a TCPMUXPLUS target's C{+Go} is sent by the caller,
#: after the target's own checks).
TCPMUX_TARGETS = {"alpha": ("alpha", b""), "beta": ("Beta", b""), "echo": ("echo-mux", b"")}

#: The answer to C{HELP} for that configuration: the distinct names of its
#: tcpmux services, in order.
TCPMUX_HELP = b"alpha\r\nBeta\r\nbeta\r\nEcho\r\n"


def tcpmuxModel(data: bytes) -> tuple[str | None, bytes]:
    """
    The id of the target and the reply of a tcpmux connection of
    L{tests.serve.test_tcpmux.CONFIG} whose client sends C{data}: the first line,
    if it ends in CR LF within 1024 bytes and has a name, names a service
    (whose C{+Go} the caller sends after the service's checks), C{HELP} or
    nothing known; anything else gets no
    reply.
    """
    end = data.find(b"\n", 0, MAX_LINE)
    line = data[: end + 1]
    if end < 0 or len(line) <= 2 or not line.endswith(b"\r\n"):
        return None, b""
    name = line[:-2].decode("utf-8", "replace").lower()
    if name in TCPMUX_TARGETS:
        return TCPMUX_TARGETS[name]
    if name == "help":
        return None, TCPMUX_HELP
    return None, NOT_FOUND


def receiveAvailable(sock: socket.socket) -> tuple[bytes, bool]:
    """
    What a socket has received so far, and whether its peer closed.
    """
    received = b""
    for _ in range(1000):
        try:
            data = sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return received, False
        except ConnectionResetError:
            return received, True
        if not data:
            return received, True
        received += data
    raise AssertionError("too much data")


class _Tcpmux:
    """
    One tcpmux connection on a UNIX socket pair, read by L{multiplex}
    under a L{MemoryReactorClock}.
    """

    def __init__(self, services: list[ServiceConfig]) -> None:
        self.reactor = MemoryReactorClock()
        self.client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.connection = PendingConnection(
            self.reactor, server, ("127.0.0.1", 40000), ("127.0.0.1", 1)
        )
        self.result = multiplex(self.reactor, self.connection, services)
        # The name reader, whose line is what it has taken from the socket.
        [self.reader] = self.reactor.readers

    def readable(self) -> None:
        for reader in list(cast(set[IReadDescriptor], self.reactor.readers)):
            reader.doRead()

    def close(self) -> None:
        self.client.close()
        self.connection.close()


class TcpmuxFuzzTests(SynchronousTestCase):
    """
    The tcpmux service-name reader with arbitrary first lines.
    """

    def setUp(self) -> None:
        self.services = list(loadServices(self))

    @fuzzed(300)
    @given(
        chunked(
            st.one_of(
                NETWORK_BYTES,
                st.tuples(
                    st.sampled_from([b"alpha", b"BETA", b"echo", b"Help", b"nosuch", b""]),
                    st.sampled_from([b"\r\n", b"\n", b"\r", b""]),
                    NETWORK_BYTES,
                ).map(b"".join),
            )
        ),
        st.sampled_from(["close", "timeout"]),
    )
    def test_firstLine(self, sent: tuple[bytes, list[bytes]], ending: str) -> None:
        """
        Whatever the pieces, the connection gets the model's target and
        reply; the reader takes at most 1024 bytes, and exactly the line
        when there is a target (the rest stays for it); without a line the
        client closing or the 30 s timeout on the clock ends it; in the
        end nothing is left watching the socket or the clock, and the
        connection is closed unless a target takes it.
        """
        data, chunks = sent
        mux = _Tcpmux(self.services)
        try:
            for chunk in chunks:
                mux.client.sendall(chunk)
                mux.readable()
                self.assertLessEqual(len(mux.reader.line), MAX_LINE)
                if mux.connection.closed:
                    break
            if not mux.result.called:
                self.endWithoutLine(mux, ending)
            target = self.successResultOf(mux.result)
            expectedTarget, expectedReply = tcpmuxModel(data)
            received, closed = receiveAvailable(mux.client)
            targetId = None if target is None else target.id
            self.assertEqual((targetId, received), (expectedTarget, expectedReply))
            self.assertEqual((mux.connection.closed, closed), (target is None, target is None))
            self.assertEqual((mux.reactor.readers, mux.reactor.getDelayedCalls()), (set(), []))
            if target is not None:
                left, _ = receiveAvailable(mux.connection.socket)
                self.assertEqual(mux.reader.line + left, data)
        finally:
            mux.close()

    def endWithoutLine(self, mux: _Tcpmux, ending: str) -> None:
        """
        End a connection whose line has not come: the client closes, or
        the timeout fires on the clock (not a moment before).
        """
        if ending == "close":
            mux.client.shutdown(socket.SHUT_WR)
            mux.readable()
        else:
            mux.reactor.advance(NAME_TIMEOUT - 0.5)
            self.assertNoResult(mux.result)
            mux.reactor.advance(0.5)

    def test_tenMegabyteLine(self) -> None:
        """
        A client that sends 10 MB without a line end: the reader takes
        exactly 1024 bytes, gives up and closes; the rest is never read.
        """
        mux = _Tcpmux(self.services)
        try:
            mux.client.setblocking(False)
            sent = 0
            for _ in range(TEN_MEGABYTES // 4096):
                try:
                    sent += mux.client.send(b"N" * 4096)
                except BlockingIOError:
                    mux.readable()
                except OSError:
                    break
                if mux.connection.closed:
                    break
            mux.readable()
            self.assertIsNone(self.successResultOf(mux.result))
            self.assertEqual(mux.reader.line, b"N" * MAX_LINE)
            self.assertTrue(mux.connection.closed)
            self.assertLess(sent, TEN_MEGABYTES)
        finally:
            mux.close()


# --- ident replies ----------------------------------------------------------------

CLIENT_PORT = 4321
SERVER_PORT = 23
IDENT_TIMEOUT = 30.0

#: Well-formed replies for our ports, with printable ASCII user text.
GOOD_REPLIES = st.tuples(
    st.sampled_from([b"4321,23:USERID:", b" 4321 , 23 : USERID : ", b"4321,\t23 :USERID: "]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80),
    st.sampled_from([b"\r\n", b"\n", b" \r\n"]),
    NETWORK_BYTES,
).map(lambda parts: parts[0] + parts[1].encode() + parts[2] + parts[3])

IDENT_REPLIES = st.one_of(
    NETWORK_BYTES,
    GOOD_REPLIES,
    st.builds(operator.add, st.just(b"4321, 23 : "), NETWORK_BYTES),
)


class _IdentLookup:
    """
    One lookup of L{queryIdent} on a L{MemoryReactorClock}, connected to a
    L{StringTransport}.
    """

    def __init__(self) -> None:
        self.clock = MemoryReactorClock()
        self.result = queryIdent(
            self.clock, "127.0.0.1", "127.0.0.5", CLIENT_PORT, SERVER_PORT, IDENT_TIMEOUT
        )
        self.factory = self.clock.tcpClients[0][2]
        self.protocol = cast(Protocol, self.factory.buildProtocol(None))
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def buffered(self) -> int:
        return len(cast(Any, self.protocol)._buffer)

    def lose(self) -> None:
        """
        The connection ends, as the reactor reports it.
        """
        self.factory.clientConnectionLost(self.clock.connectors[0], Failure(error.ConnectionDone()))


def identModel(data: bytes) -> IdentResult | None:
    """
    The result of a reply, from its first line within 1024 bytes; L{None}
    when it does not settle the lookup.
    """
    end = data.find(b"\n", 0, MAX_REPLY)
    if end >= 0:
        match = data[:end].strip().split(b":", 2)
        if len(match) == 3 and match[1].strip() == b"USERID":
            ports = match[0].split(b",")
            text = match[2].strip()
            if (
                len(ports) == 2
                and all(p.strip().isdigit() and len(p.strip()) <= 5 for p in ports)
                and (int(ports[0]), int(ports[1])) == (CLIENT_PORT, SERVER_PORT)
                and text
            ):
                return UserId(text.decode("utf-8", "replace"))
        return NoId(NoIdReason.BAD_RESPONSE)
    if len(data) >= MAX_REPLY:
        return NoId(NoIdReason.BAD_RESPONSE)
    return None


class IdentFuzzTests(SynchronousTestCase):
    """
    ident replies of any shape, in any pieces.
    """

    def assertLoggable(self, text: str | None) -> None:
        """
        Text from an ident server as it may reach a log: bounded, no
        control character.
        """
        if text is not None:
            self.assertLessEqual(len(text), MAX_TEXT)
            self.assertFalse(any(isControl(c) for c in text), repr(text))

    @fuzzed(400)
    @given(chunked(IDENT_REPLIES), st.sampled_from(["lost", "timeout"]))
    def test_reply(self, sent: tuple[bytes, list[bytes]], ending: str) -> None:
        """
        A lookup settles on the first line (or 1024 bytes without one) and
        closes, whatever comes after; it holds at most 1024 bytes; without
        a line it ends when the server closes or on the clock after the
        timeout.  The result is a L{UserId} for a well-formed reply for our
        ports, else a L{NoId}, its text bounded and free of control
        characters; the lookup's failure never escapes.
        """
        data, chunks = sent
        lookup = _IdentLookup()
        for chunk in chunks:
            lookup.protocol.dataReceived(chunk)
            self.assertLessEqual(lookup.buffered(), MAX_REPLY)
        expected = identModel(data)
        self.assertEqual(lookup.transport.disconnecting, expected is not None)
        if expected is None:
            expected = self.endUnsettled(lookup, ending)
        else:
            self.assertNoResult(lookup.result)
            lookup.lose()
        result = self.successResultOf(lookup.result)
        self.assertEqual(type(result), type(expected))
        if isinstance(result, UserId):
            assert isinstance(expected, UserId)
            self.assertLoggable(result.text)
            if all(0x20 < b < 0x7F for b in expected.text.encode()):
                self.assertEqual(result, expected)
        else:
            assert isinstance(expected, NoId)
            self.assertEqual(result.reason, expected.reason)
            self.assertLoggable(result.badLine)
        self.assertEqual(lookup.clock.getDelayedCalls(), [])

    def endUnsettled(self, lookup: _IdentLookup, ending: str) -> NoId:
        """
        End a lookup that has no reply line: the server closes, or the
        timeout fires on the clock (not a moment before) and closes.
        """
        if ending == "timeout":
            lookup.clock.advance(IDENT_TIMEOUT - 0.5)
            self.assertFalse(lookup.transport.disconnecting)
            lookup.clock.advance(0.5)
            self.assertTrue(lookup.transport.disconnecting)
        self.assertNoResult(lookup.result)
        lookup.lose()
        return NoId(NoIdReason.TIMEOUT if ending == "timeout" else NoIdReason.RECEIVE_ERROR)

    def test_tenMegabyteLine(self) -> None:
        """
        10 MB without a line end, read by read: a bad response after the
        first 1024 bytes, the connection closed, never more than 1024 bytes
        held.
        """
        lookup = _IdentLookup()
        largest = 0
        for _ in range(TEN_MEGABYTES // READ_SIZE):
            lookup.protocol.dataReceived(b"\x00\xff" * (READ_SIZE // 2))
            largest = max(largest, lookup.buffered())
        self.assertEqual((lookup.transport.disconnecting, largest), (True, 0))
        lookup.lose()
        result = self.successResultOf(lookup.result)
        assert isinstance(result, NoId)
        self.assertEqual(result.reason, NoIdReason.BAD_RESPONSE)
        self.assertEqual(result.badLine, "?" * MAX_TEXT)

    def test_manyLines(self) -> None:
        """
        Only the first of many lines counts; a thousand forged ones after
        it change nothing.
        """
        lookup = _IdentLookup()
        first = b"%d , %d : USERID : UNIX : alice\r\n" % (CLIENT_PORT, SERVER_PORT)
        forged = b"%d , %d : USERID : UNIX : root\r\n" % (CLIENT_PORT, SERVER_PORT)
        lookup.protocol.dataReceived(first + forged * 1000)
        lookup.protocol.dataReceived(forged)
        lookup.lose()
        self.assertEqual(self.successResultOf(lookup.result), UserId("UNIX : alice"))
