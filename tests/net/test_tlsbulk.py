# -*- test-case-name: tests.net.test_tlsbulk -*-
"""
Tests for L{txinetd.net.tlsbulk}: large writes behind TLS arrive whole, in
OpenSSL's usual records, with far fewer rounds of Python.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.protocol import ClientFactory, Protocol, ServerFactory
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import Authority
from txinetd.core.endpoint import TLSSettings
from txinetd.net.tls import serverOptions
from txinetd.net.tlsbulk import RECORD, WRITE_CHUNK, BulkTLSProtocol

#: Three and a half chunks of bytes that are not all alike.
PAYLOAD = bytes(range(251)) * ((WRITE_CHUNK * 7 // 2) // 251)


class Sender(Protocol):
    """
    Writes L{PAYLOAD} in one write once connected, then closes.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(PAYLOAD)
        self.transport.loseConnection()


class Collector(Protocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)


class CountingTransport(FakeTransport):
    """
    Counts the writes the TLS protocol makes.
    """

    writes = 0

    def write(self, data: Any) -> None:
        self.writes += 1
        super().write(data)


class BulkTLSProtocolTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        authority = Authority(directory)
        issued = authority.server("server", "localhost")
        self.options = serverOptions(TLSSettings(issued.certificate, issued.key))
        with open(authority.path, "rb") as f:
            self.trust = Certificate.loadPEM(f.read())

    def transfer(self, protocolType: type[TLSMemoryBIOProtocol]) -> tuple[bytes, int]:
        """
        Send L{PAYLOAD} from a server of C{protocolType} to a TLS client in
        memory.

        @return: what the client received, and how many writes the server
            made to its transport.
        """
        server = protocolType(
            TLSMemoryBIOFactory(self.options, False, ServerFactory.forProtocol(Sender)),
            Sender(),
        )
        collector = Collector()
        client = TLSMemoryBIOProtocol(
            TLSMemoryBIOFactory(
                optionsForClientTLS("localhost", self.trust),
                True,
                ClientFactory.forProtocol(Protocol),
            ),
            collector,
        )
        serverTransport = CountingTransport(server, isServer=True)
        connect(server, serverTransport, client, FakeTransport(client, isServer=False))
        return b"".join(collector.received), serverTransport.writes

    def test_whole(self) -> None:
        """
        Every byte of a write several chunks long arrives, in order.
        """
        received, _ = self.transfer(BulkTLSProtocol)
        self.assertEqual(received, PAYLOAD)

    def test_fewerWrites(self) -> None:
        """
        The records of a chunk go to the transport together: far fewer
        writes than Twisted's protocol makes (one for every 16 KiB record).
        """
        received, bulk = self.transfer(BulkTLSProtocol)
        plain, usual = self.transfer(TLSMemoryBIOProtocol)
        self.assertEqual((received, plain), (PAYLOAD, PAYLOAD))
        self.assertGreaterEqual(usual, len(PAYLOAD) // RECORD)
        self.assertLess(bulk, usual // 4)
