# -*- test-case-name: tests.daemon.test_logtargets -*-
"""
Tests for L{txinetd.daemon.logtargets}: FILE and syslog targets, and
twistd's log file.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile

from twisted.logger import LogLevel, capturedLogs, formatEvent, textFileLogObserver
from twisted.trial.unittest import SynchronousTestCase

from tests.core import test_logformat
from txinetd.core.events import Level
from txinetd.core.logformat import Facility, SyslogLevel
from txinetd.daemon.logtargets import (
    FileLogTarget,
    SyslogTarget,
    TextLogFile,
)
from txinetd.daemon.programlog import ProgramLogObserver

NOV_22 = test_logformat.NOV_22
LINE = b"26/11/22@01:14:59: START: s pid=1 from=127.0.0.1\n"


def temporaryDirectory(case: SynchronousTestCase) -> str:
    """
    A directory removed after the test.
    """
    path = tempfile.mkdtemp(prefix="txinetd-")
    case.addCleanup(shutil.rmtree, path)
    return path


def readBytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class Reports:
    """
    Collects a target's reports.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[Level, str]] = []

    def __call__(self, level: Level, message: str) -> None:
        self.messages.append((level, message))


class FileLogTargetTests(SynchronousTestCase):
    """
    Tests for L{FileLogTarget}.
    """

    def setUp(self) -> None:
        test_logformat.useTimezone(self, "UTC0")
        self.directory = temporaryDirectory(self)
        self.path = os.path.join(self.directory, "svc.log")
        self.reports = Reports()

    def target(self, soft: int | None = None, hard: int | None = None) -> FileLogTarget:
        target = FileLogTarget(self.path, soft, hard, self.reports, logId="svc", pid=2109)
        self.addCleanup(target.close)
        return target

    def writeLines(self, target: FileLogTarget, count: int) -> None:
        for _ in range(count):
            target.writeService("START: s pid=1 from=127.0.0.1", NOV_22)

    def test_serviceLine(self) -> None:
        target = self.target()
        target.writeService("START: echo-stream pid=28334 from=127.0.0.1", NOV_22)
        self.assertEqual(
            readBytes(self.path),
            b"26/11/22@01:14:59: START: echo-stream pid=28334 from=127.0.0.1\n",
        )

    def test_programLine(self) -> None:
        target = self.target()
        target.writeProgram(
            Level.CRITICAL, "couldn't get configuration. Exiting...", NOV_22, "init_services"
        )
        target.writeProgram(Level.INFO, "Consistency check passed", NOV_22)
        self.assertEqual(
            readBytes(self.path),
            b"26/11/22@01:14:59 xinetd[2109]: CRITICAL: 2109 {init_services} "
            b"couldn't get configuration. Exiting...\n"
            b"26/11/22@01:14:59 xinetd[2109]: INFO: Consistency check passed\n",
        )

    def test_programLineOwnPid(self) -> None:
        target = FileLogTarget(self.path, progname="txinetd")
        self.addCleanup(target.close)
        target.writeProgram(Level.ERROR, "x", NOV_22)
        self.assertEqual(
            readBytes(self.path),
            b"26/11/22@01:14:59 txinetd[%d]: ERROR: x\n" % (os.getpid(),),
        )

    def test_createdReadable(self) -> None:
        """
        A new log file has mode 0644, whatever the umask (a daemonized
        twistd's is 077), also when it is made again after a rotation; an
        existing file keeps its mode (the one logrotate's C{create} gave).
        """
        old = os.umask(0o077)
        self.addCleanup(os.umask, old)
        target = self.target()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o644)
        os.rename(self.path, self.path + ".1")
        target.reopen()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o644)
        os.rename(self.path, self.path + ".2")
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT))
        os.chmod(self.path, 0o640)
        target.reopen()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o640)

    def test_appends(self) -> None:
        with open(self.path, "wb") as f:
            f.write(b"old\n")
        target = self.target()
        self.writeLines(target, 1)
        self.assertEqual((readBytes(self.path), target.size), (b"old\n" + LINE, 4 + len(LINE)))

    def test_unopenable(self) -> None:
        self.assertRaises(OSError, FileLogTarget, os.path.join(self.directory, "no", "x.log"))

    def test_noLimits(self) -> None:
        target = self.target()
        self.writeLines(target, 200)
        self.assertEqual(
            (os.path.getsize(self.path), self.reports.messages, target.hardLimit),
            (200 * len(LINE), [], None),
        )

    def test_softLimitOnce(self) -> None:
        """
        Past the soft limit, one warning; writing goes on.
        """
        target = self.target(soft=len(LINE) * 3, hard=len(LINE) * 100)
        self.writeLines(target, 3)
        self.assertEqual(self.reports.messages, [])
        self.writeLines(target, 10)
        self.assertEqual(
            (self.reports.messages, os.path.getsize(self.path), target.stopped),
            ([(Level.WARNING, "Size of svc log exceeded soft limit")], 13 * len(LINE), False),
        )

    def test_hardLimitStops(self) -> None:
        """
        Past the hard limit, one error, and nothing more is written.
        """
        target = self.target(soft=len(LINE) * 2, hard=len(LINE) * 4)
        self.writeLines(target, 4)
        self.assertFalse(target.stopped)
        self.writeLines(target, 1)
        self.assertTrue(target.stopped)
        self.writeLines(target, 20)
        target.writeProgram(Level.ERROR, "x", NOV_22)
        self.assertEqual(
            (self.reports.messages, os.path.getsize(self.path)),
            (
                [
                    (Level.WARNING, "Size of svc log exceeded soft limit"),
                    (Level.ERROR, "Size of svc log exceeded hard limit"),
                ],
                5 * len(LINE),
            ),
        )

    def test_defaultHardLimit(self) -> None:
        target = self.target(soft=1000)
        self.assertEqual(target.hardLimit, 1000 + 5120)

    def test_zeroSoftLimit(self) -> None:
        """
        A soft limit of 0 means no size control, as in xinetd.
        """
        target = self.target(soft=0)
        self.writeLines(target, 5)
        self.assertEqual(
            (target.softLimit, target.hardLimit, self.reports.messages), (None, None, [])
        )

    def test_openedOverLimits(self) -> None:
        with open(self.path, "wb") as f:
            f.write(b"x" * 300)
        target = self.target(soft=100, hard=200)
        self.writeLines(target, 1)
        self.assertEqual(
            (self.reports.messages, os.path.getsize(self.path), target.stopped),
            (
                [
                    (Level.WARNING, "Size of svc log exceeded soft limit"),
                    (Level.ERROR, "Size of svc log exceeded hard limit"),
                ],
                300,
                True,
            ),
        )

    def test_reopenAfterRotation(self) -> None:
        """
        After the log is moved away, L{FileLogTarget.reopen} starts a new file
        and writing resumes.
        """
        target = self.target(soft=len(LINE), hard=len(LINE) * 2)
        self.writeLines(target, 5)
        rotated = self.path + ".1"
        os.rename(self.path, rotated)
        target.reopen()
        self.writeLines(target, 1)
        self.assertEqual(
            (readBytes(self.path), readBytes(rotated), target.stopped, len(self.reports.messages)),
            (LINE, LINE * 3, False, 2),
        )

    def test_reopenStillOver(self) -> None:
        """
        A reopened log still over its hard limit stays stopped and says so
        once more.
        """
        target = self.target(soft=len(LINE), hard=len(LINE) * 2)
        self.writeLines(target, 5)
        target.reopen()
        self.writeLines(target, 5)
        self.assertEqual(
            (target.stopped, os.path.getsize(self.path), len(self.reports.messages)),
            (True, 3 * len(LINE), 4),
        )

    def test_reopenFails(self) -> None:
        """
        A log that cannot be reopened reports an error and drops lines until
        it can.
        """
        subdirectory = os.path.join(self.directory, "sub")
        os.mkdir(subdirectory)
        path = os.path.join(subdirectory, "svc.log")
        target = FileLogTarget(path, None, None, self.reports, logId="svc")
        self.addCleanup(target.close)
        os.rename(subdirectory, subdirectory + ".moved")
        target.reopen()
        self.writeLines(target, 1)
        self.assertEqual(
            self.reports.messages,
            [(Level.ERROR, f"Cannot open svc log {path}: No such file or directory")],
        )
        os.mkdir(subdirectory)
        target.reopen()
        self.writeLines(target, 1)
        self.assertEqual(readBytes(path), LINE)

    def test_sizeCountedNotStatted(self) -> None:
        """
        Writing does not stat the file: the size is counted.
        """
        target = self.target(soft=10_000)

        def noStat(fd: int) -> os.stat_result:
            raise AssertionError("fstat while writing")

        self.patch(os, "fstat", noStat)
        self.writeLines(target, 3)
        self.assertEqual(target.size, 3 * len(LINE))

    def test_writeErrorReportedOnce(self) -> None:
        target = FileLogTarget("/dev/full", None, None, self.reports, logId="full")
        self.addCleanup(target.close)
        self.writeLines(target, 3)
        self.assertEqual(
            self.reports.messages, [(Level.ERROR, "Error in full log: No space left on device")]
        )

    def test_closed(self) -> None:
        target = self.target()
        target.close()
        self.writeLines(target, 1)
        target.close()
        self.assertEqual(readBytes(self.path), b"")

    def test_defaultReports(self) -> None:
        """
        Without a callback, reports are twisted.logger events with an
        C{xinetd_level}.
        """
        ns, name = "txinetd", self.path
        with capturedLogs() as events:
            target = FileLogTarget(self.path, 1, 10)
            self.addCleanup(target.close)
            self.writeLines(target, 1)
        self.assertEqual(
            [
                (e["log_namespace"], e["log_level"], e["xinetd_level"], formatEvent(e))
                for e in events
            ],
            [
                (ns, LogLevel.warn, Level.WARNING, f"Size of {name} log exceeded soft limit"),
                (ns, LogLevel.error, Level.ERROR, f"Size of {name} log exceeded hard limit"),
            ],
        )


class TextLogFileTests(SynchronousTestCase):
    """
    L{TextLogFile}: twistd's log, written by Twisted's text observer and
    reopened after a rotation.
    """

    def test_writeAndReopen(self) -> None:
        directory = temporaryDirectory(self)
        path = os.path.join(directory, "twistd.log")
        old = os.umask(0o077)
        self.addCleanup(os.umask, old)
        logFile = TextLogFile(path)
        self.addCleanup(logFile.close)
        observer = textFileLogObserver(logFile)  # type: ignore[arg-type]
        observer({"log_format": "before", "log_time": NOV_22})
        os.rename(path, path + ".1")
        observer({"log_format": "moved", "log_time": NOV_22})
        logFile.reopen()
        observer({"log_format": "after", "log_time": NOV_22})
        self.assertEqual(
            [readBytes(path + ".1").count(b"\n"), b"moved" in readBytes(path + ".1")],
            [2, True],
        )
        self.assertTrue(readBytes(path).endswith(b"after\n"), readBytes(path))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)

    def test_reopenFails(self) -> None:
        """
        A log that cannot be made again drops lines, reported once to the
        program log, until it can.
        """
        directory = temporaryDirectory(self)
        subdirectory = os.path.join(directory, "sub")
        os.mkdir(subdirectory)
        path = os.path.join(subdirectory, "twistd.log")
        logFile = TextLogFile(path)
        self.addCleanup(logFile.close)
        os.rename(subdirectory, subdirectory + ".moved")
        with capturedLogs() as events:
            logFile.reopen()
        logFile.write("dropped\n")
        self.assertEqual(
            [formatEvent(event) for event in events],
            [f"Cannot open twistd's log {path}: No such file or directory"],
        )
        os.mkdir(subdirectory)
        logFile.reopen()
        logFile.write("kept\n")
        self.assertEqual(readBytes(path), b"kept\n")


class SyslogServer:
    """
    A datagram socket bound at a path, as syslog's C{/dev/log}.
    """

    def __init__(self, case: SynchronousTestCase, path: str) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        self.socket.settimeout(5)
        case.addCleanup(self.close)

    def receive(self) -> bytes:
        return self.socket.recv(65536)

    def pending(self) -> list[bytes]:
        """
        The datagrams waiting, without blocking.
        """
        received = []
        self.socket.setblocking(False)
        for _ in range(100_000):
            try:
                received.append(self.socket.recv(65536))
            except BlockingIOError:
                break
        self.socket.settimeout(5)
        return received

    def close(self) -> None:
        self.socket.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class SyslogTargetTests(SynchronousTestCase):
    """
    Tests for L{SyslogTarget}.
    """

    def setUp(self) -> None:
        test_logformat.useTimezone(self, "UTC0")
        self.path = os.path.join(temporaryDirectory(self), "log")
        self.reports = Reports()

    def target(
        self, facility: Facility = Facility.LOCAL3, level: SyslogLevel = SyslogLevel.NOTICE
    ) -> SyslogTarget:
        target = SyslogTarget(facility, level, self.path, pid=3179, onProgramMessage=self.reports)
        self.addCleanup(target.close)
        return target

    def test_service(self) -> None:
        server = SyslogServer(self, self.path)
        self.target().writeService(
            "START: echo pid=3180 from=127.0.0.1", test_logformat.utc(2026, 11, 22, 1, 18, 55)
        )
        self.assertEqual(
            server.receive(),
            b"<157>Nov 22 01:18:55 xinetd[3179]: START: echo pid=3180 from=127.0.0.1",
        )

    def test_program(self) -> None:
        server = SyslogServer(self, self.path)
        target = self.target(Facility.LOCAL5)
        when = test_logformat.utc(2026, 11, 22, 1, 18, 54)
        target.writeProgram(Level.NOTICE, "Started working: 2 available services", when)
        target.writeProgram(
            Level.CRITICAL,
            "Adding 127.0.0.1 to the global_no_access list for 5 minutes",
            when,
            "process_sensor",
        )
        self.assertEqual(
            [server.receive(), server.receive()],
            [
                b"<173>Nov 22 01:18:54 xinetd[3179]: Started working: 2 available services",
                b"<170>Nov 22 01:18:54 xinetd[3179]: 3179 {process_sensor} Adding 127.0.0.1 "
                b"to the global_no_access list for 5 minutes",
            ],
        )

    def test_programLogObserver(self) -> None:
        """
        With C{-syslog}, txinetd's events become program datagrams.
        """
        server = SyslogServer(self, self.path)
        ProgramLogObserver(self.target(Facility.DAEMON))(
            {
                "log_namespace": "txinetd.service",
                "log_format": "Exiting...",
                "log_level": LogLevel.warn,
                "log_time": NOV_22,
            }
        )
        self.assertEqual(server.receive(), b"<28>Nov 22 01:14:59 xinetd[3179]: Exiting...")

    def test_utf8(self) -> None:
        server = SyslogServer(self, self.path)
        self.target(Facility.DAEMON, SyslogLevel.INFO).writeService(
            "USERID: s UNIX : jürgen", NOV_22
        )
        self.assertEqual(
            server.receive(), "<30>Nov 22 01:14:59 xinetd[3179]: USERID: s UNIX : jürgen".encode()
        )

    def test_ownPid(self) -> None:
        server = SyslogServer(self, self.path)
        target = SyslogTarget(Facility.DAEMON, socketPath=self.path)
        self.addCleanup(target.close)
        target.writeService("x", NOV_22)
        self.assertEqual(server.receive(), b"<30>Nov 22 01:14:59 xinetd[%d]: x" % (os.getpid(),))

    def test_missingSocket(self) -> None:
        """
        Without syslog, messages are dropped and that is reported once; when
        syslog appears, messages reach it.
        """
        target = self.target()
        target.writeService("lost 1", NOV_22)
        target.writeService("lost 2", NOV_22)
        self.assertEqual(
            self.reports.messages,
            [
                (
                    Level.ERROR,
                    f"Cannot send to syslog at {self.path}: No such file or directory;"
                    " messages are dropped",
                ),
            ],
        )
        server = SyslogServer(self, self.path)
        target.writeService("found", NOV_22)
        self.assertEqual(server.pending(), [b"<157>Nov 22 01:14:59 xinetd[3179]: found"])

    def test_syslogRestarted(self) -> None:
        """
        When syslog's socket is replaced, the target reconnects without
        losing the message.
        """
        server = SyslogServer(self, self.path)
        target = self.target()
        target.writeService("one", NOV_22)
        server.close()
        server = SyslogServer(self, self.path)
        target.writeService("two", NOV_22)
        self.assertEqual(
            (server.pending(), self.reports.messages),
            ([b"<157>Nov 22 01:14:59 xinetd[3179]: two"], []),
        )

    def test_neverBlocks(self) -> None:
        """
        When syslog does not read, messages are dropped instead of blocking,
        and that is reported once.
        """
        server = SyslogServer(self, self.path)
        target = self.target()
        count = 5000
        for i in range(count):
            target.writeService(f"message {i}", NOV_22)
        received = server.pending()
        self.assertEqual(
            (
                0 < len(received) < count,
                received[0],
                [level for level, _ in self.reports.messages],
            ),
            (True, b"<157>Nov 22 01:14:59 xinetd[3179]: message 0", [Level.ERROR]),
        )

    def test_recoveryReportedAgain(self) -> None:
        """
        A later outage is reported again.
        """
        target = self.target()
        target.writeService("lost", NOV_22)
        server = SyslogServer(self, self.path)
        target.writeService("found", NOV_22)
        server.close()
        target.writeService("lost", NOV_22)
        self.assertEqual(len(self.reports.messages), 2)

    def test_closeReconnects(self) -> None:
        server = SyslogServer(self, self.path)
        target = self.target()
        target.close()
        target.writeService("again", NOV_22)
        self.assertEqual(server.pending(), [b"<157>Nov 22 01:14:59 xinetd[3179]: again"])
