# -*- test-case-name: tests.spawn.test_childsignal -*-
"""
C{SIGCHLD}, only while something needs it.

A server's end is watched through its pidfd, yet the kernel still sends
its parent C{SIGCHLD} when it exits: a child that executed a program
always signals its parent, whatever exit signal it was cloned with.  With
Twisted's handler installed, that is one more wake-up of the reactor for
every server (the signal, its handler, the wake-up pipe, a sweep of
Twisted's processes) that tells nothing the pidfd does not.  While every
child is watched through a pidfd and Twisted has no process of its own to
reap, C{SIGCHLD} is put back to its default disposition, which the kernel
discards without waking anyone and which, unlike C{SIG_IGN}, still leaves
each child for C{waitpid}.  Twisted's handler is back as soon as a child is
watched without a pidfd, Twisted starts a process of its own, or the
spawner stops; the processes that ended meanwhile are reaped then.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, MutableMapping
from typing import Any

from twisted.internet import process as twisted_process

__all__ = ["ChildSignal"]


class ChildSignal:
    """
    Switches C{SIGCHLD} between Twisted's handler and the default
    disposition.

    @ivar saved: the handler put aside while C{SIGCHLD} is at its default,
        or L{None}.
    """

    def __init__(
        self,
        handlers: MutableMapping[int, Any] = twisted_process.reapProcessHandlers,
        reapAll: Callable[[], None] = twisted_process.reapAllProcesses,
        getsignal: Callable[[int], Any] = signal.getsignal,
        setsignal: Callable[[int, Any], Any] = signal.signal,
        siginterrupt: Callable[[int, bool], None] = signal.siginterrupt,
    ) -> None:
        """
        @param handlers: Twisted's processes to reap, by pid.
        @param reapAll: reaps every one of them that has ended.
        """
        self.handlers = handlers
        self.reapAll = reapAll
        self.getsignal = getsignal
        self.setsignal = setsignal
        self.siginterrupt = siginterrupt
        self.saved: Any = None

    def quiet(self) -> None:
        """
        Every child is watched through a pidfd: unless Twisted has a
        process to reap, let C{SIGCHLD} go unhandled.  A handler that is
        not a function (C{SIG_DFL}, C{SIG_IGN}, none) is left as it is.
        """
        if self.handlers:
            self.restore()
            return
        if self.saved is not None:
            return
        current = self.getsignal(signal.SIGCHLD)
        if not callable(current):
            return
        try:
            self.setsignal(signal.SIGCHLD, signal.SIG_DFL)
        except ValueError:
            # Not the main thread: signals stay as they are.
            return
        self.saved = current

    def restore(self) -> None:
        """
        Something needs C{SIGCHLD}: put its handler back, then reap what
        ended while it was away.
        """
        saved, self.saved = self.saved, None
        if saved is None:
            return
        if self.getsignal(signal.SIGCHLD) is signal.SIG_DFL:
            self.setsignal(signal.SIGCHLD, saved)
            self.siginterrupt(signal.SIGCHLD, False)
        self.reapAll()
