# -*- test-case-name: tests.daemon.test_eventlog -*-
"""
Tests for L{txinetd.daemon.eventlog}: the JSON event log's lines for each
event and program message, its reopening after a rotation, and its refusal
of a planted link.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    NoIdReason,
    NotIdentified,
    ProgramMessage,
    Reloaded,
    ReloadResult,
    Started,
    Traffic,
    UserIdentified,
)
from txinetd.daemon.eventlog import EventLog, LogObservers, rfc3339
from txinetd.daemon.safefiles import UnsafeFile

NOW = 1_700_000_000.25
STAMP = "2023-11-14T22:13:20.250Z"

#: The documented fields, in order (docs/monitoring.md).
FIELDS = [
    "time",
    "event",
    "service",
    "pid",
    "address",
    "port",
    "reason",
    "status",
    "signal",
    "duration",
    "bytes_in",
    "bytes_out",
    "user",
    "level",
    "text",
    "result",
]


def line(**fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update(fields)
    return record


class EventLogTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())
        self.log = EventLog(self.path)
        self.addCleanup(self.log.close)

    def lines(self, path: str | None = None) -> list[dict[str, Any]]:
        with open(path or self.path, encoding="ascii") as f:
            return [json.loads(text) for text in f]

    def test_events(self) -> None:
        """
        Every session event is one line with every field, in order.
        """
        self.log(Started("cat", 40, "192.0.2.1", NOW, 5000, NOW - 1))
        self.log(Exited("cat", 40, "192.0.2.1", 3, None, 1.5, NOW, 5000))
        self.log(Exited("cat", 41, "::1", None, signal.SIGKILL, 0.25, NOW, 5001))
        self.log(Failed("cat", FailReason.CPS, "192.0.2.1", NOW, 5002))
        self.log(UserIdentified("cat", "alice", "192.0.2.1", NOW, 5003))
        self.log(NotIdentified("cat", "192.0.2.1", NoIdReason.TIMEOUT, NOW, 5004))
        self.log(Traffic("relay", 10, 20, NOW, "192.0.2.1", 5005))
        self.log(Reloaded(ReloadResult.APPLIED, NOW))
        self.log(ProgramMessage(Level.INFO, "not a line of its own"))
        common = {"time": STAMP, "address": "192.0.2.1"}
        self.assertEqual(
            self.lines(),
            [
                line(**common, event="start", service="cat", pid=40, port=5000),
                line(
                    **common, event="exit", service="cat", pid=40, port=5000, status=3, duration=1.5
                ),
                line(
                    time=STAMP,
                    event="exit",
                    service="cat",
                    pid=41,
                    address="::1",
                    port=5001,
                    signal="SIGKILL",
                    duration=0.25,
                ),
                line(
                    **common,
                    event="fail",
                    service="cat",
                    port=5002,
                    reason="connections per second",
                ),
                line(**common, event="userid", service="cat", port=5003, user="alice"),
                line(**common, event="noid", service="cat", port=5004, reason="timeout"),
                line(
                    **common, event="traffic", service="relay", port=5005, bytes_in=10, bytes_out=20
                ),
                line(time=STAMP, event="reload", result="applied"),
            ],
        )
        with open(self.path) as f:
            self.assertEqual(list(json.loads(f.readline())), FIELDS)

    def test_programMessages(self) -> None:
        """
        Program messages are lines of their own; DEBUG ones only with C{-d}.
        """
        observe = self.log.observeProgram
        observe(
            {"log_time": NOW, "log_format": "{x}", "x": "hello\u00e9", "xinetd_level": Level.ERROR}
        )
        observe({"log_time": NOW, "log_format": "dbg", "xinetd_level": Level.DEBUG})
        observe({"log_time": NOW, "log_format": "foreign", "log_namespace": "other"})
        self.assertEqual(
            self.lines(), [line(time=STAMP, event="message", level="ERROR", text="hello\u00e9")]
        )
        with open(self.path, "rb") as f:
            self.assertIn(b"hello\\u00e9", f.read())

    def test_reopen(self) -> None:
        """
        After the file is moved, reopening (through L{LogObservers}, as a
        reconfiguration signal does) starts a new file, mode 0644.
        """
        self.log(Failed("cat", FailReason.TIME, None, NOW))
        os.rename(self.path, self.path + ".1")
        LogObservers(self.log.observeProgram).reopen()
        self.log(Failed("cat", FailReason.ADDRESS, None, NOW))
        self.assertEqual([r["reason"] for r in self.lines(self.path + ".1")], ["time"])
        self.assertEqual([r["reason"] for r in self.lines()], ["address"])
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o644)

    def test_link(self) -> None:
        """
        A symbolic link where the file should be, in a directory others
        may write, is refused.
        """
        shared = os.path.abspath(self.mktemp())
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        link = os.path.join(shared, "events.json")
        os.symlink(self.path, link)
        self.assertRaises(UnsafeFile, EventLog, link)

    def test_rfc3339(self) -> None:
        self.assertEqual(rfc3339(0.9999), "1970-01-01T00:00:00.999Z")
        self.assertEqual(rfc3339(NOW), STAMP)
