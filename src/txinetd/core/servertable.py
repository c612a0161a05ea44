# -*- test-case-name: tests.core.test_dump,tests.builtins.test_introspect -*-
"""
The running servers, as the state dump and the C{servers} service show
them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from txinetd.core.addresses import NO_ADDRESS

__all__ = ["ServerState", "formatServer", "formatTime"]


@dataclass(frozen=True)
class ServerState:
    """
    One running server (or in-process session).

    @ivar serviceId: its service's id.
    @ivar pid: its pid (0 for an internal service).
    @ivar peer: the client's address, if any.
    @ivar started: when it started (seconds since the epoch).
    """

    serviceId: str
    pid: int
    peer: str | None
    started: float


def formatTime(when: float) -> str:
    """
    A time as C{ctime} writes it, in local time.
    """
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(when))


def formatServer(server: ServerState) -> list[str]:
    """
    One entry of the server table.
    """
    return [
        f"{server.serviceId} server",
        f"pid = {server.pid}",
        f"start_time = {formatTime(server.started)}",
        "Connection info:",
        f"\tservice = {server.serviceId}",
        f"\tremote_address = {server.peer or NO_ADDRESS}",
    ]
