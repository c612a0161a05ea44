# -*- test-case-name: tests.core.test_addresslists -*-
"""
A compiled C{only_from} or C{no_access} list, and how precisely it matches
a client.

At connection time a look-up is a few set probes whose number does not
depend on the length of the list.  Client addresses are always plain IPv4
(C{a.b.c.d}) or real IPv6: an IPv4-mapped IPv6 address (C{::ffff:a.b.c.d})
is unmapped by L{txinetd.core.addresses.clientAddress} before anything
else looks at it.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeAlias, TypeVar

from txinetd.core.addressentries import (
    IPV4_BITS,
    IPV6_BITS,
    AddressEntry,
    DomainEntry,
    HostNameEntry,
    NetworkEntry,
    normaliseName,
    prefixMask,
)
from txinetd.core.addresses import IPAddress

__all__ = ["AddressList", "MatchKind", "Specificity", "describeEntry"]

_T = TypeVar("_T")

_MAPPED_PREFIX = 0xFFFF << 32
_MAPPED_BITS = 96


class MatchKind(IntEnum):
    """
    How precisely an entry names a client, least precise first.
    """

    DOMAIN = 1
    NETWORK = 2
    HOST = 3


@dataclass(frozen=True, order=True)
class Specificity:
    """
    The rank of a matching entry; a greater one is more specific.

    @ivar kind: domain, network or host.
    @ivar length: the number of labels of a domain, the number of address
        bits a network fixes (counted in the client's family), 0 for hosts.
    """

    kind: MatchKind
    length: int = 0


_HOST = Specificity(MatchKind.HOST)


_Prefixes: TypeAlias = tuple[tuple[int, int, Container[int]], ...]


class AddressList:
    """
    A compiled C{only_from} or C{no_access} list.

    Numeric entries are kept as one set of networks per prefix length
    present, so a lookup probes at most 33 IPv4 and 129 IPv6 sets, longest
    prefix first; host names are one set and domains one set probed with
    each suffix of the client's name.  The cost of a lookup does not grow
    with the number of entries.

    @ivar entries: the entries, as given.
    @ivar needsReverseName: whether any entry is a host name or a domain,
        so that a lookup needs the client's reverse name.
    """

    def __init__(self, entries: Iterable[AddressEntry]) -> None:
        self.entries = tuple(entries)
        networks = [entry for entry in self.entries if isinstance(entry, NetworkEntry)]
        self._ipv4 = self._prefixes(networks, 4)
        self._ipv6 = self._prefixes(networks, 6)
        self._hostNames = self._table(
            entry.name for entry in self.entries if isinstance(entry, HostNameEntry)
        )
        self._domains = self._table(
            entry.suffix for entry in self.entries if isinstance(entry, DomainEntry)
        )
        self.needsReverseName = any(not isinstance(entry, NetworkEntry) for entry in self.entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AddressList):
            return NotImplemented
        return frozenset(self.entries) == frozenset(other.entries)

    def __hash__(self) -> int:
        return hash(frozenset(self.entries))

    def __repr__(self) -> str:
        return f"AddressList({list(self.entries)!r})"

    def _table(self, keys: Iterable[_T]) -> Container[_T]:
        """
        Build one probed set.
        """
        return frozenset(keys)

    def _prefixes(self, networks: list[NetworkEntry], version: int) -> _Prefixes:
        bits = IPV4_BITS if version == 4 else IPV6_BITS
        byLength: dict[int, set[int]] = {}
        for entry in networks:
            if entry.version == version:
                byLength.setdefault(entry.prefixLength, set()).add(entry.network)
        return tuple(
            (length, prefixMask(length, bits), self._table(byLength[length]))
            for length in sorted(byLength, reverse=True)
        )

    def bestMatch(self, address: IPAddress, reverseName: str | None) -> Specificity | None:
        """
        Find the most specific entry that matches a client.

        @param address: the client's address (see L{clientAddress}).
        @param reverseName: the client's reverse name, or L{None} if it is
            unknown or was not looked up; host name and domain entries
            match only through it.
        @return: the rank of the best matching entry, or L{None}.
        """
        numeric = self._numericMatch(address)
        if reverseName is None or (numeric is not None and numeric.kind is MatchKind.HOST):
            return numeric
        name = normaliseName(reverseName)
        if name in self._hostNames:
            return _HOST
        return numeric if numeric is not None else self._domainMatch(name)

    def _numericMatch(self, address: IPAddress) -> Specificity | None:
        if isinstance(address, IPv4Address):
            bits = IPV4_BITS
            own = _longestPrefix(self._ipv4, int(address))
            mapped = _longestPrefix(self._ipv6, _MAPPED_PREFIX | int(address))
            if mapped is not None:
                mapped = max(0, mapped - _MAPPED_BITS)
            found = [length for length in (own, mapped) if length is not None]
            length = max(found) if found else None
        else:
            bits = IPV6_BITS
            length = _longestPrefix(self._ipv6, int(address))
        if length is None:
            return None
        return _HOST if length == bits else Specificity(MatchKind.NETWORK, length)

    def _domainMatch(self, name: str) -> Specificity | None:
        for index, char in enumerate(name):
            if char == "." and name[index:] in self._domains:
                return Specificity(MatchKind.DOMAIN, name.count(".", index))
        return None

    def matchingEntry(self, address: IPAddress, reverseName: str | None) -> AddressEntry | None:
        """
        An entry that L{bestMatch} ranks best for a client, to name it in a
        message.  It looks at every entry: use it to explain a refusal, not
        to decide one.
        """
        best = self.bestMatch(address, reverseName)
        if best is None:
            return None
        name = None if reverseName is None else normaliseName(reverseName)
        for entry in self.entries:
            if _entryMatch(entry, address, name) == best:
                return entry
        return None


def _entryMatch(entry: AddressEntry, address: IPAddress, name: str | None) -> Specificity | None:
    """
    How one entry matches a client (as L{AddressList.bestMatch} ranks it),
    or L{None}.
    """
    if isinstance(entry, HostNameEntry):
        return _HOST if name == entry.name else None
    if isinstance(entry, DomainEntry):
        if name is None or not name.endswith(entry.suffix):
            return None
        return Specificity(MatchKind.DOMAIN, name.count(".", len(name) - len(entry.suffix)))
    bits = IPV4_BITS if entry.version == 4 else IPV6_BITS
    value, length = int(address), entry.prefixLength
    if isinstance(address, IPv4Address) and entry.version == 6:
        value, length = _MAPPED_PREFIX | value, max(0, length - _MAPPED_BITS)
    elif isinstance(address, IPv6Address) != (entry.version == 6):
        return None
    if value & prefixMask(entry.prefixLength, bits) != entry.network:
        return None
    clientBits = IPV4_BITS if isinstance(address, IPv4Address) else IPV6_BITS
    return _HOST if length == clientBits else Specificity(MatchKind.NETWORK, length)


def describeEntry(entry: AddressEntry) -> str:
    """
    An address entry as a configuration could write it: C{10.0.0.0/8},
    C{127.0.0.1}, C{host.example.com}, C{.example.com}.
    """
    if isinstance(entry, HostNameEntry):
        return entry.name
    if isinstance(entry, DomainEntry):
        return entry.suffix
    network: IPv4Network | IPv6Network
    if entry.version == 4:
        network = IPv4Network((entry.network, entry.prefixLength))
    else:
        network = IPv6Network((entry.network, entry.prefixLength))
    if entry.prefixLength == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _longestPrefix(prefixes: _Prefixes, value: int) -> int | None:
    for length, mask, networks in prefixes:
        if value & mask in networks:
            return length
    return None
