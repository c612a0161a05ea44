# -*- test-case-name: tests.core.test_access -*-
"""
Tests for L{txinetd.core.access}.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Container, Iterable, Sequence
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import addresses
from txinetd.core.access import (
    AccessDecision,
    AccessParseError,
    AddressEntry,
    AddressList,
    DomainEntry,
    HostNameEntry,
    MatchKind,
    NetworkEntry,
    ParseResult,
    SensorList,
    Specificity,
    TimeInterval,
    TimeIntervals,
    decide,
    describeEntry,
    explainAddress,
    inetAton,
    inetNetwork,
    parseAccessTimes,
    parseAddressToken,
    parseTimeInterval,
)
from txinetd.core.addresses import clientAddress
from txinetd.core.events import Level, ProgramMessage

_T = TypeVar("_T")

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


class AddressListMatchTests(SynchronousTestCase):
    """
    L{AddressList.bestMatch} finds the most specific entry matching a client.
    """

    def test_ipv4(self) -> None:
        """
        IPv4 entries match IPv4 clients by prefix, never IPv6 clients.
        """
        addresses = addressList("10.0.0.0", "192.168.1.0/24", "127.2")
        self.assertEqual(best(addresses, "10.200.3.4"), Specificity(MatchKind.NETWORK, 8))
        self.assertEqual(best(addresses, "192.168.1.77"), Specificity(MatchKind.NETWORK, 24))
        self.assertEqual(best(addresses, "127.0.0.2"), Specificity(MatchKind.HOST))
        self.assertIsNone(best(addresses, "11.0.0.1"))
        self.assertIsNone(best(addresses, "::a00:1"))

    def test_everyIPv4(self) -> None:
        """
        C{0.0.0.0} matches IPv4 and IPv4-mapped clients but not IPv6 ones.
        """
        addresses = addressList("0.0.0.0")
        self.assertEqual(best(addresses, "203.0.113.9"), Specificity(MatchKind.NETWORK, 0))
        self.assertEqual(best(addresses, "::ffff:203.0.113.9"), Specificity(MatchKind.NETWORK, 0))
        self.assertIsNone(best(addresses, "2001:db8::1"))

    def test_ipv6(self) -> None:
        """
        IPv6 exact entries and prefixes; C{/128} works; C{::} only matches
        itself.
        """
        addresses = addressList("2001:db8::5", "2001:db8:1::/48", "::1/128", "::")
        self.assertEqual(best(addresses, "2001:db8::5"), Specificity(MatchKind.HOST))
        self.assertIsNone(best(addresses, "2001:db8::6"))
        self.assertEqual(best(addresses, "2001:db8:1:2::3"), Specificity(MatchKind.NETWORK, 48))
        self.assertEqual(best(addresses, "::1"), Specificity(MatchKind.HOST))
        self.assertIsNone(best(addresses, "::2"))

    def test_everything(self) -> None:
        """
        C{::/0} matches every client, IPv4 included.
        """
        addresses = addressList("::/0")
        for client in ["::1", "2001:db8::1", "127.0.0.1", "::ffff:10.0.0.1"]:
            self.assertEqual(best(addresses, client), Specificity(MatchKind.NETWORK, 0))

    def test_mappedEntries(self) -> None:
        """
        IPv4-mapped IPv6 entries match the IPv4 clients they map, with the
        specificity of the IPv4 bits they fix.
        """
        addresses = addressList("::ffff:10.0.0.1", "::ffff:192.168.0.0/112")
        self.assertEqual(best(addresses, "10.0.0.1"), Specificity(MatchKind.HOST))
        self.assertEqual(best(addresses, "192.168.4.4"), Specificity(MatchKind.NETWORK, 16))
        self.assertIsNone(best(addresses, "10.0.0.2"))

    def test_mostSpecificNumeric(self) -> None:
        """
        The longest matching prefix is reported, whichever family wrote it.
        """
        addresses = addressList("10.0.0.0/8", "10.1.0.0/16", "::ffff:10.1.2.0/120")
        self.assertEqual(best(addresses, "10.1.2.3"), Specificity(MatchKind.NETWORK, 24))
        self.assertEqual(best(addresses, "10.1.3.3"), Specificity(MatchKind.NETWORK, 16))
        self.assertEqual(best(addresses, "10.2.3.3"), Specificity(MatchKind.NETWORK, 8))

    def test_hostName(self) -> None:
        """
        A host name entry matches the client's reverse name exactly and
        case-insensitively, never its address.
        """
        addresses = addressList("trusted.example.com")
        self.assertTrue(addresses.needsReverseName)
        self.assertEqual(
            best(addresses, "198.51.100.1", "TRUSTED.example.com."), Specificity(MatchKind.HOST)
        )
        self.assertIsNone(best(addresses, "192.0.2.7", None))
        self.assertIsNone(best(addresses, "192.0.2.7", "x.trusted.example.com"))
        self.assertIsNone(best(addresses, "192.0.2.7", "trusted.example"))

    def test_domain(self) -> None:
        """
        A domain matches names that end with it, the longest suffix being
        the most specific; the bare domain does not match.
        """
        addresses = addressList(".example.com", ".lab.example.com")
        self.assertEqual(
            best(addresses, "192.0.2.1", "www.Example.com"), Specificity(MatchKind.DOMAIN, 2)
        )
        self.assertEqual(
            best(addresses, "192.0.2.1", "a.b.lab.example.com"), Specificity(MatchKind.DOMAIN, 3)
        )
        self.assertIsNone(best(addresses, "192.0.2.1", "example.com"))
        self.assertIsNone(best(addresses, "192.0.2.1", "badexample.com"))
        self.assertIsNone(best(addresses, "192.0.2.1", None))

    def test_repeatedSuffix(self) -> None:
        """
        A name that contains the domain twice still ends with it.
        """
        addresses = addressList(".example.com")
        self.assertEqual(
            best(addresses, "192.0.2.1", "example.com.example.com"),
            Specificity(MatchKind.DOMAIN, 2),
        )

    def test_specificityOrder(self) -> None:
        """
        A host beats a network, which beats a domain; longer prefixes and
        longer domains rank higher.
        """
        ranks = [
            Specificity(MatchKind.DOMAIN, 1),
            Specificity(MatchKind.DOMAIN, 4),
            Specificity(MatchKind.NETWORK, 0),
            Specificity(MatchKind.NETWORK, 24),
            Specificity(MatchKind.HOST),
        ]
        self.assertEqual(sorted(reversed(ranks)), ranks)

    def test_kindsTogether(self) -> None:
        """
        With several kinds of entries, the most specific kind is reported.
        """
        addresses = addressList(".example.com", "192.0.2.0/24", "localhost")
        self.assertEqual(best(addresses, "192.0.2.1", "localhost"), Specificity(MatchKind.HOST))
        self.assertEqual(
            best(addresses, "192.0.2.1", "www.example.com"), Specificity(MatchKind.NETWORK, 24)
        )
        self.assertEqual(
            best(addresses, "198.51.100.1", "www.example.com"), Specificity(MatchKind.DOMAIN, 2)
        )

    def test_needsReverseName(self) -> None:
        """
        Only lists with names or domains need the client's reverse name.
        """
        self.assertFalse(addressList("10.0.0.0", "::1", "loopback").needsReverseName)
        self.assertTrue(addressList("10.0.0.0", ".example.com").needsReverseName)

    def test_equality(self) -> None:
        """
        Lists with the same entries are equal and hash alike, whatever the
        order.
        """
        self.assertEqual(addressList("10.0.0.0", "::1"), addressList("::1", "10.0.0.0"))
        self.assertEqual(hash(addressList("10.0.0.0", "::1")), hash(addressList("::1", "10.0.0.0")))
        self.assertNotEqual(addressList("10.0.0.0"), addressList("10.0.0.1"))

    @settings(max_examples=300, deadline=None)
    @given(
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
        st.integers(0, 2**32 - 1),
    )
    def test_ipv4AgreesWithIpaddress(self, network: int, prefixLength: int, client: int) -> None:
        """
        An IPv4 CIDR entry matches exactly the addresses C{ipaddress} puts
        in the network.
        """
        net = ipaddress.IPv4Network((network, prefixLength), strict=False)
        addresses = addressList(f"{net.network_address}/{prefixLength}")
        for address in (ipaddress.IPv4Address(client), net.network_address, net.broadcast_address):
            found = addresses.bestMatch(address, None)
            self.assertEqual(found is not None, address in net)

    @settings(max_examples=300, deadline=None)
    @given(
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
        st.integers(0, 2**128 - 1),
    )
    def test_ipv6AgreesWithIpaddress(self, network: int, prefixLength: int, client: int) -> None:
        """
        An IPv6 CIDR entry matches exactly the addresses C{ipaddress} puts
        in the network.
        """
        net = ipaddress.IPv6Network((network, prefixLength), strict=False)
        addresses = addressList(f"{net.network_address}/{prefixLength}")
        for address in (ipaddress.IPv6Address(client), net.network_address, net.broadcast_address):
            if address.ipv4_mapped is None:
                found = addresses.bestMatch(address, None)
                self.assertEqual(found is not None, address in net)


class CountingSet(Container[_T]):
    """
    A set that counts membership probes.
    """

    probes = 0

    def __init__(self, keys: Iterable[_T]) -> None:
        self.keys = frozenset(keys)

    def __contains__(self, key: object) -> bool:
        CountingSet.probes += 1
        return key in self.keys


class CountingAddressList(AddressList):
    """
    An L{AddressList} whose sets count their probes.
    """

    def _table(self, keys: Iterable[_T]) -> Container[_T]:
        return CountingSet(keys)


class LookupCostTests(SynchronousTestCase):
    """
    The cost of a lookup does not grow with the number of entries.
    """

    def probes(self, addresses: AddressList, client: str, name: str | None) -> int:
        CountingSet.probes = 0
        addresses.bestMatch(clientAddress(client), name)
        return CountingSet.probes

    def test_hosts(self) -> None:
        """
        10 000 IPv4 and IPv6 hosts cost the same probes as one of each.
        """
        many = [NetworkEntry(4, 0x0A000000 + i, 32) for i in range(10_000)]
        many += [NetworkEntry(6, 0x20010DB8 << 96 | i, 128) for i in range(10_000)]
        large = CountingAddressList(many)
        small = CountingAddressList([many[9999], many[10_005]])
        for client in ["10.0.39.15", "10.200.0.1", "2001:db8::5", "2001:db9::"]:
            self.assertEqual(
                self.probes(large, client, None), self.probes(small, client, None), client
            )
        self.assertEqual(self.probes(large, "10.200.0.1", None), 2)

    def test_manyPrefixLengths(self) -> None:
        """
        Whatever the entries, a lookup probes at most one set per prefix
        length present.
        """
        many = []
        for index in range(10_000):
            length = index % 33
            network = ipaddress.IPv4Network(((index * 2654435761) % 2**32, length), strict=False)
            many.append(NetworkEntry(4, int(network.network_address), length))
        client = ipaddress.IPv4Address("203.0.113.7")
        longestFirst = sorted({entry.prefixLength for entry in many}, reverse=True)
        expected = 1 + next(
            index
            for index, length in enumerate(longestFirst)
            if any(
                entry.prefixLength == length
                and client in ipaddress.IPv4Network((entry.network, length))
                for entry in many
            )
        )
        self.assertEqual(len(longestFirst), 33)
        self.assertEqual(self.probes(CountingAddressList(many), str(client), None), expected)

    def test_names(self) -> None:
        """
        10 000 host names and domains cost the same probes as one of each.
        """
        many: list[AddressEntry] = [HostNameEntry(f"host{i}.example.com") for i in range(10_000)]
        many += [DomainEntry(f".sub{i}.example.org") for i in range(10_000)]
        large = CountingAddressList(many)
        small = CountingAddressList([many[5000], DomainEntry(".sub77.example.org")])
        for name in ["host5000.example.com", "www.sub77.example.org", "a.b.c.example.net"]:
            self.assertEqual(
                self.probes(large, "192.0.2.1", name), self.probes(small, "192.0.2.1", name), name
            )
        self.assertEqual(self.probes(large, "192.0.2.1", "a.b.c.example.net"), 1 + 4)


class DecideTests(SynchronousTestCase):
    """
    L{decide} applies txinetd's rules: the more specific list wins.
    """

    def decide(
        self,
        onlyFrom: Sequence[str] | None,
        noAccess: Sequence[str] | None,
        client: str | None,
        name: str | None = None,
        sensor: SensorList | None = None,
    ) -> AccessDecision:
        return decide(
            "svc",
            client,
            name,
            None if onlyFrom is None else addressList(*onlyFrom),
            None if noAccess is None else addressList(*noAccess),
            sensor,
            1000.0,
        )

    def assertAllowed(self, decision: AccessDecision) -> None:
        self.assertEqual(decision, AccessDecision(True))

    def assertDenied(self, decision: AccessDecision) -> None:
        self.assertEqual(decision, AccessDecision(False))

    def test_noLists(self) -> None:
        """
        Without lists everyone is allowed.
        """
        self.assertAllowed(self.decide(None, None, "203.0.113.1"))

    def test_noAddress(self) -> None:
        """
        A connection without a peer address is allowed, even with lists.
        """
        self.assertAllowed(self.decide([], ["0.0.0.0"], None))

    def test_emptyOnlyFrom(self) -> None:
        """
        An empty C{only_from} denies everyone.
        """
        self.assertDenied(self.decide([], None, "127.0.0.1"))
        self.assertDenied(self.decide(["nosuch.example"], None, "127.0.0.1"))

    def test_onlyFrom(self) -> None:
        """
        With C{only_from} alone, matching clients are allowed, others not.
        """
        self.assertAllowed(self.decide(["127.0.0.0/8"], None, "127.0.0.5"))
        self.assertDenied(self.decide(["127.0.0.0/8"], None, "10.0.0.5"))

    def test_noAccess(self) -> None:
        """
        With C{no_access} alone, matching clients are denied, others allowed.
        """
        self.assertDenied(self.decide(None, ["127.0.0.5"], "127.0.0.5"))
        self.assertAllowed(self.decide(None, ["127.0.0.5"], "127.0.0.6"))
        self.assertAllowed(self.decide(None, [], "127.0.0.6"))

    def test_hostBeatsNetwork(self) -> None:
        """
        A host in C{only_from} inside a network in C{no_access} is allowed,
        the rest of the network is not.
        """
        self.assertAllowed(self.decide(["127.0.0.2"], ["127.0.0.0"], "127.0.0.2"))
        self.assertDenied(self.decide(["127.0.0.2"], ["127.0.0.0"], "127.0.0.3"))
        self.assertDenied(self.decide(["127.0.0.0/8"], ["::ffff:127.0.0.9"], "127.0.0.9"))

    def test_longerPrefixWins(self) -> None:
        """
        Between two networks, the longer prefix wins.
        """
        onlyFrom, noAccess = ["10.0.0.0/8"], ["10.1.0.0/16"]
        self.assertDenied(self.decide(onlyFrom, noAccess, "10.1.2.3"))
        self.assertAllowed(self.decide(onlyFrom, noAccess, "10.2.2.3"))
        self.assertAllowed(self.decide(["10.1.2.0/24"], noAccess, "10.1.2.3"))

    def test_networkBeatsDomain(self) -> None:
        """
        A network beats a domain, in either list.
        """
        self.assertAllowed(
            self.decide(["192.0.2.0/24"], [".example.com"], "192.0.2.1", "a.example.com")
        )
        self.assertDenied(
            self.decide([".example.com"], ["192.0.2.0/24"], "192.0.2.1", "a.example.com")
        )

    def test_hostNameBeatsNetwork(self) -> None:
        """
        A host name is a host: it beats a network.
        """
        self.assertAllowed(self.decide(["localhost"], ["127.0.0.0/8"], "127.0.0.1", "localhost"))
        self.assertDenied(self.decide(["127.0.0.0/8"], ["localhost"], "127.0.0.1", "LocalHost"))

    def test_longerDomainWins(self) -> None:
        """
        Between two domains, the longer one wins.
        """
        self.assertDenied(
            self.decide([".example.com"], [".lab.example.com"], "192.0.2.1", "x.lab.example.com")
        )
        self.assertAllowed(
            self.decide([".example.com"], [".lab.example.com"], "192.0.2.1", "x.www.example.com")
        )

    def test_equalDenies(self) -> None:
        """
        Equally specific matches deny and say so in the program log.
        """
        message = ProgramMessage(
            Level.ERROR,
            "Service=svc: only_from list and no_access list match equally the address 127.0.0.1",
        )
        self.assertEqual(
            self.decide(["127.0.0.0/8"], ["127.0.0.0"], "::ffff:127.0.0.1"),
            AccessDecision(False, message),
        )
        self.assertEqual(
            self.decide(["127.0.0.1"], ["localhost"], "127.0.0.1", "localhost"),
            AccessDecision(False, message),
        )
        self.assertEqual(
            self.decide(["0.0.0.0"], ["::/0"], "127.0.0.1"),
            AccessDecision(False, message),
        )

    def test_ipv6(self) -> None:
        """
        IPv6 clients are matched by IPv6 entries only.
        """
        self.assertAllowed(self.decide(["::1/128"], None, "::1"))
        self.assertDenied(self.decide(["0.0.0.0"], None, "::1"))
        self.assertDenied(self.decide(["::/0"], ["::1"], "::1"))
        self.assertAllowed(self.decide(["::/0"], ["::1"], "::2"))

    def test_sensorFirst(self) -> None:
        """
        A client on the SENSOR list is denied, even without lists or with an
        C{only_from} that allows it.
        """
        sensor = SensorList()
        sensor.add("127.0.0.9", 900.0, 10)
        self.assertDenied(self.decide(None, None, "127.0.0.9", sensor=sensor))
        self.assertDenied(self.decide(["127.0.0.9"], None, "::ffff:127.0.0.9", sensor=sensor))
        self.assertAllowed(self.decide(None, None, "127.0.0.8", sensor=sensor))


class AccessTimesTests(SynchronousTestCase):
    """
    C{access_times} intervals.
    """

    def assertError(self, text: str, message: str) -> None:
        error = self.assertRaises(AccessParseError, parseTimeInterval, text)
        self.assertEqual(error.message, message)

    def test_parse(self) -> None:
        """
        C{H:MM-H:MM} is an interval in minutes since midnight.
        """
        self.assertEqual(parseTimeInterval("2:30-4:15"), TimeInterval(150, 255))
        self.assertEqual(parseTimeInterval("00:00-23:59"), TimeInterval(0, 1439))
        self.assertEqual(parseTimeInterval("  8:00-17:00"), TimeInterval(480, 1020))
        self.assertEqual(parseTimeInterval(":30-1:"), TimeInterval(30, 60))

    def test_errors(self) -> None:
        """
        Bad syntax, values out of range and empty or reversed intervals are
        errors, worded as xinetd words them.
        """
        self.assertError("12:00-24:00", "invalid time interval")
        self.assertError("8:60-9:00", "invalid time interval")
        self.assertError("9:00-8:00", "invalid time interval: 9:00-8:00")
        self.assertError("9:00-9:00", "invalid time interval: 9:00-9:00")
        self.assertError("22:00-02:00", "invalid time interval: 22:00-02:00")
        self.assertError("8-9", "incorrect time interval")
        self.assertError("8:00", "incorrect time interval")
        self.assertError("8:00-9:00x", "incorrect time interval")
        self.assertError("8h00-9:00", "incorrect time interval")
        self.assertError("", "incorrect time interval")

    def test_contains(self) -> None:
        """
        Bounds are included, at minute resolution; several intervals are
        OR-ed.
        """
        intervals = parseAccessTimes(["8:00-12:00", "13:30-17:00"])
        self.assertEqual(
            [
                intervals.contains(h, m)
                for h, m in [
                    (7, 59),
                    (8, 0),
                    (12, 0),
                    (12, 1),
                    (13, 29),
                    (13, 30),
                    (17, 0),
                    (17, 1),
                ]
            ],
            [False, True, True, False, False, True, True, False],
        )

    def test_always(self) -> None:
        """
        No intervals means always.
        """
        self.assertTrue(TimeIntervals().contains(3, 33))

    def test_noValues(self) -> None:
        """
        The attribute needs at least one value.
        """
        error = self.assertRaises(AccessParseError, parseAccessTimes, [])
        self.assertEqual(
            error.message, "attribute access_times expects at least 1 value and none was given."
        )


class SensorListTests(SynchronousTestCase):
    """
    L{SensorList}, the global deny list.
    """

    def test_addAndExpire(self) -> None:
        """
        A client is listed for C{deny_time} minutes and then expires.
        """
        sensor = SensorList()
        self.assertEqual(
            sensor.add("192.0.2.1", 1000.0, 2),
            ProgramMessage(
                Level.CRITICAL, "Adding 192.0.2.1 to the global_no_access list for 2 minutes"
            ),
        )
        self.assertTrue(sensor.contains("192.0.2.1", 1119.9))
        self.assertFalse(sensor.contains("192.0.2.1", 1120.0))
        self.assertFalse(sensor.contains("192.0.2.2", 1000.0))
        self.assertEqual(sensor.expire(1119.0).removed, ())
        expiry = sensor.expire(1120.0)
        self.assertEqual(expiry.removed, ("192.0.2.1",))
        self.assertEqual(
            expiry.messages,
            (
                ProgramMessage(
                    Level.INFO, "At least 1 DENY_TIME has expired, global_no_access list updated"
                ),
                ProgramMessage(Level.INFO, "global_no_access list is empty."),
            ),
        )
        self.assertEqual(len(sensor), 0)

    def test_partialExpiry(self) -> None:
        """
        While entries remain, expiry does not say the list is empty.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, 1)
        sensor.add("192.0.2.2", 0.0, 5)
        expiry = sensor.expire(60.0)
        self.assertEqual(expiry.removed, ("192.0.2.1",))
        self.assertEqual(len(expiry.messages), 1)
        self.assertEqual(len(sensor), 1)

    def test_forever(self) -> None:
        """
        C{FOREVER} (L{None} or negative) never expires, and is logged as -1
        minutes.
        """
        sensor = SensorList()
        self.assertEqual(
            sensor.add("2001:db8::1", 0.0, None),
            ProgramMessage(
                Level.CRITICAL, "Adding 2001:db8::1 to the global_no_access list for -1 minutes"
            ),
        )
        sensor.add("192.0.2.3", 0.0, -1)
        self.assertEqual(sensor.expire(1e12).removed, ())
        self.assertTrue(sensor.contains("2001:db8::1", 1e12))
        self.assertTrue(sensor.contains("192.0.2.3", 1e12))

    def test_never(self) -> None:
        """
        C{NEVER} (0) lists nothing and says nothing.
        """
        sensor = SensorList()
        self.assertIsNone(sensor.add("192.0.2.1", 0.0, 0))
        self.assertFalse(sensor.contains("192.0.2.1", 0.0))
        self.assertEqual(len(sensor), 0)

    def test_repeatedHitsExtend(self) -> None:
        """
        A repeated hit extends the expiry, silently; it never shortens it.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, 10)
        self.assertIsNone(sensor.add("192.0.2.1", 300.0, 10))
        self.assertTrue(sensor.contains("192.0.2.1", 899.0))
        self.assertFalse(sensor.contains("192.0.2.1", 900.0))
        sensor.add("192.0.2.1", 310.0, 1)
        self.assertTrue(sensor.contains("192.0.2.1", 899.0))
        sensor.add("192.0.2.1", 320.0, None)
        self.assertTrue(sensor.contains("192.0.2.1", 1e9))
        sensor.add("192.0.2.1", 330.0, 1)
        self.assertTrue(sensor.contains("192.0.2.1", 1e9))

    def test_expiredEntryListedAgain(self) -> None:
        """
        A hit after expiry but before the scan lists the client afresh.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, 1)
        message = sensor.add("192.0.2.1", 100.0, 1)
        self.assertEqual(message and message.level, Level.CRITICAL)
        self.assertTrue(sensor.contains("192.0.2.1", 159.0))
        self.assertEqual(len(sensor), 1)

    def test_mapped(self) -> None:
        """
        IPv4-mapped addresses are stored and looked up as IPv4.
        """
        sensor = SensorList()
        message = sensor.add("::ffff:192.0.2.1", 0.0, 1)
        self.assertEqual(
            message and message.text, "Adding 192.0.2.1 to the global_no_access list for 1 minutes"
        )
        self.assertTrue(sensor.contains("192.0.2.1", 1.0))
        self.assertFalse(sensor.contains("192.0.2.0", 1.0))

    def test_maximum(self) -> None:
        """
        Past the maximum, new clients are not listed; listed ones still
        extend.
        """
        sensor = SensorList()
        for index in range(SensorList.maximum):
            sensor.add(ipaddress.IPv4Address(0x0A000000 + index), 0.0, 5)
        self.assertEqual(
            sensor.add("192.0.2.1", 0.0, 5),
            ProgramMessage(Level.ERROR, "Maximum global_no_access count reached."),
        )
        self.assertFalse(sensor.contains("192.0.2.1", 0.0))
        self.assertIsNone(sensor.add("10.0.0.0", 100.0, 5))
        self.assertTrue(sensor.contains("10.0.0.0", 350.0))
        self.assertEqual(len(sensor), SensorList.maximum)


def _networkEntries() -> st.SearchStrategy[AddressEntry]:
    four = st.builds(
        lambda value, length: NetworkEntry(4, value & ((1 << 32) - (1 << (32 - length))), length),
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    )
    six = st.builds(
        lambda value, length: NetworkEntry(6, value & ((1 << 128) - (1 << (128 - length))), length),
        st.one_of(
            st.integers(0, 2**128 - 1),
            st.integers(0, 2**32 - 1).map(lambda v: (0xFFFF << 32) | v),
        ),
        st.integers(0, 128),
    )
    names = st.sampled_from(
        [HostNameEntry("a.example.com"), DomainEntry(".example.com"), DomainEntry(".com")]
    )
    return st.one_of(four, six, names)


_CLIENTS = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    st.sampled_from(["192.0.2.1", "10.1.2.3", "::1", "2001:db8::1"]).map(ipaddress.ip_address),
)


class MatchingEntryTests(SynchronousTestCase):
    """
    L{AddressList.matchingEntry} and L{describeEntry}: the entry a refusal
    names.
    """

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(_networkEntries(), max_size=6),
        _CLIENTS,
        st.sampled_from([None, "a.example.com", "b.example.com"]),
    )
    def test_agreesWithBestMatch(
        self, entries: list[AddressEntry], client: ipaddress.IPv4Address, name: str | None
    ) -> None:
        """
        The entry found is one of the list that, alone, matches the client
        as well as the whole list does; none is found when nothing matches.
        """
        lists = AddressList(entries)
        best = lists.bestMatch(client, name)
        found = lists.matchingEntry(client, name)
        if best is None:
            self.assertIsNone(found)
        else:
            assert found is not None
            self.assertIn(found, entries)
            self.assertEqual(AddressList([found]).bestMatch(client, name), best)

    def test_described(self) -> None:
        entries = addresses("10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1", ".example.org")
        entries = (*entries[:4], HostNameEntry("trusted.example.com"), entries[4])
        self.assertEqual(
            [describeEntry(entry) for entry in entries],
            [
                "10.0.0.0/8",
                "192.0.2.7",
                "2001:db8::/32",
                "::1",
                "trusted.example.com",
                ".example.org",
            ],
        )

    def test_explainAddress(self) -> None:
        """
        L{explainAddress} names what refused: the SENSOR list first.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, None)
        self.assertEqual(
            explainAddress("::ffff:192.0.2.1", None, None, None, sensor, 1.0),
            "192.0.2.1 is on the SENSOR list",
        )
