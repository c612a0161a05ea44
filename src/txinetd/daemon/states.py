# -*- test-case-name: tests.daemon.test_states -*-
"""
The daemon's state as the state dump, the status document and the
introspection services show it: each service's state and the running
servers (L{serviceStates}, L{serverStates}), what is inconsistent in its
bookkeeping (L{consistencyErrors}), and the view the introspection services
get (L{StateView}, a L{txinetd.builtins.introspect.DaemonView}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from txinetd.builtins.introspect import ServiceLine
from txinetd.core.dump import ServiceState
from txinetd.core.servertable import ServerState
from txinetd.daemon.service import ListeningService

__all__ = ["StateView", "consistencyErrors", "serverStates", "serviceLine", "serviceStates"]


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


def serviceStates(services: Iterable[ListeningService]) -> list[ServiceState]:
    """
    The state of each service: C{Active} while it listens, C{Suspended}
    while it waits to listen again, C{Disabled} otherwise.
    """
    states = []
    for service in services:
        if service.port is not None:
            state = "Active"
        elif service.reactivation is not None:
            state = "Suspended"
        else:
            state = "Disabled"
        states.append(
            ServiceState(
                service.config, state, service.servers.running, service.address, service.addresses
            )
        )
    return states


def serverStates(owners: Iterable[ListeningService]) -> list[ServerState]:
    """
    Every running server or session of C{owners}.
    """
    return [
        ServerState(owner.config.id, session.pid, session.host, session.started)
        for owner in owners
        for session in owner.sessions()
    ]


def consistencyErrors(owners: Sequence[ListeningService], processes: int) -> list[str]:
    """
    What is inconsistent in the bookkeeping of C{owners} (the services, and
    the removed ones whose sessions still run), with C{processes} counted
    toward C{-limit}.
    """
    errors = []
    total = 0
    for owner in owners:
        sessions = len(owner.sessions())
        total += sessions
        if sessions != owner.servers.running:
            errors.append(
                f"service {owner.config.id}: {owner.servers.running} servers counted, "
                f"{sessions} running"
            )
        if owner.port is None and owner.reactivation is None and owner.bindAttempted:
            errors.append(f"service {owner.config.id}: not listening")
    if total != processes:
        errors.append(f"{processes} processes counted, {total} running")
    return errors
