# -*- test-case-name: tests.daemon.test_status -*-
"""
The daemon as it is now, as the metrics endpoint's C{/status} shows it (a
JSON document, see docs/monitoring.md) and as its gauges count it: every
service with its kind, where it listens, its state, its limits and how many
sessions it has; every running session with its client, pid, start and,
for a redirect, the bytes relayed so far; the SENSOR list.

It reads the service tree through L{DaemonTree}, which
L{txinetd.daemon.tree.XinetdService} is, when it is asked (on the
reactor's thread), and keeps nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from txinetd import __version__
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.dump import ServiceState
from txinetd.daemon.eventlog import rfc3339
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared

__all__ = ["STATES", "DaemonTree", "serviceState", "statusDocument"]

#: What a service's state may be: it listens (or is reached through
#: tcpmux); a C{cps} trip or a want of descriptors closed it for a while;
#: it could not listen (its bind failed, its certificates cannot be read),
#: and is tried again at the next reconfiguration; the configuration names
#: it but disables it.
STATES = ("active", "suspended", "deactivated", "disabled")


class DaemonTree(Protocol):
    """
    What the status and the metrics read of the service tree.
    """

    @property
    def config(self) -> Config:
        """
        The configuration that runs.
        """

    @property
    def shared(self) -> Shared:
        """
        What every service shares.
        """

    def serviceStates(self) -> list[ServiceState]:
        """
        Every service of the tree, with its state.
        """

    def sessions(self) -> list[Session]:
        """
        Every running session, those of removed services included.
        """


def serviceState(state: ServiceState) -> str:
    """
    The word of L{STATES} for a service of the tree.
    """
    if not state.config.listens:
        return "active"
    return {"Active": "active", "Suspended": "suspended"}.get(state.state, "deactivated")


def _limits(config: ServiceConfig) -> dict[str, Any]:
    return {
        "instances": config.instances,
        "per_source": config.per_source,
        "cps": {"max": config.cps.max, "wait": config.cps.wait},
        "max_load": config.max_load,
        "access_times": None if config.access_times is None else str(config.access_times),
    }


def _service(state: ServiceState) -> dict[str, Any]:
    config = state.config
    return {
        "id": config.id,
        "name": config.name,
        "kind": config.kind.value,
        "socket_type": config.socket_type.value,
        "protocol": config.protocol,
        "wait": config.wait,
        "where": config.where,
        "sockets": [{"address": host, "port": port} for host, port in state.addresses],
        "state": serviceState(state),
        "limits": _limits(config),
        "running": state.running,
    }


def _disabled(serviceId: str) -> dict[str, Any]:
    return {
        "id": serviceId,
        "name": None,
        "kind": None,
        "socket_type": None,
        "protocol": None,
        "wait": None,
        "where": None,
        "sockets": [],
        "state": "disabled",
        "limits": None,
        "running": 0,
    }


def _session(session: Session) -> dict[str, Any]:
    relayed = None if session.relayed is None else session.relayed()
    return {
        "service": session.admission.serviceId,
        "address": session.host,
        "port": session.port,
        "pid": session.pid,
        "started": rfc3339(session.started),
        "bytes_in": None if relayed is None else relayed[0],
        "bytes_out": None if relayed is None else relayed[1],
    }


def statusDocument(tree: DaemonTree, now: float, started: float) -> dict[str, Any]:
    """
    The C{/status} document.

    @param now: the time now.
    @param started: when the daemon started.
    """
    shared = tree.shared
    processLimit = shared.processes.limit
    states: Sequence[ServiceState] = tree.serviceStates()
    return {
        "version": __version__,
        "pid": os.getpid(),
        "time": rfc3339(now),
        "started": rfc3339(started),
        "config": tree.config.path,
        "services": [_service(state) for state in states]
        + [_disabled(serviceId) for serviceId in tree.config.disabled],
        "sessions": [_session(session) for session in tree.sessions()],
        "processes": {"running": shared.processes.running, "limit": processLimit},
        "ident_lookups": shared.ident.cap.running,
        "sensor": [
            {"address": address, "until": None if until is None else rfc3339(until)}
            for address, until in shared.sensor.entries(now)
        ],
    }
