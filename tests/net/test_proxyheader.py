"""
Tests for L{txinetd.net.proxyheader}: the header read off a real socket,
never past its end, bounded in size and time.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.proxyprotocol import V2_SIGNATURE, ProxiedAddresses, ProxyVersion, formatHeader
from txinetd.net.proxyheader import (
    V1_MAX,
    V2_MAX,
    ProxyHeaderError,
    headerLength,
    parseHeader,
    readProxyHeader,
)

BOTH = frozenset(ProxyVersion)
CLIENT = (("192.0.2.7", 40000), ("198.51.100.1", 443))


class _Reactor(Clock):
    """
    A clock that keeps the readers added to it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.readers: set[Any] = set()

    def addReader(self, reader: Any) -> None:
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        self.readers.discard(reader)


class ReadTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = _Reactor()
        self.ours, self.theirs = socket.socketpair()
        self.addCleanup(self.ours.close)
        self.addCleanup(self.theirs.close)

    def read(self, versions: frozenset[ProxyVersion] = BOTH, timeout: float = 5) -> Any:
        reading = readProxyHeader(self.reactor, self.ours, versions, timeout)  # type: ignore[arg-type]
        results: list[Any] = []
        reading.addBoth(results.append)
        return reading, results

    def ready(self) -> None:
        for reader in list(self.reactor.readers):
            reader.doRead()

    def test_headerThenData(self) -> None:
        """
        Each version's header is read and what follows it stays in the
        socket, byte for byte, even when it came in the same segment.
        """
        for version in ProxyVersion:
            with self.subTest(version=version):
                _, results = self.read()
                self.theirs.sendall(formatHeader(version, CLIENT) + b"PROXY hello\r\n")
                self.ready()
                self.assertEqual(results, [ProxiedAddresses(*CLIENT)])
                self.assertEqual(self.reactor.readers, set())
                self.assertEqual(self.ours.recv(100), b"PROXY hello\r\n")

    def test_byteByByte(self) -> None:
        """
        A header that arrives a byte at a time is read as it comes, and
        never a byte more.
        """
        for version in ProxyVersion:
            with self.subTest(version=version):
                _, results = self.read()
                for byte in formatHeader(version, CLIENT):
                    self.assertEqual(results, [])
                    self.theirs.sendall(bytes([byte]))
                    self.ready()
                self.theirs.sendall(b"after")
                self.assertEqual(results, [ProxiedAddresses(*CLIENT)])
                self.assertEqual(self.ours.recv(100), b"after")

    def refused(self, data: bytes, versions: frozenset[ProxyVersion] = BOTH) -> str:
        # A refused connection is closed: each case on a connection of its own.
        self.ours, self.theirs = socket.socketpair()
        self.addCleanup(self.ours.close)
        self.addCleanup(self.theirs.close)
        _, results = self.read(versions)
        self.theirs.sendall(data)
        self.ready()
        self.assertEqual(len(results), 1, results)
        self.assertIsInstance(results[0].value, ProxyHeaderError)
        self.assertEqual(self.reactor.readers, set())
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        return str(results[0].value)

    def test_garbage(self) -> None:
        """
        Bytes that start no header are refused at the first of them.
        """
        self.assertEqual(self.refused(b"GET / HTTP/1.0\r\n"), "no PROXY header")
        self.assertEqual(self.refused(b"\r\n\r\n\x00\r\nQUIX"), "no PROXY header")

    def test_versionNotAccepted(self) -> None:
        self.assertEqual(
            self.refused(formatHeader(ProxyVersion.V1, CLIENT), frozenset({ProxyVersion.V2})),
            "a version 1 header, which is not accepted",
        )

    def test_tooLong(self) -> None:
        """
        A version 1 line is at most 107 bytes; a version 2 header at most
        L{V2_MAX}: the read stops there.
        """
        self.assertIn("longer than 107", self.refused(b"PROXY " + b"1" * (V1_MAX - 6)))
        long = V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x11, V2_MAX)
        self.assertIn("a version 2 header of", self.refused(long))

    def test_endBeforeHeader(self) -> None:
        _, results = self.read()
        self.theirs.sendall(b"PROXY TCP4")
        self.theirs.close()
        self.ready()
        self.ready()
        self.assertEqual(str(results[0].value), "the connection ended before the header")

    def test_timeout(self) -> None:
        """
        A header not whole within the timeout is refused and the read
        stopped; so is a cancelled read.
        """
        _, results = self.read(timeout=3)
        self.theirs.sendall(b"PROXY TCP4 ")
        self.ready()
        self.reactor.advance(2.9)
        self.assertEqual(results, [])
        self.reactor.advance(0.2)
        self.assertEqual(str(results[0].value), "no whole header in time")
        self.assertEqual(self.reactor.readers, set())
        reading, results = self.read()
        reading.cancel()
        self.assertEqual(self.reactor.readers, set())
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class ParseTests(SynchronousTestCase):
    def test_noClient(self) -> None:
        """
        C{LOCAL}, C{UNKNOWN} and UNIX addresses name no client.
        """
        self.assertIsNone(parseHeader(b"PROXY UNKNOWN\r\n"))
        self.assertIsNone(parseHeader(b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"))
        self.assertIsNone(parseHeader(formatHeader(ProxyVersion.V2, None)))
        unix = V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x31, 216) + b"/a".ljust(216, b"\0")
        self.assertIsNone(parseHeader(unix))

    def test_bad(self) -> None:
        """
        Headers Twisted's parser would let through, or chokes on, are
        refused.
        """
        cases = [
            b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1_0 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP6 fe80::1%\x1b[31m ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.\xff 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 example.com 5.6.7.8 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            # Datagrams, and an unknown command.
            V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x12, 12) + bytes(12),
            V2_SIGNATURE + struct.pack("!BBH", 0x22, 0x11, 12) + bytes(12),
            # Too short for its addresses.
            V2_SIGNATURE + struct.pack("!BBH", 0x21, 0x11, 4) + bytes(4),
        ]
        for header in cases:
            with self.subTest(header=header):
                self.assertRaises(ProxyHeaderError, parseHeader, header)

    def test_length(self) -> None:
        self.assertIsNone(headerLength(b"PROXY TCP4 1", BOTH))
        self.assertEqual(headerLength(b"PROXY UNKNOWN\r\nmore", BOTH), 15)
        self.assertIsNone(headerLength(V2_SIGNATURE, BOTH))
        self.assertRaises(ProxyHeaderError, headerLength, b"PROXY x\nabc", BOTH)
