# -*- test-case-name: tests.daemon.test_loading -*-
"""
Loading a configuration: its files read (L{txinetd.daemon.conffiles}), then
combined and checked (L{txinetd.core.config}) against this machine's users,
groups, services, RPC programs, networks, resolver, executables, banner
files and certificates (L{LocalSystem}) and the installed internal
services.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
from collections.abc import Callable, Mapping

from txinetd.builtins.simple import InternalServices
from txinetd.core.addressentries import inetNetwork
from txinetd.core.config import TCPMUX, Config
from txinetd.core.diagnostics import Diagnostics
from txinetd.core.endpoint import RedirectTLS, TLSSettings
from txinetd.core.inheritance import buildConfig
from txinetd.core.values import SystemInfo
from txinetd.daemon.conffiles import parseConfig, parseInetdConf
from txinetd.daemon.machine import daemonEnvironment
from txinetd.net.tls import checkRedirectSettings, checkSettings
from txinetd.serve.banners import bannerProblem
from txinetd.serve.rpc import rpcByName

__all__ = ["LocalSystem", "checkExecutable", "loadConfig", "readNetworks"]


class LocalSystem:
    """
    L{SystemInfo} from this machine's files and resolver.

    A load makes one: a name is looked up once per load, and the answer
    holds for the whole load (a service file names the same protocol,
    user and address a thousand times).

    @ivar environ: the environment captured when this object was made
        (by default the daemon's, see
        L{txinetd.daemon.machine.daemonEnvironment}).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = daemonEnvironment() if environ is None else dict(environ)
        self._networks: Mapping[str, int] | None = None
        self._users: dict[str, tuple[int, int] | None] = {}
        self._groups: dict[str, int | None] = {}
        self._protocols: dict[str, int | None] = {}
        self._ports: dict[tuple[str, str], int | None] = {}
        self._hosts: dict[str, list[str]] = {}

    @property
    def environ(self) -> Mapping[str, str]:
        return self._environ

    def userByName(self, name: str) -> tuple[int, int] | None:
        if name not in self._users:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                self._users[name] = None
            else:
                self._users[name] = entry.pw_uid, entry.pw_gid
        return self._users[name]

    def groupByName(self, name: str) -> int | None:
        if name not in self._groups:
            try:
                self._groups[name] = grp.getgrnam(name).gr_gid
            except KeyError:
                self._groups[name] = None
        return self._groups[name]

    def protocolByName(self, name: str) -> int | None:
        if name not in self._protocols:
            try:
                self._protocols[name] = socket.getprotobyname(name)
            except OSError:
                self._protocols[name] = None
        return self._protocols[name]

    def portByName(self, name: str, protocol: str) -> int | None:
        key = name, protocol
        if key not in self._ports:
            try:
                self._ports[key] = socket.getservbyname(name, protocol)
            except OSError:
                self._ports[key] = None
        return self._ports[key]

    def resolveHost(self, name: str) -> list[str]:
        if name not in self._hosts:
            try:
                infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
            except OSError:
                infos = []
            addresses = [str(info[4][0]) for info in infos]
            addresses.sort(key=lambda address: ":" in address)
            self._hosts[name] = list(dict.fromkeys(addresses))
        return list(self._hosts[name])

    def rpcByName(self, name: str) -> int | None:
        return rpcByName(name)

    def checkExecutable(self, path: str) -> str | None:
        return checkExecutable(path)

    def bannerProblem(self, path: str) -> str | None:
        return bannerProblem(path)

    def tlsProblem(self, settings: TLSSettings) -> str | None:
        return checkSettings(settings)

    def redirectTLSProblem(self, settings: RedirectTLS) -> str | None:
        return checkRedirectSettings(settings)

    @property
    def networks(self) -> Mapping[str, int]:
        if self._networks is None:
            self._networks = readNetworks()
        return self._networks


def readNetworks(path: str = "/etc/networks") -> dict[str, int]:
    """
    Read a networks(5) file: C{name number [aliases...]} lines, C{#}
    comments.  The first line naming a network wins.

    @param path: the file; a file that cannot be read is empty.
    @return: network numbers by lower-case name and alias.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as networksFile:
            lines = networksFile.read().splitlines()
    except OSError:
        return {}
    networks: dict[str, int] = {}
    for line in lines:
        fields = line.partition("#")[0].split()
        number = inetNetwork(fields[1]) if len(fields) >= 2 else None
        if number is not None:
            for name in [fields[0], *fields[2:]]:
                networks.setdefault(name.lower(), number)
    return networks


def checkExecutable(path: str) -> str | None:
    """
    xinetd's parse-time check of a C{server} path.
    """
    try:
        os.stat(path)
    except OSError:
        return f"Unable to stat: {path}."
    if not os.access(path, os.X_OK):
        return f"Server {path} is not executable"
    return None


def loadConfig(
    path: str,
    system: SystemInfo | None = None,
    internalServices: Callable[[str, str], bool] | None = None,
    baseDirectory: str | None = None,
    euid: int | None = None,
    inetdConf: str | None = None,
    strict: bool = False,
    warnRelative: bool = False,
    strictModes: bool = True,
    reloading: bool = False,
) -> Config:
    """
    Read, combine and validate a configuration.

    @param path: the main configuration file.
    @param system: the look-ups (default: this machine's).
    @param internalServices: tells whether an internal service of a name and
        socket type exists (default: the registered plugins).
    @param baseDirectory: what relative paths are resolved against (default:
        the current directory).
    @param euid: the daemon's effective uid (default: this process's).
    @param inetdConf: an inetd.conf whose services are read after the
        xinetd configuration's (C{-inetd_compat}).
    @param strict: whether an unknown attribute disables its service (is
        fatal in a defaults section) instead of being ignored.
    @param warnRelative: whether relative include paths are warned about
        (C{--check}: they depend on the directory txinetd starts in).
    @param strictModes: refuse configuration files (C{inetdConf} too) and
        C{includedir} directories that others than root and the daemon's
        user could have written (as sshd's C{StrictModes}).
    @param reloading: whether this is a reconfiguration's load (see
        L{buildConfig}).
    @return: the L{Config}; check L{Config.isFatal}.
    """
    installed = None
    if internalServices is None:
        table = installed = InternalServices()

        def internalServices(name: str, socketType: str) -> bool:
            return (name.lower(), socketType) == TCPMUX or table.exists(name, socketType)

    diagnostics = Diagnostics()
    entries = parseConfig(
        path, diagnostics, baseDirectory or os.getcwd(), warnRelative, strictModes
    )
    if inetdConf is not None:
        entries += parseInetdConf(inetdConf, diagnostics, strictModes)
    return buildConfig(
        path,
        entries,
        diagnostics,
        system or LocalSystem(),
        internalServices,
        os.geteuid() if euid is None else euid,
        (os.getegid(), *os.getgroups()),
        strict,
        installed,
        reloading,
    )
