# -*- test-case-name: tests.core.test_dump -*-
"""
The internal state dump, in the layout of xinetd's (section 11.4 of the
reference): the defaults, one block per service with its configuration and
state, the running servers, and totals.  Pure: it formats records it is
given.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from txinetd.core.addressentries import AddressEntry, DomainEntry, HostNameEntry
from txinetd.core.config import Config, Defaults, ServiceConfig
from txinetd.core.servertable import ServerState, formatServer, formatTime
from txinetd.core.values import LogKind, LogSpec


@dataclass(frozen=True)
class ServiceState:
    """
    One service's state.

    @ivar config: its configuration.
    @ivar state: C{Active}, C{Suspended} or C{Disabled}.
    @ivar running: how many servers it runs.
    @ivar address: where it listens, if it does (its primary socket).
    @ivar addresses: where each of its IP sockets listens (a dual-stack
        service has two).
    """

    config: ServiceConfig
    state: str
    running: int
    address: tuple[str, int] | None
    addresses: tuple[tuple[str, int], ...] = ()


def describeEntry(entry: AddressEntry) -> str:
    """
    An address entry as xinetd's dump shows it: C{addr(NUMERIC)},
    C{addr/len(NET)}, C{name(HOST)} or C{.domain(DOMAIN)}.
    """
    if isinstance(entry, HostNameEntry):
        return f"{entry.name}(HOST)"
    if isinstance(entry, DomainEntry):
        return f"{entry.suffix}(DOMAIN)"
    address = (
        ipaddress.ip_address(entry.network)
        if entry.version == 4
        else ipaddress.IPv6Address(entry.network)
    )
    if entry.prefixLength == address.max_prefixlen:
        return f"{address}(NUMERIC)"
    return f"{address}/{entry.prefixLength}(NET)"


def _addresses(entries: tuple[AddressEntry, ...] | None, none: str) -> str:
    if entries is None:
        return none
    return " ".join(describeEntry(entry) for entry in entries) if entries else "(empty: nobody)"


def _logging(spec: LogSpec | None, common: bool) -> str:
    if spec is None:
        return "No logging"
    if spec.kind is LogKind.SYSLOG:
        return f"Logging to syslog. Facility = {spec.facility}, level = {spec.level}"
    if common:
        return "Logging to common log file"
    limits = "no limits" if spec.soft is None else f"soft={spec.soft} hard={spec.hard}"
    return f"Logging to file: {spec.path} ({limits})"


def _flags(values: frozenset[object]) -> str:
    return " ".join(sorted(getattr(value, "value", str(value)) for value in values))


def formatDefaults(defaults: Defaults) -> list[str]:
    """
    The C{Service defaults} block.
    """
    instances = "UNLIMITED" if defaults.instances is None else str(defaults.instances)
    return [
        "Service defaults",
        f"\tInstances = {instances}",
        f"\tBind = {defaults.bind.text if defaults.bind else 'All addresses.'}",
        f"\tOnly from: {_addresses(defaults.only_from, 'All sites')}",
        f"\tNo access: {_addresses(defaults.no_access, 'No blocked sites')}",
        f"\t{_logging(defaults.log_type, False)}",
        f"\tLog_on_success flags = {_flags(frozenset(defaults.log_on_success))}",
        f"\tLog_on_failure flags = {_flags(frozenset(defaults.log_on_failure))}",
    ]


def _port(service: ServiceState) -> str:
    """
    The port a service listens on: the one it is bound to (an RPC service's
    is chosen at bind), else the configured one, else C{-} (a UNIX socket).
    """
    port = service.config.port if service.address is None else service.address[1]
    return "-" if port is None else str(port)


def formatService(service: ServiceState, defaults: Defaults) -> list[str]:
    """
    One C{Service = name} block.
    """
    config = service.config
    instances = "UNLIMITED" if config.instances is None else str(config.instances)
    perSource = "UNLIMITED" if config.per_source is None else str(config.per_source)
    lines = [
        f"Service = {config.name}",
        f"\tState = {service.state}",
        f"\tService configuration: {config.name}",
        f"\t\tid = {config.id}",
        f"\t\tflags = {_flags(frozenset(config.flags))}",
        f"\t\ttype = {_flags(frozenset(config.type))}",
        f"\t\tsocket_type = {config.socket_type.value}",
        f"\t\tProtocol (name) = ({config.protocol})",
        f"\t\tport = {_port(service)}",
        f"\t\twait = {'yes' if config.wait else 'no'}",
        f"\t\tInstances = {instances}",
        f"\t\tPER_SOURCE = {perSource}",
        f"\t\tCPS = max conn:{config.cps.max} wait:{config.cps.wait}",
        f"\t\tBind = {config.bindAddress}",
    ]
    if config.listen is not None:
        lines.append(f"\t\tListen = {config.listen.text}")
    if config.tls is not None:
        lines.append(f"\t\tTLS certificate = {config.tls.certificate}")
    if config.user is not None:
        lines.append(f"\t\tuser = {config.user.uid}")
    if config.group is not None:
        lines.append(f"\t\tgroup = {config.group.gid}")
    lines.append(f"\t\tGroups = {'yes' if config.groups else 'no'}")
    if config.umask is not None:
        lines.append(f"\t\tumask = {config.umask:o}")
    if config.nice is not None:
        lines.append(f"\t\tNice = {config.nice}")
    if config.server is not None:
        lines.append(f"\t\tServer = {config.server}")
        lines.append(f"\t\tServer argv = {' '.join(config.argv)}")
    if config.redirect is not None:
        lines.append(f"\t\tRedirect = {config.redirect.host.text}:{config.redirect.port}")
    if config.access_times:
        times = " ".join(
            f"{i.start // 60:02}:{i.start % 60:02}-{i.end // 60:02}:{i.end % 60:02}"
            for i in config.access_times.intervals
        )
        lines.append(f"\t\tAccess times = {times}")
    common = config.log_type is not None and config.log_type == defaults.log_type
    lines += [
        f"\t\tOnly from: {_addresses(config.only_from, 'All sites')}",
        f"\t\tNo access: {_addresses(config.no_access, 'No blocked sites')}",
        f"\t\t{_logging(config.log_type, common)}",
        f"\t\tLog_on_success flags = {_flags(frozenset(config.log_on_success))}",
        f"\t\tLog_on_failure flags = {_flags(frozenset(config.log_on_failure))}",
        f"\trunning servers = {service.running}",
        f"\tlistening on = {_where(service.addresses or _some(service.address))}",
    ]
    return lines


def _some(address: tuple[str, int] | None) -> tuple[tuple[str, int], ...]:
    return () if address is None else (address,)


def _where(addresses: tuple[tuple[str, int], ...]) -> str:
    return " ".join(f"{host},{port}" for host, port in addresses) or "-"


def formatDump(
    now: float,
    config: Config,
    services: Sequence[ServiceState],
    servers: Sequence[ServerState],
    processLimit: int | None,
    sensorCount: int,
    maxDescriptors: int,
    version: str,
) -> str:
    """
    The whole dump, ending with C{END OF DUMP} and a blank line.

    @param maxDescriptors: the daemon's hard C{RLIMIT_NOFILE}.
    @param version: txinetd's version.
    """
    lines = [f"INTERNAL STATE DUMP: txinetd {version}", f"Current time: {formatTime(now)}", ""]
    lines += ["Services + defaults:", *formatDefaults(config.defaults)]
    for service in services:
        lines += formatService(service, config.defaults)
    lines += ["", "Server table dump:"]
    for server in servers:
        lines += formatServer(server)
    active = sum(1 for service in services if service.state == "Active")
    lines += [
        "",
        f"active_services = {active}",
        f"available_services = {len(services)}",
        f"running_servers = {len(servers)}",
        f"global_no_access entries = {sensorCount}",
        "",
        f"max_descriptors = {maxDescriptors}",
        f"process_limit = {processLimit or 0}",
        f"config_file = {config.path}",
        "",
        "END OF DUMP",
        "",
        "",
    ]
    return "\n".join(lines)
