# -*- test-case-name: tests.spawn.test_launch -*-
"""
What one child does before it executes its server (a L{Plan}): the part
every server of a service shares, made once, and what each client adds;
and which credentials a child takes, as xinetd decides.
"""

from __future__ import annotations

import errno
import os
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from txinetd.spawn.report import RLIMIT_NAMES, LaunchError

__all__ = [
    "Identity",
    "Plan",
    "basePlan",
    "checkedLimits",
    "credentials",
    "planFor",
    "withClient",
]

#: A C{nice()} increment beyond this one changes nothing more: the kernel
#: keeps the niceness within -20..19.
NICE_RANGE = 40

#: The largest value a resource limit can be given (C{rlim_t}); -1 is
#: C{RLIM_INFINITY}.
LIMIT_MAX = 2**63 - 1


@dataclass(frozen=True)
class Identity:
    """
    The daemon's own credentials.

    @ivar privileged: whether its effective uid is 0, as xinetd decides
        whether to change credentials at all.
    """

    uid: int
    gid: int
    privileged: bool

    @classmethod
    def current(cls) -> Identity:
        return cls(os.getuid(), os.getgid(), os.geteuid() == 0)


@dataclass(frozen=True)
class Plan:
    """
    Everything one child does before it executes its server.

    @ivar executable: the path executed.
    @ivar argv: the arguments, C{argv[0]} included.
    @ivar envp: the environment, as C{NAME=value} strings.
    @ivar uid: the uid to take (real, effective, saved), or L{None}.
    @ivar gid: likewise for the gid.
    @ivar groups: the supplementary groups to set, or L{None} to keep them.
    @ivar umask: the umask.
    @ivar nice: the C{nice()} increment, applied after the uid.
    @ivar rlimits: (resource, value) pairs, soft = hard = value, -1 for
        unlimited; set before the uid.
    """

    executable: bytes
    argv: tuple[bytes, ...]
    envp: tuple[bytes, ...]
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None
    umask: int | None = None
    nice: int | None = None
    rlimits: tuple[tuple[int, int], ...] = ()

    @property
    def switchesUser(self) -> bool:
        return self.uid is not None

    @cached_property
    def envNames(self) -> frozenset[bytes]:
        """
        The names in L{envp}, computed once.
        """
        return frozenset(entry.partition(b"=")[0] for entry in self.envp)


def credentials(
    uid: int | None, gid: int | None, groups: tuple[int, ...] | None, identity: Identity
) -> tuple[int | None, int | None, tuple[int, ...] | None]:
    """
    The (uid, gid, groups) a child takes, as xinetd decides: only for a
    service with C{user} or C{group}, and only when privileged (the groups
    are then cleared unless given); an unprivileged daemon can only run
    servers under its own ids.

    @raise LaunchError: if an unprivileged daemon is asked for other ids.
    """
    if uid is None and gid is None:
        return None, None, None
    if not identity.privileged:
        if gid not in (None, identity.gid):
            raise LaunchError.fromErrno("setgid", errno.EPERM)
        if uid not in (None, identity.uid):
            raise LaunchError.fromErrno("setuid", errno.EPERM)
        return None, None, None
    return uid, gid, groups or ()


def checkedLimits(rlimits: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """
    The limits as the kernel takes them.

    @raise LaunchError: naming the first limit no C{rlim_t} can hold.
    """
    for res, value in rlimits:
        if value != resource.RLIM_INFINITY and not 0 <= value <= LIMIT_MAX:
            name = f"setrlimit({RLIMIT_NAMES.get(res, res)})"
            raise LaunchError(name, errno.EINVAL, f"{value} is too large for a limit")
    return tuple(rlimits)


def basePlan(
    executable: bytes,
    argv: tuple[bytes, ...],
    env: Iterable[tuple[bytes, bytes]],
    umask: int | None = None,
    nice: int | None = None,
    rlimits: Sequence[tuple[int, int]] = (),
) -> Plan:
    """
    The L{Plan} of a service's servers but their credentials and the
    client's variables (see L{withClient}): made once per service.  In
    C{env}, a name given twice keeps its first place and takes its last
    value.

    @raise LaunchError: if a limit cannot be set (L{checkedLimits}).
    """
    environment = dict(env)
    return Plan(
        executable=executable,
        argv=argv,
        envp=tuple(name + b"=" + value for name, value in environment.items()),
        umask=umask,
        nice=None if nice is None else max(-NICE_RANGE, min(nice, NICE_RANGE)),
        rlimits=checkedLimits(rlimits),
    )


def withClient(
    base: Plan,
    clientEnv: Sequence[bytes],
    identity: Identity,
    uid: int | None = None,
    gid: int | None = None,
    groups: tuple[int, ...] | None = None,
) -> Plan:
    """
    C{base} for one server: the client's C{NAME=value} entries after the
    service's (a name the service has already keeps its place, with the
    client's value), and the credentials (see L{credentials}).

    @raise LaunchError: if the credentials cannot be taken.
    """
    envp = base.envp
    if clientEnv:
        names = {entry.partition(b"=")[0] for entry in clientEnv}
        if not names.isdisjoint(base.envNames):
            merged = dict(entry.split(b"=", 1) for entry in envp + tuple(clientEnv))
            envp = tuple(name + b"=" + value for name, value in merged.items())
        else:
            envp = envp + tuple(clientEnv)
    newUid, newGid, newGroups = credentials(uid, gid, groups, identity)
    return Plan(
        base.executable,
        base.argv,
        envp,
        newUid,
        newGid,
        newGroups,
        base.umask,
        base.nice,
        base.rlimits,
    )


def planFor(
    executable: bytes,
    argv: tuple[bytes, ...],
    env: Iterable[tuple[bytes, bytes]],
    identity: Identity,
    uid: int | None = None,
    gid: int | None = None,
    groups: tuple[int, ...] | None = None,
    umask: int | None = None,
    nice: int | None = None,
    rlimits: Sequence[tuple[int, int]] = (),
) -> Plan:
    """
    L{basePlan} and L{withClient} in one, for a server whose whole
    environment is C{env}.
    """
    base = basePlan(executable, argv, env, umask, nice, rlimits)
    return withClient(base, (), identity, uid, gid, groups)
