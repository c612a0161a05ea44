"""
Tests for L{txinetd.core.proxyprotocol}: the headers txinetd sends, and
what it believes of a header's addresses.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.proxyprotocol import ProxiedAddresses, ProxyVersion, formatHeader


class FormatTests(SynchronousTestCase):
    def test_version1(self) -> None:
        """
        The specification's examples.
        """
        self.assertEqual(
            formatHeader(ProxyVersion.V1, (("192.168.0.1", 56324), ("192.168.0.11", 443))),
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        )
        self.assertEqual(
            formatHeader(ProxyVersion.V1, (("2001:db8::1", 1), ("::1", 2))),
            b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n",
        )
        self.assertEqual(formatHeader(ProxyVersion.V1, None), b"PROXY UNKNOWN\r\n")

    def test_version2(self) -> None:
        """
        Signature, version 2 PROXY command, family and length, then the
        addresses and ports in network order; C{LOCAL} without addresses.
        """
        signature = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"
        self.assertEqual(
            formatHeader(ProxyVersion.V2, (("10.0.0.1", 258), ("10.0.0.2", 80))),
            signature + b"\x21\x11\x00\x0c\x0a\x00\x00\x01\x0a\x00\x00\x02\x01\x02\x00\x50",
        )
        self.assertEqual(formatHeader(ProxyVersion.V2, None), signature + b"\x20\x00\x00\x00")
        mixed = formatHeader(ProxyVersion.V2, (("10.0.0.1", 1), ("::1", 2)))
        self.assertEqual(mixed[12:16], b"\x21\x21\x00\x24")
        self.assertEqual(mixed[16:32], bytes(10) + b"\xff\xff\x0a\x00\x00\x01")


class AddressesTests(SynchronousTestCase):
    def test_normalised(self) -> None:
        self.assertEqual(
            ProxiedAddresses.of(("::ffff:10.0.0.1", 1), ("::ffff:10.0.0.2", 2)),
            ProxiedAddresses(("10.0.0.1", 1), ("10.0.0.2", 2)),
        )

    def test_refused(self) -> None:
        for source, destination in [
            (("10.0.0.1", 1), ("::1", 2)),
            (("fe80::1%eth0", 1), ("fe80::2", 2)),
            (("10.0.0.1", 65536), ("10.0.0.2", 2)),
            (("10.0.0.1", -1), ("10.0.0.2", 2)),
            (("host", 1), ("10.0.0.2", 2)),
        ]:
            with self.subTest(source=source):
                self.assertRaises(ValueError, ProxiedAddresses.of, source, destination)
