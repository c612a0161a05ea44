# -*- test-case-name: tests.core.test_addresslists -*-
"""
Tests for L{txinetd.core.addresslists}: matching a client against a list,
at a cost that does not grow with the list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Container, Iterable
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.core.test_addressentries import (
    addressList,
    best,
)
from tests.fakes import addresses
from txinetd.core.access import explainAddress
from txinetd.core.addressentries import (
    AddressEntry,
    DomainEntry,
    HostNameEntry,
    NetworkEntry,
)
from txinetd.core.addresses import clientAddress
from txinetd.core.addresslists import AddressList, MatchKind, Specificity, describeEntry
from txinetd.core.sensor import SensorList

_T = TypeVar("_T")


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
