# -*- test-case-name: tests.daemon.test_monitor -*-
"""
Tests for L{txinetd.daemon.monitor}: the endpoint's HTTP answers, driven
by a L{MemoryReactorClock} and a L{StringTransport} (no socket).
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from tests.daemon.test_metrics import CONFIG, NOW, FakeTree
from tests.fakes import ConfigFiles, fakeShared
from txinetd.core.dump import ServiceState
from txinetd.core.events import Failed, FailReason, Level, Reloaded, ReloadResult
from txinetd.daemon.metrics import SessionTally
from txinetd.daemon.monitor import (
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT,
    MonitorService,
)


class SendBuffer(StringTransport):
    """
    A transport with a send buffer: past C{size} bytes to send it pauses
    its producer, until L{drain} has sent them (as Twisted's transports
    do).
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.full = False

    def write(self, data: bytes) -> None:
        super().write(data)
        self.filled()

    def writeSequence(self, data: Any) -> None:
        super().writeSequence(data)
        self.filled()

    def filled(self) -> None:
        if not self.full and len(self.value()) > self.size and self.producer is not None:
            self.full = True
            self.producer.pauseProducing()

    def drain(self) -> bytes:
        """
        Send what there is to send; then resume the producer.
        """
        sent = self.value()
        self.clear()
        if self.full and self.producer is not None:
            self.full = False
            self.producer.resumeProducing()
        return bytes(sent)


class MonitorTests(SynchronousTestCase):
    def setUp(self) -> None:
        files = ConfigFiles(self)
        files.write("xinetd.conf", CONFIG)
        config = files.load()
        self.reactor = MemoryReactorClock()
        self.reactor.advance(NOW)
        daytime, relay = config.services
        tree = FakeTree(
            config,
            fakeShared(self.reactor),
            [
                ServiceState(daytime, "Active", 0, ("127.0.0.1", 10013)),
                ServiceState(relay, "Active", 0, None),
            ],
        )
        self.tally = SessionTally()
        self.said: list[tuple[Level, str]] = []
        self.monitor = MonitorService(
            self.reactor,
            "tcp:9101:interface=127.0.0.1",
            self.tally,
            say=lambda level, text: self.said.append((level, text)),
        )
        self.monitor.watch(tree)
        self.monitor.privilegedStartService()
        self.monitor.startService()
        self.addCleanup(self.monitor.stopService)

    def factory(self) -> Any:
        (listening,) = self.reactor.tcpServers
        port, factory, _, interface = listening
        self.assertEqual((port, interface), (9101, "127.0.0.1"))
        return factory

    def request(self, text: bytes) -> bytes:
        protocol = self.factory().buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(text)
        return bytes(transport.value())

    def test_metrics(self) -> None:
        """
        C{GET /metrics} answers the Prometheus text format, or OpenMetrics
        when asked for it.
        """
        self.tally(Failed("daytime", FailReason.LIBWRAP, "192.0.2.1", NOW))
        answer = self.request(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertIn(b"content-type: text/plain; version=0.0.4", head.lower())
        self.assertIn(b'txinetd_refused_total{reason="libwrap",service="daytime"} 1.0', body)
        self.assertIn(b"process_open_fds ", body)
        openMetrics = self.request(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text\r\n\r\n"
        )
        self.assertIn(b"application/openmetrics-text", openMetrics.lower())
        self.assertTrue(openMetrics.rstrip().endswith(b"# EOF"), openMetrics[-40:])

    def test_status(self) -> None:
        answer = self.request(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertIn(b"application/json", head)
        document = json.loads(body)
        self.assertEqual([s["id"] for s in document["services"]], ["daytime", "relay", "echo"])

    def test_errors(self) -> None:
        """
        Another method is 405, another path 404; requests are not logged.
        """
        notAllowed = self.request(
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        )
        self.assertTrue(notAllowed.startswith(b"HTTP/1.1 405 "), notAllowed)
        missing = self.request(b"GET /secret HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(missing.startswith(b"HTTP/1.1 404 "), missing)

    def connect(self, transport: StringTransport | None = None) -> tuple[Any, StringTransport]:
        """
        A connection to the endpoint, on C{transport} or a new one.
        """
        transport = StringTransport() if transport is None else transport
        protocol = self.factory().buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        protocol.makeConnection(transport)
        return protocol, transport

    def test_bounded(self) -> None:
        """
        Past L{MAX_CONNECTIONS} at once, a new connection closes (aborts)
        the one that has waited longest for a request: not the oldest, if
        it has been answered since; another one for the next connection.
        """
        connections = []
        for _ in range(MAX_CONNECTIONS):
            connections.append(self.connect())
            self.reactor.advance(0.1)
        first, firstTransport = connections[0]
        first.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(firstTransport.value().startswith(b"HTTP/1.1 200 "))
        self.assertEqual([t.disconnecting for _, t in connections], [False] * MAX_CONNECTIONS)

        newest, newestTransport = self.connect()
        self.assertIsNotNone(newest)
        newest.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(newestTransport.value().startswith(b"HTTP/1.1 200 "))
        closed = [i for i, (_, t) in enumerate(connections) if t.disconnecting]
        self.assertEqual(closed, [1])
        self.assertTrue(connections[1][1].disconnected)  # aborted
        self.assertIsNotNone(self.connect()[0])
        closed = [i for i, (_, t) in enumerate(connections) if t.disconnecting]
        self.assertEqual(closed, [1, 2])

    def test_requestTimeout(self) -> None:
        """
        A request that has not arrived whole L{REQUEST_TIMEOUT} seconds
        after its first byte closes its connection, though each header
        line came well within the idle timeout.
        """
        protocol, transport = self.connect()
        self.reactor.advance(IDLE_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(b"GET /metrics HTTP/1.1\r\n")
        for _ in range(REQUEST_TIMEOUT - 1):
            self.reactor.advance(1)
            protocol.dataReceived(b"X: y\r\n")
        self.assertFalse(transport.disconnecting)
        self.reactor.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_keepAlive(self) -> None:
        """
        A connection between requests waits for the next one as long as
        the idle timeout allows, the request timeout notwithstanding; a
        request that arrives whole within the request timeout is answered.
        """
        protocol, transport = self.connect()
        for _ in range(3):
            protocol.dataReceived(b"GET / HTTP/1.1\r\n")
            self.reactor.advance(REQUEST_TIMEOUT - 1)
            protocol.dataReceived(b"Host: x\r\n\r\n")
            self.assertEqual(transport.value().count(b"HTTP/1.1 200 "), 1)
            transport.clear()
            self.reactor.advance(IDLE_TIMEOUT - 1)
            self.assertFalse(transport.disconnecting)
        self.reactor.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_pipelinedNotRead(self) -> None:
        """
        When a client sends requests without reading the answers, the
        endpoint stops reading them and answering those it has read once
        its transport has more than its buffer to send (it pauses its
        producer): what waits to be sent is at most that buffer and one
        answer.  It answers the rest as the client reads, and reads again.
        """
        request = b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
        transport = SendBuffer(8192)
        protocol, _ = self.connect(transport)
        protocol.dataReceived(request * 1000)
        answers = transport.value().count(b"HTTP/1.1 200 ")
        self.assertGreater(answers, 0)
        size = len(transport.value()) // answers
        self.assertLessEqual(len(transport.value()), 8192 + size)
        self.assertEqual(transport.producerState, "paused")

        protocol.dataReceived(request * 1000)  # (what a read in progress brings)
        self.assertEqual(transport.value().count(b"HTTP/1.1 200 "), answers)
        total = 0
        for _ in range(2000):
            sent = transport.drain()
            total += sent.count(b"HTTP/1.1 200 ")
            self.assertLessEqual(len(transport.value()), 8192 + size)
            if total == 2000:
                break
        self.assertEqual(total + transport.value().count(b"HTTP/1.1 200 "), 2000)
        self.assertEqual(transport.producerState, "producing")
        self.assertFalse(transport.disconnecting)

    def test_notReadClosed(self) -> None:
        """
        A connection not read from because its client reads no answer is
        closed as idle, and aborted if its answers still cannot be sent.
        """
        transport = SendBuffer(8192)
        protocol, _ = self.connect(transport)
        protocol.dataReceived(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n" * 1000)
        self.assertEqual(transport.producerState, "paused")
        self.reactor.advance(IDLE_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        self.reactor.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        self.reactor.advance(15)
        self.assertTrue(transport.disconnected)

    def test_listening(self) -> None:
        """
        It says where it listens; a reconfiguration does not listen again
        while it does.
        """
        # (The memory reactor's port says it listens on 0.0.0.0.)
        ((level, text),) = self.said
        self.assertEqual(level, Level.NOTICE)
        self.assertRegex(text, r"^Serving /metrics and /status on \S+ port 9101$")
        self.monitor(Reloaded(ReloadResult.APPLIED, NOW))
        self.assertEqual(len(self.reactor.tcpServers), 1)
