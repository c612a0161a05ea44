# -*- test-case-name: tests.daemon.test_machine -*-
"""
What the daemon's services share, made once from this machine: the
process's own environment, ids, limits and umask, the load average, the
resolver, ident's bounds, hosts.allow and hosts.deny, the spawner, the
service logs and the listening sockets (L{onThisMachine}).  Nothing reads
the machine afterwards but the parts made here.
"""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from txinetd.core.config import IDENT_PORT
from txinetd.core.events import ProgramLog, SessionObserver
from txinetd.core.limits import LoadAverage, ProcessLimit, parseLoadAverage
from txinetd.core.sensor import SensorList
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.safefiles import reachDirectory
from txinetd.daemon.servicelogs import LogTargets
from txinetd.net.listening import ListeningSockets, SocketOpener
from txinetd.net.systemd import MANAGER_VARIABLES, ListenFds
from txinetd.serve.hostsfiles import HostsFiles
from txinetd.serve.lookups import (
    FixedHosts,
    HostsRules,
    IdentSetup,
    inThreadPool,
    threadedReverseLookup,
)
from txinetd.serve.rpc import rpcByName
from txinetd.serve.shared import ServerSetup, Shared
from txinetd.spawn.childsignal import ChildSignal
from txinetd.spawn.spawner import Spawner

__all__ = [
    "Collaborators",
    "daemonEnvironment",
    "daemonUmask",
    "defaultFileLimit",
    "onThisMachine",
]

#: The NOFILE limit a server gets when the daemon's hard limit is unlimited.
UNLIMITED_FILES = 4096

#: Where the kernel says the load average.
LOADAVG = "/proc/loadavg"


@dataclass(frozen=True)
class Collaborators:
    """
    What the service tree is built with, made once.

    @ivar shared: what every service shares.
    @ivar logs: the service logs (C{shared.logs}), which the tree also
        reopens, retains and closes.
    @ivar openSockets: makes the services' listening sockets.
    """

    shared: Shared
    logs: LogTargets
    openSockets: SocketOpener


def defaultFileLimit() -> int:
    """
    The daemon's hard NOFILE limit (4096 if unlimited): what a server gets
    without C{rlimit_files}.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard


def daemonUmask() -> int:
    """
    The umask a server inherits without C{umask}: the daemon's, with 022
    added as xinetd does.
    """
    current = os.umask(0o022)
    os.umask(current)
    return current | 0o022


#: The environment this process was started with, as the kernel keeps it.
STARTUP_ENVIRON = "/proc/self/environ"

#: The values Python's C locale coercion (PEP 538) gives C{LC_CTYPE}.
COERCED_LC_CTYPE = frozenset({"C.UTF-8", "C.utf8", "UTF-8"})


def readStartupEnviron(path: str = STARTUP_ENVIRON) -> bytes | None:
    """
    The environment this process was started with (C{NAME=value} entries,
    each ended by a NUL), or L{None} where the system does not say.
    """
    try:
        with open(path, "rb") as environFile:
            return environFile.read()
    except OSError:
        return None


def daemonEnvironment(
    current: Mapping[str, str] | None = None,
    readStartup: Callable[[], bytes | None] | None = None,
) -> dict[str, str]:
    """
    The daemon's environment, which servers inherit: C{current} (by
    default this process's, from which the daemon has taken what was for
    itself, such as systemd's C{LISTEN_FDS}) with C{LC_CTYPE} as the
    daemon was started with it.

    What systemd gives the daemon alone (C{NOTIFY_SOCKET}, the watchdog's
    variables) is left out.

    Python's C locale coercion (PEP 538) sets C{LC_CTYPE=C.UTF-8} in the
    environment as the interpreter starts when the locale is C (no locale,
    C{LANG=C}); xinetd's servers get no such variable.  A value that the
    started process had is kept, and so is everything where the system
    does not say what the process was started with.

    @param readStartup: reads the environment the process was started
        with, in C{/proc/self/environ}'s format (default:
        L{readStartupEnviron}).
    """
    environ = dict(os.environ if current is None else current)
    for variable in MANAGER_VARIABLES:
        environ.pop(variable, None)
    value = environ.get("LC_CTYPE")
    if value not in COERCED_LC_CTYPE:
        return environ
    startup = (readStartup or readStartupEnviron)()
    if startup is None:
        return environ
    given = None
    for entry in startup.split(b"\0"):
        name, equals, setting = entry.partition(b"=")
        if equals and name == b"LC_CTYPE":
            # The first one, which getenv() would have found.
            given = os.fsdecode(setting)
            break
    if given is None:
        del environ["LC_CTYPE"]
    else:
        environ["LC_CTYPE"] = given
    return environ


def readLoadAverage(path: str = LOADAVG) -> float:
    """
    The 1-minute load average in a file of C{/proc/loadavg}'s format, or
    C{-1.0} if it cannot be read (which no positive C{max_load} refuses).
    """
    try:
        with open(path, encoding="ascii", errors="replace") as loadFile:
            return parseLoadAverage(loadFile.read())
    except OSError:
        return -1.0


class LocalTime:
    """
    C{time.localtime}, worked out once a second: every client of a busy
    service asks it (C{access_times}), and it changes once a second.
    """

    def __init__(self, localtime: Callable[[float], time.struct_time] = time.localtime) -> None:
        self.localtime = localtime
        self.second: int | None = None
        self.value = time.gmtime(0)

    def __call__(self, now: float) -> time.struct_time:
        second = int(now)
        if second != self.second:
            self.second, self.value = second, self.localtime(second)
        return self.value


def defaultIdentCap() -> int:
    """
    The daemon-wide bound on ident lookups running at once: a quarter of
    the daemon's descriptors (each lookup holds one), at least 16.
    """
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(16, soft // 4)


def onThisMachine(
    reactor: Any,
    *,
    say: ProgramLog = programMessage,
    syslogSocket: str = "/dev/log",
    identPort: int = IDENT_PORT,
    logprocs: int = 15,
    processLimit: int | None = None,
    hostsFiles: tuple[str, str] | None = None,
    listenFds: ListenFds | None = None,
    environ: Mapping[str, str] | None = None,
    observers: Sequence[SessionObserver] = (),
    debug: bool = False,
    logBatch: WriteBatch | None = None,
) -> Collaborators:
    """
    Make what the service tree is built with, from this machine.

    @param say: writes to the program log.
    @param syslogSocket: the local syslog socket, for C{log_type = SYSLOG}.
    @param identPort: the ident port to query.
    @param logprocs: at most this many ident look-ups at once for USERID on
        failure (C{-logprocs}).
    @param processLimit: at most this many servers at once (C{-limit}).
    @param hostsFiles: the paths of hosts.allow and hosts.deny, read now and
        kept current while the tree runs; L{None}: they are not used.
    @param listenFds: the sockets systemd passed.
    @param environ: the environment servers inherit (default:
        L{daemonEnvironment}).
    @param observers: what else observes every session.
    @param debug: explain each refusal in the program log (C{-d}).
    @param logBatch: what the services' FILE logs keep their lines for
        while it is held (see L{txinetd.daemon.logbatch}).
    """
    hosts: HostsRules = FixedHosts()
    if hostsFiles is not None:
        watched = HostsFiles(reactor, hostsFiles[0], hostsFiles[1], say)
        watched.read()
        hosts = watched
    ident = IdentSetup.bounded(defaultIdentCap(), logprocs, say, identPort)
    logs = LogTargets(say, syslogSocket, logBatch)
    shared = Shared(
        reactor=reactor,
        say=say,
        logs=logs,
        sensor=SensorList(),
        processes=ProcessLimit(processLimit),
        load=LoadAverage(readLoadAverage),
        localTime=LocalTime(),
        hosts=hosts,
        names=threadedReverseLookup(reactor),
        blocking=inThreadPool(reactor),
        ident=ident,
        servers=ServerSetup(
            spawner=Spawner(reactor, childSignal=ChildSignal()),
            environ=daemonEnvironment() if environ is None else dict(environ),
            euid=os.geteuid(),
            fileLimit=defaultFileLimit(),
            umask=daemonUmask(),
        ),
        rpcByName=rpcByName,
        datagramPorts=Counter(),
        observers=tuple(observers),
        debug=debug,
    )
    return Collaborators(
        shared, logs, ListeningSockets(listenFds or ListenFds(), say, reachDirectory)
    )
