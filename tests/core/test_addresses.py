# -*- test-case-name: tests.core.test_addresses -*-
"""
Tests for L{txinetd.core.addresses}: IPv4 clients of dual-stack sockets are
shown and matched as IPv4.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.addresses import NO_ADDRESS, addressOf, clientAddress, normaliseHost


class NormaliseHostTests(SynchronousTestCase):
    """
    L{normaliseHost} shows an IPv4-mapped address as the IPv4 address it is.
    """

    def test_mapped(self) -> None:
        """
        The kernel's spelling of a mapped address, and any other one.
        """
        self.assertEqual(normaliseHost("::ffff:127.0.0.1"), "127.0.0.1")
        self.assertEqual(normaliseHost("::FFFF:192.0.2.1"), "192.0.2.1")
        self.assertEqual(normaliseHost("::ffff:c000:201"), "192.0.2.1")

    def test_unchanged(self) -> None:
        """
        Anything else is shown as given, even what is no address.
        """
        self.assertEqual(
            [
                normaliseHost(host)
                for host in ("::1", "127.0.0.1", "2001:db8::ffff:1", "ffff", "not an address")
            ],
            ["::1", "127.0.0.1", "2001:db8::ffff:1", "ffff", "not an address"],
        )


class AddressOfTests(SynchronousTestCase):
    """
    L{addressOf} gives the normalised (host, port) of a socket address.
    """

    def test_ipv4(self) -> None:
        self.assertEqual(addressOf(("192.0.2.1", 7)), ("192.0.2.1", 7))

    def test_mapped(self) -> None:
        self.assertEqual(addressOf(("::ffff:10.1.2.3", 80, 0, 0)), ("10.1.2.3", 80))

    def test_ipv6(self) -> None:
        self.assertEqual(addressOf(("2001:db8::1", 80, 0, 0)), ("2001:db8::1", 80))

    def test_unix(self) -> None:
        """
        A UNIX socket's address (a path, or the empty string) has no host.
        """
        self.assertIsNone(addressOf("/run/echo.sock"))
        self.assertIsNone(addressOf(""))


class ClientAddressTests(SynchronousTestCase):
    """
    L{clientAddress} parses a client's address, unmapping a mapped one.
    """

    def test_mapped(self) -> None:
        self.assertEqual(clientAddress("::ffff:192.0.2.1"), IPv4Address("192.0.2.1"))
        self.assertEqual(clientAddress(IPv6Address("::ffff:192.0.2.1")), IPv4Address("192.0.2.1"))

    def test_plain(self) -> None:
        self.assertEqual(clientAddress("192.0.2.1"), IPv4Address("192.0.2.1"))
        self.assertEqual(clientAddress("2001:db8::1"), IPv6Address("2001:db8::1"))

    def test_notAnAddress(self) -> None:
        self.assertRaises(ValueError, clientAddress, "host.example.com")

    def test_noAddress(self) -> None:
        """
        What is shown for a client without an address.
        """
        self.assertEqual(NO_ADDRESS, "<no address>")
