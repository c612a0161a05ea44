# -*- test-case-name: tests.daemon.test_states -*-
"""
What the daemon shows of itself to the introspection services: the
available services and the running servers, from the states the state dump
shows (see L{txinetd.builtins.introspect.DaemonView}).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from txinetd.builtins.introspect import ServiceLine
from txinetd.core.dump import ServiceState
from txinetd.core.servertable import ServerState

__all__ = ["StateView", "serviceLine"]


def serviceLine(state: ServiceState) -> ServiceLine:
    """
    The line of a service from its dump state.
    """
    config = state.config
    if state.address is None:
        return ServiceLine(
            config.id, config.name, config.protocol, config.port or 0, config.bindAddress
        )
    host, port = state.address
    return ServiceLine(config.id, config.name, config.protocol, port, host)


@dataclass(frozen=True)
class StateView:
    """
    A L{txinetd.builtins.introspect.DaemonView} made of the functions that
    give the dump's states.

    @ivar serviceStates: gives every service's state; the active ones are
        the available services.
    @ivar serverStates: gives every running server.
    """

    serviceStates: Callable[[], Sequence[ServiceState]]
    serverStates: Callable[[], Sequence[ServerState]]

    def services(self) -> list[ServiceLine]:
        return [serviceLine(state) for state in self.serviceStates() if state.state == "Active"]

    def servers(self) -> list[ServerState]:
        return list(self.serverStates())
