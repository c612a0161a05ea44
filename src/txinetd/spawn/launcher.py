# -*- test-case-name: tests.spawn.test_launch -*-
"""
The seam every way of starting a server's child implements (L{Launcher}),
and what it returns (L{Launched}).
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from txinetd.spawn.plan import Plan

__all__ = ["Launched", "Launcher", "descriptorCeiling"]


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
