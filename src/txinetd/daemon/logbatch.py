# -*- test-case-name: tests.daemon.test_logbatch -*-
"""
The log lines of one reactor wake-up, written together.

Under load one wake-up of the reactor handles many events: with eight
clients looping on a built-in service, about sixty connections, each with
a START and an EXIT line.  Written as they are made, those are a write(2)
each.  While a L{WriteBatch} is held, a FILE target
(L{txinetd.daemon.logtargets.FileLogTarget}: a service's log, C{-filelog},
C{--json-log}) and twistd's log file
(L{txinetd.daemon.logtargets.TextLogFile}) keep the lines they are given;
when the batch is let go, each writes its lines with one write(2).
The daemon holds its batch while the reactor dispatches the events of one
wake-up and while it runs its timed and queued calls
(L{holdEachWakeup}), so every line is with the kernel before the reactor
waits for anything again; the daemon also lets the batch go before it
tells systemd anything (C{READY=1} after a reload comes after its lines).

What a batch holds is bounded by one wake-up's work: each listening socket
accepts at most L{txinetd.net.acceptor.ACCEPTS_PER_WAKEUP} connections per
wake-up, and each event handled writes a few lines.

The lines, their order in each file and the size limits are the same as
when each is written at once.  What moves is the moment a line reaches the
kernel, within one wake-up: a daemon killed with SIGKILL in the middle of a
wake-up loses the lines of that wake-up's events so far, where writing
each at once loses the one of the event at hand.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import get_ident
from typing import Any
from typing import Protocol as TypingProtocol

__all__ = ["Held", "WriteBatch", "holdEachWakeup"]


class Held(TypingProtocol):
    """
    A target that keeps lines while a batch is held.
    """

    def writeHeld(self) -> None:
        """
        Write the lines kept while the batch was held, in one go.
        """


class WriteBatch:
    """
    Lines held while the batch is (see the module's docstring).  It is a
    context manager, and may be held again while held: the lines are
    written when the outermost hold ends.  It is held by one thread, the
    reactor's: a line another thread gives a target meanwhile is written at
    once, as without the batch.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._thread: int | None = None
        self._waiting: list[Held] = []

    @property
    def holding(self) -> bool:
        """
        Whether lines given now, in this thread, are kept.
        """
        return self._depth > 0 and get_ident() == self._thread

    def add(self, target: Held) -> None:
        """
        Have C{target} write its kept lines when the batch is let go.  A
        target adds itself once, with its first kept line.
        """
        self._waiting.append(target)

    def __enter__(self) -> None:
        if not self._depth:
            self._thread = get_ident()
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if not self._depth:
            self.flush()

    def flush(self) -> None:
        """
        Have every target write what it kept, in the order they first kept
        a line.
        """
        while self._waiting:
            waiting, self._waiting = self._waiting, []
            for target in waiting:
                target.writeHeld()


def holdEachWakeup(reactor: Any, batch: WriteBatch) -> Callable[[], None]:
    """
    Hold C{batch} while C{reactor} dispatches the events of a wake-up and
    while it runs its timed and queued calls, the two steps of its loop.  A
    reactor without them (a fake one) is left as it is.

    @return: puts the reactor's steps back as they were (a step running
        then still writes its lines when it ends).
    """
    replaced: list[str] = []
    for name in ("doIteration", "runUntilCurrent"):
        step = getattr(reactor, name, None)
        if step is not None:
            setattr(reactor, name, _holding(batch, step))
            replaced.append(name)

    def undo() -> None:
        for name in replaced:
            delattr(reactor, name)

    return undo


def _holding(batch: WriteBatch, step: Callable[..., None]) -> Callable[..., None]:
    def held(*args: Any) -> None:
        with batch:
            step(*args)

    return held
