# -*- test-case-name: tests.core.test_addressentries -*-
"""
Tests for L{txinetd.core.addressentries}: every form of an C{only_from} or
C{no_access} token.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.addressentries import (
    AccessParseError,
    AddressEntry,
    DomainEntry,
    HostNameEntry,
    NetworkEntry,
    ParseResult,
    inetAton,
    inetNetwork,
    parseAddressToken,
)
from txinetd.core.addresses import clientAddress
from txinetd.core.addresslists import AddressList, Specificity

_HOSTS = {
    "localhost": ["127.0.0.1", "::1"],
    "trusted.example.com": ["192.0.2.7"],
    "v6only.example.com": ["2001:db8::7"],
}


class FakeResolver:
    """
    A forward resolver over a fixed table that records its queries.
    """

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = _HOSTS if table is None else table
        self.queries: list[str] = []

    def __call__(self, name: str) -> Sequence[str]:
        self.queries.append(name)
        return self.table.get(name, [])


_NETWORKS = {"loopback": 127, "campus": 0x808A, "lab": 0x0A0102, "link-local": 0xA9FE0000}


def parse(token: str, resolver: FakeResolver | None = None) -> ParseResult:
    return parseAddressToken(token, resolver or FakeResolver(), _NETWORKS)


def entries(*tokens: str) -> list[AddressEntry]:
    return [entry for token in tokens for entry in parse(token).entries]


def addressList(*tokens: str) -> AddressList:
    return AddressList(entries(*tokens))


def v4(text: str, prefixLength: int) -> NetworkEntry:
    return NetworkEntry(4, int(ipaddress.IPv4Address(text)), prefixLength)


def v6(text: str, prefixLength: int) -> NetworkEntry:
    return NetworkEntry(6, int(ipaddress.IPv6Address(text)), prefixLength)


def best(addresses: AddressList, client: str, name: str | None = None) -> Specificity | None:
    return addresses.bestMatch(clientAddress(client), name)


class InetAtonTests(SynchronousTestCase):
    """
    L{inetAton} reads IPv4 addresses the way the C library does.
    """

    def test_forms(self) -> None:
        """
        Short forms pack the last part into the remaining bytes; parts may be
        hexadecimal or octal.
        """
        cases = {
            "127.0.0.1": 0x7F000001,
            "127.2": 0x7F000002,
            "10.1": 0x0A000001,
            "10.1.2": 0x0A010002,
            "0": 0,
            "16909060": 0x01020304,
            "0x7f000001": 0x7F000001,
            "0X7F.1": 0x7F000001,
            "010.0.0.1": 0x08000001,
            "127.0xffffff": 0x7FFFFFFF,
        }
        self.assertEqual({text: inetAton(text) for text in cases}, cases)

    def test_invalid(self) -> None:
        """
        Out-of-range parts, empty parts, bad digits and more than four parts
        are not addresses.
        """
        for text in [
            "",
            "256.0.0.1",
            "1.2.3.256",
            "1.2.65536",
            "1..2",
            "1.2.3.",
            ".1",
            "08",
            "0x",
            "1.2.3.4.5",
            "4294967296",
            "a.b.c.d",
            "+1",
            "1 ",
        ]:
            self.assertIsNone(inetAton(text), text)

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet="0123456789abcdefxX.", max_size=18))
    def test_agreesWithLibc(self, text: str) -> None:
        """
        On text without white space, L{inetAton} agrees with the C library.
        """
        try:
            expected: int | None = int.from_bytes(socket.inet_aton(text), "big")
        except OSError:
            expected = None
        self.assertEqual(inetAton(text), expected)

    def test_inetNetwork(self) -> None:
        """
        L{inetNetwork} packs parts from the right and limits each to a byte.
        """
        self.assertEqual(
            [inetNetwork(t) for t in ["127", "169.254", "169.254.0.0", "0x7f", "256", "1..2"]],
            [127, 0xA9FE, 0xA9FE0000, 127, None, None],
        )


class ParseAddressTokenTests(SynchronousTestCase):
    """
    L{parseAddressToken} understands every form of xinetd's address lists.
    """

    def assertEntries(self, token: str, expected: Iterable[AddressEntry]) -> None:
        self.assertEqual(parse(token), ParseResult(tuple(expected)))

    def assertError(self, token: str, message: str) -> None:
        error = self.assertRaises(AccessParseError, parse, token)
        self.assertEqual(error.message, message)

    def test_ipv4TrailingZeros(self) -> None:
        """
        Trailing zero octets of a plain IPv4 address are wildcards.
        """
        self.assertEntries("128.138.12.0", [v4("128.138.12.0", 24)])
        self.assertEntries("10.0.1.0", [v4("10.0.1.0", 24)])
        self.assertEntries("10.1.0.0", [v4("10.1.0.0", 16)])
        self.assertEntries("10.0.0.0", [v4("10.0.0.0", 8)])
        self.assertEntries("10.0.0.1", [v4("10.0.0.1", 32)])
        self.assertEntries("0.1.0.0", [v4("0.1.0.0", 16)])

    def test_ipv4Zero(self) -> None:
        """
        C{0.0.0.0} and C{0} are every IPv4 address.
        """
        self.assertEntries("0.0.0.0", [v4("0.0.0.0", 0)])
        self.assertEntries("0", [v4("0.0.0.0", 0)])

    def test_ipv4ShortForms(self) -> None:
        """
        C library short forms are single hosts, not networks.
        """
        self.assertEntries("127.2", [v4("127.0.0.2", 32)])
        self.assertEntries("10.1", [v4("10.0.0.1", 32)])
        self.assertEntries("0x7f000001", [v4("127.0.0.1", 32)])
        self.assertEntries("012.0.0.0", [v4("10.0.0.0", 8)])

    def test_ipv6Exact(self) -> None:
        """
        An IPv6 address is that address alone, with no trailing-zero rule;
        C{::} is the unspecified address.
        """
        self.assertEntries("::1", [v6("::1", 128)])
        self.assertEntries("2001:db8::", [v6("2001:db8::", 128)])
        self.assertEntries("::", [v6("::", 128)])

    def test_cidr(self) -> None:
        """
        C{address/prefix} is a network of that prefix, host bits cleared; an
        IPv6 C{/128} is a host; a prefix beyond the family's size means all
        bits.
        """
        self.assertEntries("127.0.0.0/30", [v4("127.0.0.0", 30)])
        self.assertEntries("10.0.0.1/8", [v4("10.0.0.0", 8)])
        self.assertEntries("1.2.3.4/32", [v4("1.2.3.4", 32)])
        self.assertEntries("0.0.0.0/0", [v4("0.0.0.0", 0)])
        self.assertEntries("1.2.3.4/40", [v4("1.2.3.4", 32)])
        self.assertEntries("127.1/32", [v4("127.0.0.1", 32)])
        self.assertEntries("2001:db8::/32", [v6("2001:db8::", 32)])
        self.assertEntries("::1/128", [v6("::1", 128)])
        self.assertEntries("::/0", [v6("::", 0)])
        self.assertEntries("::1/200", [v6("::1", 128)])

    def test_badCidr(self) -> None:
        """
        A prefix that is not a decimal number, or an address that is not
        numeric, fails to parse.
        """
        for token in ["10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/-1", "/8", "host/24", "1.2.3.4/8/9"]:
            self.assertEqual(parse(token), ParseResult((), (f"failed to parse {token}",)))

    def test_factorized(self) -> None:
        """
        One entry per braced number, the mask covering the octets given.
        """
        self.assertEntries("128.138.{193,254}", [v4("128.138.193.0", 24), v4("128.138.254.0", 24)])
        self.assertEntries("127.0.0.{2,5}", [v4("127.0.0.2", 32), v4("127.0.0.5", 32)])
        self.assertEntries("{10,11}", [v4("10.0.0.0", 8), v4("11.0.0.0", 8)])
        self.assertEntries("10.{0}", [v4("10.0.0.0", 16)])

    def test_factorizedErrors(self) -> None:
        """
        Malformed factorized addresses make the attribute invalid.
        """
        self.assertError("128..138.{1,2}", "Bad address: 128..138.{1,2}. Consecutive dots")
        self.assertError(".1.{2}", "Bad address: .1.{2}. Consecutive dots")
        self.assertError("1..2", "Bad address: 1..2. Consecutive dots")
        self.assertError("1.{2,,3}", "Bad address: 1.{2,,3}. Consecutive commas")
        self.assertError("1.{,3}", "Bad address: 1.{,3}. Consecutive commas")
        self.assertError("1.{3,}", "Bad address: 1.{3,}. Consecutive commas")
        self.assertError("1.{}", "Bad address: 1.{}. Consecutive commas")
        self.assertError("1.{2}.3", "Bad address: 1.{2}.3")
        self.assertError("1.{2", "Bad address: 1.{2")
        self.assertError("1.{a}", "Bad address: 1.{a}")
        self.assertError("1.2.3.4.{5}", "Bad address: 1.2.3.4.{5}")
        self.assertError("128.138{1}", "Bad address: 128.138{1}")
        self.assertError("1.{256}", "Bad address: 1.{256}")
        self.assertError("300.{1}", "Bad address: 300.{1}")

    def test_factorizedNotThisForm(self) -> None:
        """
        A brace after something other than digits and dots is no address.
        """
        self.assertEqual(parse("a.{1}"), ParseResult((), ("failed to parse a.{1}",)))

    def test_comma(self) -> None:
        """
        A comma outside braces makes the attribute invalid.
        """
        self.assertError(
            "10.0.0.1,10.0.0.2", "Address: 10.0.0.1,10.0.0.2 has a comma in it - remove the comma"
        )

    def test_hostName(self) -> None:
        """
        A host name that resolves is kept, in lower case; the resolver is
        asked only about names.
        """
        resolver = FakeResolver()
        self.assertEqual(parse("localhost", resolver).entries, (HostNameEntry("localhost"),))
        self.assertEqual(
            parse(
                "Trusted.Example.COM", FakeResolver({"Trusted.Example.COM": ["1.2.3.4"]})
            ).entries,
            (HostNameEntry("trusted.example.com"),),
        )
        for token in ["10.0.0.1", "::1", "10.0.0.0/8", "1.{2}", ".example.com"]:
            parse(token, resolver)
        self.assertEqual(resolver.queries, ["localhost"])

    def test_unresolvedHostName(self) -> None:
        """
        A name that does not resolve is dropped with an error message.
        """
        self.assertEqual(
            parse("nosuch.example"), ParseResult((), ("failed to parse nosuch.example",))
        )

    def test_domain(self) -> None:
        """
        A leading dot makes a domain, unless the token is only digits and
        dots.
        """
        resolver = FakeResolver()
        self.assertEntries(".Example.COM", [DomainEntry(".example.com")])
        self.assertEqual(parse(".example.com", resolver).entries, (DomainEntry(".example.com"),))
        self.assertEqual(resolver.queries, [])
        self.assertError(".10", "Bad address: .10. Consecutive dots")

    def test_networkName(self) -> None:
        """
        Network names take a class-like mask from the size of their number.
        """
        self.assertEntries("loopback", [v4("127.0.0.0", 8)])
        self.assertEntries("CAMPUS", [v4("128.138.0.0", 16)])
        self.assertEntries("lab", [v4("10.1.2.0", 24)])
        self.assertEntries("link-local", [v4("169.254.0.0", 32)])

    def test_hostNameBeforeNetworkName(self) -> None:
        """
        A token that is both a host and a network name is a host name.
        """
        resolver = FakeResolver({"loopback": ["127.0.0.1"]})
        self.assertEqual(parse("loopback", resolver).entries, (HostNameEntry("loopback"),))

    def test_nothing(self) -> None:
        """
        An empty token stands for nothing and says nothing.
        """
        self.assertEqual(parse(""), ParseResult(()))

    def test_removableByEquality(self) -> None:
        """
        Entries are hashable values: the same network written two ways is
        one entry, so C{-=} can remove equal entries.
        """
        self.assertEqual(
            set(entries("10.0.0.1/8", "10.0.0.0", "10.{0}")),
            {v4("10.0.0.0", 8), v4("10.0.0.0", 16)},
        )
        resolver = FakeResolver({"LOCALHOST": ["127.0.0.1"], "localhost": ["127.0.0.1"]})
        self.assertEqual(parse("LOCALHOST", resolver), parse("localhost", resolver))
