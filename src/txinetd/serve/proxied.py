# -*- test-case-name: tests.serve.test_proxied -*-
"""
The PROXY protocol in front of a service (C{proxy_protocol}): the step
before the admission path, in which a connection from a trusted load
balancer says who its client is.

A connection from an address that C{proxy_from} does not list is refused
at once, with C{FAIL: id proxy}: nobody who reaches the port directly can
name a client of their choosing, and nothing such a client sends is read.
A connection from a trusted balancer must start with a valid header of an
accepted version within C{proxy_timeout} seconds, or it is refused the same
way.  The header's client and destination then replace the connection's
addresses (L{PendingConnection.peer}, L{PendingConnection.local}), so
that everything after -- limits, address rules, logs, the server's
environment -- sees the client the balancer serves.  A header that names
no client (a health check) makes the balancer the client, or is refused,
as C{proxy_local} says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import IReactorFDSet
from twisted.python.failure import Failure

from txinetd.core.config import ServiceConfig
from txinetd.core.events import FailReason, Level
from txinetd.core.logformat import displayAddress
from txinetd.core.proxyprotocol import ProxiedAddresses, ProxyLocal, ProxySettings, formatHeader
from txinetd.net.acceptor import PendingConnection
from txinetd.net.proxyheader import ProxyHeaderError, readProxyHeader

__all__ = ["PROXY_PENDING", "ProxyFront", "ProxyReporter", "redirectPreface"]

#: How many connections of one service may wait for their header at once;
#: past that, new ones are refused until some have sent it.
PROXY_PENDING = 256


class ProxyReporter(TypingProtocol):
    """
    What the front tells of a refusal: the service's admission
    (L{txinetd.serve.admission.Admission}).
    """

    serviceId: str

    @property
    def debug(self) -> bool:
        """
        Whether refusals are explained in the program log (C{-d}).
        """

    def failed(self, reason: FailReason, host: str | None) -> None:
        """
        A client was refused.
        """

    def say(self, level: Level, text: str) -> None:
        """
        A program message about the service.
        """


class ProxyFront:
    """
    The PROXY step of one service's connections.

    @ivar waiting: how many connections wait for their header now.
    """

    def __init__(self, reactor: IReactorFDSet) -> None:
        self.reactor = reactor
        self.waiting = 0

    def receive(
        self,
        connection: PendingConnection,
        settings: ProxySettings,
        reporter: ProxyReporter,
        then: Callable[[PendingConnection], None],
    ) -> None:
        """
        Read the header of an accepted connection and call C{then} with the
        connection, its addresses those of the header; or refuse it.
        """
        balancer = None if connection.peer is None else connection.peer[0]
        if balancer is None or not settings.trusts(balancer):
            if reporter.debug:
                reporter.say(
                    Level.DEBUG,
                    f"{reporter.serviceId}: {displayAddress(balancer)} refused (proxy): "
                    "not in proxy_from",
                )
            self.refuse(connection, reporter, balancer)
            return
        if self.waiting >= PROXY_PENDING:
            reporter.say(
                Level.WARNING,
                f"service {reporter.serviceId}: {PROXY_PENDING} connections wait for their "
                f"PROXY header already; one from {balancer} refused",
            )
            self.refuse(connection, reporter, balancer)
            return
        self.waiting += 1
        reading = readProxyHeader(
            self.reactor, connection.socket, settings.versions, settings.timeout
        )
        reading.addBoth(self._read)
        reading.addCallbacks(
            self._received,
            self._failed,
            callbackArgs=(connection, settings, reporter, then),
            errbackArgs=(connection, reporter),
        )

    def _read(self, result: object) -> object:
        self.waiting -= 1
        return result

    def _received(
        self,
        addresses: ProxiedAddresses | None,
        connection: PendingConnection,
        settings: ProxySettings,
        reporter: ProxyReporter,
        then: Callable[[PendingConnection], None],
    ) -> None:
        if addresses is None:
            if settings.local is ProxyLocal.REFUSE:
                balancer = None if connection.peer is None else connection.peer[0]
                if reporter.debug:
                    reporter.say(
                        Level.DEBUG,
                        f"{reporter.serviceId}: {displayAddress(balancer)} refused (proxy): "
                        "a header that names no client, and proxy_local = refuse",
                    )
                self.refuse(connection, reporter, balancer)
                return
        else:
            connection.peer = addresses.source
            connection.local = addresses.destination
        then(connection)

    def _failed(
        self, failure: Failure, connection: PendingConnection, reporter: ProxyReporter
    ) -> None:
        balancer = None if connection.peer is None else connection.peer[0]
        why = failure.value if isinstance(failure.value, ProxyHeaderError) else "an error"
        reporter.say(
            Level.WARNING,
            f"service {reporter.serviceId}: PROXY header from {displayAddress(balancer)} "
            f"refused: {why}",
        )
        self.refuse(connection, reporter, balancer)

    @staticmethod
    def refuse(
        connection: PendingConnection, reporter: ProxyReporter, balancer: str | None
    ) -> None:
        """
        C{FAIL: id proxy}, and close.
        """
        reporter.failed(FailReason.PROXY, balancer)
        connection.close()


def redirectPreface(config: ServiceConfig, connection: PendingConnection) -> bytes:
    """
    What a redirect target is sent before the client's bytes: with
    C{redirect_proxy}, a header naming the client and the address it
    connected to (those of the client's own header, behind a balancer).
    """
    if config.redirect_proxy is None:
        return b""
    peer, local = connection.peer, connection.local
    addresses = None if peer is None or local is None else (peer, local)
    return formatHeader(config.redirect_proxy, addresses)
