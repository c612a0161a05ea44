# -*- test-case-name: tests.core.test_config -*-
"""
A configuration as records: L{Config}, its final L{Defaults} and one frozen
L{ServiceConfig} per service that survived its checks.  They are made by
L{txinetd.core.inheritance.buildConfig} from a configuration's entries.
"""

from __future__ import annotations

import socket
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from txinetd.core.addressentries import AddressEntry
from txinetd.core.diagnostics import (
    Diagnostic,
    Location,
    Severity,
    anyFatal,
)
from txinetd.core.endpoint import (
    ListenSpec,
    RedirectTLS,
    TCPListen,
    TLSSettings,
)
from txinetd.core.proxyprotocol import ConnectionEnv, ProxySettings, ProxyVersion
from txinetd.core.times import TimeIntervals
from txinetd.core.values import (
    CpsSpec,
    EnvEntry,
    FailureFlag,
    Flag,
    GroupSpec,
    HostSpec,
    LogSpec,
    RedirectSpec,
    ServiceType,
    SocketType,
    SuccessFlag,
    UserSpec,
)

DEFAULT_CPS = CpsSpec(50, 10)
#: The tcpmux service, which txinetd's service layer runs itself.
TCPMUX = ("tcpmux", "stream")
#: The port of ident servers (RFC 1413): a service on it never asks ident
#: about its own clients.
IDENT_PORT = 113


@dataclass(frozen=True)
class Defaults:
    """
    The final defaults section (after every file).  Fields are the xinetd
    attribute names; L{None} means "not given".
    """

    instances: int | None = None
    per_source: int | None = None
    cps: CpsSpec | None = None
    groups: bool | None = None
    umask: int | None = None
    max_load: float | None = None
    bind: HostSpec | None = None
    v6only: bool | None = None
    log_type: LogSpec | None = None
    log_on_success: frozenset[SuccessFlag] = frozenset()
    log_on_failure: frozenset[FailureFlag] = frozenset()
    only_from: tuple[AddressEntry, ...] | None = None
    no_access: tuple[AddressEntry, ...] | None = None
    passenv: tuple[str, ...] | None = None
    banner: str | None = None
    banner_success: str | None = None
    banner_fail: str | None = None
    disabled: tuple[str, ...] = ()
    enabled: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class Origins:
    """
    Where a service's settings are written, for explanations
    (C{--explain}): the line that gave each attribute its value (the
    service's own, or the C{defaults} section's it inherited), and for each
    item of a list attribute (an C{only_from} entry, say) the line that
    added it.

    @ivar attributes: attribute name to the line.
    @ivar items: attribute name to each item's line.
    """

    attributes: Mapping[str, Location] = field(default_factory=dict)
    items: Mapping[str, Mapping[Hashable, Location]] = field(default_factory=dict)

    def of(self, attribute: str, item: Hashable | None = None) -> Location | None:
        """
        Where C{attribute} (or its C{item}) is written, if it is.
        """
        if item is not None:
            found = self.items.get(attribute, {}).get(item)
            if found is not None:
                return found
        return self.attributes.get(attribute)


class ServiceKind(Enum):
    """
    What serves a service's clients: decided once, when the configuration
    is loaded (L{txinetd.core.checks.kindOf}), as OpenBSD inetd's table
    keys its built-ins by name and socket type.  Nothing else looks at a
    service's type, flags and attributes to tell.
    """

    #: A built-in or plugin (L{txinetd.interfaces.IInternalService}), in
    #: txinetd's process.
    INTERNAL = "internal"
    #: The tcpmux multiplexer (an INTERNAL stream service named tcpmux): it
    #: reads a service name and hands the client to that service.
    TCPMUX = "tcpmux"
    #: A C{flags = SENSOR} service: it refuses every client and puts its
    #: address on the SENSOR list.
    SENSOR = "sensor"
    #: C{redirect}: the connection is relayed to another host.
    REDIRECT = "redirect"
    #: An external server, started for each client (or, with C{wait =
    #: yes}, given the listening socket).
    SERVER = "server"

    @property
    def inProcess(self) -> bool:
        """
        Whether txinetd serves the clients itself (C{type = INTERNAL}).
        """
        return self in _IN_PROCESS


_IN_PROCESS = frozenset({ServiceKind.INTERNAL, ServiceKind.TCPMUX, ServiceKind.SENSOR})


class Listening(Enum):
    """
    How a service's clients reach what serves them: decided once, with
    its L{ServiceKind}.
    """

    #: txinetd accepts each connection on the service's listening sockets.
    ACCEPT = "accept"
    #: txinetd accepts one connection, serves it in process, and accepts
    #: the next once it has ended (an internal stream service with C{wait =
    #: yes}).
    ACCEPT_ONE_AT_A_TIME = "accept one at a time"
    #: txinetd reads each datagram and answers it in process.
    DATAGRAMS = "datagrams"
    #: The server takes the listening stream socket itself, and accepts
    #: what it wants (an external C{wait = yes} stream service).
    HAND_OVER_STREAM = "hand over the stream socket"
    #: The server takes the datagram socket itself (an external dgram
    #: service, which always waits).
    HAND_OVER_DATAGRAMS = "hand over the datagram socket"
    #: No socket of its own: the client names the service to the tcpmux
    #: service (C{type = TCPMUX} or C{TCPMUXPLUS}).
    THROUGH_TCPMUX = "through tcpmux"

    @property
    def handsOver(self) -> bool:
        """
        Whether the service's servers are given its listening socket.
        """
        return self in (Listening.HAND_OVER_STREAM, Listening.HAND_OVER_DATAGRAMS)

    @property
    def accepts(self) -> bool:
        """
        Whether txinetd accepts the service's connections.
        """
        return self in (Listening.ACCEPT, Listening.ACCEPT_ONE_AT_A_TIME)


@dataclass(frozen=True)
class ServiceConfig:
    """
    One service, validated and complete.  Fields named like xinetd
    attributes hold that attribute's value after inheritance; L{None}
    means "not given" (for C{instances} and C{per_source}: UNLIMITED).

    @ivar name: the service name (the word after C{service}).
    @ivar location: where the entry starts.
    @ivar specified: the attributes the entry itself sets.
    @ivar family: the listening socket's address family.
    @ivar bindAddress: the address to bind (C{"::"} for dual stack).
    @ivar kind: what serves its clients.
    @ivar listening: how its clients reach what serves them.
    @ivar argv: the server's argv (empty for internal services).
    @ivar origins: where its settings are written (not part of its value).
    """

    name: str
    id: str
    location: Location
    type: frozenset[ServiceType]
    flags: frozenset[Flag]
    socket_type: SocketType
    protocol: str
    wait: bool
    port: int | None
    family: socket.AddressFamily
    bindAddress: str
    kind: ServiceKind
    listening: Listening
    argv: tuple[str, ...] = ()
    user: UserSpec | None = None
    group: GroupSpec | None = None
    groups: bool = False
    server: str | None = None
    server_args: tuple[str, ...] | None = None
    instances: int | None = None
    per_source: int | None = None
    cps: CpsSpec = DEFAULT_CPS
    max_load: float | None = None
    nice: int | None = None
    umask: int | None = None
    env: tuple[EnvEntry, ...] = ()
    passenv: tuple[str, ...] | None = None
    redirect: RedirectSpec | None = None
    bind: HostSpec | None = None
    v6only: bool | None = None
    banner: str | None = None
    banner_success: str | None = None
    banner_fail: str | None = None
    access_times: TimeIntervals | None = None
    only_from: tuple[AddressEntry, ...] | None = None
    no_access: tuple[AddressEntry, ...] | None = None
    log_type: LogSpec | None = None
    log_on_success: frozenset[SuccessFlag] = frozenset()
    log_on_failure: frozenset[FailureFlag] = frozenset()
    rpc_version: tuple[int, int] | None = None
    rpc_number: int | None = None
    libwrap: str | None = None
    deny_time: int = 0
    rlimit_as: int | None = None
    rlimit_cpu: int | None = None
    rlimit_data: int | None = None
    rlimit_rss: int | None = None
    rlimit_stack: int | None = None
    rlimit_files: int | None = None
    listen: ListenSpec | None = None
    tls: TLSSettings | None = None
    redirectTLS: RedirectTLS | None = None
    proxy: ProxySettings | None = None
    redirect_proxy: ProxyVersion | None = None
    connection_env: frozenset[ConnectionEnv] = frozenset()
    specified: frozenset[str] = frozenset()
    origins: Origins = field(default_factory=Origins, compare=False, repr=False)

    @property
    def place(self) -> str | None:
        """
        Where a service listens that has no port: a UNIX socket path or a
        systemd socket (part of its identity across a reconfiguration).
        """
        if self.listen is None or isinstance(self.listen, TCPListen):
            return None
        return self.listen.text

    @property
    def where(self) -> str:
        """
        Where the service listens, for messages: C{127.0.0.1 port 7}, the
        C{listen} description of a UNIX or systemd socket, C{tcpmux}, or,
        for a service without a port (an RPC service, which the portmapper
        makes known), C{:: port chosen at bind}.
        """
        if self.place is not None:
            return self.place
        if not self.listens:
            return "tcpmux"
        port = "chosen at bind" if self.port is None else self.port
        return f"{self.bindAddress} port {port}"

    @property
    def listens(self) -> bool:
        """
        Whether it has a listening socket of its own.
        """
        return self.listening is not Listening.THROUGH_TCPMUX


@dataclass(frozen=True)
class Config:
    """
    A loaded configuration.

    @ivar path: the main file.
    @ivar defaults: the final L{Defaults}.
    @ivar services: the services that survived, in file order.
    @ivar diagnostics: every problem found.
    @ivar internals: the installed internal services (a
        L{txinetd.builtins.simple.InternalServices}) the services were checked
        against, when L{loadConfig} read them; the same serve them.
    @ivar disabled: the ids of the services its files name but disable
        (C{disable = yes}, or left out by C{disabled} or C{enabled}), in
        file order.
    """

    path: str
    defaults: Defaults
    services: tuple[ServiceConfig, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    internals: Any = field(default=None, compare=False)
    disabled: tuple[str, ...] = ()

    @property
    def isFatal(self) -> bool:
        """
        Whether the configuration cannot be used at all.
        """
        return anyFatal(self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """
        The diagnostics of severity error or fatal.
        """
        return tuple(d for d in self.diagnostics if d.severity in (Severity.ERROR, Severity.FATAL))
