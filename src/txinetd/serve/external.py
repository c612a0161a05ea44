# -*- test-case-name: tests.serve.test_external -*-
"""
External servers, from the service's side: what a server is started with
(argv, environment, credentials, limits; sections 7.1-7.3 of the reference)
and the readers of C{wait = yes} services, which hand their listening socket
to a server instead of accepting.
"""

from __future__ import annotations

import os
import pwd
import resource
import socket
from collections.abc import Callable, Mapping

from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.core.addresses import NO_ADDRESS, addressOf
from txinetd.core.config import ServiceConfig
from txinetd.spawn.spawner import SpawnSpec

#: The NOFILE limit a server gets when the daemon's hard limit is unlimited.
UNLIMITED_FILES = 4096

_RLIMITS = (
    ("rlimit_as", resource.RLIMIT_AS),
    ("rlimit_cpu", resource.RLIMIT_CPU),
    ("rlimit_data", resource.RLIMIT_DATA),
    ("rlimit_rss", resource.RLIMIT_RSS),
    ("rlimit_stack", resource.RLIMIT_STACK),
)


def defaultFileLimit() -> int:
    """
    The daemon's hard NOFILE limit (4096 if unlimited): what a server gets
    without C{rlimit_files}.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard


def fileLimitFor(config: ServiceConfig, fileLimit: int) -> int:
    """
    A server's NOFILE limit: C{rlimit_files}, or C{fileLimit} (the daemon's
    hard limit) without it.  Linux never allows an unlimited NOFILE (xinetd
    ignores that failure): C{UNLIMITED} is the daemon's hard limit too, the
    most the system lets it give.
    """
    files = config.rlimit_files
    return fileLimit if files is None or files == resource.RLIM_INFINITY else files


def daemonUmask() -> int:
    """
    The umask a server inherits without C{umask}: the daemon's, with 022
    added as xinetd does.
    """
    current = os.umask(0o022)
    os.umask(current)
    return current | 0o022


def baseEnvironment(
    config: ServiceConfig, environ: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """
    What every server of a service gets in its environment: the daemon's
    start-up environment (only the C{passenv} names when it is given), then
    C{env}.
    """
    if config.passenv is None:
        result = dict(environ)
    else:
        result = {name: environ[name] for name in config.passenv if name in environ}
    for entry in config.env:
        result[entry.name] = entry.value
    return tuple(result.items())


def clientEnvironment(
    peer: tuple[str, int] | None, extra: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """
    What one client's server gets on top of the L{baseEnvironment}:
    C{REMOTE_HOST} and C{REMOTE_PORT}, then C{extra} (the TLS client's
    names).
    """
    if peer is None:
        result = {"REMOTE_HOST": NO_ADDRESS}
    else:
        result = {"REMOTE_HOST": peer[0], "REMOTE_PORT": str(peer[1])}
    result.update(extra or {})
    return tuple(result.items())


def supplementaryGroups(config: ServiceConfig) -> tuple[int, ...] | None:
    """
    With C{groups = yes} and a C{user}: the user's groups (initgroups);
    otherwise none.
    """
    user = config.user
    if not config.groups or user is None:
        return None
    try:
        name = user.name if not user.name.isdigit() else pwd.getpwuid(user.uid).pw_name
        return tuple(sorted(set(os.getgrouplist(name, user.gid))))
    except (KeyError, OSError):
        return (user.gid,)


def credentialsFor(
    config: ServiceConfig, euid: int
) -> tuple[int | None, int | None, tuple[int, ...] | None]:
    """
    The (uid, gid, groups) a server runs with; a daemon that is not root
    changes nothing (the configuration already refused other users).
    """
    if euid != 0:
        return None, None, None
    user, group = config.user, config.group
    uid = user.uid if user is not None else None
    gid = group.gid if group is not None else user.gid if user is not None else None
    return uid, gid, supplementaryGroups(config)


def serverSpec(
    config: ServiceConfig,
    environ: Mapping[str, str],
    euid: int,
    fileLimit: int,
    umask: int,
) -> SpawnSpec:
    """
    Everything a service's servers are started with, but what differs for
    each client (see L{clientEnvironment}): built once per service, as
    the per-connection path should not redo it.  The supplementary groups
    are read now, not for each server.

    @raise ValueError: if the server cannot be started as configured.
    """
    return _spec(config, baseEnvironment(config, environ), euid, fileLimit, umask)


def _spec(
    config: ServiceConfig,
    env: tuple[tuple[str, str], ...],
    euid: int,
    fileLimit: int,
    umask: int,
) -> SpawnSpec:
    assert config.server is not None
    uid, gid, groups = credentialsFor(config, euid)
    rlimits = [(resource.RLIMIT_NOFILE, fileLimitFor(config, fileLimit))]
    for name, number in _RLIMITS:
        value = getattr(config, name)
        if value is not None:
            rlimits.append((number, value))
    return SpawnSpec(
        executable=config.server,
        argv=config.argv,
        env=env,
        uid=uid,
        gid=gid,
        groups=groups,
        umask=config.umask if config.umask is not None else umask,
        nice=config.nice,
        rlimits=tuple(rlimits),
    )


@implementer(IReadDescriptor)
class ReadableWatcher:
    """
    Calls back when a socket becomes readable, without reading it: the
    C{wait = yes} services, whose server reads the socket itself.
    """

    def __init__(
        self, reactor: IReactorFDSet, sock: socket.socket, onReadable: Callable[[], None]
    ) -> None:
        self.reactor = reactor
        self.socket = sock
        self.onReadable = onReadable
        self.reading = False

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "txinetd.wait"

    def startReading(self) -> None:
        if not self.reading:
            self.reading = True
            self.reactor.addReader(self)

    def stopReading(self) -> None:
        if self.reading:
            self.reading = False
            self.reactor.removeReader(self)

    def doRead(self) -> None:
        self.onReadable()

    def connectionLost(self, reason: Failure) -> None:
        self.reading = False


def peekSender(sock: socket.socket) -> tuple[str, int] | None:
    """
    The sender of the first queued datagram, leaving it queued; L{None} if
    there is none.
    """
    try:
        _, sender = sock.recvfrom(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        # An error queued on the socket (an ICMP report): reading it clears it.
        return None
    return addressOf(sender)


def drain(sock: socket.socket, limit: int = 10000) -> int:
    """
    Read and discard the datagrams queued on a socket (at most C{limit}).

    @return: how many were discarded.
    """
    count = 0
    while count < limit:
        try:
            sock.recv(1, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            continue
        count += 1
    return count


def acceptAndClose(sock: socket.socket) -> None:
    """
    Take a pending connection off a listening socket and close it (a
    C{wait = yes} stream service that refused to start a server).  The
    socket is blocking for its servers; no server holds it now, so it is
    made non-blocking for the accept only.
    """
    sock.setblocking(False)
    try:
        connection, _ = sock.accept()
    except OSError:
        return
    finally:
        sock.setblocking(True)
    connection.close()
