# -*- test-case-name: tests.core.test_access -*-
"""
Access control decisions: C{only_from}, C{no_access}, C{access_times} and
the global SENSOR deny list.

Everything here is pure.  Address tokens are parsed when the configuration
is loaded (host names are resolved then, through a resolver the caller
injects; network names come from an C{/etc/networks} file read once); at
connection time the decision is a few set probes whose number does not
depend on the length of the lists.

Client addresses are always plain IPv4 (C{a.b.c.d}) or real IPv6: an
IPv4-mapped IPv6 address (C{::ffff:a.b.c.d}) is unmapped by
L{clientAddress} before anything else looks at it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeAlias, TypeVar

from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.events import Level, ProgramMessage

Resolver: TypeAlias = Callable[[str], Sequence[str]]

_T = TypeVar("_T")

_DIGITS = frozenset("0123456789")
_IPV4_BITS = 32
_IPV6_BITS = 128
_MAPPED_PREFIX = 0xFFFF << 32
_MAPPED_BITS = 96


class AccessParseError(ValueError):
    """
    A configuration value that makes the attribute invalid (the service is
    disabled, or the defaults section is fatal).

    @ivar message: the message to log, exactly as xinetd words it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- address entries ---------------------------------------------------------


@dataclass(frozen=True)
class NetworkEntry:
    """
    A numeric entry: every address whose first C{prefixLength} bits equal
    C{network}'s.

    @ivar version: 4 or 6.
    @ivar network: the network as an integer, host bits cleared.
    @ivar prefixLength: 0-32 for IPv4, 0-128 for IPv6.
    """

    version: int
    network: int
    prefixLength: int


@dataclass(frozen=True)
class HostNameEntry:
    """
    A host name: matches a client whose reverse name is this name
    (case-insensitively; stored in lower case without a trailing dot).
    """

    name: str


@dataclass(frozen=True)
class DomainEntry:
    """
    A C{.domain} suffix: matches a client whose reverse name ends with it.

    @ivar suffix: the suffix, leading dot included, in lower case.
    """

    suffix: str


AddressEntry: TypeAlias = NetworkEntry | HostNameEntry | DomainEntry


@dataclass(frozen=True)
class ParseResult:
    """
    The outcome of parsing one C{only_from} or C{no_access} token.

    @ivar entries: the entries it stands for (none if it was dropped).
    @ivar messages: ERROR messages for the program log; the token was
        dropped but the attribute is still valid.
    """

    entries: tuple[AddressEntry, ...]
    messages: tuple[str, ...] = ()


def _network(version: int, address: int, prefixLength: int) -> NetworkEntry:
    bits = _IPV4_BITS if version == 4 else _IPV6_BITS
    mask = _mask(prefixLength, bits)
    return NetworkEntry(version, address & mask, prefixLength)


def _mask(prefixLength: int, bits: int) -> int:
    return ((1 << prefixLength) - 1) << (bits - prefixLength)


_NUMBER_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def _numberParts(text: str) -> list[int] | None:
    """
    Split C{text} at dots into C numbers (hexadecimal with C{0x}, octal with
    a leading C{0}, else decimal), or L{None} if any part is not one.
    """
    parts = text.split(".")
    if len(parts) > 4 or not all(_NUMBER_PART.fullmatch(part) for part in parts):
        return None
    return [_cNumber(part) for part in parts]


#: More significant digits than any address part or time needs: such a
#: number is only ever "too large", and Python refuses to convert some.
_MAX_DIGITS = 48
_TOO_LARGE = 1 << 192


def boundedInt(digits: str, base: int = 10) -> int:
    """
    C{int(digits, base)}, or a number too large for any field when the
    digits are very many (Python refuses over 4300 of them).
    """
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        return _TOO_LARGE
    return int(digits, base)


def _cNumber(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return boundedInt(part[2:], 16)
    if part.startswith("0"):
        return boundedInt(part, 8)
    return boundedInt(part)


def inetAton(text: str) -> int | None:
    """
    Parse an IPv4 address the way the C library's C{inet_aton} does:
    C{127.2} is 127.0.0.2, C{10.1.2} is 10.1.0.2, C{0x7f000001} is
    127.0.0.1.

    @return: the address as an integer, or L{None} if C{text} is not one.
    """
    parts = _numberParts(text)
    if parts is None:
        return None
    *leading, last = parts
    lastBits = 8 * (5 - len(parts))
    if any(part > 0xFF for part in leading) or last >> lastBits:
        return None
    value = 0
    for part in leading:
        value = value << 8 | part
    return value << lastBits | last


def inetNetwork(text: str) -> int | None:
    """
    Parse a network number the way the C library's C{inet_network} does
    for C{/etc/networks}: up to four dotted parts of at most 255, packed
    from the right (C{127} is 127, C{169.254} is 0xA9FE).

    @return: the number, or L{None} if C{text} is not one.
    """
    parts = _numberParts(text)
    if parts is None or any(part > 0xFF for part in parts):
        return None
    value = 0
    for part in parts:
        value = value << 8 | part
    return value


def _trailingZeroPrefix(address: int) -> int:
    """
    xinetd's rule for a plain IPv4 entry: trailing zero octets are
    wildcards, and C{0.0.0.0} matches everything.
    """
    if address == 0:
        return 0
    prefixLength = _IPV4_BITS
    while not address & 0xFF:
        address >>= 8
        prefixLength -= 8
    return prefixLength


def _parseIPv6(text: str) -> int | None:
    try:
        return int(IPv6Address(text))
    except ValueError:
        return None


def _normaliseName(name: str) -> str:
    return name.lower().rstrip(".")


def _numericEntries(token: str) -> tuple[AddressEntry, ...] | None:
    if "/" in token or "{" in token:
        return None
    if ":" in token:
        address = _parseIPv6(token)
        return None if address is None else (NetworkEntry(6, address, _IPV6_BITS),)
    value = inetAton(token)
    return None if value is None else (_network(4, value, _trailingZeroPrefix(value)),)


def _hostEntries(token: str, resolver: Resolver) -> tuple[AddressEntry, ...] | None:
    if "/" in token or "{" in token:
        return None
    if token.startswith("."):
        isDomain = not set(token) <= _DIGITS | {"."}
        return (DomainEntry(_normaliseName(token)),) if isDomain else None
    return (HostNameEntry(_normaliseName(token)),) if resolver(token) else None


def _cidrEntries(token: str) -> tuple[AddressEntry, ...] | None:
    if "{" in token:
        return None
    text, slash, length = token.partition("/")
    if not slash or not length or not set(length) <= _DIGITS:
        return None
    if ":" in text:
        version, bits, address = 6, _IPV6_BITS, _parseIPv6(text)
    else:
        version, bits, address = 4, _IPV4_BITS, inetAton(text)
    if address is None:
        return None
    return (_network(version, address, min(boundedInt(length), bits)),)


def _factorizedEntries(token: str) -> tuple[AddressEntry, ...] | None:
    """
    C{128.138.{193,254}}: one entry per braced number, the mask covering
    the octets given.  Syntax errors are fatal; a token without a brace, or
    with something other than digits and dots before it, is not this form.
    """
    brace = token.find("{")
    prefix = token if brace < 0 else token[:brace]
    last = "."
    for char in prefix:
        if char == "." and last == ".":
            raise AccessParseError(f"Bad address: {token}. Consecutive dots")
        if char != "." and char not in _DIGITS:
            return None
        last = char
    if brace < 0:
        return None
    octets = [boundedInt(octet) for octet in prefix.split(".")[:-1]] if prefix else []
    if (prefix and last != ".") or len(octets) > 3 or any(octet > 0xFF for octet in octets):
        raise AccessParseError(f"Bad address: {token}")
    shift = 24 - 8 * len(octets)
    base = 0
    for octet in octets:
        base = base << 8 | octet
    base <<= shift + 8
    return tuple(
        _network(4, base | number << shift, _IPV4_BITS - shift)
        for number in _bracedNumbers(token, token[brace + 1 :])
    )


def _bracedNumbers(token: str, body: str) -> list[int]:
    numbers: list[int] = []
    digits = ""
    last = ","
    for index, char in enumerate(body):
        if char in _DIGITS:
            digits += char
        elif char in ",}" and last == ",":
            raise AccessParseError(f"Bad address: {token}. Consecutive commas")
        elif char == "," or (char == "}" and index == len(body) - 1):
            numbers.append(boundedInt(digits))
            digits = ""
        else:
            raise AccessParseError(f"Bad address: {token}")
        last = char
    if last != "}" or any(number > 0xFF for number in numbers):
        raise AccessParseError(f"Bad address: {token}")
    return numbers


def _networkNameEntries(token: str, networks: Mapping[str, int]) -> tuple[AddressEntry, ...] | None:
    number = networks.get(token.lower())
    if not number:
        return None
    shift = next(shift for shift in (24, 16, 8, 0) if number >> (_IPV4_BITS - shift) == 0)
    return (_network(4, number << shift, _IPV4_BITS - shift),)


def parseAddressToken(token: str, resolver: Resolver, networks: Mapping[str, int]) -> ParseResult:
    """
    Parse one C{only_from} / C{no_access} value.

    The forms are tried in xinetd's order: numeric (IPv4 with the
    trailing-zero rule and C{inet_aton} short forms, or exact IPv6), host
    name or C{.domain}, C{address/prefix}, factorized C{a.b.{c,d}}, network
    name.

    @param token: the value.
    @param resolver: forward resolver for host names: returns the addresses
        of a name, or nothing if it does not resolve.  Only called for
        tokens that are not numeric.
    @param networks: network numbers by lower-case name, from
        L{readNetworks}.
    @return: the entries, or none and a C{failed to parse} message if the
        token matches no form.
    @raise AccessParseError: for a comma outside braces or a malformed
        factorized address.
    """
    if not token:
        return ParseResult(())
    if "," in token and "{" not in token:
        raise AccessParseError(f"Address: {token} has a comma in it - remove the comma")
    entries = (
        _numericEntries(token)
        or _hostEntries(token, resolver)
        or _cidrEntries(token)
        or _factorizedEntries(token)
        or _networkNameEntries(token, networks)
    )
    if entries is None:
        return ParseResult((), (f"failed to parse {token}",))
    return ParseResult(entries)


# --- matching -----------------------------------------------------------------


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
        bits = _IPV4_BITS if version == 4 else _IPV6_BITS
        byLength: dict[int, set[int]] = {}
        for entry in networks:
            if entry.version == version:
                byLength.setdefault(entry.prefixLength, set()).add(entry.network)
        return tuple(
            (length, _mask(length, bits), self._table(byLength[length]))
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
        name = _normaliseName(reverseName)
        if name in self._hostNames:
            return _HOST
        return numeric if numeric is not None else self._domainMatch(name)

    def _numericMatch(self, address: IPAddress) -> Specificity | None:
        if isinstance(address, IPv4Address):
            bits = _IPV4_BITS
            own = _longestPrefix(self._ipv4, int(address))
            mapped = _longestPrefix(self._ipv6, _MAPPED_PREFIX | int(address))
            if mapped is not None:
                mapped = max(0, mapped - _MAPPED_BITS)
            found = [length for length in (own, mapped) if length is not None]
            length = max(found) if found else None
        else:
            bits = _IPV6_BITS
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
        name = None if reverseName is None else _normaliseName(reverseName)
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
    bits = _IPV4_BITS if entry.version == 4 else _IPV6_BITS
    value, length = int(address), entry.prefixLength
    if isinstance(address, IPv4Address) and entry.version == 6:
        value, length = _MAPPED_PREFIX | value, max(0, length - _MAPPED_BITS)
    elif isinstance(address, IPv6Address) != (entry.version == 6):
        return None
    if value & _mask(entry.prefixLength, bits) != entry.network:
        return None
    clientBits = _IPV4_BITS if isinstance(address, IPv4Address) else _IPV6_BITS
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


# --- the decision -------------------------------------------------------------


@dataclass(frozen=True)
class AccessDecision:
    """
    The outcome of the address check.  A refusal is always FAIL C{address}.

    @ivar allowed: whether the client may be served.
    @ivar message: a program-log message to write, if any.
    """

    allowed: bool
    message: ProgramMessage | None = None


_ALLOW = AccessDecision(True)
_DENY = AccessDecision(False)


def decide(
    serviceId: str,
    address: str | IPAddress | None,
    reverseName: str | None,
    onlyFrom: AddressList | None,
    noAccess: AddressList | None,
    sensor: SensorList | None,
    now: float,
) -> AccessDecision:
    """
    Decide whether a client may use a service.

    A client on the SENSOR list is refused.  Otherwise, with no lists at
    all, it is allowed.  If both lists match, the more specific match
    wins (a longer prefix; a host beats a network, a network beats a
    domain); equal matches refuse with an ERROR message.  A match in
    C{no_access} alone refuses, an C{only_from} list (even empty) that does
    not match refuses, anything else is allowed.

    @param serviceId: the service's id, for the message.
    @param address: the client's address, or L{None} when there is none
        (a C{wait = yes} stream service): then the client is allowed.
    @param reverseName: the client's reverse name, if the caller looked it
        up (see L{AddressList.needsReverseName}).
    @param onlyFrom: the C{only_from} list, L{None} if not specified.
    @param noAccess: the C{no_access} list, L{None} if not specified.
    @param sensor: the global SENSOR list.
    @param now: the current time, in seconds since the epoch.
    """
    if address is None:
        return _ALLOW
    client = clientAddress(address)
    if sensor is not None and sensor.contains(client, now):
        return _DENY
    allowMatch = onlyFrom.bestMatch(client, reverseName) if onlyFrom is not None else None
    denyMatch = noAccess.bestMatch(client, reverseName) if noAccess is not None else None
    if allowMatch is not None and denyMatch is not None:
        if allowMatch == denyMatch:
            return AccessDecision(
                False,
                ProgramMessage(
                    Level.ERROR,
                    f"Service={serviceId}: only_from list and no_access list "
                    f"match equally the address {client}",
                ),
            )
        return _ALLOW if allowMatch > denyMatch else _DENY
    if denyMatch is not None or (onlyFrom is not None and allowMatch is None):
        return _DENY
    return _ALLOW


def explainAddress(
    address: str | IPAddress,
    reverseName: str | None,
    onlyFrom: AddressList | None,
    noAccess: AddressList | None,
    sensor: SensorList | None,
    now: float,
) -> str:
    """
    Why L{decide} refuses a client, naming the entry that did it (for
    C{-d}); the arguments are those of L{decide}.
    """
    client = clientAddress(address)
    if sensor is not None and sensor.contains(client, now):
        return f"{client} is on the SENSOR list"
    allow = None if onlyFrom is None else onlyFrom.matchingEntry(client, reverseName)
    deny = None if noAccess is None else noAccess.matchingEntry(client, reverseName)
    if deny is not None and allow is not None:
        return (
            f"no_access entry {describeEntry(deny)} is at least as specific as only_from "
            f"entry {describeEntry(allow)}"
        )
    if deny is not None:
        return f"no_access entry {describeEntry(deny)} matches {client}"
    if onlyFrom is not None and not onlyFrom.entries:
        return "only_from is empty"
    if onlyFrom is not None and allow is None:
        shown = [describeEntry(entry) for entry in onlyFrom.entries[:_SHOWN]]
        more = len(onlyFrom.entries) - len(shown)
        listed = " ".join(shown) + (f" and {more} more" if more else "")
        named = "" if reverseName is None else f" (named {reverseName})"
        return f"no only_from entry matches {client}{named}: {listed}"
    return f"{client} is allowed by only_from and no_access"


#: How many C{only_from} entries L{explainAddress} shows.
_SHOWN = 5


# --- access_times -------------------------------------------------------------


@dataclass(frozen=True)
class TimeInterval:
    """
    An C{access_times} interval, bounds included.

    @ivar start: its first minute, counted from midnight.
    @ivar end: its last minute, counted from midnight.
    """

    start: int
    end: int


@dataclass(frozen=True)
class TimeIntervals:
    """
    The C{access_times} of a service; no intervals means always.
    """

    intervals: tuple[TimeInterval, ...] = ()

    def __str__(self) -> str:
        """
        The intervals as C{access_times} writes them: C{8:00-12:00 14:00-18:30}.
        """
        return " ".join(
            f"{i.start // 60}:{i.start % 60:02d}-{i.end // 60}:{i.end % 60:02d}"
            for i in self.intervals
        )

    def contains(self, hour: int, minute: int) -> bool:
        """
        Whether the local time C{hour:minute} is in one of the intervals.
        """
        now = hour * 60 + minute
        return not self.intervals or any(
            interval.start <= now <= interval.end for interval in self.intervals
        )


def _timeNumber(text: str, position: int, stop: str, highest: int) -> tuple[int, int]:
    """
    Read digits (none reads as 0) that must be followed by C{stop} (C{""}
    for the end of the text).

    @return: the number and the position after C{stop}.
    """
    end = position
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    if text[end : end + 1] != stop:
        raise AccessParseError("incorrect time interval")
    value = boundedInt(text[position:end] or "0")
    if value > highest:
        raise AccessParseError("invalid time interval")
    return value, end + 1


def parseTimeInterval(text: str) -> TimeInterval:
    """
    Parse one C{H:MM-H:MM} value: hours 0-23, minutes 0-59, the start
    strictly before the end.

    @raise AccessParseError: with xinetd's message if it is invalid.
    """
    position = len(text) - len(text.lstrip(" "))
    startHour, position = _timeNumber(text, position, ":", 23)
    startMinute, position = _timeNumber(text, position, "-", 59)
    endHour, position = _timeNumber(text, position, ":", 23)
    endMinute, position = _timeNumber(text, position, "", 59)
    interval = TimeInterval(startHour * 60 + startMinute, endHour * 60 + endMinute)
    if interval.start >= interval.end:
        raise AccessParseError(f"invalid time interval: {text}")
    return interval


def parseAccessTimes(values: Sequence[str]) -> TimeIntervals:
    """
    Parse the values of an C{access_times} attribute.

    @raise AccessParseError: if there are no values or one is invalid.
    """
    if not values:
        raise AccessParseError(
            "attribute access_times expects at least 1 value and none was given."
        )
    return TimeIntervals(tuple(parseTimeInterval(value) for value in values))


# --- the SENSOR list ----------------------------------------------------------


@dataclass(frozen=True)
class SensorExpiry:
    """
    The outcome of L{SensorList.expire}.

    @ivar removed: the addresses taken off the list.
    @ivar messages: INFO messages for the program log.
    """

    removed: tuple[str, ...]
    messages: tuple[ProgramMessage, ...]


class SensorList:
    """
    The global deny list that services with C{flags = SENSOR} feed, and
    that every service consults.  It lives as long as the daemon, across
    reconfigurations.

    Entries are single addresses.  A client listed again while still listed
    has its expiry extended to the later of the two.

    @cvar maximum: the most addresses the list holds.
    """

    maximum = 10240

    def __init__(self) -> None:
        self._expiries: dict[IPAddress, float | None] = {}

    def __len__(self) -> int:
        return len(self._expiries)

    def add(
        self, address: str | IPAddress, now: float, minutes: int | None
    ) -> ProgramMessage | None:
        """
        Record a hit on a SENSOR service.

        @param address: the client's address.
        @param now: the current time, in seconds since the epoch.
        @param minutes: the service's C{deny_time}: L{None} or a negative
            number for C{FOREVER}, C{0} for C{NEVER} (the client is not
            listed).
        @return: the program-log message to write, if any: CRITICAL
            C{Adding ...} for a new entry, ERROR when the list is full.
        """
        if minutes == 0:
            return None
        client = clientAddress(address)
        expiry = None if minutes is None or minutes < 0 else now + 60 * minutes
        if self.contains(client, now):
            current = self._expiries[client]
            if current is not None and (expiry is None or expiry > current):
                self._expiries[client] = expiry
            return None
        if client not in self._expiries and len(self._expiries) >= self.maximum:
            return ProgramMessage(Level.ERROR, "Maximum global_no_access count reached.")
        self._expiries[client] = expiry
        return ProgramMessage(
            Level.CRITICAL,
            f"Adding {client} to the global_no_access list for "
            f"{-1 if expiry is None else minutes} minutes",
        )

    def contains(self, address: str | IPAddress, now: float) -> bool:
        """
        Whether a client is listed and its entry has not expired at C{now}.
        """
        client = clientAddress(address)
        if client not in self._expiries:
            return False
        expiry = self._expiries[client]
        return expiry is None or now < expiry

    def expire(self, now: float) -> SensorExpiry:
        """
        Remove the entries that have expired at C{now}.
        """
        removed = [
            client
            for client, expiry in self._expiries.items()
            if expiry is not None and now >= expiry
        ]
        for client in removed:
            del self._expiries[client]
        messages: list[ProgramMessage] = []
        if removed:
            messages.append(
                ProgramMessage(
                    Level.INFO,
                    "At least 1 DENY_TIME has expired, global_no_access list updated",
                )
            )
            if not self._expiries:
                messages.append(ProgramMessage(Level.INFO, "global_no_access list is empty."))
        return SensorExpiry(tuple(str(client) for client in removed), tuple(messages))
