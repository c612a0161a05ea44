# -*- test-case-name: tests.serve.test_external -*-
"""
External servers, from the service's side: what a server is started with
(argv, environment, credentials, limits; sections 7.1-7.3 of the
reference).
"""

from __future__ import annotations

import os
import pwd
import resource
from collections.abc import Mapping

from txinetd.core.addresses import NO_ADDRESS
from txinetd.core.config import ServiceConfig
from txinetd.core.connectionenv import variableNames
from txinetd.spawn.spawner import SpawnSpec

_RLIMITS = (
    ("rlimit_as", resource.RLIMIT_AS),
    ("rlimit_cpu", resource.RLIMIT_CPU),
    ("rlimit_data", resource.RLIMIT_DATA),
    ("rlimit_rss", resource.RLIMIT_RSS),
    ("rlimit_stack", resource.RLIMIT_STACK),
)


def fileLimitFor(config: ServiceConfig, fileLimit: int) -> int:
    """
    A server's NOFILE limit: C{rlimit_files}, or C{fileLimit} (the daemon's
    hard limit) without it.  Linux never allows an unlimited NOFILE (xinetd
    ignores that failure): C{UNLIMITED} is the daemon's hard limit too, the
    most the system lets it give.
    """
    files = config.rlimit_files
    return fileLimit if files is None or files == resource.RLIM_INFINITY else files


#: What a TLS client's certificate gives its server (see
#: L{txinetd.net.tls.ClientCertificate.environment}).
TLS_CLIENT_VARIABLES = ("SSL_CLIENT_DN", "SSL_CLIENT_I_DN")


def baseEnvironment(
    config: ServiceConfig, environ: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """
    What every server of a service gets in its environment: the daemon's
    start-up environment (only the C{passenv} names when it is given), then
    C{env}.  The variables its connection sets (C{connection_env}, and a
    TLS client's certificate for a TLS service) never come from the
    daemon's environment: a server would take them for its client's.
    """
    if config.passenv is None:
        result = dict(environ)
    else:
        result = {name: environ[name] for name in config.passenv if name in environ}
    for name in variableNames(config.connection_env):
        # The connection's own, never the daemon's.
        result.pop(name, None)
    if config.tls is not None:
        for name in TLS_CLIENT_VARIABLES:
            result.pop(name, None)
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
