# -*- test-case-name: tests.core.test_config -*-
"""
From parsed entries to validated, frozen configuration records.

L{buildConfig} takes the entries of a configuration file and everything it
includes (read by L{txinetd.daemon.conffiles}), applies the defaults
section with xinetd's inheritance rules, drops what C{disable}, C{disabled}
and C{enabled} say, fills in the derived values (protocol and socket type
inference, ports from /etc/services, argv) and checks every service in the
order of section 2.9 of the xinetd reference.  Every problem is recorded
with its file and line; a bad service is dropped and the others are kept.
What it needs to know of the machine it asks the injected
L{txinetd.core.attributes.SystemInfo}.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from txinetd.core.access import AddressEntry, TimeIntervals
from txinetd.core.attributes import (
    ATTRIBUTES,
    Arity,
    AttributeSpec,
    BadValue,
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
    SystemInfo,
    UserSpec,
    Where,
)
from txinetd.core.diagnostics import (
    Diagnostic,
    Diagnostics,
    Location,
    Severity,
    anyFatal,
    didYouMean,
)
from txinetd.core.endpoint import (
    Listen,
    ListenSpec,
    RedirectTLS,
    SystemdListen,
    TCPListen,
    TLSSettings,
    UNIXListen,
)
from txinetd.core.grammar import AttributeLine, Entry, EntryKind, Operator

#: Attributes a service inherits from the defaults as they stand when the
#: service entry starts (section 2.7).
SNAPSHOT_ATTRIBUTES = ("only_from", "no_access", "banner", "banner_success", "banner_fail")
#: List attributes taken from the final defaults unless the service names them.
LATE_LIST_ATTRIBUTES = ("log_on_success", "log_on_failure", "passenv")
#: Single-valued attributes taken from the final defaults when not set.
LATE_ATTRIBUTES = (
    "instances",
    "per_source",
    "cps",
    "groups",
    "umask",
    "max_load",
    "bind",
    "v6only",
    "log_type",
)

DEFAULT_CPS = CpsSpec(50, 10)
#: The tcpmux service, which txinetd's service layer runs itself.
TCPMUX = ("tcpmux", "stream")
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
    @ivar argv: the server's argv (empty for internal services).
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
    specified: frozenset[str] = frozenset()

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
        C{listen} description of a UNIX or systemd socket, or C{tcpmux}.
        """
        if self.place is not None:
            return self.place
        if not self.listens:
            return "tcpmux"
        return f"{self.bindAddress} port {self.port}"

    @property
    def isInternal(self) -> bool:
        """
        Whether txinetd serves it itself.
        """
        return ServiceType.INTERNAL in self.type

    @property
    def isTcpmuxClient(self) -> bool:
        """
        Whether it is reached through the tcpmux service, not a port.
        """
        return bool(self.type & {ServiceType.TCPMUX, ServiceType.TCPMUXPLUS})

    @property
    def listens(self) -> bool:
        """
        Whether it has a listening socket of its own.
        """
        return not self.isTcpmuxClient


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
    """

    path: str
    defaults: Defaults
    services: tuple[ServiceConfig, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    internals: Any = field(default=None, compare=False)

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


class _Context:
    """
    A L{txinetd.core.attributes.ConvertContext} that records warnings at one
    line.
    """

    def __init__(self, system: SystemInfo, diagnostics: Diagnostics, location: Location) -> None:
        self.system = system
        self.diagnostics = diagnostics
        self.location = location

    def warn(self, message: str) -> None:
        self.diagnostics.warning(message, self.location)


class _EntryState:
    """
    The attributes of one entry while it is being read.

    @ivar values: attribute name to value (own settings and, for a service,
        the defaults snapshot).
    @ivar lines: the entry's own lines.
    @ivar specified: the attributes the entry itself set.
    @ivar broken: whether a value was rejected (the service is dropped).
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


def _applyList(
    current: tuple[Any, ...] | None, op: Operator, items: Sequence[Any]
) -> tuple[Any, ...]:
    if op is Operator.SET:
        return tuple(items)
    base = current or ()
    if op is Operator.ADD:
        return tuple(dict.fromkeys(base + tuple(items)))
    removed = set(items)
    return tuple(item for item in base if item not in removed)


class _Loader:
    """
    Turns entries into a L{Config}.
    """

    def __init__(
        self,
        system: SystemInfo,
        diagnostics: Diagnostics,
        internalServices: Callable[[str, str], bool],
        euid: int,
        groups: frozenset[int],
        strict: bool = False,
    ) -> None:
        self.system = system
        self.diagnostics = diagnostics
        self.internalServices = internalServices
        self.euid = euid
        self.groups = groups
        self.strict = strict
        self.defaults = _EntryState("defaults", Location("", 0), {})
        self.defaultsFiles: set[str] = set()
        self.services: list[_EntryState] = []
        self.bannerProblems: dict[str, str | None] = {}

    def bannerProblem(self, path: str) -> str | None:
        """
        Why C{path} cannot be a banner (see L{SystemInfo.bannerProblem}),
        looked at once per load.
        """
        if path not in self.bannerProblems:
            self.bannerProblems[path] = self.system.bannerProblem(path)
        return self.bannerProblems[path]

    def load(self, entries: Sequence[Entry]) -> tuple[Defaults, list[ServiceConfig]]:
        for entry in entries:
            if entry.kind is EntryKind.DEFAULTS:
                self.readDefaults(entry)
            else:
                self.readService(entry)
        defaults = self.finalDefaults()
        configs = []
        for state in self.selectServices(defaults):
            config = self.finish(state, defaults)
            if config is not None:
                configs.append(config)
        return defaults, self.unique(configs)

    # --- reading -----------------------------------------------------------

    def readDefaults(self, entry: Entry) -> None:
        if entry.location.path in self.defaultsFiles:
            self.diagnostics.error(
                "only 1 defaults entry is allowed. This entry will be ignored", entry.location
            )
            return
        self.defaultsFiles.add(entry.location.path)
        for line in entry.lines:
            spec = ATTRIBUTES.get(line.name)
            if spec is None:
                accepted = self.unknownAttribute(
                    f"attribute: {line.name} should not be in default section", line, Where.DEFAULTS
                )
            elif Where.DEFAULTS not in spec.where:
                self.diagnostics.warning(
                    f"attribute: {line.name} should not be in default section", line.location
                )
                continue
            else:
                accepted = self.applyDefault(spec, line)
            if not accepted:
                self.diagnostics.fatal(
                    "A fatal error was encountered while parsing the default section. "
                    "txinetd will exit.",
                    line.location,
                )

    def unknownAttribute(self, message: str, line: AttributeLine, where: Where) -> bool:
        """
        Report an attribute name that is not one of C{where}'s, with the
        closest one that is: an error, since a misspelt C{only_from} opens
        a service to everyone.  The line is ignored, as in xinetd, unless
        the load is strict.

        @return: whether the entry may still be used.
        """
        known = [name for name, spec in ATTRIBUTES.items() if where in spec.where]
        self.diagnostics.error(message + didYouMean(line.name, known), line.location)
        return not self.strict

    def applyDefault(self, spec: AttributeSpec, line: AttributeLine) -> bool:
        """
        Apply one line of a defaults section: list attributes take C{=} as
        C{+=}, and C{log_type} may be given once in all the defaults
        sections together, with any operator.

        @return: False if the value was rejected.
        """
        if spec.name == "log_type":
            if "log_type" in self.defaults.specified:
                self.diagnostics.error("Cannot set more than one log_type attribute", line.location)
                return False
            return self.apply(self.defaults, spec, line, Operator.SET)
        op = Operator.ADD if spec.arity is Arity.LIST and line.op is Operator.SET else line.op
        return self.apply(self.defaults, spec, line, op)

    def readService(self, entry: Entry) -> None:
        snapshot = {
            name: self.defaults.values[name]
            for name in SNAPSHOT_ATTRIBUTES + LATE_LIST_ATTRIBUTES
            if name in self.defaults.values
        }
        state = _EntryState(entry.name, entry.location, snapshot, entry.lines)
        for line in entry.lines:
            spec = ATTRIBUTES.get(line.name)
            if spec is None or Where.SERVICE not in spec.where:
                accepted = self.unknownAttribute(
                    f"bad service attribute: {line.name}", line, Where.SERVICE
                )
            else:
                accepted = self.apply(state, spec, line, line.op)
            if not accepted:
                self.diagnostics.error(
                    f"Error parsing attribute {line.name} - DISABLING SERVICE", line.location
                )
                state.broken = True
            elif line.name == "disable" and state.values.get("disable"):
                return
        self.services.append(state)

    def apply(
        self, state: _EntryState, spec: AttributeSpec, line: AttributeLine, op: Operator
    ) -> bool:
        """
        Apply one line to an entry.

        @return: False if the value was rejected.
        """
        name = spec.name
        if spec.arity is not Arity.LIST:
            if name in state.specified:
                self.diagnostics.warning(
                    f"Service {state.name}: attribute already set: {line.name}", line.location
                )
                return True
            if op is not Operator.SET:
                self.diagnostics.warning(
                    f"Service {state.name}: operator '{op.value}' cannot be used for "
                    f"attribute '{line.name}'",
                    line.location,
                )
                return True
        elif op is Operator.REMOVE and not spec.removable:
            self.diagnostics.error(
                f"operator '-=' not supported for {line.name} attribute", line.location
            )
            return False
        if spec.arity is Arity.FIXED and len(line.values) != spec.count:
            self.diagnostics.warning(
                f"attribute {line.name} expects {spec.count} values and {len(line.values)} values "
                "were specified",
                line.location,
            )
            return True
        try:
            value = spec.convert(
                line.values, _Context(self.system, self.diagnostics, line.location)
            )
        except BadValue as e:
            for message in e.messages:
                self.diagnostics.error(message, line.location)
            return False
        if spec.arity is Arity.LIST:
            value = _applyList(state.values.get(name), op, value)
        state.values[name] = value
        state.specified.add(name)
        return True

    # --- combining -------------------------------------------------------------

    def finalDefaults(self) -> Defaults:
        values = self.defaults.values
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name in ("log_on_success", "log_on_failure"):
                value = frozenset(value)
            kwargs[name] = value
        return Defaults(**kwargs)

    def selectServices(self, defaults: Defaults) -> list[_EntryState]:
        """
        The services that parsed and that C{enabled} and C{disabled} (which
        name ids, in any case) let through.
        """
        enabled = None if defaults.enabled is None else {i.lower() for i in defaults.enabled}
        disabled = {i.lower() for i in defaults.disabled}
        selected = []
        for state in self.services:
            serviceId = state.values.get("id", state.name).lower()
            if state.broken or serviceId in disabled:
                continue
            if enabled is None or serviceId in enabled:
                selected.append(state)
        return selected

    def inherit(self, state: _EntryState, defaults: Defaults) -> dict[str, Any]:
        values = dict(state.values)
        for name in LATE_LIST_ATTRIBUTES + LATE_ATTRIBUTES:
            if name not in state.specified:
                values.pop(name, None)
                default = getattr(defaults, name)
                if default is not None:
                    values[name] = default
        for name in ("type", "flags", "log_on_success", "log_on_failure"):
            values[name] = frozenset(values.get(name, ()))
        return values

    # --- fill and check (section 2.9) ---------------------------------------------

    def finish(self, state: _EntryState, defaults: Defaults) -> ServiceConfig | None:
        values = self.inherit(state, defaults)
        problems: list[str] = []
        warnings: list[str] = []
        built = _Builder(
            state,
            values,
            self.system,
            self.internalServices,
            self.euid,
            self.groups,
            self.bannerProblem,
        )
        built.fill(problems, warnings)
        if not problems:
            built.check(problems, warnings)
        for message in warnings:
            self.diagnostics.warning(message, state.location)
        for message in problems:
            self.diagnostics.error(message, state.location)
        if problems:
            return None
        config = built.record()
        problem = requiresOnlyFrom(config)
        if problem is not None:
            self.diagnostics.error(problem, state.location)
            return None
        return config

    def unique(self, configs: list[ServiceConfig]) -> list[ServiceConfig]:
        seen: dict[tuple[Any, ...], ServiceConfig] = {}
        kept = []
        for config in configs:
            if not config.listens or config.port is None or config.port == 0:
                kept.append(config)
                continue
            key = (config.port, config.protocol, config.family, config.bindAddress)
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = config
                kept.append(config)
            elif earlier.id.lower() == config.id.lower():
                self.diagnostics.error(
                    f"service: {config.name} id: {config.id} not unique or is a duplicate "
                    "- DISABLING",
                    config.location,
                )
            else:
                self.diagnostics.error(
                    f"service: {config.name} id: {config.id} is unique but its identical to "
                    f"service: {earlier.name} id: {earlier.id} - DISABLING",
                    config.location,
                )
        return kept


_INFER_PROTOCOL = {SocketType.STREAM: "tcp", SocketType.DGRAM: "udp"}
_INFER_SOCKET = {"tcp": SocketType.STREAM, "udp": SocketType.DGRAM}


class _Builder:
    """
    The fill and check steps for one service.
    """

    def __init__(
        self,
        state: _EntryState,
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
        description's keys, as records.
        """
        values, name = self.values, self.name
        keys = values.pop("ssl_keys", None)
        certificate = values.pop("tls_certificate", None)
        tlsKey = values.pop("tls_key", None)
        chain = values.pop("tls_chain", None)
        clientCA = values.pop("tls_client_ca", None)
        clientRequired = values.pop("tls_client_cert", None)
        if keys is not None and (certificate or tlsKey or chain):
            problems.append(f"Service {name}: the ssl: description already names the keys")
        elif keys is not None:
            certificate, tlsKey, chain = keys.certificate, keys.key, keys.chain
        if certificate is not None and clientRequired is not None and clientCA is None:
            problems.append(f"Service {name}: tls_client_cert needs tls_client_ca")
        elif certificate is not None:
            values["tls"] = TLSSettings(
                certificate=certificate,
                key=tlsKey or certificate,
                chain=chain,
                clientCA=clientCA,
                clientRequired=clientCA is not None and clientRequired is not False,
            )
        elif tlsKey or chain or clientCA or clientRequired is not None:
            problems.append(f"Service {name}: TLS attributes need tls_certificate")
        redirectTLS = values.pop("redirect_tls", None)
        redirectName = values.pop("redirect_tls_name", None)
        redirectCA = values.pop("redirect_tls_ca", None)
        redirect: RedirectSpec | None = values.get("redirect")
        if redirectTLS and redirect is not None:
            values["redirectTLS"] = RedirectTLS(redirectName or redirect.host.text, redirectCA)
        elif redirectTLS:
            problems.append(f"Service {name}: redirect_tls needs redirect")
        elif redirectName is not None or redirectCA is not None:
            problems.append(
                f"Service {name}: redirect_tls_name and redirect_tls_ca need redirect_tls = yes"
            )

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

    def record(self) -> ServiceConfig:
        values = self.values
        bind: HostSpec | None = values.get("bind")
        flags = self.flags
        family, address = _bindFamily(bind, flags)
        place = self.place
        if place is not None:
            family, address = _placeFamily(place), ""
        known = {f for f in ServiceConfig.__dataclass_fields__}
        kwargs = {key: value for key, value in values.items() if key in known}
        kwargs.update(
            name=self.name,
            location=self.state.location,
            type=self.types,
            flags=flags,
            port=values.get("port"),
            family=family,
            bindAddress=address,
            specified=frozenset(self.state.specified),
        )
        return ServiceConfig(**kwargs)


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
        not config.isInternal
        or Flag.SENSOR in config.flags
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


def buildConfig(
    path: str,
    entries: Sequence[Entry],
    diagnostics: Diagnostics,
    system: SystemInfo,
    internalServices: Callable[[str, str], bool],
    euid: int,
    groups: Collection[int] = (),
    strict: bool = False,
    internals: Any = None,
) -> Config:
    """
    Combine and validate the entries of a configuration.

    @param path: the main configuration file.
    @param entries: its entries, includes expanded (see
        L{txinetd.daemon.conffiles}).
    @param diagnostics: where the problems met reading them are, and where
        every other problem goes.
    @param system: the look-ups.
    @param internalServices: tells whether an internal service of a name and
        socket type exists.
    @param euid: the daemon's effective uid.
    @param groups: the daemon's effective and supplementary gids (a daemon
        that is not root can only run servers with one of them).
    @param strict: whether an unknown attribute disables its service (is
        fatal in a defaults section) instead of being ignored.
    @param internals: the installed internal services the configuration was
        checked against (see L{Config.internals}).
    @return: the L{Config}; check L{Config.isFatal}.
    """
    loader = _Loader(system, diagnostics, internalServices, euid, frozenset(groups), strict)
    defaults, services = loader.load(entries)
    return Config(path, defaults, tuple(services), diagnostics.inFileOrder(), internals)
