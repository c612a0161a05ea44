# -*- test-case-name: tests.daemon.test_programlog -*-
"""
Tests for L{txinetd.daemon.programlog}: program messages as Twisted log
events, and the observer that writes them to C{-filelog} or C{-syslog}.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.logger import ILogObserver, LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests.core import test_logformat
from tests.daemon.test_logtargets import readBytes, temporaryDirectory
from txinetd.core.events import Level
from txinetd.daemon.logtargets import (
    FileLogTarget,
)
from txinetd.daemon.programlog import ProgramLogObserver, programMessage

NOV_22 = test_logformat.NOV_22
LINE = b"26/11/22@01:14:59: START: s pid=1 from=127.0.0.1\n"


class RecordingTarget:
    """
    A log target that records program messages.
    """

    def __init__(self) -> None:
        self.program: list[tuple[Level, str, float, str | None]] = []

    def writeService(self, message: str, when: float) -> None:
        raise AssertionError("no service message expected")

    def writeProgram(
        self, level: Level, message: str, when: float, function: str | None = None
    ) -> None:
        self.program.append((level, message, when, function))

    def close(self) -> None:
        pass


def event(**fields: Any) -> dict[str, Any]:
    """
    A twisted.logger event at 123.0 in the C{txinetd.service} namespace.
    """
    base: dict[str, Any] = {
        "log_namespace": "txinetd.service",
        "log_level": LogLevel.info,
        "log_time": 123.0,
    }
    base.update(fields)
    return base


class ProgramLogObserverTests(SynchronousTestCase):
    """
    Tests for L{ProgramLogObserver}.
    """

    def setUp(self) -> None:
        self.target = RecordingTarget()
        self.observer = ProgramLogObserver(self.target)

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(ILogObserver, self.observer))

    def test_txinetdEvent(self) -> None:
        self.observer(event(log_format="Started working: {n} available services", n=2))
        self.assertEqual(
            self.target.program,
            [(Level.INFO, "Started working: 2 available services", 123.0, "service")],
        )

    def test_levels(self) -> None:
        for level in [LogLevel.warn, LogLevel.error, LogLevel.critical]:
            self.observer(event(log_format="m", log_level=level))
        self.assertEqual(
            [level for level, _, _, _ in self.target.program],
            [Level.WARNING, Level.ERROR, Level.CRITICAL],
        )

    def test_explicitLevel(self) -> None:
        """
        C{xinetd_level} chooses the level, in any namespace.
        """
        self.observer(event(log_format="a", log_namespace="other", xinetd_level="NOTICE"))
        self.observer(event(log_format="b", xinetd_level=Level.WARNING, xinetd_function="f"))
        self.assertEqual(
            self.target.program,
            [(Level.NOTICE, "a", 123.0, "other"), (Level.WARNING, "b", 123.0, "f")],
        )

    def test_otherNamespaces(self) -> None:
        """
        Other programs' events are not program messages.
        """
        self.observer(event(log_format="Starting factory", log_namespace="twisted.internet"))
        self.observer(event(log_format="x", log_namespace="txinetdish"))
        self.assertEqual(self.target.program, [])

    def test_debug(self) -> None:
        self.observer(event(log_format="quiet", log_level=LogLevel.debug))
        ProgramLogObserver(self.target, debug=True)(
            event(log_format="loud", log_level=LogLevel.debug)
        )
        self.assertEqual(self.target.program, [(Level.DEBUG, "loud", 123.0, "service")])

    def test_failure(self) -> None:
        self.observer(
            event(
                log_format="reload failed",
                log_level=LogLevel.error,
                log_failure=Failure(ValueError("bad config")),
            )
        )
        self.assertEqual(
            self.target.program, [(Level.ERROR, "reload failed: bad config", 123.0, "service")]
        )

    def test_toFile(self) -> None:
        """
        A CRITICAL event becomes xinetd's CRITICAL line.
        """
        test_logformat.useTimezone(self, "UTC0")
        path = os.path.join(temporaryDirectory(self), "xinetd.log")
        target = FileLogTarget(path, pid=2109)
        self.addCleanup(target.close)
        ProgramLogObserver(target)(
            event(
                log_format="couldn't get configuration. Exiting...",
                log_level=LogLevel.critical,
                log_time=test_logformat.utc(2026, 11, 22, 1, 18, 7),
                xinetd_function="init_services",
            )
        )
        self.assertEqual(
            readBytes(path),
            b"26/11/22@01:18:07 xinetd[2109]: CRITICAL: 2109 {init_services} "
            b"couldn't get configuration. Exiting...\n",
        )


class ProgramMessageTests(SynchronousTestCase):
    """
    L{programMessage} emits an event that carries its xinetd level.
    """

    def test_levels(self) -> None:
        with capturedLogs() as events:
            programMessage(Level.NOTICE, "Started working: 1 available service")
            programMessage(Level.CRITICAL, "Adding 1.2.3.4")
        self.assertEqual(
            [
                (e["log_level"], e["xinetd_level"], e["xinetd_text"], e["log_namespace"])
                for e in events
            ],
            [
                (LogLevel.info, Level.NOTICE, "Started working: 1 available service", "txinetd"),
                (LogLevel.critical, Level.CRITICAL, "Adding 1.2.3.4", "txinetd"),
            ],
        )

    def test_rendered(self) -> None:
        """
        L{ProgramLogObserver} writes the message with its level, its time
        and the C{txinetd} namespace as its function.
        """
        target = RecordingTarget()
        observer = ProgramLogObserver(target)
        with capturedLogs() as events:
            programMessage(Level.CRITICAL, "No available services. Exiting")
        for logged in events:
            observer(logged)
        self.assertEqual(
            target.program,
            [
                (
                    Level.CRITICAL,
                    "No available services. Exiting",
                    events[0]["log_time"],
                    "txinetd",
                )
            ],
        )
