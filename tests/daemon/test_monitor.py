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
from txinetd.daemon.monitor import MAX_CONNECTIONS, MonitorService


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

    def test_bounded(self) -> None:
        """
        Past L{MAX_CONNECTIONS} at once, connections are refused.
        """
        factory = self.factory()
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        for _ in range(MAX_CONNECTIONS):
            protocol = factory.buildProtocol(address)
            protocol.makeConnection(StringTransport())
        self.assertIsNone(factory.buildProtocol(address))

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
