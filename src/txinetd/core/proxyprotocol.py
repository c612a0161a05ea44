# -*- test-case-name: tests.core.test_proxyprotocol,tests.core.test_config_proxy -*-
"""
HAProxy's PROXY protocol as txinetd's configuration and log see it: which
versions a service accepts and from whom (L{ProxySettings}), what a header
said (L{ProxiedAddresses}), the headers txinetd itself sends to a redirect
target (L{formatHeader}), and the sets of connection variables an external
server may get (L{ConnectionEnv}), and the checks of the attributes that say
all this (L{fillProxyValues}).

Reading headers off a socket is L{txinetd.net.proxyheader}'s; this module
is pure.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from txinetd.core.addressentries import AddressEntry, NetworkEntry
from txinetd.core.addresses import clientAddress
from txinetd.core.addresslists import AddressList, describeEntry
from txinetd.core.values import ServiceType, SocketType

__all__ = [
    "DEFAULT_PROXY_TIMEOUT",
    "V2_SIGNATURE",
    "ConnectionEnv",
    "ProxiedAddresses",
    "ProxyLocal",
    "ProxySettings",
    "ProxyVersion",
    "fillProxyValues",
    "formatHeader",
]

#: Seconds a trusted balancer has to send the whole header.
DEFAULT_PROXY_TIMEOUT = 10

#: The first twelve bytes of every version 2 header.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


class ProxyVersion(enum.IntEnum):
    """
    A version of the PROXY protocol (C{proxy_protocol}, C{redirect_proxy}).
    """

    V1 = 1
    V2 = 2


class ProxyLocal(enum.Enum):
    """
    What becomes of a header that names no client (a version 2 C{LOCAL}
    command, a version 1 C{UNKNOWN} line, an address family other than
    IPv4 and IPv6): a balancer's health check (C{proxy_local}).
    """

    #: The balancer is the client, as if it had connected directly.
    SERVE = "serve"
    #: Refused with C{FAIL proxy}.
    REFUSE = "refuse"


class ConnectionEnv(enum.Enum):
    """
    A set of variables an external server gets (C{connection_env}).
    """

    #: ucspi-tcp's tcpserver: C{PROTO}, C{TCPREMOTEIP}, C{TCPLOCALPORT}...
    UCSPI = "ucspi"
    #: systemd's C{Accept=yes}: C{REMOTE_ADDR}, C{REMOTE_PORT}.
    SYSTEMD = "systemd"


@dataclass(frozen=True)
class ProxySettings:
    """
    A service's PROXY protocol in front: C{proxy_protocol}, C{proxy_from},
    C{proxy_local}, C{proxy_timeout}.

    @ivar versions: the versions accepted.
    @ivar trusted: who may send a header (addresses and networks); every
        other client is refused.
    @ivar local: what a header that names no client gets.
    @ivar timeout: seconds the header may take.
    """

    versions: frozenset[ProxyVersion]
    trusted: tuple[AddressEntry, ...]
    local: ProxyLocal = ProxyLocal.REFUSE
    timeout: int = DEFAULT_PROXY_TIMEOUT
    _trusted: AddressList = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = AddressList(entry for entry in self.trusted if isinstance(entry, NetworkEntry))
        object.__setattr__(self, "_trusted", compiled)

    def trusts(self, host: str) -> bool:
        """
        Whether C{host} (a client address) may send a header.
        """
        try:
            address = clientAddress(host)
        except ValueError:
            return False
        return self._trusted.bestMatch(address, None) is not None


@dataclass(frozen=True)
class ProxiedAddresses:
    """
    What a header said: the client, and the address it connected to.

    @ivar source: the client's normalised (host, port).
    @ivar destination: the (host, port) the client connected to (the
        balancer's).
    """

    source: tuple[str, int]
    destination: tuple[str, int]

    @classmethod
    def of(cls, source: tuple[str, int], destination: tuple[str, int]) -> ProxiedAddresses:
        """
        From the addresses of a header, checked and normalised.

        @raise ValueError: if a host is no IP address, the two are not of
            one family, or a port is out of range.
        """
        if "%" in source[0] or "%" in destination[0]:
            # A scope id is free text: never believed, never logged.
            raise ValueError("an address with a scope")
        client, server = ip_address(source[0]), ip_address(destination[0])
        if client.version != server.version:
            raise ValueError("the addresses are of different families")
        for port in (source[1], destination[1]):
            if not 0 <= port <= 65535:
                raise ValueError(f"port {port} out of range")
        return cls(
            (str(clientAddress(client)), source[1]), (str(clientAddress(server)), destination[1])
        )


def formatHeader(
    version: ProxyVersion, addresses: tuple[tuple[str, int], tuple[str, int]] | None
) -> bytes:
    """
    The header that tells a redirect target who the client is: C{addresses}
    are the client's (host, port) and the one it connected to, or L{None}
    for a client without an address (a UNIX socket's): then the header
    names none (C{UNKNOWN}, C{LOCAL}).  An IPv4 client of an IPv6 address
    (or the reverse) is written as IPv6 (an IPv4-mapped address), since a
    header has one family.
    """
    if addresses is None:
        if version is ProxyVersion.V1:
            return b"PROXY UNKNOWN\r\n"
        return V2_SIGNATURE + struct.pack("!BBH", 0x20, 0x00, 0)
    source, destination = addresses
    client, server = ip_address(source[0]), ip_address(destination[0])
    if client.version != server.version:
        client, server = _asIPv6(client), _asIPv6(server)
    if version is ProxyVersion.V1:
        family = "TCP4" if client.version == 4 else "TCP6"
        line = f"PROXY {family} {client} {server} {source[1]} {destination[1]}\r\n"
        return line.encode("ascii")
    familyProtocol = 0x11 if client.version == 4 else 0x21
    packed = client.packed + server.packed + struct.pack("!HH", source[1], destination[1])
    return V2_SIGNATURE + struct.pack("!BBH", 0x21, familyProtocol, len(packed)) + packed


def _asIPv6(address: IPv4Address | IPv6Address) -> IPv6Address:
    if isinstance(address, IPv6Address):
        return address
    return IPv6Address("::ffff:" + str(address))


def fillProxyValues(
    values: dict[str, Any],
    name: str,
    types: frozenset[ServiceType],
    unixListener: bool,
    problems: list[str],
) -> None:
    """
    Check a service's C{proxy_*}, C{redirect_proxy} and C{connection_env}
    attributes and put them in C{values} as the service record wants them:
    the C{proxy_*} attributes become one L{ProxySettings} (C{values["proxy"]}).

    @param values: the service's values, by attribute name.
    @param name: the service's name, for the messages.
    @param types: its C{type}.
    @param unixListener: whether it listens on a UNIX socket.
    @param problems: where each problem is added.
    """
    versions = values.pop("proxy_protocol", None)
    trusted = values.pop("proxy_from", None)
    local = values.pop("proxy_local", None)
    timeout = values.pop("proxy_timeout", None)
    stream = values.get("socket_type") is SocketType.STREAM
    if versions is not None:
        names = [e for e in trusted or () if not isinstance(e, NetworkEntry)]
        if not trusted:
            problems.append(f"Service {name}: proxy_protocol needs proxy_from")
        elif names:
            problems.append(
                f"Service {name}: proxy_from takes addresses and networks, "
                f"not names: {describeEntry(names[0])}"
            )
        elif not stream or values.get("wait"):
            problems.append(
                f"Service {name}: proxy_protocol needs socket_type = stream and wait = no"
            )
        elif unixListener:
            problems.append(f"Service {name}: proxy_protocol needs an IP listener")
        else:
            values["proxy"] = ProxySettings(
                frozenset(versions),
                tuple(trusted),
                local if local is not None else ProxyLocal.REFUSE,
                timeout if timeout is not None else DEFAULT_PROXY_TIMEOUT,
            )
    else:
        given = [
            attribute
            for attribute, value in (
                ("proxy_from", trusted),
                ("proxy_local", local),
                ("proxy_timeout", timeout),
            )
            if value is not None
        ]
        if given:
            problems.append(f"Service {name}: {given[0]} needs proxy_protocol")
    if values.get("redirect_proxy") is not None and values.get("redirect") is None:
        problems.append(f"Service {name}: redirect_proxy needs redirect")
    elif values.get("redirect_proxy") is not None and values.get("redirectTLS") is not None:
        problems.append(f"Service {name}: redirect_proxy cannot be used with redirect_tls")
    environments = values.get("connection_env")
    if environments:
        values["connection_env"] = frozenset(environments)
        if values.get("redirect") is not None or ServiceType.INTERNAL in types:
            problems.append(f"Service {name}: connection_env needs a server")
