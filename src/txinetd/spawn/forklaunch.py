# -*- test-case-name: tests.spawn.test_launch -*-
"""
Starting a server's child with C{os.fork}, for when the C extension is not
built or may not be used: the same steps as C{_launch.c}, in Python, in the
same order, each reported as it names them when it fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
from collections.abc import Callable, Iterable
from functools import partial
from typing import NoReturn

from txinetd.spawn.launcher import Launched, descriptorCeiling
from txinetd.spawn.plan import Plan
from txinetd.spawn.report import STEP_NUMBERS, LaunchError, encodeReport

__all__ = [
    "DEFAULT_SIGNALS",
    "ForkLauncher",
    "LimitError",
    "errorOf",
    "runChild",
    "setLimit",
    "setUpSteps",
]

#: Signals a server starts with at their default disposition: every one.
DEFAULT_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}

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
    if operation not in STEP_NUMBERS:
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
