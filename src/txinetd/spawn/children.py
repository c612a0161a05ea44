# -*- test-case-name: tests.spawn.test_spawner -*-
"""
The daemon's watch on one child it started (L{ChildWatch}): its status pipe
until the server runs or the child reports what failed, then its end,
through a pidfd or, where the kernel has none, C{SIGCHLD}; and its reaping.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.spawn.launcher import Launched
from txinetd.spawn.process import ProcessExit, RunningProcess, SpawnError
from txinetd.spawn.report import LaunchError, decodeReport

__all__ = ["LOST", "SYSTEM", "WALL", "ChildOwner", "ChildWatch", "ProcessSystem", "pidfdsAvailable"]

#: Linux's C{__WALL}: wait for a child whatever signal it sends when it
#: ends (none, for a child watched through a pidfd).
WALL = 0x40000000

#: The wait status of a child that something else reaped.
LOST = -1


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


@dataclass(frozen=True)
class ProcessSystem:
    """
    The system calls a spawner makes on its children (a seam for tests).
    """

    waitpid: Callable[[int, int], tuple[int, int]] = os.waitpid
    pidfdOpen: Callable[[int], int] = os.pidfd_open
    kill: Callable[[int, int], None] = os.kill
    killpg: Callable[[int, int], None] = os.killpg


#: The system calls themselves.
SYSTEM = ProcessSystem()


class ChildOwner(Protocol):
    """
    What a L{ChildWatch} asks of the spawner that started its child.

    @ivar openPidfds: how many pidfds its children hold now.
    """

    reactor: Any
    system: ProcessSystem
    openPidfds: int
    clock: Callable[[], int]

    def pidfdAllowed(self) -> bool:
        """
        Whether one more child may be watched through a pidfd.
        """

    def failure(self, executable: str, error: LaunchError) -> SpawnError:
        """
        The L{SpawnError} of a child's report.
        """

    def forget(self, child: ChildWatch) -> None:
        """
        C{child} has been reaped.
        """

    def watchWithoutPidfd(self, child: ChildWatch) -> None:
        """
        Watch C{child}'s end without a pidfd.
        """


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


class ChildWatch:
    """
    The daemon's watch on one child: its status pipe until the server runs
    or a report comes, and its end.

    @ivar report: what the child reported on its status pipe.
    @ivar statusDone: whether the status pipe has ended.
    @ivar waitStatus: the status it was reaped with, once it has been.
    """

    def __init__(
        self,
        owner: ChildOwner,
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
