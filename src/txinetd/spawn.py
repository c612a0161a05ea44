# -*- test-case-name: tests.test_spawn -*-
"""
Starting external servers: the only place in txinetd that starts processes.

A server gets its connection (or, for C{wait = yes}, the listening or UDP
socket) on fds 0, 1 and 2 and nothing else, C{/} as its working directory,
a session of its own, default signal dispositions and an empty signal mask,
exactly the environment it is given, and the credentials, umask, niceness
and resource limits of its L{SpawnSpec}.

L{Spawner} does not fork the daemon.  It runs small spawner processes (see
L{txinetd._spawner}) for each set of resource limits and niceness: one, and
more while all are busy (up to L{Spawner.poolSize}); they start on first
use, retire when idle and are replaced if they die.  Each connection's
socket travels to a spawner over a UNIX socket, and the spawner starts the
server with C{posix_spawn} (or, for limits it cannot hold itself, with
C{fork}) and reports its pid and, later, its exit.  The daemon never waits
for a child: it keeps accepting while servers start.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import select
import signal
import socket
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import (
    IDelayedCall,
    IProcessTransport,
    IReadDescriptor,
    IWriteDescriptor,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd import _spawner
from txinetd._spawner import (
    Exited,
    Failed,
    ProtocolError,
    Retire,
    Retiring,
    SignalRequest,
    SpawnerKey,
    SpawnRequest,
    Started,
)

__all__ = [
    "ProcessExit",
    "RunningProcess",
    "SpawnError",
    "SpawnSpec",
    "Spawner",
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
#: server itself could not be executed, or its request never got through.
_EXEC_OPERATIONS = frozenset({"execve", "send", "receive", "spawner"})

_ID_MAX = 2**32 - 2
_RECEIVE = 4096


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


def _cannotStart(spec: SpawnSpec, error: Exception) -> SpawnError:
    """
    The L{SpawnError} for a spawner process that could not be started.
    """
    # An OSError's errno is given apart: only its text goes in the reason.
    detail = error.strerror if isinstance(error, OSError) and error.strerror else error
    reason = f"cannot start a spawner process: {detail}"
    return SpawnError(spec.executable, "spawner", getattr(error, "errno", None), reason)


def _killAll(processes: list[_SpawnerProcess]) -> None:
    for process in processes:
        process.kill()


def _cancel(call: IDelayedCall) -> None:
    if call.active():
        call.cancel()


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
    def encoded(self) -> tuple[bytes, tuple[bytes, ...], tuple[tuple[bytes, bytes], ...]]:
        """
        The executable, argv and environment as the file system encodes
        them, computed once for all the servers of this spec.
        """
        argv = tuple(os.fsencode(arg) for arg in self.argv)
        return os.fsencode(self.executable), argv, _encodeEnvironment(self.env)


def spawnerKey(spec: SpawnSpec) -> SpawnerKey:
    """
    What the spawner process of C{spec} holds for all of its children.
    """
    return SpawnerKey(
        rlimits=tuple(sorted(spec.rlimits)),
        nice=spec.nice,
        niceUid=spec.uid if spec.nice is not None else None,
    )


def spawnRequest(
    requestId: int, spec: SpawnSpec, clientEnv: Sequence[tuple[str, str]] = ()
) -> SpawnRequest:
    """
    What is sent to the spawner for C{spec}, with C{clientEnv} after its
    environment (a name given in both takes its place in C{spec.env}, with
    the value of C{clientEnv}).
    """
    executable, argv, env = spec.encoded
    return SpawnRequest(
        requestId=requestId,
        executable=executable,
        argv=argv,
        env=env + _encodeEnvironment(clientEnv) if clientEnv else env,
        uid=spec.uid,
        gid=spec.gid,
        groups=spec.groups,
        umask=spec.umask,
    )


@dataclass(frozen=True)
class ProcessExit:
    """
    How a server ended.

    @ivar status: its exit status, if it exited.
    @ivar signal: the signal that killed it, if one did.  Both are L{None}
        for a server whose spawner process died before reaping it (killed,
        or out of memory): its end was seen but its status is lost, unless
        the daemon inherited the server (as pid 1 or as a subreaper).
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
        executed: missing, not executable, not a valid executable...),
        C{fork}, C{setuid}, C{setgid}, C{setgroups}, C{setrlimit(RLIMIT_X)},
        C{send} or C{receive} (the request could not be passed on: too
        large, or a bad descriptor), or C{spawner} (the spawner process
        could not be started, died or hung).
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
        executed or its request never reached a spawner, C{<operation>
        failed: ...} for a step of its set-up (C{setuid failed: ...},
        C{setrlimit(RLIMIT_NOFILE) failed: ...}).
        """
        what = self.operation
        if what in _EXEC_OPERATIONS:
            what = f"execv( {self.executable} )"
        suffix = "" if self.errno is None else f" (errno = {self.errno})"
        return f"{what} failed: {self.reason}{suffix}"


class RunningProcess:
    """
    A server that was started.

    @ivar pid: its process id.
    @ivar startedAt: when it was started, in seconds of C{CLOCK_MONOTONIC}.
    @ivar exit: how it ended, once it has.
    """

    def __init__(self, pid: int, startedAt: float, spawner: _SpawnerProcess) -> None:
        self.pid = pid
        self.startedAt = startedAt
        self.exit: ProcessExit | None = None
        self._spawner = spawner
        self._waiters: list[Deferred[ProcessExit]] = []
        self._watcher: _ExitWatcher | None = None

    def __repr__(self) -> str:
        return f"<RunningProcess pid={self.pid} exit={self.exit!r}>"

    def whenExited(self) -> Deferred[ProcessExit]:
        """
        @return: a L{Deferred} that fires with the L{ProcessExit}.
        """
        if self.exit is not None:
            return succeed(self.exit)
        waiter: Deferred[ProcessExit] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def signal(self, signum: int) -> None:
        """
        Send C{signum} to the server, if it still runs.
        """
        if self.exit is not None:
            return
        if self._watcher is not None:
            self._watcher.signal(signum)
        else:
            self._spawner.signalChild(self.pid, signum)

    def _ended(self, exit: ProcessExit) -> None:
        self.exit = exit
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(exit)


@implementer(IReadDescriptor)
class _ExitWatcher:
    """
    Watches, through a pidfd, a server whose spawner process died.  The
    server is no longer a child of anything txinetd can ask: its end is
    seen but its status is lost, unless the daemon itself inherited it (as
    a subreaper or as pid 1) and can reap it.
    """

    def __init__(
        self, reactor: Any, pidfd: int, process: RunningProcess, clock: Callable[[], int]
    ) -> None:
        self.reactor = reactor
        self.pidfd = pidfd
        self.process = process
        self.clock = clock

    def fileno(self) -> int:
        return self.pidfd

    def logPrefix(self) -> str:
        return "txinetd.spawn"

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signum)

    def doRead(self) -> None:
        if not self.exited():
            return
        ended = self.reap()
        self.close()
        self.process._ended(ended)

    def exited(self) -> bool:
        """
        Whether the server has ended: the reactor may call L{doRead} for an
        event of an earlier descriptor that had the same number.
        """
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return bool(poller.poll(0))

    def reap(self) -> ProcessExit:
        """
        How the server ended, as far as can be known.
        """
        duration = self.clock() / 1e9 - self.process.startedAt
        try:
            result = os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            result = None
        if result is None:
            return ProcessExit(None, None, duration)
        if result.si_code == os.CLD_EXITED:
            return ProcessExit(result.si_status, None, duration)
        return ProcessExit(None, result.si_status, duration)

    def connectionLost(self, reason: Failure) -> None:
        self.close()

    def close(self) -> None:
        if self.pidfd >= 0:
            self.reactor.removeReader(self)
            os.close(self.pidfd)
            self.pidfd = -1


class _SpawnerProtocol(ProcessProtocol):
    """
    The daemon's end of a spawner process's stdout, stderr and exit.
    """

    def __init__(self, spawner: _SpawnerProcess) -> None:
        self.spawner = spawner

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        for line in data.decode("utf-8", "replace").splitlines():
            _log.error("spawner process: {line}", line=line)

    def processEnded(self, reason: Failure) -> None:
        self.spawner.processEnded(reason)


@implementer(IReadDescriptor, IWriteDescriptor)
class _SpawnerProcess:
    """
    One spawner process and the daemon's end of its channel.

    @ivar pending: requests sent and not yet answered, by request id.
    @ivar running: servers started and not yet reaped, by pid.
    @ivar accepting: whether new requests may be sent.
    @ivar ended: whether the process has been reaped.
    """

    def __init__(self, owner: Spawner, key: SpawnerKey, channel: socket.socket) -> None:
        self.owner = owner
        self.reactor = owner.reactor
        self.key = key
        self.channel: socket.socket | None = channel
        self.transport: IProcessTransport | None = None
        self.pending: dict[int, tuple[Deferred[RunningProcess], str]] = {}
        self.running: dict[int, RunningProcess] = {}
        self.outbox: deque[tuple[bytes, int | None]] = deque()
        self.accepting = True
        self.ended = False
        self.whenEnded: Deferred[None] = Deferred()
        self.lostReason = "the spawner process exited"
        self.watchdog: IDelayedCall | None = None
        self.idle: IDelayedCall | None = None
        self.answers = 0
        self.requests = 0

    # IReadDescriptor / IWriteDescriptor

    def fileno(self) -> int:
        return -1 if self.channel is None else self.channel.fileno()

    def logPrefix(self) -> str:
        return "txinetd.spawn"

    def doRead(self) -> None:
        if not self.drain():
            self.channelLost()

    def drain(self) -> bool:
        """
        Act on every message waiting on the channel.

        @return: C{False} once the channel has ended.
        """
        while self.channel is not None:
            try:
                data = self.channel.recv(_RECEIVE)
            except BlockingIOError:
                return True
            except ConnectionResetError:
                # Reported once, ahead of the messages still queued.
                continue
            except OSError:
                return False
            if not data:
                return False
            self.dispatch(data)
        return False

    def doWrite(self) -> None:
        while self.outbox and self.channel is not None:
            data, fd = self.outbox[0]
            try:
                self.sendNow(data, fd)
            except BlockingIOError:
                return
            except OSError as e:
                self.lostReason = f"the spawner process cannot be reached: {e.strerror}"
                self.channelLost()
                return
            self.outbox.popleft()
            if fd is not None:
                os.close(fd)
        self.reactor.removeWriter(self)

    def connectionLost(self, reason: Failure) -> None:
        self.channelLost()

    # Requests

    def request(
        self, spec: SpawnSpec, fd: int, clientEnv: Sequence[tuple[str, str]]
    ) -> Deferred[RunningProcess]:
        """
        Ask for a server for C{spec} (and C{clientEnv}) on C{fd}.  C{fd} may
        be closed as soon as this returns.
        """
        requestId = self.owner.nextRequestId()
        data = _spawner.encodeSpawn(spawnRequest(requestId, spec, clientEnv))
        try:
            self.send(data, fd)
        except OSError as e:
            return fail(SpawnError(spec.executable, "send", e.errno, e.strerror or str(e)))
        answer: Deferred[RunningProcess] = Deferred()
        self.pending[requestId] = (answer, spec.executable)
        self.busy()
        return answer

    def signalChild(self, pid: int, signum: int) -> None:
        """
        Ask the spawner to signal its child C{pid}.
        """
        try:
            self.send(_spawner.encodeRequest(SignalRequest(pid, signum)), None)
        except OSError as e:
            _log.error("Cannot signal server {pid}: {error}", pid=pid, error=e)

    def retire(self) -> None:
        """
        Send no more requests; the spawner exits after its last child.
        """
        if not self.accepting:
            return
        self.accepting = False
        self.owner.forget(self)
        try:
            self.send(_spawner.encodeRequest(Retire()), None)
        except OSError:
            self.channelLost()

    def send(self, data: bytes, fd: int | None) -> None:
        """
        Send a message now, or queue it (with a copy of C{fd}) while the
        channel is full.

        @raise OSError: if it cannot be sent at all.
        """
        if self.channel is None:
            raise OSError(errno.EPIPE, self.lostReason)
        if not self.outbox:
            try:
                self.sendNow(data, fd)
                return
            except BlockingIOError:
                self.reactor.addWriter(self)
        self.outbox.append((data, None if fd is None else os.dup(fd)))

    def sendNow(self, data: bytes, fd: int | None) -> None:
        assert self.channel is not None
        if fd is None:
            self.channel.send(data)
        else:
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", [fd]))]
            self.channel.sendmsg([data], rights)

    # Replies

    def dispatch(self, data: bytes) -> None:
        try:
            reply = _spawner.decodeReply(data)
        except ProtocolError as e:
            _log.error("Bad message from a spawner process: {error}", error=e)
            return
        if isinstance(reply, Started | Failed):
            self.answered(reply)
        elif isinstance(reply, Exited):
            self.exited(reply)
        elif isinstance(reply, Retiring):
            self.retire()
        self.maybeIdle()

    def answered(self, reply: Started | Failed) -> None:
        if reply.requestId not in self.pending:
            _log.error("Unexpected answer from a spawner process: {reply}", reply=reply)
            return
        answer, executable = self.pending.pop(reply.requestId)
        self.answers += 1
        if isinstance(reply, Failed):
            errorNumber = reply.errno or None
            answer.errback(SpawnError(executable, reply.operation, errorNumber, reply.reason))
            return
        process = RunningProcess(reply.pid, reply.startedNs / 1e9, self)
        self.running[reply.pid] = process
        answer.callback(process)

    def exited(self, reply: Exited) -> None:
        process = self.running.pop(reply.pid, None)
        if process is not None:
            duration = reply.endedNs / 1e9 - process.startedAt
            process._ended(ProcessExit.fromWaitStatus(reply.waitStatus, duration))

    # Timers

    def busy(self) -> None:
        """
        A request was sent: watch for an answer.  The timers are re-armed
        when they fire rather than moved for every request.
        """
        self.requests += 1
        if self.watchdog is None:
            self.armWatchdog()

    def armWatchdog(self) -> None:
        self.watchdog = self.reactor.callLater(
            self.owner.requestTimeout, self.checkProgress, self.answers
        )

    def checkProgress(self, answers: int) -> None:
        """
        Kill a spawner that answered nothing for a whole timeout.
        """
        self.watchdog = None
        if not self.pending:
            return
        if self.answers != answers:
            self.armWatchdog()
            return
        self.lostReason = (
            f"the spawner process did not answer within {self.owner.requestTimeout:g} seconds"
        )
        self.kill()
        self.channelLost()

    def kill(self) -> None:
        if self.transport is not None and not self.ended:
            with contextlib.suppress(ProcessExitedAlready):
                self.transport.signalProcess("KILL")

    @property
    def isIdle(self) -> bool:
        return self.accepting and not self.pending and not self.running

    def maybeIdle(self) -> None:
        if self.isIdle and self.idle is None:
            self.idle = self.reactor.callLater(
                self.owner.idleTimeout, self.retireIdle, self.requests
            )

    def retireIdle(self, requests: int) -> None:
        """
        Retire a spawner that has had nothing to do for a whole timeout.
        """
        self.idle = None
        if self.requests == requests and self.isIdle:
            self.retire()
        else:
            self.maybeIdle()

    # The end

    def close(self) -> None:
        """
        Close the channel: the spawner exits at once, its servers keep
        running and are no longer watched.
        """
        self.running.clear()
        self.lostReason = "txinetd is stopping"
        self.channelLost()

    def channelLost(self) -> None:
        """
        The channel is gone (the spawner exited, was killed, or was closed):
        read what it still holds and fail the requests it will never answer.
        """
        if self.channel is None:
            return
        self.drain()
        if self.channel is None:
            return
        channel, self.channel = self.channel, None
        self.accepting = False
        self.owner.forget(self)
        self.reactor.removeReader(self)
        self.reactor.removeWriter(self)
        channel.close()
        for _, fd in self.outbox:
            if fd is not None:
                os.close(fd)
        self.outbox.clear()
        for timer in (self.idle, self.watchdog):
            if timer is not None:
                _cancel(timer)
        self.idle = self.watchdog = None
        pending, self.pending = self.pending, {}
        for answer, executable in pending.values():
            answer.errback(SpawnError(executable, "spawner", None, self.lostReason))

    def processEnded(self, reason: Failure) -> None:
        """
        The spawner has been reaped, so its servers that still ran have been
        handed to their new parent: watch them through pidfds.
        """
        self.ended = True
        self.lostReason = f"the spawner process ended: {reason.getErrorMessage()}"
        try:
            self.channelLost()
            running, self.running = self.running, {}
            for process in running.values():
                self.owner.adopt(process)
        finally:
            self.whenEnded.callback(None)


class Spawner(Service):
    """
    Starts external servers.

    @ivar reactor: provides C{IReactorProcess}, C{IReactorFDSet} and
        C{IReactorTime}.
    @ivar python: the interpreter that runs spawner processes.
    @ivar requestTimeout: seconds a spawner process may take to answer
        before it is killed (and its requests fail).
    @ivar idleTimeout: seconds after which a spawner process that has
        nothing to do exits.
    @ivar poolSize: how many spawner processes may serve one L{SpawnerKey}
        at once.  C{posix_spawn} blocks a spawner until the server has been
        executed, so a second one starts when all are busy.
    """

    def __init__(
        self,
        reactor: Any,
        python: str = sys.executable,
        requestTimeout: float = 30.0,
        idleTimeout: float = 60.0,
        poolSize: int = min(os.cpu_count() or 1, 4),
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """
        @param clock: C{CLOCK_MONOTONIC} in nanoseconds, the clock that
            spawner processes time servers with.
        """
        self.reactor = reactor
        self.python = python
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.poolSize = poolSize
        self.clock = clock
        self.stopped = False
        self._current: dict[SpawnerKey, list[_SpawnerProcess]] = {}
        self._processes: set[_SpawnerProcess] = set()
        self._watchers: set[_ExitWatcher] = set()
        self._requestIds = 0

    def spawn(
        self, spec: SpawnSpec, fd: int, clientEnv: Sequence[tuple[str, str]] = ()
    ) -> Deferred[RunningProcess]:
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
        @return: a L{Deferred} that fires with the L{RunningProcess}, or
            fails with a L{SpawnError}.
        @raise ValueError: if C{clientEnv} cannot be passed as given.
        """
        _checkEnvironment(clientEnv)
        if self.stopped:
            return fail(SpawnError(spec.executable, "spawner", None, "txinetd is stopping"))
        key = spawnerKey(spec)
        pool = self._current.get(key, [])
        process = min(pool, key=lambda each: len(each.pending), default=None)
        if process is None or (process.pending and len(pool) < self.poolSize):
            try:
                process = self._start(key)
            except Exception as e:
                if process is None:
                    return fail(_cannotStart(spec, e))
                # A busy spawner is slower than a new one, but it works.
        return process.request(spec, fd, clientEnv)

    def nextRequestId(self) -> int:
        self._requestIds += 1
        return self._requestIds

    def _start(self, key: SpawnerKey) -> _SpawnerProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            ours.setblocking(False)
            process = _SpawnerProcess(self, key, ours)
            args = [self.python, "-I", "-S", _spawner.__file__, *_spawner.encodeKey(key)]
            try:
                process.transport = self.reactor.spawnProcess(
                    _SpawnerProtocol(process),
                    self.python,
                    args,
                    env={},
                    childFDs={0: theirs.fileno(), 1: "r", 2: "r"},
                )
            except BaseException:
                ours.close()
                raise
        self._current.setdefault(key, []).append(process)
        self._processes.add(process)
        process.whenEnded.addCallback(lambda _: self._processes.discard(process))
        self.reactor.addReader(process)
        return process

    def forget(self, process: _SpawnerProcess) -> None:
        """
        Send no more requests to C{process}.
        """
        pool = self._current.get(process.key, [])
        if process in pool:
            pool.remove(process)
        if not pool:
            self._current.pop(process.key, None)

    def adopt(self, process: RunningProcess) -> None:
        """
        Watch a server whose spawner process is gone.  A server that cannot
        be watched (it is gone already, or no pidfd can be had) is taken as
        ended, with an unknown status.
        """
        if self.stopped:
            return
        try:
            pidfd = os.pidfd_open(process.pid)
        except OSError as e:
            if not isinstance(e, ProcessLookupError):
                _log.error(
                    "Cannot watch server {pid}, counted as ended: {error}", pid=process.pid, error=e
                )
            process._ended(ProcessExit(None, None, self.clock() / 1e9 - process.startedAt))
            return
        watcher = _ExitWatcher(self.reactor, pidfd, process, self.clock)
        process._watcher = watcher
        self._watchers.add(watcher)
        process.whenExited().addCallback(lambda _: self._watchers.discard(watcher))
        self.reactor.addReader(watcher)

    def stopService(self) -> Deferred[None]:
        """
        Close every spawner process (the servers they started keep running
        and are no longer watched) and wait for them to exit; kill those
        that have not after C{requestTimeout}.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.stopped = True
        for watcher in list(self._watchers):
            watcher.close()
        self._watchers.clear()
        processes = list(self._processes)
        for process in processes:
            process.close()
        killer = self.reactor.callLater(self.requestTimeout, _killAll, processes)
        ended = DeferredList([process.whenEnded for process in processes])
        return ended.addCallback(lambda _: _cancel(killer))
