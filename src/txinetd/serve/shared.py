# -*- test-case-name: tests.serve.test_admission -*-
"""
What every service of the daemon shares, as one typed record made once --
by the daemon for this machine (L{txinetd.daemon.machine}), by a test with
fakes -- and never changed afterwards.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from typing import Protocol as TypingProtocol

from txinetd.core.config import ServiceConfig
from txinetd.core.events import ProgramLog, SessionObserver
from txinetd.core.limits import LoadAverage, ProcessLimit
from txinetd.core.sensor import SensorList
from txinetd.serve.lookups import BlockingRunner, HostsRules, IdentSetup, ReverseLookup
from txinetd.spawn.spawner import Spawner

__all__ = ["ServerSetup", "ServiceLogs", "Shared"]


class ServiceLogs(TypingProtocol):
    """
    Gives each service the log that writes its sessions' events
    (L{txinetd.daemon.servicelogs.LogTargets}).
    """

    def serviceLog(self, config: ServiceConfig) -> SessionObserver:
        """
        The log of C{config}'s service, following C{config} from now on.
        """


@dataclass(frozen=True)
class ServerSetup:
    """
    What every external server is started with, besides what its service
    says.

    @ivar spawner: starts the servers.
    @ivar environ: the daemon's environment at start-up, which servers
        inherit (what C{passenv} lets through).
    @ivar euid: the daemon's effective uid (a daemon that is not root
        starts servers as itself).
    @ivar fileLimit: the C{RLIMIT_NOFILE} of servers without
        C{rlimit_files}.
    @ivar umask: the umask of servers without C{umask}.
    """

    spawner: Spawner
    environ: Mapping[str, str]
    euid: int
    fileLimit: int
    umask: int


@dataclass(frozen=True)
class Shared:
    """
    What every service shares.

    @ivar reactor: the reactor, and clock.
    @ivar say: writes to the program log.
    @ivar logs: gives each service its log (see L{ServiceLogs}).
    @ivar sensor: the global SENSOR deny list (kept across
        reconfigurations).
    @ivar processes: the C{-limit} count of running servers.
    @ivar load: the load average, for C{max_load}.
    @ivar localTime: seconds to local time (for C{access_times}).
    @ivar hosts: the rules of hosts.allow and hosts.deny.
    @ivar names: finds a client's name (and whether it maps back).
    @ivar blocking: runs work that may block (reading banner files) off the
        reactor's thread.
    @ivar ident: how ident servers are asked.
    @ivar servers: how external servers are started.
    @ivar rpcByName: /etc/rpc look-ups, for RPC services.
    @ivar datagramPorts: the ports the daemon's datagram services listen
        on, each with how many services use it: a datagram from one of them
        is never answered (it would loop between two services, or a service
        and itself).
    @ivar observers: what else observes every session of every service
        (metrics, an event log), after each service's own log.
    @ivar debug: whether each refusal is explained in a DEBUG program
        message naming the rule that refused (C{-d}).
    """

    reactor: Any
    say: ProgramLog
    logs: ServiceLogs
    sensor: SensorList
    processes: ProcessLimit
    load: LoadAverage
    localTime: Callable[[float], time.struct_time]
    hosts: HostsRules
    names: ReverseLookup
    blocking: BlockingRunner
    ident: IdentSetup
    servers: ServerSetup
    rpcByName: Callable[[str], int | None]
    datagramPorts: Counter[int]
    observers: tuple[SessionObserver, ...] = ()
    debug: bool = False
