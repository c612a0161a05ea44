# -*- test-case-name: tests.core.test_libwrap -*-
"""
A pure-Python evaluation of C{hosts.allow} and C{hosts.deny}, the access
control files of TCP wrappers (hosts_access(5)).

The text of the files is compiled into rules (the files are read, and read
again whenever one changes, by L{txinetd.serve.hostsfiles}); a decision
evaluates them without any I/O.
The client's reverse name is looked up by the caller, only when
L{HostsAccess.needsReverseName} says a rule may use it, and checked to map
back to the client's address: a name that does not is passed as
C{paranoid}, as TCP wrappers do.

Supported: daemon and client lists, C{ALL}, C{LOCAL}, C{KNOWN},
C{UNKNOWN}, C{PARANOID}, nested C{EXCEPT}, C{.domain} suffixes, C{n.n.n.}
prefixes, C{*} and C{?} wildcards, C{net/mask} and C{net/prefix},
C{[ipv6]} and C{[ipv6]/prefix}, backslash continuation lines, comments, and
the C{allow} and C{deny} options.  Not supported, and reported as warnings
when a file is read: C{@netgroup}, C{user@host}, C{daemon@host} and
C{/file} patterns (they never match), and every other option: shell
commands (C{spawn}, C{twist}) are never run; a rule with C{twist} refuses
the clients it matches, as the real server would never have run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Generic, Protocol, TypeVar

from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.config import ServiceKind

_S = TypeVar("_S", contravariant=True)
_T = TypeVar("_T")

_MAPPED_PREFIX = 0xFFFF << 32
_MAPPED_HIGH_BITS = ((1 << 96) - 1) << 32
_ALL_BITS = (1 << 128) - 1
_NUMERIC_CHARACTERS = frozenset("0123456789./")
_SEPARATORS = re.compile(r"[,\s]+")
_OPTION_SEPARATOR = re.compile(r"(?<!\\):")


def libwrapDaemonName(
    libwrapAttr: str | None,
    serviceName: str,
    kind: ServiceKind,
    nameInArgs: bool,
    serverArgs: Sequence[str],
    server: str | None,
) -> str:
    """
    The daemon name a service is known by in C{hosts.allow} and
    C{hosts.deny}: the C{libwrap} attribute if set; else the service name
    for internal and redirected services; else, with C{NAMEINARGS}, the
    base name of the first C{server_args} value; else the base name of
    C{server}.

    @param libwrapAttr: the C{libwrap} attribute, or L{None}.
    @param serviceName: the service's name (not its id).
    @param kind: what serves it.
    @param nameInArgs: whether C{NAMEINARGS} is among its flags.
    @param serverArgs: its C{server_args} values.
    @param server: its C{server}, or L{None}; without one the service name
        is used.
    """
    if libwrapAttr is not None:
        return libwrapAttr
    if kind is not ServiceKind.SERVER:
        return serviceName
    if nameInArgs and serverArgs:
        return _baseName(serverArgs[0])
    if server is not None:
        return _baseName(server)
    return serviceName


def _baseName(path: str) -> str:
    return path.rpartition("/")[2]


# --- patterns -----------------------------------------------------------------


@dataclass(frozen=True)
class _Client:
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
    def of(cls, address: IPAddress, name: str | None, paranoid: bool) -> _Client:
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

    def matches(self, subject: _Client) -> bool:
        return subject.name is not None


@dataclass(frozen=True)
class _Local:
    """
    C{LOCAL}: the client's name is known and has no dot.
    """

    usesName = True

    def matches(self, subject: _Client) -> bool:
        return subject.name is not None and "." not in subject.name


@dataclass(frozen=True)
class _Unknown:
    """
    C{UNKNOWN}: the client's name could not be found.
    """

    usesName = True

    def matches(self, subject: _Client) -> bool:
        return subject.name is None and not subject.paranoid


@dataclass(frozen=True)
class _Paranoid:
    """
    C{PARANOID}: the client's name does not match its address.
    """

    usesName = True

    def matches(self, subject: _Client) -> bool:
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

    def matches(self, subject: _Client) -> bool:
        return subject.number & self.mask == self.network


@dataclass(frozen=True)
class _HostText:
    """
    Any other client pattern: compared with the client's address and, if
    it is not made of digits, dots and slashes only, with its name.
    """

    token: str
    usesName: bool

    def matches(self, subject: _Client) -> bool:
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


_NAMED_HOST_PATTERNS: dict[str, _Pattern[_Client]] = {
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
class _Compiler:
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

    def hostPattern(self, token: str) -> _Pattern[_Client]:
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


@dataclass(frozen=True)
class Rule:
    """
    One line of an access control file.

    @ivar daemons: the daemon list.
    @ivar clients: the client list.
    @ivar allows: whether a match allows (else it refuses).
    @ivar line: the line the rule starts on.
    @ivar where: C{path:line}, for messages.
    @ivar text: the rule as written, for messages.
    """

    daemons: PatternList[str]
    clients: PatternList[_Client]
    allows: bool
    line: int
    where: str = ""
    text: str = ""


@dataclass(frozen=True)
class HostsTable:
    """
    The rules of one file, in order, and the warnings met reading it.
    """

    rules: tuple[Rule, ...] = ()
    warnings: tuple[str, ...] = ()

    def _firstMatch(self, daemon: str, client: _Client) -> Rule | None:
        """
        The first rule matching a daemon and a client.
        """
        for rule in self.rules:
            if rule.daemons.matches(daemon) and rule.clients.matches(client):
                return rule
        return None


def _logicalLines(text: str) -> list[tuple[int, str]]:
    """
    Join lines that end with a backslash to the next.

    @return: each logical line with the number of its first line.
    """
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        logical.append((start, "".join([*pending, line])))
        pending = []
    if pending:
        logical.append((start, "".join(pending)))
    return logical


def _splitField(text: str) -> tuple[str, str | None]:
    """
    Split at the first colon outside square brackets.
    """
    depth = 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == ":" and depth == 0:
            return text[:index], text[index + 1 :]
    return text, None


def parseHostsTable(path: str, text: str, allows: bool) -> HostsTable:
    """
    Compile the text of an access control file.

    @param path: the file's name, for warnings (C{path:line: ...}).
    @param text: its contents.
    @param allows: whether its rules allow (C{hosts.allow}) or refuse
        (C{hosts.deny}) unless an option says otherwise.
    """
    rules: list[Rule] = []
    warnings: list[str] = []
    for line, logical in _logicalLines(text):
        if logical.startswith("#") or not logical.strip():
            continue
        compiler = _Compiler(f"{path}:{line}", warnings)
        daemons, rest = _splitField(logical)
        if rest is None:
            compiler.warn('missing ":" separator')
            continue
        clients, options = _splitField(rest)
        rules.append(
            Rule(
                compiler.patternList(_tokens(daemons), compiler.daemonPattern),
                compiler.patternList(_tokens(clients), compiler.hostPattern),
                allows if options is None else compiler.verdict(options, allows),
                line,
                f"{path}:{line}",
                logical.strip(),
            )
        )
    return HostsTable(tuple(rules), tuple(warnings))


def _tokens(text: str) -> list[str]:
    return [token for token in _SEPARATORS.split(text) if token]


@dataclass(frozen=True)
class HostsAccess:
    """
    The TCP wrappers decision: allowed if a rule of C{hosts.allow} matches,
    else refused if a rule of C{hosts.deny} matches, else allowed (a rule's
    C{allow} or C{deny} option overrides its file's verdict).
    """

    allow: HostsTable = HostsTable()
    deny: HostsTable = HostsTable()

    @property
    def warnings(self) -> tuple[str, ...]:
        """
        The warnings met reading both files.
        """
        return self.allow.warnings + self.deny.warnings

    @property
    def hasRules(self) -> bool:
        """
        Whether either file has a rule (without any, everyone is allowed).
        """
        return bool(self.allow.rules or self.deny.rules)

    def needsReverseName(self, daemon: str) -> bool:
        """
        Whether a rule for C{daemon} may look at the client's name.
        """
        return any(
            rule.daemons.matches(daemon) and rule.clients.usesName
            for table in (self.allow, self.deny)
            for rule in table.rules
        )

    def allows(
        self,
        daemon: str,
        address: str | IPAddress,
        reverseName: str | None,
        paranoid: bool = False,
    ) -> bool:
        """
        Decide whether a client may use a daemon.

        @param daemon: the daemon name (see L{libwrapDaemonName}).
        @param address: the client's address.
        @param reverseName: the client's reverse name, L{None} if unknown.
        @param paranoid: whether the reverse name was found not to map back
            to the address (then the name is not trusted and C{PARANOID}
            matches).
        """
        rule = self.decidingRule(daemon, address, reverseName, paranoid)
        return True if rule is None else rule.allows

    def decidingRule(
        self,
        daemon: str,
        address: str | IPAddress,
        reverseName: str | None,
        paranoid: bool = False,
    ) -> Rule | None:
        """
        The rule that decides for a client (see L{allows}), or L{None} when
        none matches and the client is allowed.
        """
        client = _Client.of(clientAddress(address), reverseName, paranoid)
        for table in (self.allow, self.deny):
            rule = table._firstMatch(daemon, client)
            if rule is not None:
                return rule
        return None
