# -*- test-case-name: tests.test_spawn -*-
"""
The spawner process: the process that starts txinetd's external servers.

txinetd runs one spawner per set of inherited process state (the server's
resource limits and niceness, see L{SpawnerKey}).  The daemon sends each
connection's socket to a spawner over a C{SOCK_SEQPACKET} UNIX socket (on the
spawner's fd 0) with C{SCM_RIGHTS}, together with the executable, argv,
environment, credentials and umask; the spawner answers with the server's
pid (or the reason it could not start), and later with its wait status.

The fast path is C{posix_spawn}: for the duration of the call the spawner
sets its own I{real} ids, supplementary groups and umask to the server's
(its effective uid stays 0, so it can take its own back), and
C{POSIX_SPAWN_RESETIDS} makes the child's effective ids (and, at exec, its
saved ids) the real ones.  The spawner's real uid is the server's user only
for that moment, so that user's processes can hardly ever signal it.

A hard resource limit cannot be raised again without C{CAP_SYS_RESOURCE},
nor a niceness lowered without C{CAP_SYS_NICE} (containers often lack
both), so the spawner takes the limits and the niceness on for good when it
starts, and every child inherits them.  A limit that the spawner cannot
safely live under (an address space barely larger than its own, a handful
of descriptors, a CPU limit of a second or two) is set in the child
instead, on the slow path: C{fork}, set-up, C{execve}; the spawner waits
for the exec there, so that path is about three times slower.

This module is run as C{python -I -S _spawner.py KEY...}: it imports only
the standard library.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import NoReturn, Protocol, TypeVar

#: The largest message either side accepts.
MAX_MESSAGE = 1 << 20

#: Descriptors a spawner needs for itself: a spawner never holds a lower
#: C{RLIMIT_NOFILE} (its children get such a limit on the slow path).
MIN_HELD_NOFILE = 16

#: Room left above the spawner's own size when it holds an address-space
#: or data limit (its message buffer, C{posix_spawn}'s child stack and
#: whatever Python allocates while it runs fit many times over).
MEMORY_MARGIN = 16 << 20

#: Room left above the spawner's own stack when it holds a stack limit.
STACK_MARGIN = 256 << 10

#: Signals whose disposition every server starts with at its default.
DEFAULT_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}

_INT = array("i").itemsize


class Kind(enum.IntEnum):
    """
    The type of a message, its first byte.
    """

    SPAWN = 1
    SIGNAL = 2
    RETIRE = 3
    STARTED = 11
    FAILED = 12
    EXITED = 13
    RETIRING = 14


class ProtocolError(ValueError):
    """
    A message that does not decode.
    """


@dataclass(frozen=True)
class SpawnRequest:
    """
    Start one server; the socket for its fds 0-2 travels with the message.

    @ivar uid: the real (then every) uid of the server, or L{None} to keep
        the spawner's.
    @ivar gid: likewise for the gid.
    @ivar groups: the supplementary groups, L{None} for none; ignored unless
        C{uid} or C{gid} is given.
    @ivar umask: the server's umask, or L{None} to keep the spawner's.
    """

    requestId: int
    executable: bytes
    argv: tuple[bytes, ...]
    env: tuple[tuple[bytes, bytes], ...]
    uid: int | None
    gid: int | None
    groups: tuple[int, ...] | None
    umask: int | None


@dataclass(frozen=True)
class SignalRequest:
    """
    Send a signal to a running child of the spawner.
    """

    pid: int
    signal: int


@dataclass(frozen=True)
class Retire:
    """
    No request follows: exit once every child has been reaped.
    """


@dataclass(frozen=True)
class Started:
    """
    The server of a request runs.

    @ivar startedNs: C{CLOCK_MONOTONIC} just before it was started.
    """

    requestId: int
    pid: int
    startedNs: int


@dataclass(frozen=True)
class Failed:
    """
    The server of a request could not be started.

    @ivar operation: the step that failed (C{execve}, C{setuid}, ...).
    @ivar errno: its errno, 0 when there is none.
    @ivar reason: the error's text.
    """

    requestId: int
    operation: str
    errno: int
    reason: str


@dataclass(frozen=True)
class Exited:
    """
    A server was reaped.

    @ivar waitStatus: the raw status from C{waitpid}.
    @ivar endedNs: C{CLOCK_MONOTONIC} when it was reaped.
    """

    pid: int
    waitStatus: int
    endedNs: int


@dataclass(frozen=True)
class Retiring:
    """
    The spawner wants to be replaced (it has used half of a CPU limit that
    it holds); the daemon answers with L{Retire}.
    """


Request = SpawnRequest | SignalRequest | Retire
Reply = Started | Failed | Exited | Retiring

_SPAWN = struct.Struct("!BQqqqIIi")
_SIGNAL = struct.Struct("!Bqi")
_STARTED = struct.Struct("!BQqq")
_FAILED = struct.Struct("!BQ")
_EXITED = struct.Struct("!Bqiq")
_BARE = struct.Struct("!B")


def _optional(value: int | None) -> int:
    return -1 if value is None else value


def _fromOptional(value: int) -> int | None:
    return None if value == -1 else value


def encodeSpawn(request: SpawnRequest) -> bytes:
    """
    Encode a L{SpawnRequest}: a fixed header, the groups, then the
    executable, argv and environment as NUL-separated strings (none of them
    can contain a NUL).
    """
    groups = request.groups or ()
    header = _SPAWN.pack(
        Kind.SPAWN,
        request.requestId,
        _optional(request.uid),
        _optional(request.gid),
        _optional(request.umask),
        len(request.argv),
        len(request.env),
        -1 if request.groups is None else len(groups),
    )
    strings = b"\0".join([request.executable, *request.argv, *chain.from_iterable(request.env)])
    return b"".join([header, struct.pack(f"!{len(groups)}I", *groups), strings])


def _decodeSpawn(data: bytes) -> SpawnRequest:
    _, requestId, uid, gid, umask, argc, envc, ngroups = _SPAWN.unpack_from(data)
    offset = _SPAWN.size + 4 * max(ngroups, 0)
    groups = struct.unpack_from(f"!{max(ngroups, 0)}I", data, _SPAWN.size)
    strings = data[offset:].split(b"\0")
    if len(strings) != 1 + argc + 2 * envc:
        raise ProtocolError("spawn request: wrong number of strings")
    env = strings[1 + argc :]
    return SpawnRequest(
        requestId=requestId,
        executable=strings[0],
        argv=tuple(strings[1 : 1 + argc]),
        env=tuple(zip(env[0::2], env[1::2], strict=True)),
        uid=_fromOptional(uid),
        gid=_fromOptional(gid),
        groups=None if ngroups < 0 else groups,
        umask=_fromOptional(umask),
    )


def encodeFailure(operation: str, errorNumber: int, reason: str) -> bytes:
    """
    Encode why a server could not be started (the tail of a L{Failed}
    message, and what a forked child reports before it exits).
    """
    return (
        struct.pack("!i", errorNumber)
        + operation.encode()
        + b"\0"
        + reason.encode("utf-8", "replace")
    )


def decodeFailure(data: bytes) -> LaunchError:
    """
    Decode what L{encodeFailure} encoded.
    """
    (errorNumber,) = struct.unpack_from("!i", data)
    operation, _, reason = data[4:].partition(b"\0")
    return LaunchError(operation.decode(), errorNumber, reason.decode("utf-8", "replace"))


def encodeReply(reply: Reply) -> bytes:
    """
    Encode a message from the spawner to the daemon.
    """
    if isinstance(reply, Started):
        return _STARTED.pack(Kind.STARTED, reply.requestId, reply.pid, reply.startedNs)
    if isinstance(reply, Failed):
        return _FAILED.pack(Kind.FAILED, reply.requestId) + encodeFailure(
            reply.operation, reply.errno, reply.reason
        )
    if isinstance(reply, Exited):
        return _EXITED.pack(Kind.EXITED, reply.pid, reply.waitStatus, reply.endedNs)
    return _BARE.pack(Kind.RETIRING)


def encodeRequest(request: Request) -> bytes:
    """
    Encode a message from the daemon to the spawner.
    """
    if isinstance(request, SpawnRequest):
        return encodeSpawn(request)
    if isinstance(request, SignalRequest):
        return _SIGNAL.pack(Kind.SIGNAL, request.pid, request.signal)
    return _BARE.pack(Kind.RETIRE)


def _decodeFailed(data: bytes) -> Failed:
    _, requestId = _FAILED.unpack_from(data)
    failure = decodeFailure(data[_FAILED.size :])
    return Failed(requestId, failure.operation, failure.errno, failure.reason)


_T = TypeVar("_T")


def _bare(message: _T) -> Callable[[bytes], _T]:
    """
    A decoder for a message that is its kind alone.
    """

    def decode(data: bytes) -> _T:
        _BARE.unpack(data)
        return message

    return decode


_REPLY_DECODERS: dict[int, Callable[[bytes], Reply]] = {
    Kind.STARTED: lambda data: Started(*_STARTED.unpack(data)[1:]),
    Kind.FAILED: _decodeFailed,
    Kind.EXITED: lambda data: Exited(*_EXITED.unpack(data)[1:]),
    Kind.RETIRING: _bare(Retiring()),
}

_REQUEST_DECODERS: dict[int, Callable[[bytes], Request]] = {
    Kind.SPAWN: _decodeSpawn,
    Kind.SIGNAL: lambda data: SignalRequest(*_SIGNAL.unpack(data)[1:]),
    Kind.RETIRE: _bare(Retire()),
}


def _decode(data: bytes, decoders: Mapping[int, Callable[[bytes], _T]]) -> _T:
    if not data or data[0] not in decoders:
        raise ProtocolError(f"unknown message {data[:1]!r}")
    try:
        return decoders[data[0]](data)
    except (struct.error, ValueError) as e:
        raise ProtocolError(f"malformed message: {e}") from e


def decodeReply(data: bytes) -> Reply:
    """
    Decode a message from the spawner.

    @raise ProtocolError: if it does not decode.
    """
    return _decode(data, _REPLY_DECODERS)


def decodeRequest(data: bytes) -> Request:
    """
    Decode a message from the daemon.

    @raise ProtocolError: if it does not decode.
    """
    return _decode(data, _REQUEST_DECODERS)


def requestIdOf(header: bytes) -> int | None:
    """
    The request id at the start of a (possibly truncated) spawn request.
    """
    if len(header) < 9 or header[0] != Kind.SPAWN:
        return None
    (requestId,) = struct.unpack_from("!Q", header, 1)
    return int(requestId)


@dataclass(frozen=True)
class SpawnerKey:
    """
    What a spawner process passes on to all of its children and cannot
    change per child: the resource limits (soft = hard = value) and the
    niceness increment, applied as user C{niceUid} would apply it.
    """

    rlimits: tuple[tuple[int, int], ...] = ()
    nice: int | None = None
    niceUid: int | None = None


def encodeKey(key: SpawnerKey) -> list[str]:
    """
    The spawner's command-line arguments for C{key}.
    """
    args = [f"rlimit={res}:{value}" for res, value in key.rlimits]
    if key.nice is not None:
        args.append(f"nice={key.nice}:{_optional(key.niceUid)}")
    return args


def decodeKey(args: Sequence[str]) -> SpawnerKey:
    """
    Parse what L{encodeKey} produced.

    @raise ValueError: for anything else.
    """
    rlimits = []
    nice = niceUid = None
    for arg in args:
        name, _, value = arg.partition("=")
        first, _, second = value.partition(":")
        if name == "rlimit":
            rlimits.append((int(first), int(second)))
        elif name == "nice":
            nice, niceUid = int(first), _fromOptional(int(second))
        else:
            raise ValueError(f"unknown spawner argument {arg!r}")
    return SpawnerKey(tuple(rlimits), nice, niceUid)


#: What a step of a server's set-up may raise: C{setrlimit} reports C{EPERM}
#: as a C{ValueError}, and a number too large for the system call is an
#: C{OverflowError}.
_STEP_ERRORS = (OSError, ValueError, OverflowError)

#: A C{nice()} increment beyond this one changes nothing more: the kernel
#: keeps the niceness within -20..19.
NICE_RANGE = 40


class LaunchError(Exception):
    """
    A server could not be started.
    """

    def __init__(self, operation: str, errorNumber: int, reason: str) -> None:
        super().__init__(operation, errorNumber, reason)
        self.operation = operation
        self.errno = errorNumber
        self.reason = reason

    @classmethod
    def fromException(cls, operation: str, error: Exception) -> LaunchError:
        """
        Describe an C{OSError} (or the C{ValueError} that C{setrlimit} raises
        for C{EPERM}, or the C{OverflowError} of a number the kernel cannot
        take) from C{operation}.
        """
        if isinstance(error, OSError):
            return cls(operation, error.errno or 0, error.strerror or str(error))
        return cls(operation, 0, str(error))


@dataclass(frozen=True)
class Identity:
    """
    The spawner's own credentials and umask, restored after every child.

    @ivar privileged: whether its effective uid is 0, as xinetd decides
        whether to change credentials at all.
    """

    uid: int
    gid: int
    groups: tuple[int, ...]
    umask: int
    privileged: bool

    @classmethod
    def current(cls) -> Identity:
        mask = os.umask(0)
        os.umask(mask)
        return cls(os.getuid(), os.getgid(), tuple(os.getgroups()), mask, os.geteuid() == 0)


@dataclass(frozen=True)
class Credentials:
    """
    The ids a child gets; C{None} keeps the spawner's.
    """

    uid: int | None
    gid: int | None
    groups: tuple[int, ...]


def credentialsFor(request: SpawnRequest, identity: Identity) -> Credentials | None:
    """
    The credentials to give the server of C{request}, as xinetd does: only
    for a service with C{user} or C{group}, and only when privileged; an
    unprivileged spawner can only run servers under its own ids.

    @raise LaunchError: if an unprivileged spawner is asked for other ids.
    """
    if request.uid is None and request.gid is None:
        return None
    if not identity.privileged:
        if request.gid not in (None, identity.gid):
            raise LaunchError("setgid", errno.EPERM, os.strerror(errno.EPERM))
        if request.uid not in (None, identity.uid):
            raise LaunchError("setuid", errno.EPERM, os.strerror(errno.EPERM))
        return None
    return Credentials(request.uid, request.gid, request.groups or ())


@dataclass(frozen=True)
class Usage:
    """
    What the spawner itself uses: memory in bytes (from
    C{/proc/self/status}), CPU in seconds.
    """

    vmSize: int
    vmData: int
    vmStack: int
    cpu: float

    @classmethod
    def current(cls) -> Usage:
        fields = {}
        with open("/proc/self/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmSize", "VmData", "VmStk"):
                    fields[name] = int(value.split()[0]) * 1024
        return cls(fields["VmSize"], fields["VmData"], fields["VmStk"], time.process_time())


#: The smallest value of each limit a spawner can live under.  It retires
#: when it has used half of a CPU limit, so that must leave it a second.
_FLOORS: dict[int, Callable[[Usage], float]] = {
    resource.RLIMIT_AS: lambda usage: usage.vmSize + MEMORY_MARGIN,
    resource.RLIMIT_DATA: lambda usage: usage.vmData + MEMORY_MARGIN,
    resource.RLIMIT_STACK: lambda usage: usage.vmStack + STACK_MARGIN,
    resource.RLIMIT_NOFILE: lambda usage: MIN_HELD_NOFILE,
    resource.RLIMIT_CPU: lambda usage: 2 * (usage.cpu + 1),
    resource.RLIMIT_RSS: lambda usage: 0,
}


def holdable(res: int, value: int, usage: Usage) -> bool:
    """
    Whether the spawner can live under C{res} = C{value} itself; limits
    txinetd does not know are always set in the child.
    """
    floor = _FLOORS.get(res)
    if floor is None:
        return False
    return value == resource.RLIM_INFINITY or value >= floor(usage)


def holdLimits(
    limits: Iterable[tuple[int, int]], usage: Usage
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """
    Take on every limit the spawner can hold; return (held, left for the
    child).  A limit the spawner is not allowed to set is left for the
    child too, where it fails with its reason.
    """
    held = []
    perChild = []
    for res, value in limits:
        if holdable(res, value, usage) and _setLimit(res, value):
            held.append((res, value))
        else:
            perChild.append((res, value))
    return tuple(held), tuple(perChild)


def _setLimit(res: int, value: int) -> bool:
    try:
        resource.setrlimit(res, (value, value))
    except _STEP_ERRORS:
        return False
    return True


def cpuBudget(held: Iterable[tuple[int, int]]) -> float | None:
    """
    The CPU seconds after which a spawner retires: half its CPU limit.
    """
    limits = [value for res, value in held if res == resource.RLIMIT_CPU]
    finite = [value for value in limits if value != resource.RLIM_INFINITY]
    return min(finite) / 2 if finite else None


def applyNice(increment: int | None, niceUid: int | None, identity: Identity) -> None:
    """
    Apply C{nice(increment)} to the spawner as xinetd applies it in the
    child: after dropping privileges (here: with the effective uid of
    C{niceUid} for the duration of the call), ignoring a failure.
    """
    if increment is None:
        return
    dropped = identity.privileged and niceUid not in (None, 0)
    if dropped:
        os.setresuid(-1, _optional(niceUid), -1)
    try:
        os.nice(max(-NICE_RANGE, min(increment, NICE_RANGE)))
    except OSError:
        pass
    finally:
        if dropped:
            os.setresuid(-1, 0, -1)


def fileActions(fd: int) -> list[tuple[int, int, int]]:
    """
    The C{posix_spawn} file actions that put C{fd} on fds 0, 1 and 2.

    @param fd: a close-on-exec descriptor above 2, so that every C{dup2}
        makes an inheritable copy and the original is closed at exec.
    """
    if fd < 3:
        raise ValueError(f"the connection must not be on fd {fd}")
    return [(os.POSIX_SPAWN_DUP2, fd, target) for target in (0, 1, 2)]


class Launcher(Protocol):
    """
    Starts one server.
    """

    def launch(self, request: SpawnRequest, fd: int) -> int:
        """
        @return: the server's pid.
        @raise LaunchError: if it could not be started (no child is left).
        """


Step = tuple[str, Callable[[], object]]


def _ids(value: int, every: bool) -> tuple[int, int, int]:
    return (value, value, value) if every else (value, -1, -1)


def groupSteps(credentials: Credentials | None, umask: int | None, every: bool) -> list[Step]:
    """
    Set the supplementary groups, the gid (the real one only, or C{every}
    one) and the umask.
    """
    steps: list[Step] = []
    if credentials is not None:
        steps.append(("setgroups", partial(os.setgroups, credentials.groups)))
        if credentials.gid is not None:
            steps.append(("setgid", partial(os.setresgid, *_ids(credentials.gid, every))))
    if umask is not None:
        steps.append(("umask", partial(os.umask, umask)))
    return steps


def uidSteps(credentials: Credentials | None, every: bool) -> list[Step]:
    """
    Set the uid (the real one only, or C{every} one).
    """
    if credentials is None or credentials.uid is None:
        return []
    return [("setuid", partial(os.setresuid, *_ids(credentials.uid, every)))]


def limitSteps(limits: Iterable[tuple[int, int]]) -> list[Step]:
    """
    Set each limit, soft = hard = value.
    """
    return [
        (
            f"setrlimit({RLIMIT_NAMES.get(res, res)})",
            partial(resource.setrlimit, res, (value, value)),
        )
        for res, value in limits
    ]


def restoreSteps(
    identity: Identity, credentials: Credentials | None, umask: int | None
) -> list[Step]:
    """
    Give back to the spawner what it gave up for a child: its real uid
    first, while its effective uid 0 makes every step possible.
    """
    own = None
    if credentials is not None:
        uid = None if credentials.uid is None else identity.uid
        gid = None if credentials.gid is None else identity.gid
        own = Credentials(uid, gid, identity.groups)
    mask = None if umask is None else identity.umask
    return uidSteps(own, False) + groupSteps(own, mask, False)


def runSteps(steps: Iterable[Step]) -> None:
    """
    Run C{steps} in order.

    @raise LaunchError: naming the step that failed.
    """
    for operation, step in steps:
        try:
            step()
        except _STEP_ERRORS as e:
            raise LaunchError.fromException(operation, e) from e


class ProcessLauncher:
    """
    The real L{Launcher}: C{posix_spawn} under temporarily switched real
    ids, or C{fork} when some limit must be set in the child.

    @ivar perChild: the limits set in the child.
    @ivar fdCeiling: a bound on the descriptors the spawner may have open.
    """

    def __init__(
        self, identity: Identity, perChild: tuple[tuple[int, int], ...], fdCeiling: int
    ) -> None:
        self.identity = identity
        self.perChild = perChild
        self.fdCeiling = fdCeiling

    def launch(self, request: SpawnRequest, fd: int) -> int:
        credentials = credentialsFor(request, self.identity)
        env = dict(request.env)
        if self.perChild:
            return self.forkExec(request, fd, credentials, env)
        return self.spawn(request, fd, credentials, env)

    def spawn(
        self,
        request: SpawnRequest,
        fd: int,
        credentials: Credentials | None,
        env: dict[bytes, bytes],
    ) -> int:
        """
        The fast path: the spawner takes the child's real ids, groups and
        umask for the duration of C{posix_spawn}.
        """
        try:
            runSteps(groupSteps(credentials, request.umask, False) + uidSteps(credentials, False))
            return os.posix_spawn(
                request.executable,
                request.argv,
                env,
                file_actions=fileActions(fd),
                setsid=True,
                setsigdef=DEFAULT_SIGNALS,
                setsigmask=(),
                resetids=True,
            )
        except _STEP_ERRORS as e:
            raise LaunchError.fromException("execve", e) from e
        finally:
            self.leave(credentials, request.umask)

    def leave(self, credentials: Credentials | None, umask: int | None) -> None:
        """
        Restore what was changed for a child: the spawner's own ids, groups
        and umask.  A spawner that cannot must not start anything else: it
        exits.
        """
        try:
            runSteps(restoreSteps(self.identity, credentials, umask))
        except LaunchError as e:
            raise SystemExit(
                f"txinetd spawner: cannot restore its {e.operation}: {e.reason}"
            ) from e

    def forkExec(
        self,
        request: SpawnRequest,
        fd: int,
        credentials: Credentials | None,
        env: dict[bytes, bytes],
    ) -> int:
        """
        The slow path: the child sets everything up, then execs; a failure
        comes back over a close-on-exec pipe and the child is reaped here.
        """
        detach: list[Step] = [
            ("sigaction", partial(resetSignals, handledSignals())),
            ("setsid", os.setsid),
            ("dup2", partial(dupOnto, fd, (0, 1, 2))),
        ]
        setUp: list[Step] = [
            *groupSteps(credentials, request.umask, True),
            *limitSteps(self.perChild),
            *uidSteps(credentials, True),
            ("execve", partial(os.execve, request.executable, request.argv, env)),
        ]
        readEnd, writeEnd = os.pipe()
        try:
            pid = os.fork()
        except OSError as e:
            os.close(readEnd)
            os.close(writeEnd)
            raise LaunchError.fromException("fork", e) from e
        if pid == 0:
            runChild(detach, setUp, writeEnd, self.fdCeiling)
        os.close(writeEnd)
        report = readAll(readEnd)
        if not report:
            return pid
        os.waitpid(pid, 0)
        raise decodeFailure(report)


def dupOnto(fd: int, targets: Iterable[int]) -> None:
    """
    Make each of C{targets} an inheritable copy of C{fd}.
    """
    for target in targets:
        os.dup2(fd, target)


def readAll(fd: int) -> bytes:
    """
    Read C{fd} to its end and close it.
    """
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def resetSignals(numbers: Iterable[int]) -> None:
    """
    Put C{numbers} back to their default disposition and block nothing.
    """
    for number in numbers:
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def handledSignals() -> list[int]:
    """
    The signals that are not at their default disposition here.
    """
    return [number for number in DEFAULT_SIGNALS if signal.getsignal(number) != signal.SIG_DFL]


def closeAllBut(keep: int, fdCeiling: int) -> None:
    """
    Close every descriptor above 2 except C{keep}.
    """
    os.closerange(3, keep)
    os.closerange(keep + 1, fdCeiling)


def runChild(detach: list[Step], setUp: list[Step], errorFd: int, fdCeiling: int) -> NoReturn:
    """
    In the forked child: run C{detach} (which puts the connection on fds
    0-2), close every other descriptor but C{errorFd}, run C{setUp} (the
    last step execs the server); or write what failed to C{errorFd}.
    """
    try:
        runSteps(detach)
        closeAllBut(errorFd, fdCeiling)
        runSteps(setUp)
    except LaunchError as e:
        os.write(errorFd, encodeFailure(e.operation, e.errno, e.reason))
    finally:
        os._exit(127)


RLIMIT_NAMES = {
    getattr(resource, name): name
    for name in dir(resource)
    if name.startswith("RLIMIT_") and name != "RLIMIT_OFILE"
}


def receivedDescriptors(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    """
    The descriptors in a message's C{SCM_RIGHTS} ancillary data.
    """
    fds = array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % _INT])
    return list(fds)


class SpawnerLoop:
    """
    The spawner's work: requests in, servers started, exits out.

    @ivar children: the pids of running servers, not yet reaped.
    @ivar closing: whether the daemon sent L{Retire}.
    @ivar retiring: whether L{Retiring} was sent.
    """

    def __init__(
        self,
        channel: socket.socket,
        launcher: Launcher,
        cpuBudget: float | None = None,
        cpuTime: Callable[[], float] = time.process_time,
        monotonic: Callable[[], int] = time.monotonic_ns,
        waitpid: Callable[[int, int], tuple[int, int]] = os.waitpid,
        kill: Callable[[int, int], None] = os.kill,
        bufferSize: int = MAX_MESSAGE,
    ) -> None:
        self.channel = channel
        self.launcher = launcher
        self.cpuBudget = cpuBudget
        self.cpuTime = cpuTime
        self.monotonic = monotonic
        self.waitpid = waitpid
        self.kill = kill
        self.children: set[int] = set()
        self.closing = False
        self.retiring = False
        self.buffer = bytearray(bufferSize)

    def send(self, reply: Reply) -> None:
        self.channel.sendall(encodeReply(reply))

    def receive(self) -> bool:
        """
        Handle every message waiting on the channel.

        @return: C{False} once the daemon has closed it.
        """
        while True:
            try:
                size, ancillary, flags, _ = self.channel.recvmsg_into(
                    [self.buffer],
                    socket.CMSG_SPACE(4 * _INT),
                    socket.MSG_CMSG_CLOEXEC | socket.MSG_DONTWAIT,
                )
            except BlockingIOError:
                return True
            fds = receivedDescriptors(ancillary)
            if size == 0 and not fds:
                return False
            try:
                if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                    self.refuse(requestIdOf(bytes(self.buffer[:9])), errno.EMSGSIZE)
                else:
                    self.handle(decodeRequest(bytes(self.buffer[:size])), fds)
            finally:
                for fd in fds:
                    os.close(fd)
            self.reap()

    def refuse(self, requestId: int | None, errorNumber: int) -> None:
        """
        Answer a spawn request that arrived damaged.
        """
        if requestId is not None:
            self.send(Failed(requestId, "receive", errorNumber, os.strerror(errorNumber)))

    def handle(self, request: Request, fds: list[int]) -> None:
        """
        Act on one message; C{fds} are closed by the caller.
        """
        if isinstance(request, SpawnRequest):
            if len(fds) == 1:
                self.spawn(request, fds[0])
            else:
                self.refuse(request.requestId, errno.EBADF)
        elif isinstance(request, SignalRequest):
            if request.pid in self.children:
                with contextlib.suppress(ProcessLookupError):
                    self.kill(request.pid, request.signal)
        else:
            self.closing = True

    def spawn(self, request: SpawnRequest, fd: int) -> None:
        started = self.monotonic()
        try:
            pid = self.launcher.launch(request, fd)
        except LaunchError as e:
            self.send(Failed(request.requestId, e.operation, e.errno, e.reason))
        else:
            self.children.add(pid)
            self.send(Started(request.requestId, pid, started))
        if self.cpuBudget is not None and not self.retiring and self.cpuTime() >= self.cpuBudget:
            self.retiring = True
            self.send(Retiring())

    def reap(self) -> None:
        """
        Reap every child that has exited and report the servers among them.
        """
        while self.children:
            try:
                pid, status = self.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.children:
                self.children.discard(pid)
                self.send(Exited(pid, status, self.monotonic()))

    @property
    def done(self) -> bool:
        return self.closing and not self.children

    def run(self, wakeup: int) -> None:
        """
        Serve until the daemon goes away, or retires the spawner and its
        last child is reaped.

        @param wakeup: the read end of the C{SIGCHLD} wake-up pipe.
        """
        poller = select.poll()
        poller.register(self.channel, select.POLLIN)
        poller.register(wakeup, select.POLLIN)
        while not self.done:
            poller.poll()
            drain(wakeup)
            self.reap()
            if not self.receive():
                return


def drain(fd: int) -> None:
    """
    Empty a non-blocking pipe.
    """
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def fdCeiling() -> int:
    """
    A bound on the descriptor numbers this process can have.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    bounded = [limit for limit in (soft, hard) if limit != resource.RLIM_INFINITY]
    return max(bounded, default=1 << 20)


def main(args: Sequence[str]) -> int:
    """
    Run a spawner for the key in C{args}, its channel on fd 0.
    """
    key = decodeKey(args)
    ceiling = fdCeiling()
    os.closerange(3, ceiling)
    os.chdir("/")
    os.setsid()
    identity = Identity.current()
    applyNice(key.nice, key.niceUid, identity)
    held, perChild = holdLimits(key.rlimits, Usage.current())
    wakeupRead, wakeupWrite = os.pipe()
    os.set_blocking(wakeupRead, False)
    os.set_blocking(wakeupWrite, False)
    signal.set_wakeup_fd(wakeupWrite)
    signal.signal(signal.SIGCHLD, lambda number, frame: None)
    channel = socket.socket(fileno=0)
    loop = SpawnerLoop(channel, ProcessLauncher(identity, perChild, ceiling), cpuBudget(held))
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        loop.run(wakeupRead)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
