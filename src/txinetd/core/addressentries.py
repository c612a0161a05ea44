# -*- test-case-name: tests.core.test_addressentries -*-
"""
The entries of C{only_from} and C{no_access}: numeric networks, host names
and C{.domain} suffixes, and how a token of a configuration becomes them
(every form xinetd reads: C{inet_aton}'s short forms, the trailing-zero
rule, CIDR, factorized C{a.b.{c,d}}, names from /etc/networks).  Tokens are
parsed when the configuration is loaded; host names are resolved then,
through a resolver the caller injects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import TypeAlias

__all__ = [
    "AccessParseError",
    "AddressEntry",
    "DomainEntry",
    "HostNameEntry",
    "NetworkEntry",
    "ParseResult",
    "Resolver",
    "boundedInt",
    "inetAton",
    "inetNetwork",
    "normaliseName",
    "parseAddressToken",
    "prefixMask",
]

Resolver: TypeAlias = Callable[[str], Sequence[str]]

DIGITS = frozenset("0123456789")
IPV4_BITS = 32
IPV6_BITS = 128


class AccessParseError(ValueError):
    """
    A configuration value that makes the attribute invalid (the service is
    disabled, or the defaults section is fatal).

    @ivar message: the message to log, exactly as xinetd words it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    bits = IPV4_BITS if version == 4 else IPV6_BITS
    mask = prefixMask(prefixLength, bits)
    return NetworkEntry(version, address & mask, prefixLength)


def prefixMask(prefixLength: int, bits: int) -> int:
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
_MAXDIGITS = 48
_TOO_LARGE = 1 << 192


def boundedInt(digits: str, base: int = 10) -> int:
    """
    C{int(digits, base)}, or a number too large for any field when the
    digits are very many (Python refuses over 4300 of them).
    """
    if len(digits.lstrip("0")) > _MAXDIGITS:
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
    prefixLength = IPV4_BITS
    while not address & 0xFF:
        address >>= 8
        prefixLength -= 8
    return prefixLength


def _parseIPv6(text: str) -> int | None:
    try:
        return int(IPv6Address(text))
    except ValueError:
        return None


def normaliseName(name: str) -> str:
    return name.lower().rstrip(".")


def _numericEntries(token: str) -> tuple[AddressEntry, ...] | None:
    if "/" in token or "{" in token:
        return None
    if ":" in token:
        address = _parseIPv6(token)
        return None if address is None else (NetworkEntry(6, address, IPV6_BITS),)
    value = inetAton(token)
    return None if value is None else (_network(4, value, _trailingZeroPrefix(value)),)


def _hostEntries(token: str, resolver: Resolver) -> tuple[AddressEntry, ...] | None:
    if "/" in token or "{" in token:
        return None
    if token.startswith("."):
        isDomain = not set(token) <= DIGITS | {"."}
        return (DomainEntry(normaliseName(token)),) if isDomain else None
    return (HostNameEntry(normaliseName(token)),) if resolver(token) else None


def _cidrEntries(token: str) -> tuple[AddressEntry, ...] | None:
    if "{" in token:
        return None
    text, slash, length = token.partition("/")
    if not slash or not length or not set(length) <= DIGITS:
        return None
    if ":" in text:
        version, bits, address = 6, IPV6_BITS, _parseIPv6(text)
    else:
        version, bits, address = 4, IPV4_BITS, inetAton(text)
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
        if char != "." and char not in DIGITS:
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
        _network(4, base | number << shift, IPV4_BITS - shift)
        for number in _bracedNumbers(token, token[brace + 1 :])
    )


def _bracedNumbers(token: str, body: str) -> list[int]:
    numbers: list[int] = []
    digits = ""
    last = ","
    for index, char in enumerate(body):
        if char in DIGITS:
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
    shift = next(shift for shift in (24, 16, 8, 0) if number >> (IPV4_BITS - shift) == 0)
    return (_network(4, number << shift, IPV4_BITS - shift),)


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
