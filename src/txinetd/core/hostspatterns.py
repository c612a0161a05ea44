# -*- test-case-name: tests.core.test_libwrap -*-
"""
The patterns of C{hosts.allow} and C{hosts.deny} (hosts_access(5)): daemon
and client patterns, their lists with C{EXCEPT}, and how a token of a rule
becomes one (L{PatternCompiler}).  Pure: a pattern matches a L{Client}
(its address, its name if looked up, whether the name is paranoid) without
any I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Generic, Protocol, TypeVar

from txinetd.core.addresses import IPAddress

_S = TypeVar("_S", contravariant=True)
_T = TypeVar("_T")

_MAPPED_PREFIX = 0xFFFF << 32
_MAPPED_HIGH_BITS = ((1 << 96) - 1) << 32
_ALL_BITS = (1 << 128) - 1
_NUMERIC_CHARACTERS = frozenset("0123456789./")
SEPARATORS = re.compile(r"[,\s]+")
_OPTION_SEPARATOR = re.compile(r"(?<!\\):")


@dataclass(frozen=True)
class Client:
    """
    What client patterns look at.

    @ivar address: the address as text.
    @ivar number: the address as a 128-bit integer, IPv4 in its mapped form.
    @ivar name: the reverse name, L{None} if unknown or not trusted.
    @ivar paranoid: whether the name did not match the address.
    """

    address: str
    number: int
    name: str | None
    paranoid: bool

    @classmethod
    def of(cls, address: IPAddress, name: str | None, paranoid: bool) -> Client:
        number = int(address)
        if isinstance(address, IPv4Address):
            number |= _MAPPED_PREFIX
        return cls(str(address), number, None if paranoid else name, paranoid)


class _Pattern(Protocol[_S]):
    @property
    def usesName(self) -> bool:
        """
        Whether the pattern may look at the client's name.
        """

    def matches(self, subject: _S) -> bool:
        """
        Whether the pattern matches C{subject}.
        """


@dataclass(frozen=True)
class _Always:
    """
    C{ALL}.
    """

    usesName = False

    def matches(self, subject: object) -> bool:
        return True


@dataclass(frozen=True)
class _Never:
    """
    An unsupported pattern.
    """

    usesName = False

    def matches(self, subject: object) -> bool:
        return False


@dataclass(frozen=True)
class _Known:
    """
    C{KNOWN}: the client's name is known.
    """

    usesName = True

    def matches(self, subject: Client) -> bool:
        return subject.name is not None


@dataclass(frozen=True)
class _Local:
    """
    C{LOCAL}: the client's name is known and has no dot.
    """

    usesName = True

    def matches(self, subject: Client) -> bool:
        return subject.name is not None and "." not in subject.name


@dataclass(frozen=True)
class _Unknown:
    """
    C{UNKNOWN}: the client's name could not be found.
    """

    usesName = True

    def matches(self, subject: Client) -> bool:
        return subject.name is None and not subject.paranoid


@dataclass(frozen=True)
class _Paranoid:
    """
    C{PARANOID}: the client's name does not match its address.
    """

    usesName = True

    def matches(self, subject: Client) -> bool:
        return subject.paranoid


@dataclass(frozen=True)
class _Masked:
    """
    C{net/mask}, C{net/prefix}, C{[ipv6]}, C{[ipv6]/prefix}, over 128-bit
    numbers (IPv4 in its mapped form).
    """

    network: int
    mask: int
    usesName = False

    def matches(self, subject: Client) -> bool:
        return subject.number & self.mask == self.network


@dataclass(frozen=True)
class _HostText:
    """
    Any other client pattern: compared with the client's address and, if
    it is not made of digits, dots and slashes only, with its name.
    """

    token: str
    usesName: bool

    def matches(self, subject: Client) -> bool:
        if _textMatch(self.token, subject.address):
            return True
        return self.usesName and subject.name is not None and _textMatch(self.token, subject.name)


@dataclass(frozen=True)
class _DaemonText:
    """
    A daemon pattern other than C{ALL}.
    """

    token: str
    usesName = False

    def matches(self, subject: str) -> bool:
        return _textMatch(self.token, subject)


def _textMatch(token: str, text: str) -> bool:
    """
    hosts_access(5) string matching, case-insensitive: wildcards, a
    C{.suffix}, a C{prefix.}, or the whole string.
    """
    token, text = token.lower(), text.lower()
    if "*" in token or "?" in token:
        return _wildcard(token).fullmatch(text) is not None
    if token.startswith("."):
        return len(text) > len(token) and text.endswith(token)
    if token.endswith("."):
        return text.startswith(token)
    return token == text


def _wildcard(token: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in token),
        re.DOTALL,
    )


@dataclass(frozen=True)
class PatternList(Generic[_T]):
    """
    A daemon or client list: it matches if one of C{patterns} matches and
    C{exceptions} (the list after C{EXCEPT}) does not.
    """

    patterns: tuple[_Pattern[_T], ...]
    exceptions: PatternList[_T] | None = None

    def matches(self, subject: _T) -> bool:
        """
        Whether the list matches C{subject}.
        """
        if not any(pattern.matches(subject) for pattern in self.patterns):
            return False
        return self.exceptions is None or not self.exceptions.matches(subject)

    @property
    def usesName(self) -> bool:
        """
        Whether evaluating the list may need the client's name.
        """
        return any(pattern.usesName for pattern in self.patterns) or (
            self.exceptions is not None and self.exceptions.usesName
        )


# --- compiling files ----------------------------------------------------------


_NAMED_HOST_PATTERNS: dict[str, _Pattern[Client]] = {
    "ALL": _Always(),
    "KNOWN": _Known(),
    "LOCAL": _Local(),
    "UNKNOWN": _Unknown(),
    "PARANOID": _Paranoid(),
}


def _masked(token: str) -> _Masked | None:
    net, _, mask = token.partition("/")
    try:
        if net.startswith("[") and net.endswith("]"):
            address = int(IPv6Address(net[1:-1]))
            bits = _maskBits(mask, 128) if mask else _ALL_BITS
        else:
            address = _MAPPED_PREFIX | int(IPv4Address(net))
            bits = _MAPPED_HIGH_BITS | (
                int(IPv4Address(mask)) if "." in mask else _maskBits(mask, 32)
            )
    except ValueError:
        return None
    return _Masked(address & bits, bits)


def _maskBits(prefix: str, bits: int) -> int:
    if not prefix.isdigit() or not prefix.isascii() or int(prefix) > bits:
        raise ValueError(prefix)
    length = int(prefix)
    return ((1 << length) - 1) << (bits - length)


@dataclass(frozen=True)
class PatternCompiler:
    """
    Compiles the text of one rule, collecting warnings.
    """

    where: str
    warnings: list[str]

    def warn(self, text: str) -> None:
        self.warnings.append(f"{self.where}: {text}")

    def unsupported(self, kind: str, token: str) -> _Never:
        self.warn(f"{kind} patterns are not supported: {token} never matches")
        return _Never()

    def hostPattern(self, token: str) -> _Pattern[Client]:
        if token.upper() in _NAMED_HOST_PATTERNS:
            return _NAMED_HOST_PATTERNS[token.upper()]
        if token.startswith("@"):
            return self.unsupported("@netgroup", token)
        if "@" in token:
            return self.unsupported("user@host", token)
        if token.startswith("/"):
            return self.unsupported("/file", token)
        if "/" in token or token.startswith("["):
            masked = _masked(token)
            if masked is None:
                self.warn(f"bad net/mask expression: {token}")
                return _Never()
            return masked
        return _HostText(token, not set(token) <= _NUMERIC_CHARACTERS)

    def daemonPattern(self, token: str) -> _Pattern[str]:
        if token.upper() == "ALL":
            return _Always()
        if "@" in token[1:]:
            return self.unsupported("daemon@host", token)
        return _DaemonText(token)

    def patternList(
        self, tokens: Sequence[str], factory: Callable[[str], _Pattern[_T]]
    ) -> PatternList[_T]:
        upper = [token.upper() for token in tokens]
        if "EXCEPT" not in upper:
            return PatternList(tuple(factory(token) for token in tokens))
        split = upper.index("EXCEPT")
        return PatternList(
            tuple(factory(token) for token in tokens[:split]),
            self.patternList(tokens[split + 1 :], factory),
        )

    def verdict(self, options: str, default: bool) -> bool:
        verdict = default
        for option in _OPTION_SEPARATOR.split(options):
            keyword = re.split(r"[\s=]", option.strip(), maxsplit=1)[0].lower()
            if keyword in ("allow", "deny"):
                verdict = keyword == "allow"
            elif keyword == "twist":
                verdict = False
                self.warn(
                    "twist is not supported: the shell command is not run and the client is refused"
                )
            elif keyword == "spawn":
                self.warn("spawn is not supported: the shell command is not run")
            elif keyword:
                self.warn(f"option {keyword} is not supported and is ignored")
        return verdict
