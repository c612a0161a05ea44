# -*- test-case-name: tests.daemon.test_logbatch -*-
"""
Tests for L{txinetd.daemon.logbatch}: the lines of one wake-up written
together, by FILE targets, while the reactor's steps hold the batch.
"""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

from twisted.logger import textFileLogObserver
from twisted.trial.unittest import SynchronousTestCase

from tests.core import test_logformat
from tests.daemon.test_logtargets import LINE, Reports, readBytes, temporaryDirectory
from txinetd.core.events import Level
from txinetd.daemon.logbatch import WriteBatch, holdEachWakeup
from txinetd.daemon.logtargets import FileLogTarget, TextLogFile

NOV_22 = test_logformat.NOV_22


class Writes:
    """
    Counts the writes made through C{os.write}, and makes them.
    """

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.write = os.write

    def __call__(self, fd: int, data: bytes) -> int:
        written = self.write(fd, data)
        self.sizes.append(written)
        return written


class WriteBatchTests(SynchronousTestCase):
    """
    L{WriteBatch} with L{FileLogTarget}s.
    """

    def setUp(self) -> None:
        test_logformat.useTimezone(self, "UTC0")
        self.directory = temporaryDirectory(self)
        self.path = os.path.join(self.directory, "svc.log")
        self.reports = Reports()
        self.batch = WriteBatch()
        self.writes = Writes()
        self.patch(os, "write", self.writes)

    def target(
        self, path: str | None = None, soft: int | None = None, hard: int | None = None
    ) -> FileLogTarget:
        target = FileLogTarget(
            path or self.path, soft, hard, self.reports, logId="svc", batch=self.batch
        )
        self.addCleanup(target.close)
        return target

    def writeLines(self, target: FileLogTarget, count: int) -> None:
        for _ in range(count):
            target.writeService("START: s pid=1 from=127.0.0.1", NOV_22)

    def test_notHeld(self) -> None:
        """
        While the batch is not held, each line is written at once.
        """
        target = self.target()
        self.writeLines(target, 2)
        self.assertEqual((readBytes(self.path), self.writes.sizes), (LINE * 2, [len(LINE)] * 2))

    def test_heldThenOneWrite(self) -> None:
        """
        While it is held, nothing is written; when it is let go, the lines of
        each target are written in order, with one write each.
        """
        other = os.path.join(self.directory, "other.log")
        first, second = self.target(), self.target(other)
        with self.batch:
            self.writeLines(first, 3)
            second.writeProgram(Level.NOTICE, "one", NOV_22)
            self.writeLines(first, 1)
            second.writeProgram(Level.NOTICE, "two", NOV_22)
            self.assertEqual((readBytes(self.path), readBytes(other)), (b"", b""))
        self.assertEqual(readBytes(self.path), LINE * 4)
        self.assertEqual(readBytes(other).splitlines()[0].split(b": ", 1)[1], b"NOTICE: one")
        self.assertEqual(len(readBytes(other).splitlines()), 2)
        self.assertEqual(self.writes.sizes, [len(LINE) * 4, len(readBytes(other))])

    def test_nested(self) -> None:
        """
        A hold inside a hold writes nothing when it ends; the outermost does.
        """
        target = self.target()
        with self.batch:
            with self.batch:
                self.writeLines(target, 1)
            self.assertEqual(readBytes(self.path), b"")
            self.writeLines(target, 1)
        self.assertEqual((readBytes(self.path), self.writes.sizes), (LINE * 2, [len(LINE) * 2]))

    def test_sizeAndLimitsAsUnheld(self) -> None:
        """
        Held lines count at once: the hard limit stops at the same line, with
        the same reports, as when each line is written at once.
        """
        target = self.target(soft=len(LINE) * 2, hard=len(LINE) * 4)
        with self.batch:
            self.writeLines(target, 4)
            self.assertFalse(target.stopped)
            self.writeLines(target, 1)
            self.assertTrue(target.stopped)
            self.writeLines(target, 20)
        self.assertEqual(
            (self.reports.messages, readBytes(self.path), target.size),
            (
                [
                    (Level.WARNING, "Size of svc log exceeded soft limit"),
                    (Level.ERROR, "Size of svc log exceeded hard limit"),
                ],
                LINE * 5,
                len(LINE) * 5,
            ),
        )

    def test_failedWrite(self) -> None:
        """
        A write of held lines that fails is reported once, and what it did
        not write is not counted.
        """
        target = self.target("/dev/full")
        with self.batch:
            self.writeLines(target, 3)
        with self.batch:
            self.writeLines(target, 3)
        self.assertEqual(
            (self.reports.messages, target.size),
            ([(Level.ERROR, "Error in svc log: No space left on device")], 0),
        )

    def test_closeWritesHeld(self) -> None:
        """
        Closing or reopening a target (log rotation) writes its held lines
        to the file it had open first.
        """
        target = self.target()
        rotated = os.path.join(self.directory, "svc.log.1")
        with self.batch:
            self.writeLines(target, 2)
            os.rename(self.path, rotated)
            target.reopen()
            self.writeLines(target, 1)
        self.assertEqual((readBytes(rotated), readBytes(self.path)), (LINE * 2, LINE))

    def test_otherThreadsNotHeld(self) -> None:
        """
        A line another thread gives a target while the reactor's thread
        holds the batch is written at once.
        """
        target = self.target()
        with self.batch:
            self.writeLines(target, 1)
            thread = threading.Thread(target=self.writeLines, args=(target, 1))
            thread.start()
            thread.join()
            self.assertEqual(readBytes(self.path), LINE)
        self.assertEqual((readBytes(self.path), self.writes.sizes), (LINE * 2, [len(LINE)] * 2))

    def test_standardStreamsNotHeld(self) -> None:
        """
        Lines for the daemon's own standard output are written at once, so
        that they interleave with twistd's own lines as they come.
        """
        sent: list[bytes] = []

        def write(fd: int, data: bytes) -> int:
            sent.append(data)
            return len(data)

        self.patch(os, "write", write)
        target = self.target("/dev/stdout")
        with self.batch:
            self.writeLines(target, 1)
            self.assertEqual(sent, [LINE])


class TextLogFileBatchTests(SynchronousTestCase):
    """
    L{TextLogFile} (twistd's log) with a L{WriteBatch}.
    """

    def test_heldThenOneWrite(self) -> None:
        """
        What Twisted's observer writes while the batch is held reaches the
        file in one write when it is let go; closing writes what is held.
        """
        path = os.path.join(temporaryDirectory(self), "twistd.log")
        batch = WriteBatch()
        writes = Writes()
        self.patch(os, "write", writes)
        logFile = TextLogFile(path, batch)
        self.addCleanup(logFile.close)
        observer = textFileLogObserver(logFile)  # type: ignore[arg-type]
        with batch:
            for word in ("one", "two", "three"):
                observer({"log_format": word, "log_time": NOV_22})
            self.assertEqual(readBytes(path), b"")
        self.assertEqual(
            [line.rsplit(b" ", 1)[1] for line in readBytes(path).splitlines()],
            [b"one", b"two", b"three"],
        )
        self.assertEqual(writes.sizes, [len(readBytes(path))])
        with batch:
            observer({"log_format": "four", "log_time": NOV_22})
            logFile.close()
            self.assertTrue(readBytes(path).endswith(b" four\n"))


class Steps:
    """
    A reactor's two steps, each writing a line and noting what the file
    held by then.
    """

    def __init__(self, target: FileLogTarget, path: str) -> None:
        self.target = target
        self.path = path
        self.seen: list[bytes] = []

    def doIteration(self, timeout: float | None) -> None:
        self.target.writeService("START: s pid=1 from=127.0.0.1", NOV_22)
        self.seen.append(readBytes(self.path))

    def runUntilCurrent(self) -> None:
        self.doIteration(None)


class HoldEachWakeupTests(SynchronousTestCase):
    """
    L{holdEachWakeup}.
    """

    def setUp(self) -> None:
        test_logformat.useTimezone(self, "UTC0")
        self.path = os.path.join(temporaryDirectory(self), "svc.log")
        self.batch = WriteBatch()
        self.target = FileLogTarget(self.path, None, None, Reports(), batch=self.batch)
        self.addCleanup(self.target.close)
        self.reactor = Steps(self.target, self.path)

    def test_eachStepHeld(self) -> None:
        """
        The lines of each step are written when it ends; once undone, the
        steps are the reactor's own again.
        """
        undo = holdEachWakeup(self.reactor, self.batch)
        self.reactor.doIteration(0)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.reactor.seen, [b"", LINE])
        self.assertEqual(readBytes(self.path), LINE * 2)
        undo()
        self.assertEqual(self.reactor.doIteration.__func__, Steps.doIteration)  # type: ignore[attr-defined]
        self.reactor.doIteration(0)
        self.assertEqual(self.reactor.seen[-1], LINE * 3)

    def test_undoWritesHeld(self) -> None:
        """
        Undoing in the middle of a step (the daemon's shutdown) still writes
        that step's lines when it ends.
        """
        undo = holdEachWakeup(self.reactor, self.batch)
        with self.batch:
            self.target.writeService("EXIT: s status=0 pid=1", NOV_22)
            undo()
            self.assertEqual(readBytes(self.path), b"")
        self.assertEqual(readBytes(self.path), b"26/11/22@01:14:59: EXIT: s status=0 pid=1\n")

    def test_fakeReactor(self) -> None:
        """
        A reactor without the steps is left as it is.
        """
        fake = SimpleNamespace(iterate=print)
        undo = holdEachWakeup(fake, self.batch)
        self.assertEqual(vars(fake), {"iterate": print})
        undo()
        self.assertEqual(vars(fake), {"iterate": print})
