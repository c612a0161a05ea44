# -*- test-case-name: tests.core.test_inheritance -*-
"""
Test doubles for txinetd's tests.

L{FakeSystem} is a L{txinetd.core.attributes.SystemInfo} with small fixed
tables (users, groups, protocols, services, RPC programs, hosts,
executables): no test that uses it looks anything up on the machine but
the banner and certificate files the test wrote.
L{ConfigFiles} writes a configuration tree into a test's temporary
directory and loads it with a L{FakeSystem}.
"""

from __future__ import annotations

import ipaddress
import os
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from txinetd.core.addressentries import AddressEntry, DomainEntry, NetworkEntry
from txinetd.core.config import Config
from txinetd.core.diagnostics import Diagnostic
from txinetd.core.endpoint import RedirectTLS, TLSSettings
from txinetd.core.events import Level
from txinetd.core.limits import LoadAverage, ProcessLimit
from txinetd.core.sensor import SensorList
from txinetd.core.times import TimeInterval, TimeIntervals
from txinetd.daemon.loading import loadConfig
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.servicelogs import LogTargets
from txinetd.net.tls import checkRedirectSettings, checkSettings
from txinetd.serve.banners import bannerProblem
from txinetd.serve.lookups import NO_NAME, FixedHosts, HostName, IdentSetup
from txinetd.serve.shared import ServerSetup, Shared
from txinetd.spawn.spawner import Spawner

T = TypeVar("T")

USERS: Mapping[str, tuple[int, int]] = {
    "root": (0, 0),
    "alice": (1000, 100),
    "nobody": (65534, 65534),
}
GROUPS: Mapping[str, int] = {"root": 0, "users": 100, "nogroup": 65534}
PROTOCOLS: Mapping[str, int] = {"ip": 0, "icmp": 1, "tcp": 6, "udp": 17}
#: A small /etc/services with the standard ports.
SERVICES: Mapping[tuple[str, str], int] = {
    ("tcpmux", "tcp"): 1,
    ("echo", "tcp"): 7,
    ("echo", "udp"): 7,
    ("discard", "tcp"): 9,
    ("discard", "udp"): 9,
    ("daytime", "tcp"): 13,
    ("daytime", "udp"): 13,
    ("chargen", "tcp"): 19,
    ("chargen", "udp"): 19,
    ("ftp", "tcp"): 21,
    ("telnet", "tcp"): 23,
    ("smtp", "tcp"): 25,
    ("time", "tcp"): 37,
    ("time", "udp"): 37,
    ("finger", "tcp"): 79,
    ("pop3", "tcp"): 110,
    ("auth", "tcp"): 113,
    ("ntalk", "udp"): 518,
}
RPC: Mapping[str, int] = {"rstatd": 100001, "rusersd": 100002, "walld": 100008}
#: Host names and their addresses, IPv4 first.
HOSTS: Mapping[str, tuple[str, ...]] = {
    "localhost": ("127.0.0.1", "::1"),
    "charly": ("192.168.1.1",),
    "sabrina": ("192.168.1.15",),
    "dual": ("192.0.2.7", "2001:db8::7"),
    "sixonly": ("2001:db8::6",),
}
ENVIRON: Mapping[str, str] = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"}
EXECUTABLES = frozenset({"/bin/cat", "/bin/true", "/usr/sbin/tcpd", "/usr/sbin/in.ftpd"})
#: Files that exist but cannot be executed.
NOT_EXECUTABLE = frozenset({"/etc/motd"})
#: The (name, socket type) pairs of the fake internal services.
INTERNAL_SERVICES = frozenset(
    {
        (name, socketType)
        for name in ("echo", "discard", "chargen", "daytime", "time")
        for socketType in ("stream", "dgram")
    }
    | {("tcpmux", "stream")}
)


@dataclass
class FakeSystem:
    """
    A L{txinetd.core.attributes.SystemInfo} made of tables.

    @ivar services: C{(name, protocol)} to port, as in /etc/services.
    @ivar hosts: host name to addresses, IPv4 first.
    @ivar executables: the paths C{server} may name.
    @ivar notExecutable: paths that exist but are not executable.
    """

    users: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(USERS))
    groups: Mapping[str, int] = field(default_factory=lambda: dict(GROUPS))
    protocols: Mapping[str, int] = field(default_factory=lambda: dict(PROTOCOLS))
    services: Mapping[tuple[str, str], int] = field(default_factory=lambda: dict(SERVICES))
    rpc: Mapping[str, int] = field(default_factory=lambda: dict(RPC))
    hosts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(HOSTS))
    executables: Collection[str] = EXECUTABLES
    notExecutable: Collection[str] = NOT_EXECUTABLE
    environ: Mapping[str, str] = field(default_factory=lambda: dict(ENVIRON))
    networks: Mapping[str, int] = field(default_factory=lambda: {"loopback": 127 << 24})

    def userByName(self, name: str) -> tuple[int, int] | None:
        return self.users.get(name)

    def groupByName(self, name: str) -> int | None:
        return self.groups.get(name)

    def protocolByName(self, name: str) -> int | None:
        return self.protocols.get(name)

    def portByName(self, name: str, protocol: str) -> int | None:
        return self.services.get((name, protocol))

    def rpcByName(self, name: str) -> int | None:
        return self.rpc.get(name)

    def resolveHost(self, name: str) -> list[str]:
        return list(self.hosts.get(name, ()))

    def checkExecutable(self, path: str) -> str | None:
        if path in self.executables:
            return None
        if path in self.notExecutable:
            return f"Server {path} is not executable"
        return f"Unable to stat: {path}."

    def bannerProblem(self, path: str) -> str | None:
        """
        The real check: tests write their banner files.
        """
        return bannerProblem(path)

    def tlsProblem(self, settings: TLSSettings) -> str | None:
        """
        The real check: tests make their certificates.
        """
        return checkSettings(settings)

    def redirectTLSProblem(self, settings: RedirectTLS) -> str | None:
        return checkRedirectSettings(settings)


def fakeInternalServices(
    available: Collection[tuple[str, str]] = INTERNAL_SERVICES,
) -> Callable[[str, str], bool]:
    """
    An C{internalServices} argument for L{loadConfig} that knows the
    C{available} (name, socket type) pairs.
    """

    def exists(name: str, socketType: str) -> bool:
        return (name, socketType) in available

    return exists


class ConfigFiles:
    """
    A configuration tree in a test's temporary directory.

    @ivar base: the directory, used as the base directory of relative paths.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.base = os.path.abspath(case.mktemp())
        os.makedirs(self.base)

    def write(self, path: str, text: str) -> str:
        """
        Write C{text}, dedented, to C{path} under the base directory.

        @return: C{path}.
        """
        full = os.path.join(self.base, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as f:
            f.write(textwrap.dedent(text))
        return path

    def load(
        self,
        path: str = "xinetd.conf",
        system: FakeSystem | None = None,
        internal: Collection[tuple[str, str]] = INTERNAL_SERVICES,
        euid: int = 0,
        strict: bool = False,
        reloading: bool = False,
    ) -> Config:
        """
        Load the configuration whose main file is C{path}.
        """
        return loadConfig(
            path,
            system=system or FakeSystem(),
            internalServices=fakeInternalServices(internal),
            baseDirectory=self.base,
            euid=euid,
            strict=strict,
            reloading=reloading,
        )


def describe(diagnostics: Collection[Diagnostic]) -> list[str]:
    """
    The diagnostics as C{path:line: severity: message} strings.
    """
    return [str(d) for d in diagnostics]


def addresses(*tokens: str) -> tuple[AddressEntry, ...]:
    """
    The address entries that plain C{only_from} / C{no_access} tokens stand
    for, made with the standard library, not with the parser under test:
    C{a.b.c.d} and IPv6 addresses are hosts (/32, /128), C{address/prefix}
    networks (host bits must be clear), C{.domain} a suffix.  Other forms
    (factorized, names, trailing zeros) are spelled out by the tests.
    """
    entries: list[AddressEntry] = []
    for token in tokens:
        if token.startswith("."):
            entries.append(DomainEntry(token.lower()))
            continue
        network = ipaddress.ip_network(token)
        entries.append(
            NetworkEntry(network.version, int(network.network_address), network.prefixlen)
        )
    return tuple(entries)


def intervals(*pairs: tuple[int, int]) -> TimeIntervals:
    """
    C{access_times} intervals from (start, end) minutes.
    """
    return TimeIntervals(tuple(TimeInterval(start, end) for start, end in pairs))


def synchronously(work: Callable[[], T]) -> Deferred[T]:
    """
    A L{txinetd.serve.lookups.BlockingRunner} that runs the work at once.
    """
    return maybeDeferred(work)


def noName(address: str, verify: bool) -> Deferred[HostName]:
    """
    A L{txinetd.serve.lookups.ReverseLookup} that finds no name, without
    asking any resolver.
    """
    return succeed(NO_NAME)


def fakeShared(reactor: Any, **changes: Any) -> Shared:
    """
    What every service shares, for unit tests: nothing of it touches the
    machine (no resolver, no hosts files, no load average, a spawner never
    asked to start anything), the program log is L{programMessage}, and
    the service logs have no target unless their configuration names one.

    @param changes: fields of L{Shared} to give other values.
    """
    shared = Shared(
        reactor=reactor,
        say=programMessage,
        logs=LogTargets(programMessage),
        sensor=SensorList(),
        processes=ProcessLimit(None),
        load=LoadAverage(lambda: 0.0),
        localTime=time.localtime,
        hosts=FixedHosts(),
        names=noName,
        blocking=synchronously,
        ident=IdentSetup.bounded(1024, 15, programMessage),
        servers=ServerSetup(Spawner(reactor), dict(ENVIRON), 0, 1024, 0o022),
        rpcByName=RPC.get,
        datagramPorts=Counter(),
    )
    return replace(shared, **changes)


class MemoryTarget:
    """
    A log target that keeps what it is given.

    @ivar service: the service-log entries, with their times.
    """

    def __init__(self) -> None:
        self.service: list[tuple[float, str]] = []
        self.closed = False

    def writeService(self, message: str, when: float) -> None:
        self.service.append((when, message))

    def writeProgram(
        self, level: Level, message: str, when: float, function: str | None = None
    ) -> None:
        raise AssertionError("a service log gets no program messages")

    def close(self) -> None:
        self.closed = True

    @property
    def entries(self) -> list[str]:
        return [message for _, message in self.service]


def observeLog(case: SynchronousTestCase, handle: Callable[[LogEvent], None]) -> None:
    """
    Give C{handle} every log event emitted until the test ends.
    """

    @implementer(ILogObserver)
    def observer(event: LogEvent) -> None:
        handle(event)

    globalLogPublisher.addObserver(observer)
    case.addCleanup(globalLogPublisher.removeObserver, observer)


def captureMessages(case: SynchronousTestCase) -> list[tuple[Level, str]]:
    """
    Collect the program messages emitted until the test ends.
    """
    messages: list[tuple[Level, str]] = []

    def collect(event: LogEvent) -> None:
        if "xinetd_level" in event and "xinetd_text" in event:
            messages.append((event["xinetd_level"], event["xinetd_text"]))

    observeLog(case, collect)
    return messages
