# -*- test-case-name: tests.spawn.test_spawner -*-
"""
Starting external servers: the only place in txinetd that starts processes.

A server gets its connection (or, for C{wait = yes}, the listening or UDP
socket) on fds 0, 1 and 2 and nothing else, C{/} as its working directory,
a session of its own, every signal at its default disposition and an empty
signal mask, exactly the environment it is given, and the credentials,
umask, niceness and resource limits of its L{SpawnSpec}.

Every server is the daemon's own child, from the moment it exists until the
daemon reaps it: no other process of txinetd's stands between them, so
none can die, be stopped or be signalled by a server and leave a server
uncounted.  The child sets the server's ids on itself (see
L{txinetd.spawn.launch}); the daemon keeps its own, and does not wait for the
child: L{Spawner.launch} returns the L{RunningProcess} at once, its
C{whenExecuted} fires once the server runs, and its end is watched through
a pidfd (or, where the kernel has none, C{SIGCHLD}; see
L{txinetd.spawn.children}).

The rest of the layer needs nothing but this module: the L{SpawnSpec}, the
L{RunningProcess} with its L{ProcessExit} and the L{SpawnError} are its
names too.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet import process as twisted_process
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import LoopingCall

from txinetd.spawn.children import SYSTEM, ChildWatch, ProcessSystem, pidfdsAvailable
from txinetd.spawn.childsignal import ChildSignal
from txinetd.spawn.launch import chooseLauncher
from txinetd.spawn.launcher import Launcher
from txinetd.spawn.plan import Identity, withClient
from txinetd.spawn.process import ProcessExit, RunningProcess, SpawnError
from txinetd.spawn.report import LaunchError
from txinetd.spawn.spec import SpawnSpec, clientEntries

__all__ = [
    "ProcessExit",
    "ProcessSystem",
    "RunningProcess",
    "SpawnError",
    "SpawnSpec",
    "Spawner",
    "pidfdsAvailable",
]

#: How often servers watched without a pidfd are checked for their end,
#: should no C{SIGCHLD} wake the reactor, and how often Twisted is asked
#: whether it has processes of its own while C{SIGCHLD} is off (seconds).
REAP_POLL = 1.0


class Spawner(Service):
    """
    Starts external servers, each as a child of the daemon.

    @ivar reactor: provides C{IReactorFDSet} and C{IReactorTime}.
    @ivar launcher: starts each child (see L{txinetd.spawn.launch}).
    @ivar pidfds: whether children are watched through pidfds (at most
        L{pidfdBudget} at once); otherwise through C{SIGCHLD} (Twisted's
        reaper) and a poll every L{REAP_POLL} seconds.
    @ivar children: the children not reaped yet, by pid.
    """

    def __init__(
        self,
        reactor: Any,
        launcher: Launcher | None = None,
        pidfds: bool | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        identity: Identity | None = None,
        system: ProcessSystem = SYSTEM,
        childSignal: ChildSignal | None = None,
    ) -> None:
        """
        @param launcher: by default, L{chooseLauncher}'s.
        @param pidfds: by default, whether L{pidfdsAvailable}.
        @param clock: C{CLOCK_MONOTONIC} in nanoseconds.
        @param identity: the daemon's credentials, by default its own.
        @param system: the system calls made on children.
        @param childSignal: switches C{SIGCHLD} off while every child is
            watched through a pidfd (the daemon's; see
            L{txinetd.spawn.childsignal}), or L{None} to leave it alone.
        """
        self.reactor = reactor
        self.launcher = launcher if launcher is not None else chooseLauncher()
        self.pidfds = pidfdsAvailable() if pidfds is None else pidfds
        self.clock = clock
        self.identity = identity if identity is not None else Identity.current()
        self.system = system
        self.childSignal = childSignal
        #: At most half of the descriptors go to pidfds: servers beyond
        #: that are watched through SIGCHLD, and the rest is left for
        #: connections.
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.pidfdBudget = (1 << 20 if soft == resource.RLIM_INFINITY else soft) // 2
        self.openPidfds = 0
        self.stopped = False
        self.children: dict[int, ChildWatch] = {}
        self._unwatched: dict[int, ChildWatch] = {}
        self._poll = LoopingCall(self._pollUnwatched)
        self._poll.clock = reactor

    def launch(
        self, spec: SpawnSpec, fd: int, clientEnv: Sequence[tuple[str, str]] = ()
    ) -> RunningProcess:
        """
        Start a server for C{spec} with C{fd} on its fds 0, 1 and 2.

        A service builds its L{SpawnSpec} once; what differs for each client
        comes in C{clientEnv}.

        @param fd: a connected socket (C{wait = no}), or the listening or
            UDP socket (C{wait = yes}).  The caller keeps its copy and may
            close it as soon as this returns.  The server shares its file
            status flags: hand over a blocking socket (servers expect one),
            and use C{MSG_DONTWAIT} on a C{wait = yes} socket the daemon
            keeps.
        @param clientEnv: environment variables for this server alone, set
            after those of C{spec} (a name given in both takes its place in
            C{spec.env}, with this value).
        @return: the L{RunningProcess}: a child exists, and is a server
            until it is reaped.
        @raise SpawnError: if no child could be started.
        @raise ValueError: if C{clientEnv} cannot be passed as given.
        """
        entries = clientEntries(clientEnv)
        if self.stopped:
            raise SpawnError(spec.executable, "fork", None, "txinetd is stopping")
        try:
            plan = withClient(
                spec.basePlan, entries, self.identity, spec.uid, spec.gid, spec.groups
            )
            statusRead, statusWrite = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        except LaunchError as e:
            raise self.failure(spec.executable, e) from e
        except OSError as e:
            raise SpawnError(spec.executable, "fork", e.errno, e.strerror or str(e)) from e
        startedAt = self.clock() / 1e9
        try:
            # A child watched through a pidfd needs no SIGCHLD (one wake-up
            # of the reactor less for each server).
            launched = self.launcher.launch(plan, fd, statusWrite, not self.pidfdAllowed())
        except LaunchError as e:
            os.close(statusRead)
            raise self.failure(spec.executable, e) from e
        except ValueError as e:
            os.close(statusRead)
            raise SpawnError(spec.executable, "fork", None, str(e)) from e
        finally:
            os.close(statusWrite)
        process = RunningProcess(launched.pid, startedAt, self.system.kill, self.system.killpg)
        child = ChildWatch(self, process, spec.executable, launched, statusRead)
        self.children[process.pid] = child
        child.start()
        if self.childSignal is not None and child.pidfd is not None:
            self.childSignal.quiet()
            if self.childSignal.saved is not None and not self._poll.running:
                # Twisted may start a process of its own meanwhile: within
                # a poll, its SIGCHLD handler is back.
                self._poll.start(REAP_POLL, now=False)
        return process

    def spawn(
        self, spec: SpawnSpec, fd: int, clientEnv: Sequence[tuple[str, str]] = ()
    ) -> Deferred[RunningProcess]:
        """
        L{launch}, then wait for the server to run.

        @return: a L{Deferred} that fires with the L{RunningProcess} once
            its server runs, or fails with a L{SpawnError}.
        """
        try:
            process = self.launch(spec, fd, clientEnv)
        except SpawnError as e:
            return fail(e)
        return process.whenExecuted()

    def pidfdAllowed(self) -> bool:
        return self.pidfds and self.openPidfds < self.pidfdBudget

    @staticmethod
    def failure(executable: str, error: LaunchError) -> SpawnError:
        return SpawnError(executable, error.operation, error.errno or None, error.reason)

    def forget(self, child: ChildWatch) -> None:
        """
        C{child} has been reaped.
        """
        self.children.pop(child.process.pid, None)
        if self._unwatched.pop(child.process.pid, None) is not None:
            if twisted_process.reapProcessHandlers.get(child.process.pid) is cast(Any, child):
                del twisted_process.reapProcessHandlers[child.process.pid]
            if not self._unwatched and not self.quiet and self._poll.running:
                self._poll.stop()

    def watchWithoutPidfd(self, child: ChildWatch) -> None:
        """
        Watch a child's end through Twisted's C{SIGCHLD} reaper (which
        calls C{reapProcess} of every process it knows), and a poll in case
        no C{SIGCHLD} handler is installed.
        """
        if self.childSignal is not None:
            self.childSignal.restore()
        pid = child.process.pid
        self._unwatched[pid] = child
        twisted_process.reapProcessHandlers[pid] = cast(Any, child)
        if not self._poll.running:
            self._poll.start(REAP_POLL, now=False)

    @property
    def quiet(self) -> bool:
        """
        Whether C{SIGCHLD} is off (see L{ChildSignal}).
        """
        return self.childSignal is not None and self.childSignal.saved is not None

    def _pollUnwatched(self) -> None:
        for child in list(self._unwatched.values()):
            child.reap()
        if self.childSignal is not None and self.quiet:
            self.childSignal.quiet()
        if not self._unwatched and not self.quiet and self._poll.running:
            self._poll.stop()

    def stopService(self) -> None:
        """
        Stop watching: servers still running keep running (they were ended
        before, unless the daemon leaves them running on purpose).
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.stopped = True
        if self.childSignal is not None:
            self.childSignal.restore()
        for child in list(self.children.values()):
            child.close()
            self.forget(child)
        if self._poll.running:
            self._poll.stop()
