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
  - L{ForkLauncher}: C{os.fork} and the same steps in Python, when the
    extension is not built, or when the kernel would leave a child sharing
    the daemon's memory readable by the server's user
    (C{fs.suid_dumpable = 1}).
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from types import ModuleType
from typing import NoReturn, Protocol

_launch: ModuleType | None
try:
    from txinetd.spawn import _launch
except ImportError:  # pragma: no cover - depends on the build
    _launch = None

__all__ = [
    "CloneLauncher",
    "ForkLauncher",
    "Identity",
    "LaunchError",
    "Launched",
    "Launcher",
    "Plan",
    "chooseLauncher",
    "decodeReport",
    "planFor",
]

#: Signals a server starts with at their default disposition: every one.
DEFAULT_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}

#: A C{nice()} increment beyond this one changes nothing more: the kernel
#: keeps the niceness within -20..19.
NICE_RANGE = 40

#: The largest value a resource limit can be given (C{rlim_t}); -1 is
#: C{RLIM_INFINITY}.
LIMIT_MAX = 2**63 - 1

#: What a child writes when a step fails: step, errno, resource (C ints).
_REPORT = struct.Struct("=iii")

#: The steps of a child, numbered as C{_launch.c} numbers them.
STEPS = {
    1: "sigaction",
    2: "setsid",
    3: "dup2",
    4: "chdir",
    5: "setgroups",
    6: "setgid",
    7: "setrlimit",
    8: "setuid",
    9: "execve",
}
_STEP_NUMBERS = {name: number for number, name in STEPS.items()}

RLIMIT_NAMES = {
    getattr(resource, name): name
    for name in dir(resource)
    if name.startswith("RLIMIT_") and name != "RLIMIT_OFILE"
}

SUID_DUMPABLE = "/proc/sys/fs/suid_dumpable"


class LaunchError(Exception):
    """
    A server could not be started.

    @ivar operation: the step that failed (C{execve}, C{setuid},
        C{setrlimit(RLIMIT_NOFILE)}, C{fork}...).
    @ivar errno: its error number, 0 when there is none.
    @ivar reason: the error's text.
    """

    def __init__(self, operation: str, errorNumber: int, reason: str) -> None:
        super().__init__(operation, errorNumber, reason)
        self.operation = operation
        self.errno = errorNumber
        self.reason = reason

    @classmethod
    def fromErrno(cls, operation: str, errorNumber: int) -> LaunchError:
        return cls(operation, errorNumber, os.strerror(errorNumber))


def operationName(step: int, res: int) -> str:
    """
    The name of a child's step, as the program log shows it.
    """
    name = STEPS.get(step, f"step {step}")
    if name == "setrlimit":
        return f"setrlimit({RLIMIT_NAMES.get(res, res)})"
    return name


def encodeReport(step: str, errorNumber: int, res: int = 0) -> bytes:
    """
    What a child writes on its status pipe when C{step} failed.
    """
    return _REPORT.pack(_STEP_NUMBERS[step], errorNumber, res)


def decodeReport(data: bytes) -> LaunchError:
    """
    The failure a child reported.
    """
    if len(data) < _REPORT.size:
        return LaunchError("execve", 0, f"a truncated report from the child: {data!r}")
    step, errorNumber, res = _REPORT.unpack_from(data)
    return LaunchError.fromErrno(operationName(step, res), errorNumber)


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


@dataclass(frozen=True)
class Launched:
    """
    A child that was started.

    @ivar pid: its pid.
    @ivar release: to call once the child has executed its server or ended
        (it frees what the child ran on), or L{None}.
    """

    pid: int
    release: Callable[[], None] | None = None


class Launcher(Protocol):
    """
    Starts the child of one server.
    """

    name: str

    def launch(self, plan: Plan, fd: int, statusFd: int, signalOnExit: bool = True) -> Launched:
        """
        Start a child that puts C{fd} on its fds 0-2, closes every other
        descriptor but C{statusFd}, carries out C{plan}, and writes a
        report (see L{decodeReport}) to C{statusFd} if a step fails.

        @param fd: above 2.
        @param statusFd: the write end of a close-on-exec pipe, above 2;
            the caller closes its copy.
        @param signalOnExit: whether the caller wants C{SIGCHLD} when the
            child ends; without it (a launcher may still send it) the child
            is waited for with C{__WALL}.
        @raise LaunchError: if no child could be started (C{fork}).
        """


def descriptorCeiling() -> int:
    """
    A bound on the descriptor numbers this process has: its soft
    C{RLIMIT_NOFILE} (the daemon never lowers it below a descriptor it
    holds).
    """
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


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
    child makes only raw system calls until it executes the server.  A user
    switch goes through C{fallback} instead when C{fs.suid_dumpable} is 1.
    """

    name = "clone"

    def __init__(
        self,
        fallback: Launcher,
        dumpableSafe: Callable[[], bool] | None = None,
        ceiling: int | None = None,
    ) -> None:
        """
        @param dumpableSafe: by default a L{DumpableCheck}.
        @param ceiling: the descriptors a child closes when the kernel has
            no C{close_range}; by default L{descriptorCeiling}.
        """
        assert _launch is not None
        self.fallback = fallback
        self.dumpableSafe = dumpableSafe if dumpableSafe is not None else DumpableCheck()
        self.ceiling = ceiling if ceiling is not None else descriptorCeiling()

    def launch(self, plan: Plan, fd: int, statusFd: int, signalOnExit: bool = True) -> Launched:
        assert _launch is not None
        if plan.switchesUser and not self.dumpableSafe():
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


Step = tuple[str, Callable[[], object]]

#: What a step of the fork path may raise: C{setrlimit} reports C{EPERM} as
#: a C{ValueError}.
_STEP_ERRORS = (OSError, ValueError, OverflowError)


def childSteps(plan: Plan, fd: int) -> list[Step]:
    """
    What a forked child does before it closes its other descriptors: its
    signals, its session, the connection on fds 0-2.
    """
    return [
        ("sigaction", resetSignals),
        ("setsid", os.setsid),
        ("dup2", partial(dupOnto, fd, (0, 1, 2))),
    ]


def setUpSteps(plan: Plan) -> list[Step]:
    """
    The rest of a forked child's set-up, in the order of C{_launch.c}; the
    last step executes the server.
    """
    steps: list[Step] = [("chdir", partial(os.chdir, "/"))]
    if plan.groups is not None:
        steps.append(("setgroups", partial(os.setgroups, list(plan.groups))))
    if plan.gid is not None:
        steps.append(("setgid", partial(os.setresgid, plan.gid, plan.gid, plan.gid)))
    for res, value in plan.rlimits:
        steps.append(("setrlimit", partial(setLimit, res, value)))
    if plan.umask is not None:
        steps.append(("umask", partial(os.umask, plan.umask)))
    if plan.uid is not None:
        steps.append(("setuid", partial(os.setresuid, plan.uid, plan.uid, plan.uid)))
    if plan.nice is not None:
        steps.append(("nice", partial(niceAsIs, plan.nice)))
    steps.append(("sigprocmask", partial(signal.pthread_sigmask, signal.SIG_SETMASK, ())))
    env = dict(entry.split(b"=", 1) for entry in plan.envp)
    steps.append(("execve", partial(os.execve, plan.executable, plan.argv, env)))
    return steps


class LimitError(Exception):
    """
    A resource limit that could not be set.
    """

    def __init__(self, res: int, error: Exception) -> None:
        super().__init__(res, error)
        self.res = res
        self.error = error


def setLimit(res: int, value: int) -> None:
    try:
        resource.setrlimit(res, (value, value))
    except _STEP_ERRORS as e:
        raise LimitError(res, e) from e


def niceAsIs(increment: int) -> None:
    """
    C{nice()}, as the server's user: a change it may not make is ignored.
    """
    with contextlib.suppress(OSError):
        os.nice(increment)


def dupOnto(fd: int, targets: Iterable[int]) -> None:
    """
    Make each of C{targets} an inheritable copy of C{fd}.
    """
    for target in targets:
        os.dup2(fd, target)


def resetSignals() -> None:
    """
    Put every signal back to its default disposition (the mask is emptied
    just before the exec).
    """
    for number in DEFAULT_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


def errorOf(operation: str, error: BaseException) -> tuple[str, int, int]:
    """
    The report of a failed step: (step, errno, resource).
    """
    res = 0
    if isinstance(error, LimitError):
        res, error = error.res, error.error
    number = error.errno if isinstance(error, OSError) and error.errno else errno.EPERM
    if operation not in _STEP_NUMBERS:
        operation = "execve"
    return operation, number, res


def runChild(plan: Plan, fd: int, statusFd: int, ceiling: int) -> NoReturn:
    """
    In a forked child: set up, then execute the server; or write what
    failed to C{statusFd}.
    """
    operation = "sigaction"
    try:
        for name, step in childSteps(plan, fd):
            operation = name
            step()
        os.closerange(3, statusFd)
        os.closerange(statusFd + 1, ceiling)
        for name, step in setUpSteps(plan):
            operation = name
            step()
    except BaseException as e:
        try:
            os.write(statusFd, encodeReport(*errorOf(operation, e)))
        finally:
            os._exit(127)
    os._exit(127)


class ForkLauncher:
    """
    The L{Launcher} that needs no compiled code: C{os.fork}, and the same
    steps in Python in the child.  The daemon's memory is copied for every
    server, which makes it several times slower than L{CloneLauncher}.
    """

    name = "fork"

    def __init__(self, ceiling: Callable[[], int] = descriptorCeiling) -> None:
        self.ceiling = ceiling

    def launch(self, plan: Plan, fd: int, statusFd: int, signalOnExit: bool = True) -> Launched:
        ceiling = self.ceiling()
        # The child starts with every signal blocked, so that no handler of
        # the daemon's runs in it before it has put them all back.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, DEFAULT_SIGNALS)
        try:
            pid = os.fork()
        except OSError as e:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            raise LaunchError.fromErrno("fork", e.errno or 0) from e
        if pid == 0:  # pragma: no cover - runs in the child
            runChild(plan, fd, statusFd, ceiling)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return Launched(pid)


def chooseLauncher(compiled: bool = True) -> Launcher:
    """
    L{CloneLauncher} when C{txinetd.spawn._launch} is built (and C{compiled}),
    else L{ForkLauncher}.
    """
    fallback = ForkLauncher()
    if compiled and _launch is not None:
        return CloneLauncher(fallback)
    return fallback
