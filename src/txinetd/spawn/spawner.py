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
a pidfd (or, where the kernel has none, C{SIGCHLD}).
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet import process as twisted_process
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReadDescriptor
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.spawn.launch import (
    Identity,
    Launched,
    Launcher,
    LaunchError,
    Plan,
    basePlan,
    chooseLauncher,
    decodeReport,
    withClient,
)

__all__ = [
    "ProcessExit",
    "RunningProcess",
    "SpawnError",
    "SpawnSpec",
    "Spawner",
    "pidfdsAvailable",
]

_log = Logger()

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

#: The operations whose failure is reported as a failed C{execv}: the
#: server itself could not be executed.
_EXEC_OPERATIONS = frozenset({"execve"})

_ID_MAX = 2**32 - 2

#: Linux's C{__WALL}: wait for a child whatever signal it sends when it
#: ends (none, for a child watched through a pidfd).
WALL = 0x40000000

#: The wait status of a child that something else reaped.
LOST = -1

#: How often servers watched without a pidfd are checked for their end,
#: should no C{SIGCHLD} wake the reactor (seconds).
REAP_POLL = 1.0


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


@dataclass(frozen=True)
class ProcessExit:
    """
    How a server ended.

    @ivar status: its exit status, if it exited.
    @ivar signal: the signal that killed it, if one did.  Both are L{None}
        when its status is lost (something else in the daemon reaped it).
    @ivar duration: seconds from its start to its end (monotonic clock).
    """

    status: int | None
    signal: int | None
    duration: float

    @classmethod
    def fromWaitStatus(cls, waitStatus: int, duration: float) -> ProcessExit:
        """
        Decode a status from C{waitpid}.
        """
        if os.WIFSIGNALED(waitStatus):
            return cls(None, os.WTERMSIG(waitStatus), duration)
        return cls(os.WEXITSTATUS(waitStatus), None, duration)


class SpawnError(Exception):
    """
    A server could not be started; nothing was left running.

    @ivar executable: the server's path.
    @ivar operation: what failed: C{execve} (the server could not be
        executed: missing, not executable, not a valid executable, or its
        user has too many processes), C{fork} (no child could be started:
        no process, memory or descriptor left), or a step of the child's
        set-up: C{setuid}, C{setgid}, C{setgroups}, C{setrlimit(RLIMIT_X)},
        C{chdir}, C{setsid}, C{dup2}, C{sigaction}.
    @ivar errno: the error number, or L{None}.
    @ivar reason: the error's text.
    """

    def __init__(self, executable: str, operation: str, errno: int | None, reason: str) -> None:
        super().__init__(executable, operation, errno, reason)
        self.executable = executable
        self.operation = operation
        self.errno = errno
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.operation}({self.executable}) failed: {self.reason}"

    def describe(self) -> str:
        """
        The program-log text, worded as xinetd's: C{execv( <server> )
        failed: <reason> (errno = <n>)} when the server could not be
        executed, C{<operation> failed: ...} for a step of its set-up
        (C{setuid failed: ...}, C{setrlimit(RLIMIT_NOFILE) failed: ...})
        or C{fork failed: ...}.
        """
        what = self.operation
        if what in _EXEC_OPERATIONS:
            what = f"execv( {self.executable} )"
        suffix = "" if self.errno is None else f" (errno = {self.errno})"
        return f"{what} failed: {self.reason}{suffix}"


def pidfdsAvailable() -> bool:
    """
    Whether this kernel gives pidfds (C{pidfd_open}, Linux 5.3): a seccomp
    filter or an older kernel may refuse them.
    """
    try:
        pidfd = os.pidfd_open(os.getpid())
    except (OSError, AttributeError):
        return False
    os.close(pidfd)
    return True


class RunningProcess:
    """
    A child started for a server: a server from the moment it exists.

    @ivar pid: its process id.
    @ivar startedAt: when it was started, in seconds of C{CLOCK_MONOTONIC}.
    @ivar executed: whether the server runs (its executable was executed,
        or the child ended on its way there, which counts the same).
    @ivar exit: how it ended, once it has been reaped.
    """

    def __init__(
        self, pid: int, startedAt: float, kill: Callable[[int, int], None] = os.kill
    ) -> None:
        self.pid = pid
        self.startedAt = startedAt
        self.kill = kill
        self.executed = False
        self.failure: SpawnError | None = None
        self.exit: ProcessExit | None = None
        self._executedWaiters: list[Deferred[RunningProcess]] = []
        self._exitWaiters: list[Deferred[ProcessExit]] = []

    def __repr__(self) -> str:
        return f"<RunningProcess pid={self.pid} executed={self.executed} exit={self.exit!r}>"

    def whenExecuted(self) -> Deferred[RunningProcess]:
        """
        @return: a L{Deferred} that fires with this process once its server
            runs, or fails with the L{SpawnError} of its set-up once the
            child that could not start it has been reaped.
        """
        if self.executed:
            return succeed(self)
        if self.failure is not None and self.exit is not None:
            return fail(self.failure)
        waiter: Deferred[RunningProcess] = Deferred()
        self._executedWaiters.append(waiter)
        return waiter

    def whenExited(self) -> Deferred[ProcessExit]:
        """
        @return: a L{Deferred} that fires with the L{ProcessExit} once it
            has been reaped.
        """
        if self.exit is not None:
            return succeed(self.exit)
        waiter: Deferred[ProcessExit] = Deferred()
        self._exitWaiters.append(waiter)
        return waiter

    def signal(self, signum: int) -> None:
        """
        Send C{signum} to the server, if it has not been reaped: until then
        its pid cannot name another process.  A child that has not executed
        its server yet blocks every signal but C{SIGKILL} until just before
        the exec, and gets them then.
        """
        if self.exit is None:
            with contextlib.suppress(ProcessLookupError):
                self.kill(self.pid, signum)

    def _executed(self) -> None:
        self.executed = True
        waiters, self._executedWaiters = self._executedWaiters, []
        for waiter in waiters:
            waiter.callback(self)

    def _ended(self, exit: ProcessExit) -> None:
        self.exit = exit
        if self.failure is not None:
            failed, self._executedWaiters = self._executedWaiters, []
            for waiter in failed:
                waiter.errback(self.failure)
            return
        exits, self._exitWaiters = self._exitWaiters, []
        for each in exits:
            each.callback(exit)


@implementer(IReadDescriptor)
class _Watch:
    """
    A descriptor the reactor watches for one child: its status pipe or its
    pidfd.
    """

    def __init__(self, fd: int, onReadable: Callable[[], None]) -> None:
        self.fd = fd
        self.onReadable = onReadable

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "txinetd.spawn"

    def doRead(self) -> None:
        self.onReadable()

    def connectionLost(self, reason: Failure) -> None:
        # The reactor reports a pipe whose other end closed with nothing
        # left to read (POLLHUP alone) this way, without a doRead.
        self.onReadable()


class _Child:
    """
    The daemon's watch on one child: its status pipe until the server runs
    or a report comes, and its end.

    @ivar report: what the child reported on its status pipe.
    @ivar statusDone: whether the status pipe has ended.
    @ivar waitStatus: the status it was reaped with, once it has been.
    """

    def __init__(
        self,
        owner: Spawner,
        process: RunningProcess,
        executable: str,
        launched: Launched,
        statusFd: int,
    ) -> None:
        self.owner = owner
        self.reactor = owner.reactor
        self.process = process
        self.executable = executable
        self.release = launched.release
        self.report = b""
        self.statusDone = False
        self.waitStatus: int | None = None
        self.endedAt = 0.0
        self.status: _Watch | None = _Watch(statusFd, self.readStatus)
        self.pidfd: _Watch | None = None

    def start(self) -> None:
        """
        Watch the status pipe and the child's end.
        """
        assert self.status is not None
        self.reactor.addReader(self.status)
        if self.owner.pidfdAllowed():
            try:
                pidfd = self.owner.system.pidfdOpen(self.process.pid)
            except OSError:
                # Out of descriptors: SIGCHLD will tell.
                pass
            else:
                self.pidfd = _Watch(pidfd, self.reapNow)
                self.owner.openPidfds += 1
                self.reactor.addReader(self.pidfd)
                return
        self.owner.watchWithoutPidfd(self)

    # The status pipe

    def readStatus(self) -> None:
        """
        Read the child's report; its end means the child executed its
        server or ended.
        """
        while self.status is not None:
            try:
                data = os.read(self.status.fd, 64)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.statusEnded()
                return
            self.report += data

    def statusEnded(self) -> None:
        self.closeStatus()
        self.statusDone = True
        if self.release is not None:
            self.release()
            self.release = None
        if self.report:
            self.process.failure = self.owner.failure(self.executable, decodeReport(self.report))
        else:
            self.process._executed()
        self.maybeEnded()

    def closeStatus(self) -> None:
        if self.status is not None:
            self.reactor.removeReader(self.status)
            os.close(self.status.fd)
            self.status = None

    # The end

    def reapNow(self) -> None:
        self.reap()

    def reap(self) -> bool:
        """
        Reap the child if it has ended.

        @return: whether it has been reaped.
        """
        if self.waitStatus is not None:
            return True
        try:
            pid, waitStatus = self.owner.system.waitpid(self.process.pid, os.WNOHANG | WALL)
        except ChildProcessError:
            # Reaped by someone else: its status is lost.
            pid, waitStatus = self.process.pid, LOST
        if pid == 0:
            return False
        self.waitStatus = waitStatus
        self.endedAt = self.owner.clock() / 1e9
        self.closePidfd()
        self.owner.forget(self)
        # The child is gone, so is its end of the status pipe.
        self.readStatus()
        self.maybeEnded()
        return True

    def closePidfd(self) -> None:
        if self.pidfd is not None:
            self.reactor.removeReader(self.pidfd)
            os.close(self.pidfd.fd)
            self.pidfd = None
            self.owner.openPidfds -= 1

    def maybeEnded(self) -> None:
        """
        Report the end once both the status pipe has ended and the child
        has been reaped.
        """
        if self.waitStatus is None or not self.statusDone:
            return
        duration = self.endedAt - self.process.startedAt
        if self.waitStatus == LOST:
            self.process._ended(ProcessExit(None, None, duration))
        else:
            self.process._ended(ProcessExit.fromWaitStatus(self.waitStatus, duration))

    def close(self) -> None:
        """
        Stop watching (the daemon stops; the server keeps running).
        """
        self.closeStatus()
        self.closePidfd()

    # Twisted's reaper, when there is no pidfd

    def reapProcess(self) -> None:
        self.reap()


@dataclass(frozen=True)
class ProcessSystem:
    """
    The system calls L{Spawner} makes on its children (a seam for tests).
    """

    waitpid: Callable[[int, int], tuple[int, int]] = os.waitpid
    pidfdOpen: Callable[[int], int] = os.pidfd_open
    kill: Callable[[int, int], None] = os.kill


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
        system: ProcessSystem = ProcessSystem(),
    ) -> None:
        """
        @param launcher: by default, L{chooseLauncher}'s.
        @param pidfds: by default, whether L{pidfdsAvailable}.
        @param clock: C{CLOCK_MONOTONIC} in nanoseconds.
        @param identity: the daemon's credentials, by default its own.
        @param system: the system calls made on children.
        """
        self.reactor = reactor
        self.launcher = launcher if launcher is not None else chooseLauncher()
        self.pidfds = pidfdsAvailable() if pidfds is None else pidfds
        self.clock = clock
        self.identity = identity if identity is not None else Identity.current()
        self.system = system
        #: At most half of the descriptors go to pidfds: servers beyond
        #: that are watched through SIGCHLD, and the rest is left for
        #: connections.
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.pidfdBudget = (1 << 20 if soft == resource.RLIM_INFINITY else soft) // 2
        self.openPidfds = 0
        self.stopped = False
        self.children: dict[int, _Child] = {}
        self._unwatched: dict[int, _Child] = {}
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
        process = RunningProcess(launched.pid, startedAt, self.system.kill)
        child = _Child(self, process, spec.executable, launched, statusRead)
        self.children[process.pid] = child
        child.start()
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

    def forget(self, child: _Child) -> None:
        """
        C{child} has been reaped.
        """
        self.children.pop(child.process.pid, None)
        if self._unwatched.pop(child.process.pid, None) is not None:
            if twisted_process.reapProcessHandlers.get(child.process.pid) is cast(Any, child):
                del twisted_process.reapProcessHandlers[child.process.pid]
            if not self._unwatched and self._poll.running:
                self._poll.stop()

    def watchWithoutPidfd(self, child: _Child) -> None:
        """
        Watch a child's end through Twisted's C{SIGCHLD} reaper (which
        calls C{reapProcess} of every process it knows), and a poll in case
        no C{SIGCHLD} handler is installed.
        """
        pid = child.process.pid
        self._unwatched[pid] = child
        twisted_process.reapProcessHandlers[pid] = cast(Any, child)
        if not self._poll.running:
            self._poll.start(REAP_POLL, now=False)

    def _pollUnwatched(self) -> None:
        for child in list(self._unwatched.values()):
            child.reap()

    def stopService(self) -> None:
        """
        Stop watching: servers still running keep running (they were ended
        before, unless the daemon leaves them running on purpose).
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.stopped = True
        for child in list(self.children.values()):
            child.close()
            self.forget(child)
        if self._poll.running:
            self._poll.stop()
