# -*- test-case-name: tests.spawn.test_spawner -*-
"""
How a service's servers are started (L{SpawnSpec}), checked once when the
service is loaded, and the variables each client adds, checked for every
connection (L{clientEntries}).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from txinetd.spawn.plan import Plan, basePlan

__all__ = ["RLIMITS", "SpawnSpec", "clientEntries"]

#: The resource limits a L{SpawnSpec} may set.
RLIMITS = frozenset(
    {
        resource.RLIMIT_AS,
        resource.RLIMIT_CPU,
        resource.RLIMIT_DATA,
        resource.RLIMIT_NOFILE,
        resource.RLIMIT_RSS,
        resource.RLIMIT_STACK,
    }
)

_ID_MAX = 2**32 - 2


def _checkNoNul(strings: list[str], what: str) -> None:
    if "\0" in "".join(strings):
        bad = next(each for each in strings if "\0" in each)
        raise ValueError(f"{what} contains a NUL: {bad!r}")


def _checkEnvironment(env: Sequence[tuple[str, str]]) -> None:
    """
    Refuse an environment that cannot be passed as given.  The checks run
    for every connection: messages are only built for a failure.
    """
    names = [name for name, _ in env]
    if len(set(names)) != len(names):
        raise ValueError("an environment variable is given twice")
    if "" in names or "=" in "".join(names):
        bad = next(name for name in names if name == "" or "=" in name)
        raise ValueError(f"invalid environment variable: {bad!r}")
    _checkNoNul([text for pair in env for text in pair], "an environment variable")


def _checkId(value: int | None, what: str) -> None:
    if value is not None and not 0 <= value <= _ID_MAX:
        raise ValueError(f"invalid {what}: {value}")


def _encodeEnvironment(env: Sequence[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((os.fsencode(name), os.fsencode(value)) for name, value in env)


def clientEntries(env: Sequence[tuple[str, str]]) -> tuple[bytes, ...]:
    """
    A client's variables as C{NAME=value} entries, checked and encoded in
    one pass: this runs for every connection.

    @raise ValueError: if they cannot be passed as given.
    """
    entries = []
    for name, value in env:
        entry = os.fsencode(name) + b"=" + os.fsencode(value)
        if not name or "=" in name or b"\0" in entry:
            _checkEnvironment(env)
        entries.append(entry)
    if len({entry.partition(b"=")[0] for entry in entries}) != len(entries):
        _checkEnvironment(env)
    return tuple(entries)


@dataclass(frozen=True)
class SpawnSpec:
    """
    Everything about how one server is started; a service builds one for
    all of its servers, and what differs per client goes to
    L{Spawner.spawn} as C{clientEnv}.

    @ivar executable: the absolute path that is executed (no C{PATH}
        search).
    @ivar argv: the full argv, C{argv[0]} included (not empty).
    @ivar env: the exact environment, in order; names are unique.
    @ivar uid: the server's uid (real, effective and saved), or L{None} to
        keep the daemon's.
    @ivar gid: likewise for the gid.
    @ivar groups: the supplementary groups (C{initgroups} already resolved),
        or L{None} for none.  As in xinetd, the groups are only set with
        C{uid} or C{gid}; without either the server keeps the daemon's.
    @ivar umask: the server's umask, or L{None} for the daemon's.
    @ivar nice: the C{nice()} increment, applied as the server's user would
        apply it (a negative one is ignored for a user that may not raise
        its priority), or L{None}.
    @ivar rlimits: (C{resource.RLIMIT_*}, value) pairs, each set with
        soft = hard = value; C{resource.RLIM_INFINITY} is allowed.
    """

    executable: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None
    umask: int | None = None
    nice: int | None = None
    rlimits: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.executable.startswith("/"):
            raise ValueError(f"not an absolute path: {self.executable!r}")
        _checkNoNul([self.executable], "the executable")
        if not self.argv or self.argv[0] == "":
            raise ValueError("argv[0] is missing")
        _checkNoNul(list(self.argv), "an argument")
        _checkEnvironment(self.env)
        _checkId(self.uid, "uid")
        _checkId(self.gid, "gid")
        for gid in self.groups or ():
            _checkId(gid, "group")
        if self.umask is not None and not 0 <= self.umask <= 0o777:
            raise ValueError(f"invalid umask: {self.umask}")
        resources = [res for res, _ in self.rlimits]
        if len(set(resources)) != len(resources):
            raise ValueError("a resource limit is given twice")
        for res, value in self.rlimits:
            if res not in RLIMITS:
                raise ValueError(f"unknown resource limit: {res}")
            if value < 0 and value != resource.RLIM_INFINITY:
                raise ValueError(f"invalid limit: {value}")

    @cached_property
    def basePlan(self) -> Plan:
        """
        What every server of this spec does before its exec, but its
        credentials and its client's variables, computed once.

        @raise LaunchError: for a limit the kernel cannot take.
        """
        executable, argv, env = self.encoded
        return basePlan(executable, argv, env, self.umask, self.nice, self.rlimits)

    @cached_property
    def encoded(self) -> tuple[bytes, tuple[bytes, ...], tuple[tuple[bytes, bytes], ...]]:
        """
        The executable, argv and environment as the file system encodes
        them, computed once for all the servers of this spec.
        """
        argv = tuple(os.fsencode(arg) for arg in self.argv)
        return os.fsencode(self.executable), argv, _encodeEnvironment(self.env)
