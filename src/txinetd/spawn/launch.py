# -*- test-case-name: tests.spawn.test_launch -*-
"""
Starting one server process: the child that becomes the server, and how it
sets itself up.

The daemon starts every server as its own child, and the child sets the
server's ids, groups, limits, umask and niceness on itself before it
executes the server: the daemon never changes its own ids, so no process
with txinetd's privileges ever has a server's uid.  The daemon does not
wait for the child: L{Launcher.launch} returns its pid at once, and the
child reports on a close-on-exec status pipe what step failed, if one did;
the end of that pipe without a report means the server was executed (or
the child died on its way to it).

Two launchers:

  - L{CloneLauncher}, through the C extension C{txinetd.spawn._launch}: a child
    that shares the daemon's memory (C{clone(CLONE_VM)}) and makes only
    raw system calls, so nothing is copied.
  - L{ForkLauncher<txinetd.spawn.forklaunch.ForkLauncher>}: C{os.fork} and
    the same steps in Python, when the extension is not built, or when the
    kernel would leave a child sharing the daemon's memory readable by the
    server's user (C{fs.suid_dumpable = 1}).

What a child does is its L{Plan<txinetd.spawn.plan.Plan>}; what it reports
when a step fails is in L{txinetd.spawn.report}.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from functools import partial
from types import ModuleType

from txinetd.spawn.forklaunch import ForkLauncher
from txinetd.spawn.launcher import Launched, Launcher, descriptorCeiling
from txinetd.spawn.plan import Plan
from txinetd.spawn.report import LaunchError

_launch: ModuleType | None
try:
    from txinetd.spawn import _launch
except ImportError:  # pragma: no cover - depends on the build
    _launch = None

__all__ = [
    "CloneLauncher",
    "DumpableCheck",
    "chooseLauncher",
]

SUID_DUMPABLE = "/proc/sys/fs/suid_dumpable"


class DumpableCheck:
    """
    Whether a child that takes another uid while it shares the daemon's
    memory makes that memory non-dumpable, so that no process of that uid
    may read or trace it: C{fs.suid_dumpable} is 0 or 2, not 1.  The file
    is kept open and read again at every call (one C{pread}), so that a
    change made while txinetd runs applies to the next server.
    """

    def __init__(self, path: str = SUID_DUMPABLE) -> None:
        self.path = path
        self.fd: int | None = None

    def __call__(self) -> bool:
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(self.fd, 16, 0).strip() in (b"0", b"2")
        except OSError:
            return False


class CloneLauncher:
    """
    The fast L{Launcher}: C{clone(CLONE_VM)} from C{txinetd.spawn._launch}; the
    child makes only raw system calls until it executes the server.  A
    switch to another user goes through C{fallback} instead when
    C{fs.suid_dumpable} is 1.  A server that keeps the daemon's uid (C{user
    = root} under a root daemon) needs no check: only processes of that uid
    could read the memory it shares, whatever its groups.
    """

    name = "clone"

    def __init__(
        self,
        fallback: Launcher,
        dumpableSafe: Callable[[], bool] | None = None,
        ceiling: int | None = None,
        euid: int | None = None,
    ) -> None:
        """
        @param dumpableSafe: by default a L{DumpableCheck}.
        @param ceiling: the descriptors a child closes when the kernel has
            no C{close_range}; by default L{descriptorCeiling}.
        @param euid: the daemon's effective uid, by default its own.
        """
        assert _launch is not None
        self.fallback = fallback
        self.euid = os.geteuid() if euid is None else euid
        self.dumpableSafe = dumpableSafe if dumpableSafe is not None else DumpableCheck()
        self.ceiling = ceiling if ceiling is not None else descriptorCeiling()

    def launch(self, plan: Plan, fd: int, statusFd: int, signalOnExit: bool = True) -> Launched:
        assert _launch is not None
        if plan.switchesUser and plan.uid != self.euid and not self.dumpableSafe():
            return self.fallback.launch(plan, fd, statusFd, signalOnExit)
        try:
            pid, region = _launch.launch(
                plan.executable,
                plan.argv,
                plan.envp,
                fd,
                statusFd,
                self.ceiling,
                plan.uid,
                plan.gid,
                plan.groups,
                plan.umask,
                plan.nice,
                plan.rlimits,
                signal.SIGCHLD if signalOnExit else 0,
            )
        except OSError as e:
            raise LaunchError.fromErrno("fork", e.errno or 0) from e
        return Launched(pid, partial(_launch.release, region))


def chooseLauncher(compiled: bool = True) -> Launcher:
    """
    L{CloneLauncher} when C{txinetd.spawn._launch} is built (and C{compiled}),
    else L{ForkLauncher}.
    """
    fallback = ForkLauncher()
    if compiled and _launch is not None:
        return CloneLauncher(fallback)
    return fallback
