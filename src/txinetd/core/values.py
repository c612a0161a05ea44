# -*- test-case-name: tests.core.test_attributes -*-
"""
The values of xinetd's attributes: the closed sets (service types, flags,
socket types, log flags), the typed records a converter makes (users, groups,
hosts, redirects, cps, log targets, environment entries), and what a converter
is given (L{ConvertContext}, L{SystemInfo}) and raises (L{BadValue}).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from txinetd.core.endpoint import RedirectTLS, TLSSettings


class BadValue(Exception):
    """
    A value that an attribute's converter rejects.

    @ivar messages: xinetd's messages for the problem, in order.
    """

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class SystemInfo(Protocol):
    """
    The look-ups that converting a configuration needs, injected so that
    tests never depend on the machine's users, services or resolver.
    """

    def userByName(self, name: str) -> tuple[int, int] | None:
        """
        The (uid, primary gid) of a user, or L{None}.
        """

    def groupByName(self, name: str) -> int | None:
        """
        The gid of a group, or L{None}.
        """

    def protocolByName(self, name: str) -> int | None:
        """
        The number of a protocol in /etc/protocols, or L{None}.
        """

    def portByName(self, name: str, protocol: str) -> int | None:
        """
        The port of a service in /etc/services, or L{None}.
        """

    def rpcByName(self, name: str) -> int | None:
        """
        The program number of an RPC service in /etc/rpc, or L{None}.
        """

    def resolveHost(self, name: str) -> list[str]:
        """
        The numeric addresses of a host name, IPv4 first; empty if none.
        """

    def checkExecutable(self, path: str) -> str | None:
        """
        L{None} if C{path} exists and is executable, else xinetd's message.
        """

    def bannerProblem(self, path: str) -> str | None:
        """
        Why C{path} may not be a banner (not a regular file, too large), or
        L{None}; a file that is missing now is no problem (it is read again
        at each connection).
        """

    def tlsProblem(self, settings: TLSSettings) -> str | None:
        """
        Why the certificate files of a TLS service cannot be used, or
        L{None}.
        """

    def redirectTLSProblem(self, settings: RedirectTLS) -> str | None:
        """
        Why the TLS settings of a redirect cannot be used (its CA file), or
        L{None}.
        """

    @property
    def networks(self) -> Mapping[str, int]:
        """
        The network names of /etc/networks and their numbers.
        """

    @property
    def environ(self) -> Mapping[str, str]:
        """
        The daemon's environment as captured at start-up.
        """


class ConvertContext(Protocol):
    """
    What a converter may use besides the tokens.
    """

    @property
    def system(self) -> SystemInfo:
        """
        The look-ups.
        """

    def warn(self, message: str) -> None:
        """
        Report a problem that does not reject the value.
        """


Converter = Callable[[Sequence[str], ConvertContext], Any]


# --- closed sets -----------------------------------------------------------


class ServiceType(enum.Enum):
    """
    Values of C{type}.
    """

    RPC = "RPC"
    INTERNAL = "INTERNAL"
    UNLISTED = "UNLISTED"
    TCPMUX = "TCPMUX"
    TCPMUXPLUS = "TCPMUXPLUS"
    SPECIAL = "SPECIAL"


class Flag(enum.Enum):
    """
    Values of C{flags}.
    """

    REUSE = "REUSE"
    INTERCEPT = "INTERCEPT"
    NORETRY = "NORETRY"
    IDONLY = "IDONLY"
    NAMEINARGS = "NAMEINARGS"
    NODELAY = "NODELAY"
    KEEPALIVE = "KEEPALIVE"
    NOLIBWRAP = "NOLIBWRAP"
    SENSOR = "SENSOR"
    IPV4 = "IPv4"
    IPV6 = "IPv6"
    LABELED = "LABELED"


class SocketType(enum.Enum):
    """
    Values of C{socket_type}.
    """

    STREAM = "stream"
    DGRAM = "dgram"
    RAW = "raw"
    SEQPACKET = "seqpacket"


class SuccessFlag(enum.Enum):
    """
    Values of C{log_on_success}.
    """

    PID = "PID"
    HOST = "HOST"
    USERID = "USERID"
    EXIT = "EXIT"
    DURATION = "DURATION"
    TRAFFIC = "TRAFFIC"


class FailureFlag(enum.Enum):
    """
    Values of C{log_on_failure}.
    """

    HOST = "HOST"
    ATTEMPT = "ATTEMPT"
    USERID = "USERID"


# --- value records ---------------------------------------------------------


@dataclass(frozen=True)
class UserSpec:
    """
    A C{user} value: the name as written and the ids it stands for.  A
    numeric user's gid is the same number, as in xinetd.
    """

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class GroupSpec:
    """
    A C{group} value.
    """

    name: str
    gid: int


@dataclass(frozen=True)
class HostSpec:
    """
    A host given by name or address (C{bind}, C{redirect}).

    @ivar text: as written.
    @ivar addresses: the numeric addresses it resolved to at load, IPv4
        first.
    """

    text: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class RedirectSpec:
    """
    A C{redirect = host port} value.
    """

    host: HostSpec
    port: int


@dataclass(frozen=True)
class CpsSpec:
    """
    A C{cps = max wait} value; C{max = 0} disables the check.
    """

    max: int
    wait: int


class LogKind(enum.Enum):
    """
    The two C{log_type}s.
    """

    FILE = "FILE"
    SYSLOG = "SYSLOG"


@dataclass(frozen=True)
class LogSpec:
    """
    A C{log_type} value.

    @ivar path: the FILE target's path.
    @ivar soft: the FILE soft size limit in bytes, or L{None}.
    @ivar hard: the FILE hard size limit in bytes, or L{None}.
    @ivar facility: the SYSLOG facility's name.
    @ivar level: the SYSLOG level's name.
    """

    kind: LogKind
    path: str | None = None
    soft: int | None = None
    hard: int | None = None
    facility: str | None = None
    level: str = "info"


@dataclass(frozen=True)
class EnvEntry:
    """
    One C{env} token, C{NAME=value}.
    """

    name: str
    value: str


UNLIMITED: None = None
FOREVER = -1
