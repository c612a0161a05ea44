# -*- test-case-name: tests.spawn.test_childsignal -*-
"""
Tests for L{txinetd.spawn.childsignal}: C{SIGCHLD} off while only pidfds
watch children, and back when anything else needs it.
"""

from __future__ import annotations

import signal
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from txinetd.spawn.childsignal import ChildSignal


def twistedHandler(signum: int, frame: Any) -> None:
    """
    Stands for the handler Twisted installs.
    """


class FakeSignals:
    """
    A process's C{SIGCHLD} disposition, and what was done to it.
    """

    def __init__(self, current: Any = twistedHandler) -> None:
        self.current = current
        self.calls: list[tuple[str, Any]] = []
        self.reaped = 0
        self.handlers: dict[int, Any] = {}

    def getsignal(self, signum: int) -> Any:
        assert signum == signal.SIGCHLD
        return self.current

    def setsignal(self, signum: int, handler: Any) -> Any:
        assert signum == signal.SIGCHLD
        previous, self.current = self.current, handler
        self.calls.append(("signal", handler))
        return previous

    def siginterrupt(self, signum: int, flag: bool) -> None:
        assert signum == signal.SIGCHLD
        self.calls.append(("siginterrupt", flag))

    def reapAll(self) -> None:
        self.reaped += 1

    def childSignal(self) -> ChildSignal:
        return ChildSignal(
            self.handlers, self.reapAll, self.getsignal, self.setsignal, self.siginterrupt
        )


class ChildSignalTests(SynchronousTestCase):
    def test_quiet(self) -> None:
        """
        With Twisted's handler and no process of Twisted's, C{SIGCHLD} goes
        to its default disposition (not C{SIG_IGN}, which would reap the
        children before the daemon does), once.
        """
        signals = FakeSignals()
        child = signals.childSignal()
        child.quiet()
        child.quiet()
        self.assertIs(signals.current, signal.SIG_DFL)
        self.assertEqual(signals.calls, [("signal", signal.SIG_DFL)])
        self.assertIs(child.saved, twistedHandler)

    def test_notTheMainThread(self) -> None:
        """
        Where signals cannot be changed (not the main thread), they stay as
        they are.
        """
        signals = FakeSignals()

        def refuse(signum: int, handler: Any) -> Any:
            raise ValueError("signal only works in main thread of the main interpreter")

        signals.setsignal = refuse  # type: ignore[method-assign]
        child = signals.childSignal()
        child.quiet()
        self.assertIsNone(child.saved)
        self.assertIs(signals.current, twistedHandler)
        child.restore()
        self.assertEqual(signals.reaped, 0)

    def test_notAFunction(self) -> None:
        """
        A disposition that is no handler (C{SIG_IGN}, C{SIG_DFL}) is left as
        it is.
        """
        for disposition in (signal.SIG_IGN, signal.SIG_DFL):
            signals = FakeSignals(disposition)
            child = signals.childSignal()
            child.quiet()
            self.assertEqual((signals.current, signals.calls), (disposition, []))
            self.assertIsNone(child.saved)

    def test_twistedProcesses(self) -> None:
        """
        While Twisted has a process to reap, C{SIGCHLD} keeps its handler;
        if it was off, it comes back, and what ended meanwhile is reaped.
        """
        signals = FakeSignals()
        signals.handlers[7] = object()
        child = signals.childSignal()
        child.quiet()
        self.assertEqual((signals.current, signals.calls), (twistedHandler, []))
        del signals.handlers[7]
        child.quiet()
        signals.handlers[8] = object()
        child.quiet()
        self.assertIs(signals.current, twistedHandler)
        self.assertEqual(signals.reaped, 1)
        self.assertIsNone(child.saved)

    def test_restore(self) -> None:
        """
        Restoring puts the handler back, without interrupting system calls,
        and reaps Twisted's processes that ended while it was off; a
        second restore does nothing.
        """
        signals = FakeSignals()
        child = signals.childSignal()
        child.quiet()
        child.restore()
        child.restore()
        self.assertEqual(
            signals.calls,
            [
                ("signal", signal.SIG_DFL),
                ("signal", twistedHandler),
                ("siginterrupt", False),
            ],
        )
        self.assertEqual(signals.reaped, 1)

    def test_restoreKeepsAnotherHandler(self) -> None:
        """
        A handler someone else installed meanwhile is not replaced.
        """
        signals = FakeSignals()
        child = signals.childSignal()
        child.quiet()

        def other(signum: int, frame: Any) -> None:
            pass

        signals.current = other
        child.restore()
        self.assertIs(signals.current, other)
        self.assertEqual(signals.reaped, 1)

    def test_restoreNeverQuieted(self) -> None:
        """
        Restoring what was never switched off changes nothing.
        """
        signals = FakeSignals()
        signals.childSignal().restore()
        self.assertEqual((signals.calls, signals.reaped), ([], 0))
