# -*- test-case-name: tests.core.test_checks -*-
"""
The fill and check steps of one service (section 2.9 of the xinetd
reference): the derived values (protocol and socket type inference, the
port from /etc/services, C{listen}, TLS, argv), then every check, in
xinetd's order, each problem in xinetd's words.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

from txinetd.core.config import IDENT_PORT, TCPMUX, Listening, Origins, ServiceConfig, ServiceKind
from txinetd.core.diagnostics import Location
from txinetd.core.endpoint import (
    Listen,
    ListenSpec,
    RedirectTLS,
    SystemdListen,
    TCPListen,
    TLSSettings,
    UNIXListen,
    fillTLSValues,
)
from txinetd.core.grammar import AttributeLine, Operator
from txinetd.core.proxyprotocol import fillProxyValues
from txinetd.core.values import (
    FailureFlag,
    Flag,
    GroupSpec,
    HostSpec,
    RedirectSpec,
    ServiceType,
    SocketType,
    SuccessFlag,
    SystemInfo,
    UserSpec,
)


class EntryState:
    """
    The attributes of one entry while it is being read.

    @ivar values: attribute name to value (own settings and, for a service,
        the defaults snapshot).
    @ivar lines: the entry's own lines.
    @ivar specified: the attributes the entry itself set.
    @ivar broken: whether a value was rejected (the service is dropped).
    @ivar origins: attribute name to the line that gave it its value.
    @ivar itemOrigins: attribute name to the line that added each item of
        a list attribute (dictionaries shared with the defaults' until the
        entry changes them).
    """

    def __init__(
        self,
        name: str,
        location: Location,
        values: dict[str, Any],
        lines: Sequence[AttributeLine] = (),
    ) -> None:
        self.name = name
        self.location = location
        self.values = values
        self.lines = lines
        self.specified: set[str] = set()
        self.broken = False
        self.origins: dict[str, Location] = {}
        self.itemOrigins: dict[str, dict[Any, Location]] = {}


#: The fields of a service's record.
_RECORD_FIELDS = frozenset(ServiceConfig.__dataclass_fields__)

_INFER_PROTOCOL = {SocketType.STREAM: "tcp", SocketType.DGRAM: "udp"}
_INFER_SOCKET = {"tcp": SocketType.STREAM, "udp": SocketType.DGRAM}

#: The sockets txinetd makes: TCP stream sockets and UDP datagram sockets
#: (protocols by number, so that an alias from /etc/protocols counts too).
_SOCKET_PROTOCOLS = {
    SocketType.STREAM: socket.IPPROTO_TCP,
    SocketType.DGRAM: socket.IPPROTO_UDP,
}
_PROTOCOL_SOCKETS = {
    socket.IPPROTO_TCP: ("tcp", SocketType.STREAM),
    socket.IPPROTO_UDP: ("udp", SocketType.DGRAM),
}


class ServiceBuilder:
    """
    The fill and check steps for one service.
    """

    def __init__(
        self,
        state: EntryState,
        values: dict[str, Any],
        system: SystemInfo,
        internalServices: Callable[[str, str], bool],
        euid: int,
        groups: frozenset[int],
        bannerProblem: Callable[[str], str | None] = lambda path: None,
    ) -> None:
        self.groups = groups
        self.bannerProblem = bannerProblem
        self.state = state
        self.name = state.name
        self.values = values
        self.system = system
        self.internalServices = internalServices
        self.euid = euid
        self.values.setdefault("id", state.name)

    @property
    def types(self) -> frozenset[ServiceType]:
        return frozenset(self.values["type"])

    @property
    def flags(self) -> frozenset[Flag]:
        return frozenset(self.values["flags"])

    def fill(self, problems: list[str], warnings: list[str]) -> None:
        values = self.values
        if Flag.SENSOR in self.flags:
            values["type"] = self.types | {ServiceType.INTERNAL}
        internal = ServiceType.INTERNAL in self.types
        if values.get("redirect") is not None:
            values.pop("server", None)
        elif not internal:
            if "server" not in values:
                problems.append(f"Must specify a server in {self.name}")
            if Flag.NAMEINARGS in self.flags and "server_args" not in values:
                problems.append("Must specify server args if using NAMEINARGS flag")
        self.fillArgv()
        if Flag.IPV4 in self.flags and Flag.IPV6 in self.flags:
            warnings.append(f"Service {self.name} will use IPv6 or fallback to IPv4")
            values["flags"] = self.flags - {Flag.IPV4}
        self.fillProtocol()
        self.fillListen(problems)
        self.fillPort(problems)
        self.fillTLS(problems)
        self.fillProxy(problems)

    def fillListen(self, problems: list[str]) -> None:
        """
        C{listen}: a TCP description gives the port and bind address; a
        UNIX or systemd one replaces them.
        """
        values = self.values
        listen: Listen | None = values.pop("listen", None)
        if listen is None:
            return
        given = self.state.specified & {"port", "bind"}
        if given:
            problems.append(f"Service {self.name}: listen replaces {sorted(given)[0]}")
        values["listen"] = spec = listen.spec
        if isinstance(spec, TCPListen):
            values["port"] = spec.port
            address = spec.interface or ("::" if spec.ipv6 else "0.0.0.0")
            values["bind"] = HostSpec(address, (address,))
        else:
            values.pop("bind", None)
            values["port"] = None
        if listen.keys is not None:
            values["ssl_keys"] = listen.keys

    def fillTLS(self, problems: list[str]) -> None:
        """
        The C{tls_*} and C{redirect_tls*} attributes, or an C{ssl:}
        description's keys, as records (see L{fillTLSValues}).
        """
        fillTLSValues(self.values, self.name, problems)

    def fillProxy(self, problems: list[str]) -> None:
        """
        The C{proxy_*} attributes as a L{ProxySettings} record, and what
        C{redirect_proxy} and C{connection_env} need (see
        L{fillProxyValues}).
        """
        unix = self.place is not None and _placeFamily(self.place) is socket.AF_UNIX
        fillProxyValues(self.values, self.name, self.types, unix, problems)

    def fillArgv(self) -> None:
        server = self.values.get("server")
        arguments = tuple(self.values.get("server_args") or ())
        if server is None:
            return
        if Flag.NAMEINARGS in self.flags:
            self.values["argv"] = arguments
        else:
            self.values["argv"] = (os.path.basename(server), *arguments)

    def fillProtocol(self) -> None:
        socketType = self.values.get("socket_type")
        protocol = self.values.get("protocol")
        if protocol is None and socketType in _INFER_PROTOCOL:
            self.values["protocol"] = _INFER_PROTOCOL[socketType]
        elif socketType is None and protocol in _INFER_SOCKET:
            self.values["socket_type"] = _INFER_SOCKET[protocol]

    def fillPort(self, problems: list[str]) -> None:
        values = self.values
        if "port" in values or self.isTcpmuxClient or ServiceType.RPC in self.types:
            return
        protocol = values.get("protocol")
        if ServiceType.UNLISTED in self.types:
            problems.append(f"Unlisted service: {self.name} must have a port entry")
        elif protocol is None:
            problems.append(f"Port not specified for service: {self.name} and no protocol given")
        else:
            port = self.system.portByName(self.name, protocol)
            if port is None:
                problems.append(
                    f"Port not specified and can't find service: {self.name} with getservbyname"
                )
            else:
                values["port"] = port

    @property
    def isTcpmuxClient(self) -> bool:
        return bool(self.types & {ServiceType.TCPMUX, ServiceType.TCPMUXPLUS})

    @property
    def place(self) -> ListenSpec | None:
        """
        A UNIX or systemd C{listen}, which has no port.
        """
        spec = self.values.get("listen")
        return spec if isinstance(spec, UNIXListen | SystemdListen) else None

    def check(self, problems: list[str], warnings: list[str]) -> None:
        values, name, serviceId = self.values, self.name, self.values["id"]
        types, flags = self.types, self.flags
        internal = ServiceType.INTERNAL in types
        socketType: SocketType | None = values.get("socket_type")
        if Flag.INTERCEPT in flags:
            self.clearIntercept(warnings)
        if Flag.SENSOR in flags:
            # Served by a discard of its socket type (txinetd.builtins.simple.SENSORS).
            builtin, known = "sensor", socketType in (None, SocketType.STREAM, SocketType.DGRAM)
        else:
            builtin = name
            known = socketType is None or self.internalServices(name.lower(), socketType.value)
        if internal and not known:
            assert socketType is not None
            problems.append(f"No such internal service: {builtin}/{socketType.value} - DISABLING")
        if self.isTcpmuxClient:
            if ServiceType.UNLISTED not in types:
                problems.append(f"Service: {name} (tcpmux) should have UNLISTED in type.")
            if values.get("protocol") not in (None, "tcp"):
                problems.append(f"Service: {name} (tcpmux) should have tcp in protocol.")
        self.checkListed(problems)
        self.checkRedirect(problems, warnings)
        self.checkEndpoint(problems)
        if Flag.NAMEINARGS in flags and internal:
            problems.append(f"Service {name} is INTERNAL and has NAMEINARGS flag set")
        if socketType is SocketType.DGRAM and values.get("wait") is False:
            problems.append(
                f"Service {name} has socket_type dgram, but does not wait - DISABLING; write "
                "wait = yes (the server reads the datagrams from the socket it is given)"
            )
        self.checkProtocol(problems)
        self.checkRequired(problems)
        self.checkUser(problems)
        self.checkBanners(problems)
        if values.get("port") == IDENT_PORT and values.get("protocol") == "tcp":
            for attribute in ("log_on_success", "log_on_failure"):
                if (
                    SuccessFlag.USERID in values[attribute]
                    or FailureFlag.USERID in values[attribute]
                ):
                    warnings.append(f"{serviceId} service: clearing USERID option from {attribute}")
                    values[attribute] = frozenset(
                        f for f in values[attribute] if f.value != "USERID"
                    )

    def checkProtocol(self, problems: list[str]) -> None:
        """
        txinetd makes TCP stream sockets and UDP datagram sockets only: a
        C{socket_type} and a C{protocol} that disagree (C{stream} and C{udp},
        C{dgram} and C{tcp}) make no socket (xinetd finds out when it creates
        it, C{Protocol not supported}, and deactivates the service), and
        another socket type or protocol (C{raw}, C{seqpacket}, C{sctp}) is
        not served.
        """
        socketType: SocketType | None = self.values.get("socket_type")
        if socketType is None:
            return
        wanted = _SOCKET_PROTOCOLS.get(socketType)
        if wanted is None:
            problems.append(
                f"Service {self.name}: socket_type {socketType.value} is not supported: "
                "txinetd serves stream (TCP) and dgram (UDP) sockets only"
            )
            return
        protocol: str | None = self.values.get("protocol")
        number = None if protocol is None else self.system.protocolByName(protocol)
        if number is None or number == wanted:
            return
        known = _PROTOCOL_SOCKETS.get(number)
        if known is None:
            problems.append(
                f"Service {self.name}: protocol {protocol} is not supported: txinetd serves "
                "stream (TCP) and dgram (UDP) sockets only"
            )
        else:
            problems.append(
                f"Service {self.name}: socket_type {socketType.value} and protocol {protocol} "
                f"disagree ({known[0]} sockets are {known[1].value})"
            )

    def clearIntercept(self, warnings: list[str]) -> None:
        """
        Drop C{flags = INTERCEPT}: xinetd's warnings where it drops it too,
        and one where it would keep it, since txinetd does not intercept.
        """
        serviceId, waits = self.values["id"], self.values.get("wait")
        internal = ServiceType.INTERNAL in self.types
        if internal:
            warnings.append(f"Internal services cannot be intercepted: {serviceId} ")
        if not waits:
            warnings.append(f"Multi-threaded services cannot be intercepted: {serviceId}")
        if waits and not internal:
            warnings.append(
                f"Service {serviceId}: INTERCEPT is not supported: the address rules apply "
                "to the client that starts the server, not to those it serves after"
            )
        self.values["flags"] = self.flags - {Flag.INTERCEPT}

    def checkEndpoint(self, problems: list[str]) -> None:
        """
        What C{listen} and TLS allow: TLS and UNIX sockets are stream
        services that do not wait; a UNIX socket (or a systemd one of
        domain UNIX) has no client address for address rules; certificates
        and CAs must load.
        """
        values, name = self.values, self.name
        spec: ListenSpec | None = values.get("listen")
        tls: TLSSettings | None = values.get("tls")
        stream = values.get("socket_type") is SocketType.STREAM
        if spec is not None and (self.isTcpmuxClient or ServiceType.RPC in self.types):
            problems.append(f"Service {name}: RPC and tcpmux services cannot use listen")
        if isinstance(spec, TCPListen | UNIXListen) and not stream:
            problems.append(f"Service {name}: listen = {spec.text} needs socket_type = stream")
        own = self.state.specified & {"only_from", "no_access"}
        if own and self.place is not None and _placeFamily(self.place) is socket.AF_UNIX:
            problems.append(f"Service {name}: {sorted(own)[0]} needs an IP listener")
        if tls is not None and (not stream or values.get("wait")):
            problems.append(f"Service {name}: TLS needs socket_type = stream and wait = no")
        elif tls is not None or values.get("redirectTLS") is not None:
            self.checkTLS(problems)

    def checkTLS(self, problems: list[str]) -> None:
        """
        Whether the certificates and CAs of the TLS server side and of the
        TLS redirect load now.
        """
        tls: TLSSettings | None = self.values.get("tls")
        redirectTLS: RedirectTLS | None = self.values.get("redirectTLS")
        found = [
            None if tls is None else self.system.tlsProblem(tls),
            None if redirectTLS is None else self.system.redirectTLSProblem(redirectTLS),
        ]
        problems += [f"Service {self.name}: {problem}" for problem in found if problem is not None]

    def checkListed(self, problems: list[str]) -> None:
        values, name, types = self.values, self.name, self.types
        if ServiceType.UNLISTED in types or self.place is not None:
            return
        if ServiceType.RPC in types:
            if self.system.rpcByName(name) is None:
                problems.append(f"unknown RPC service: {name}")
            return
        protocol = values.get("protocol")
        if protocol is None:
            problems.append(f"A protocol or a socket_type must be specified for service: {name}.")
            return
        registered = self.system.portByName(name, protocol)
        if registered is None:
            problems.append(f"service/protocol combination not in /etc/services: {name}/{protocol}")
        elif values.get("port", registered) != registered:
            problems.append(f"Service {name} expects port {registered}, not {values['port']}")

    def checkRedirect(self, problems: list[str], warnings: list[str]) -> None:
        values, name = self.values, self.name
        if values.get("redirect") is not None:
            if values.get("socket_type") is not SocketType.STREAM:
                problems.append(f"Only tcp sockets are supported for redirected service {name}")
            if values.get("wait"):
                problems.append(f"Redirected service {name} must not wait")
            if Flag.NAMEINARGS in self.flags:
                problems.append(f"Redirected service {name} should not have NAMEINARGS flag set")
        elif SuccessFlag.TRAFFIC in values["log_on_success"]:
            if self.namesFlag("log_on_success", SuccessFlag.TRAFFIC):
                warnings.append(f"Service {name} is not redirected: the TRAFFIC flag has no effect")
            values["log_on_success"] = values["log_on_success"] - {SuccessFlag.TRAFFIC}

    def namesFlag(self, attribute: str, flag: SuccessFlag) -> bool:
        """
        Whether the entry's own lines add C{flag} to C{attribute} (rather
        than the service inheriting it from the defaults).
        """
        return any(
            line.name == attribute
            and line.op is not Operator.REMOVE
            and flag.value in (value.upper() for value in line.values)
            for line in self.state.lines
        )

    def checkRequired(self, problems: list[str]) -> None:
        values, types = self.values, self.types
        required = ["socket_type", "wait"]
        if ServiceType.INTERNAL not in types:
            required.append("user")
            if values.get("redirect") is None:
                required.append("server")
            if ServiceType.UNLISTED in types:
                # An unlisted service without a port was already rejected by
                # fillPort, so "port" never comes up missing here.
                required.append("protocol")
        if ServiceType.RPC in types:
            required += ["protocol", "rpc_version"]
            if ServiceType.UNLISTED in types:
                required.append("rpc_number")
        for attribute in dict.fromkeys(required):
            if values.get(attribute) is None:
                problems.append(f"Service {values['id']} missing attribute {attribute} - DISABLING")

    def checkBanners(self, problems: list[str]) -> None:
        """
        A banner must be a regular file of at most L{txinetd.serve.banners.MAX_BANNER} bytes (a
        FIFO or a device would stall or flood the service); one that is
        missing now is read again at each connection.
        """
        for attribute in ("banner", "banner_success", "banner_fail"):
            path: str | None = self.values.get(attribute)
            problem = None if path is None else self.bannerProblem(path)
            if problem is not None:
                problems.append(f"Service {self.name}: {attribute} {path}: {problem}")

    def checkUser(self, problems: list[str]) -> None:
        if self.euid == 0:
            return
        user: UserSpec | None = self.values.get("user")
        group: GroupSpec | None = self.values.get("group")
        if user is not None and user.uid != self.euid:
            problems.append(
                f"Service {self.name}: txinetd runs as uid {self.euid} and cannot run servers "
                f"as user {user.name}"
            )
        if group is not None and group.gid not in self.groups:
            problems.append(
                f"Service {self.name}: txinetd runs as uid {self.euid} and cannot run servers "
                f"as group {group.name}"
            )

    def record(self, origins: Origins | None = None) -> ServiceConfig:
        """
        The service's record, with where its settings are written.
        """
        values = self.values
        bind: HostSpec | None = values.get("bind")
        flags = self.flags
        family, address = _bindFamily(bind, flags)
        place = self.place
        if place is not None:
            family, address = _placeFamily(place), ""
        kwargs = {key: value for key, value in values.items() if key in _RECORD_FIELDS}
        kwargs.update(
            name=self.name,
            location=self.state.location,
            type=self.types,
            flags=flags,
            port=values.get("port"),
            family=family,
            bindAddress=address,
            kind=kindOf(
                self.types, flags, self.name, values["socket_type"], values.get("redirect")
            ),
            listening=self.listening(),
            specified=frozenset(self.state.specified),
        )
        if origins is not None:
            kwargs["origins"] = origins
        return ServiceConfig(**kwargs)

    def listening(self) -> Listening:
        """
        How the clients of a checked service reach it: datagrams, and the
        connections of an external service that waits, go to whatever
        reads the socket (txinetd for an internal service, the server
        otherwise); other connections are accepted.
        """
        internal = ServiceType.INTERNAL in self.types
        wait = self.values["wait"]
        if self.isTcpmuxClient:
            return Listening.THROUGH_TCPMUX
        if self.values["socket_type"] is not SocketType.STREAM:
            return Listening.DATAGRAMS if internal else Listening.HAND_OVER_DATAGRAMS
        if not wait:
            return Listening.ACCEPT
        return Listening.ACCEPT_ONE_AT_A_TIME if internal else Listening.HAND_OVER_STREAM


def kindOf(
    types: frozenset[ServiceType],
    flags: frozenset[Flag],
    name: str,
    socketType: SocketType,
    redirect: RedirectSpec | None,
) -> ServiceKind:
    """
    What serves a checked service's clients (see L{ServiceKind}).
    """
    if ServiceType.INTERNAL not in types:
        return ServiceKind.REDIRECT if redirect is not None else ServiceKind.SERVER
    if Flag.SENSOR in flags:
        return ServiceKind.SENSOR
    if (name.lower(), socketType.value) == TCPMUX:
        return ServiceKind.TCPMUX
    return ServiceKind.INTERNAL


#: The introspection services (L{txinetd.builtins.introspect}), which show
#: the daemon's state to whoever connects.
INTROSPECTION_NAMES = ("servers", "services", "xadmin")


def requiresOnlyFrom(config: ServiceConfig) -> str | None:
    """
    The load-time rule for the introspection services.

    @return: the error for an INTERNAL stream service named C{servers},
        C{services} or C{xadmin} whose own entry has no C{only_from} (one
        inherited from the defaults does not count), else L{None}.
    """
    if (
        config.kind is not ServiceKind.INTERNAL
        or config.socket_type is not SocketType.STREAM
        or config.name.lower() not in INTROSPECTION_NAMES
        or "only_from" in config.specified
    ):
        return None
    return (
        f"Service {config.name} shows the daemon's state and needs an only_from "
        "of its own - DISABLING"
    )


def _placeFamily(place: ListenSpec) -> socket.AddressFamily:
    """
    The family of a UNIX or systemd listener (unknown for a systemd socket
    without C{domain}, until it is adopted).
    """
    if isinstance(place, SystemdListen):
        return place.domain or socket.AF_UNSPEC
    return socket.AF_UNIX


def _bindFamily(bind: HostSpec | None, flags: frozenset[Flag]) -> tuple[socket.AddressFamily, str]:
    """
    The listening family and address (section 1.2): IPv4 if C{flags = IPv4}
    or the bind address is IPv4, else IPv6; a host name's address is chosen
    by the flags (IPv4 unless C{flags = IPv6}).
    """
    if bind is None:
        if Flag.IPV4 in flags:
            return socket.AF_INET, "0.0.0.0"
        return socket.AF_INET6, "::"
    wantSix = Flag.IPV6 in flags
    candidates = [a for a in bind.addresses if (":" in a) == wantSix] or list(bind.addresses)
    address = candidates[0]
    return (socket.AF_INET6 if ":" in address else socket.AF_INET), address
