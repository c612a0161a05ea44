# -*- test-case-name: tests.core.test_inetdconf -*-
"""
The services of /etc/inetd.conf (C{-inetd_compat}, section 10.10 of the
reference) as configuration entries.

Each line C{name[/version] socktype proto wait|nowait[.max] user[.group]
server|internal [argv...]} becomes a service entry made of ordinary
attribute lines, so the rest of txinetd treats it exactly like a service
written in xinetd.conf.  Every imported service gets C{groups = yes}; an
external one gets C{flags = REUSE NOLIBWRAP NAMEINARGS} and takes its argv
verbatim from the seventh field on; an internal one is named
C{<name>-<socktype>}.  Reading the file is L{txinetd.daemon.conffiles}'.
"""

from __future__ import annotations

from txinetd.core.diagnostics import Diagnostics, Location
from txinetd.core.grammar import AttributeLine, Entry, EntryKind, Operator

#: inetd.conf protocols that also choose the address family.
_PROTOCOLS = {
    "tcp": ("tcp", None),
    "udp": ("udp", None),
    "tcp4": ("tcp", "IPv4"),
    "udp4": ("udp", "IPv4"),
    "tcp6": ("tcp", "IPv6"),
    "udp6": ("udp", "IPv6"),
}


def _line(location: Location, name: str, *values: str) -> AttributeLine:
    return AttributeLine(name, Operator.SET, tuple(values), location)


def inetdEntry(words: list[str], location: Location, diagnostics: Diagnostics) -> Entry | None:
    """
    The service entry for one inetd.conf line's fields, or L{None} (with a
    diagnostic) if the line is not one.
    """
    if len(words) < 6:
        diagnostics.error("inetd.conf line has fewer than 6 fields", location)
        return None
    service, socketType, protocol, wait, owner, server = words[:6]
    address, colon, service = service.rpartition(":")
    name, slash, version = service.partition("/")
    lines = [_line(location, "socket_type", socketType)]
    types: list[str] = []
    flags: list[str] = []
    if protocol.startswith("rpc/"):
        types.append("RPC")
        protocol = protocol[len("rpc/") :]
        lines.append(_line(location, "rpc_version", version or "1"))
    elif slash:
        diagnostics.warning(f"inetd.conf: version {version} ignored for {name}", location)
    known = _PROTOCOLS.get(protocol.lower())
    if known is None:
        diagnostics.error(f"inetd.conf: unknown protocol {protocol} for {name}", location)
        return None
    protocolName, family = known
    lines.append(_line(location, "protocol", protocolName))
    if family is not None:
        flags.append(family)
    if colon and address not in ("", "*"):
        lines.append(_line(location, "bind", address))
    waits, _, maximum = wait.partition(".")
    if waits.lower() not in ("wait", "nowait"):
        diagnostics.error(f"inetd.conf: {wait} is neither wait nor nowait", location)
        return None
    if maximum:
        diagnostics.warning(f"inetd.conf: the limit .{maximum} of {name} is ignored", location)
    lines.append(_line(location, "wait", "yes" if waits.lower() == "wait" else "no"))
    user, _, group = owner.replace(":", ".").partition(".")
    lines.append(_line(location, "user", user))
    if group:
        lines.append(_line(location, "group", group))
    lines.append(_line(location, "groups", "yes"))
    if server == "internal":
        types.append("INTERNAL")
        lines.append(_line(location, "id", f"{name}-{socketType}"))
    else:
        flags += ["REUSE", "NOLIBWRAP", "NAMEINARGS"]
        lines.append(_line(location, "server", server))
        arguments = words[6:] or [server.rsplit("/", 1)[-1]]
        lines.append(_line(location, "server_args", *arguments))
    if types:
        lines.append(_line(location, "type", *types))
    if flags:
        lines.append(_line(location, "flags", *flags))
    return Entry(EntryKind.SERVICE, name, location, tuple(lines))


def readEntries(text: str, path: str, diagnostics: Diagnostics) -> list[Entry]:
    """
    The service entries of an inetd.conf's text; problems are recorded
    with C{path} and the line number.
    """
    entries = []
    for number, line in enumerate(text.split("\n"), 1):
        words = line.split()
        if words and not words[0].startswith("#"):
            entry = inetdEntry(words, Location(path, number), diagnostics)
            if entry is not None:
                entries.append(entry)
    return entries
