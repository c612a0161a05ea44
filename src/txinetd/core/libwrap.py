# -*- test-case-name: tests.core.test_libwrap -*-
"""
A pure-Python evaluation of C{hosts.allow} and C{hosts.deny}, the access
control files of TCP wrappers (hosts_access(5)).

The text of the files is compiled into rules, of the patterns of
L{txinetd.core.hostspatterns} (the files are read, and read
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

from collections.abc import Sequence
from dataclasses import dataclass

from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.config import ServiceKind
from txinetd.core.hostspatterns import SEPARATORS, Client, PatternCompiler, PatternList


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
    clients: PatternList[Client]
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

    def _firstMatch(self, daemon: str, client: Client) -> Rule | None:
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
        compiler = PatternCompiler(f"{path}:{line}", warnings)
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
    return [token for token in SEPARATORS.split(text) if token]


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
        client = Client.of(clientAddress(address), reverseName, paranoid)
        for table in (self.allow, self.deny):
            rule = table._firstMatch(daemon, client)
            if rule is not None:
                return rule
        return None
