# -*- test-case-name: tests.core.test_inetdconf -*-
"""
Reading /etc/inetd.conf (C{-inetd_compat}, section 10.10 of the reference).

Each line C{name[/version] socktype proto wait|nowait[.max] user[.group]
server|internal [argv...]} becomes a service entry made of ordinary
attribute lines, so the rest of txinetd treats it exactly like a service
written in xinetd.conf.  Every imported service gets C{groups = yes}; an
external one gets C{flags = REUSE NOLIBWRAP NAMEINARGS} and takes its argv
verbatim from the seventh field on; an internal one is named
C{<name>-<socktype>}.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from txinetd.core.conffile import MAX_SIZE, AttributeLine, Entry, EntryKind, Operator
from txinetd.core.diagnostics import Diagnostics, Location

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


def readBounded(stream: BinaryIO) -> bytes:
    """
    A stream's bytes to its end, at most L{MAX_SIZE} of them.

    @raise OSError: if reading fails or there are more.
    """
    data = stream.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise OSError(errno.EFBIG, f"larger than {MAX_SIZE} bytes")
    return data


def readInetdConf(path: str) -> bytes:
    """
    The bytes of an inetd.conf, which must be a regular file of at most
    L{MAX_SIZE} bytes (a device or a pipe is not opened for reading long).

    @raise OSError: if it cannot or may not be read; its C{strerror} says
        why.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return readBounded(f)


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


def parseInetdConf(path: str, diagnostics: Diagnostics) -> list[Entry]:
    """
    The service entries of an inetd.conf file; a file that cannot be read
    (see L{readInetdConf}) is no services (with a warning), and a missing one
    is no services silently, as xinetd (Debian's unit gives
    C{-inetd_compat} to systems that have no inetd.conf).
    """
    try:
        data = readInetdConf(path)
    except FileNotFoundError:
        return []
    except OSError as e:
        diagnostics.warning(f"Unable to read {path}: {e.strerror}")
        return []
    diagnostics.noteFile(path)
    return readEntries(data.decode("utf-8", "surrogateescape"), path, diagnostics)
