# -*- test-case-name: tests.core.test_connectionenv -*-
"""
The variables other super-servers give a server about its connection
(C{connection_env}), set as they set them:

  - C{ucspi}: ucspi-tcp's tcpserver (tcp-environ(5)): C{PROTO=TCP},
    C{TCPREMOTEIP}, C{TCPREMOTEPORT}, C{TCPLOCALIP}, C{TCPLOCALPORT};
    C{TCPREMOTEHOST} only when the client's name was looked up and found,
    C{TCPREMOTEINFO} only when the client's user is known (ident, a TLS
    client certificate); C{TCPLOCALHOST} never (tcpserver sets it only
    from a DNS look-up of its own address, which txinetd does not make).
    For an IPv6 client, as ucspi-tcp6 does: C{PROTO=TCP6}, the same
    C{TCP*} variables with the compact IPv6 addresses, and their
    C{TCP6*} twins;
  - C{systemd}: systemd's C{Accept=yes}: C{REMOTE_ADDR} and
    C{REMOTE_PORT}.

Behind a PROXY header the addresses are the header's: the client the
balancer serves, and the address it connected to.
"""

from __future__ import annotations

from collections.abc import Set

from txinetd.core.proxyprotocol import ConnectionEnv

__all__ = ["ConnectionFacts", "connectionVariables", "remoteInfo", "variableNames"]

#: Every variable C{ucspi} may set: none comes from txinetd's own
#: environment (tcpserver unsets those it does not set).
UCSPI_NAMES = (
    "PROTO",
    "TCPREMOTEIP",
    "TCPREMOTEPORT",
    "TCPLOCALIP",
    "TCPLOCALPORT",
    "TCPREMOTEHOST",
    "TCPREMOTEINFO",
    "TCPLOCALHOST",
    "TCP6REMOTEIP",
    "TCP6REMOTEPORT",
    "TCP6LOCALIP",
    "TCP6LOCALPORT",
    "TCP6REMOTEHOST",
    "TCP6REMOTEINFO",
    "TCP6LOCALHOST",
)


class ConnectionFacts:
    """
    What is known of a connection when its server starts.

    @ivar peer: the client's (host, port), normalised; L{None} for a UNIX
        socket.
    @ivar local: the (host, port) it connected to.
    @ivar remoteHost: the client's name, if it was looked up and found.
    @ivar remoteInfo: the client's user, if known.
    """

    def __init__(
        self,
        peer: tuple[str, int] | None,
        local: tuple[str, int] | None,
        remoteHost: str | None = None,
        remoteInfo: str | None = None,
    ) -> None:
        self.peer = peer
        self.local = local
        self.remoteHost = remoteHost
        self.remoteInfo = remoteInfo


def remoteInfo(userId: str) -> str:
    """
    C{TCPREMOTEINFO} from a USERID line's text: the user alone, without
    the operating system word (C{UNIX : alice} gives C{alice}; a TLS
    client's C{X509 : CN=alice} gives C{CN=alice}), as tcpserver keeps the
    last field of the ident reply.
    """
    # The operating system word has no colon; the user may have some, and
    # RFC 1413 allows spaces around the colon or none.
    _, separator, user = userId.partition(":")
    return user.lstrip(" \t") if separator else userId


def variableNames(kinds: Set[ConnectionEnv]) -> tuple[str, ...]:
    """
    Every variable C{kinds} may set: a server gets none of them from
    txinetd's own environment, only those its connection sets.
    """
    names: tuple[str, ...] = ()
    if ConnectionEnv.UCSPI in kinds:
        names += UCSPI_NAMES
    if ConnectionEnv.SYSTEMD in kinds:
        names += ("REMOTE_ADDR", "REMOTE_PORT")
    return names


def connectionVariables(kinds: Set[ConnectionEnv], facts: ConnectionFacts) -> dict[str, str]:
    """
    The variables of C{kinds} for a connection.
    """
    variables: dict[str, str] = {}
    peer, local = facts.peer, facts.local
    if peer is None or local is None:
        return variables
    if ConnectionEnv.UCSPI in kinds:
        ipv6 = ":" in peer[0]
        variables["PROTO"] = "TCP6" if ipv6 else "TCP"
        for prefix in ("TCP", "TCP6") if ipv6 else ("TCP",):
            variables[f"{prefix}REMOTEIP"] = peer[0]
            variables[f"{prefix}REMOTEPORT"] = str(peer[1])
            variables[f"{prefix}LOCALIP"] = local[0]
            variables[f"{prefix}LOCALPORT"] = str(local[1])
            if facts.remoteHost is not None:
                variables[f"{prefix}REMOTEHOST"] = facts.remoteHost
            if facts.remoteInfo is not None:
                variables[f"{prefix}REMOTEINFO"] = facts.remoteInfo
    if ConnectionEnv.SYSTEMD in kinds:
        variables["REMOTE_ADDR"] = peer[0]
        variables["REMOTE_PORT"] = str(peer[1])
    return variables
