# -*- test-case-name: tests.spawn.test_spawner -*-
"""
A server from the daemon's side: the L{RunningProcess} that tells when it
runs and when it ended, how it ended (L{ProcessExit}), and why one could
not be started (L{SpawnError}).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail, succeed

__all__ = ["ProcessExit", "RunningProcess", "SpawnError"]

#: The operations whose failure is reported as a failed C{execv}: the
#: server itself could not be executed.
_EXEC_OPERATIONS = frozenset({"execve"})


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
        self,
        pid: int,
        startedAt: float,
        kill: Callable[[int, int], None] = os.kill,
        killpg: Callable[[int, int], None] = os.killpg,
    ) -> None:
        self.pid = pid
        self.startedAt = startedAt
        self.kill = kill
        self.killpg = killpg
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
        Send C{signum} to the server's process group, if the server has not
        been reaped: until then its pid, and so the id of the group it
        leads, cannot name another process or group.  Every server makes a
        session of its own before its exec, so the group holds the server
        and every process it started that did not leave it (a shell's
        commands, a forked worker).  A child that has not made its session
        yet (no such group) is signalled by pid: it blocks every signal but
        C{SIGKILL} until just before the exec, and gets them then.

        @raise OSError: if the signal could not be sent for another reason
            than the group's or the child's end (C{EPERM}: a server that
            executed a set-user-ID program, and none of its group may be
            signalled by the daemon).
        """
        if self.exit is not None:
            return
        try:
            self.killpg(self.pid, signum)
        except ProcessLookupError:
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
