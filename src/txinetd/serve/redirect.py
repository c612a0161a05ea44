# -*- test-case-name: tests.serve.test_redirect -*-
"""
The C{redirect} service: an admitted connection relayed to another host
(L{txinetd.net.relay}), its TRAFFIC, and why a target could not be reached.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from twisted.internet.error import TimeoutError
from twisted.python.failure import Failure

from txinetd.core.config import ServiceConfig
from txinetd.core.events import Level
from txinetd.core.values import Flag
from txinetd.net.acceptor import PendingConnection
from txinetd.net.relay import Relay
from txinetd.net.tls import describeTLSFailure
from txinetd.serve.proxied import redirectPreface
from txinetd.serve.runner import adopt
from txinetd.serve.session import Session

__all__ = ["RedirectRunner", "describeConnectError"]


class RedirectRunner:
    """
    Relays each admitted connection to the service's C{redirect} target.
    """

    def __init__(
        self,
        config: ServiceConfig,
        reactor: Any,
        tls: Any,
        exhausted: Callable[[int], None],
    ) -> None:
        """
        @param tls: the TLS client side towards the target (C{redirect_tls}),
            or L{None}.
        @param exhausted: told when a connection could not be adopted for
            want of descriptors.
        """
        redirect = config.redirect
        assert redirect is not None
        self.config = config
        self.reactor = reactor
        self.address = redirect.host.addresses[0]
        self.port = redirect.port
        self.keepAlive = Flag.KEEPALIVE in config.flags
        self.tls = tls
        self.exhausted = exhausted

    def run(self, connection: PendingConnection, session: Session) -> None:
        address = self.address

        def ended(bytesIn: int, bytesOut: int, reached: bool) -> None:
            if reached:
                session.traffic(bytesIn, bytesOut)
            session.ended(0)

        def failed(failure: Failure) -> None:
            session.say(
                Level.ERROR,
                f"can't connect to remote host {address}: {describeConnectError(failure)}",
            )

        relay = Relay(
            self.reactor,
            address,
            self.port,
            self.keepAlive,
            ended,
            failed,
            tls=self.tls,
            preface=redirectPreface(self.config, connection),
        )
        session.stopWith(relay.stop)
        session.relayed = relay.relayed
        if adopt(self.reactor, connection, session, relay.client, self.exhausted):
            session.begin(0)


def describeConnectError(failure: Failure) -> str:
    """
    The reason in C{can't connect to remote host <ip>: <reason>}, worded
    like xinetd's C{%m}.
    """
    error = failure.value
    number = getattr(error, "osError", None)
    if isinstance(number, int):
        return f"{os.strerror(number)} (errno = {number})"
    if isinstance(error, TimeoutError):
        return f"{os.strerror(errno.ETIMEDOUT)} (errno = {errno.ETIMEDOUT})"
    if type(error).__module__.split(".")[0] in ("OpenSSL", "service_identity"):
        return f"TLS: {describeTLSFailure(failure)}"
    return str(error)
