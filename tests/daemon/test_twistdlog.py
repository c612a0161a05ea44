# -*- test-case-name: tests.daemon.test_twistdlog -*-
"""
Tests for L{txinetd.daemon.twistdlog}: twistd's log lines, the same as
Twisted's classic text format writes them.
"""

from __future__ import annotations

import io
from typing import Any

from twisted.logger import (
    LogLevel,
    capturedLogs,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import Level
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.twistdlog import ClassicFormatter, twistdLogObserver

#: Times around second boundaries, where the microseconds round up into the
#: next second, and the instants of 2026-12-07T13:17:13Z and before it.
TIMES = (
    1796649433.0,
    1796649433.25,
    1796649433.9999994,
    1796649433.9999996,
    1796649434.0000001,
    1796649432.5,
    1796649433.5,
    0.0,
    0.9999996,
    -1.5,
    None,
)


def twisted(event: dict[str, Any]) -> str | None:
    """
    Twisted's own line for C{event}, as L{twisted.logger.textFileLogObserver}
    writes it.
    """
    return formatEventAsClassicLogText(event, lambda when: formatTime(when, timeFormatRFC3339))


def programEvents(text: str = "readjusting service echo") -> list[dict[str, Any]]:
    """
    The events of program messages of every level, as txinetd emits them.
    """
    with capturedLogs() as events:
        for level in Level:
            programMessage(level, text)
    return [dict(event) for event in events]


class ClassicFormatterTests(SynchronousTestCase):
    """
    L{ClassicFormatter} writes every event as Twisted's classic text format
    does.
    """

    def assertSameLines(self, events: list[dict[str, Any]]) -> None:
        """
        One formatter formats every event, in turn, as Twisted does.
        """
        formatter = ClassicFormatter()
        self.assertEqual(
            [formatter(event) for event in events], [twisted(event) for event in events]
        )

    def test_programMessages(self) -> None:
        """
        Program messages of every level, at times on both sides of second
        boundaries (in this order, and in the reverse one): the time stamp
        made once per second is the one Twisted makes each time.
        """
        events = [{**event, "log_time": when} for when in TIMES for event in programEvents()]
        self.assertSameLines(events)
        self.assertSameLines(events[::-1])

    def test_shortcut(self) -> None:
        """
        A program message's line is made without Twisted's formatter, which
        a program message whose text Twisted would not give shows.
        """
        (event, *_) = programEvents()
        event["xinetd_text"] = "{not a field}"
        self.assertEqual(
            ClassicFormatter()(event)[-len("{not a field}\n") :],  # type: ignore[index]
            "{not a field}\n",
        )

    def test_severalLines(self) -> None:
        """
        The lines after the first of a message are indented by a tab.
        """
        self.assertSameLines(programEvents("first\nsecond\n"))

    def test_otherEvents(self) -> None:
        """
        Events that are not plain program messages are formatted by
        Twisted: another format, a system of their own, a failure, no text,
        no level or namespace, or a namespace that is not text.
        """
        (message, *_) = programEvents()
        failure = Failure(ZeroDivisionError("division by zero"))
        events = [
            {
                "log_format": "{count} connections from {host}",
                "count": 3,
                "host": "127.0.0.1",
                "log_namespace": "txinetd.service",
                "log_level": LogLevel.warn,
                "log_time": 1796649433.5,
            },
            {**message, "log_system": "rpc"},
            {**message, "log_failure": failure},
            {**message, "xinetd_text": ""},
            {**message, "xinetd_text": 7},
            {key: value for key, value in message.items() if key != "log_level"},
            {key: value for key, value in message.items() if key != "log_namespace"},
            {**message, "log_namespace": 12},
            {**message, "log_format": "at {log_time}"},
            {"log_time": 1796649433.5},
        ]
        self.assertSameLines(events)


class ObserverTests(SynchronousTestCase):
    """
    L{twistdLogObserver} writes each event's line to the file.
    """

    def test_writes(self) -> None:
        """
        Each event's line is written as it comes, in order; an event without
        text writes nothing.
        """
        out = io.StringIO()
        observer = twistdLogObserver(out)
        (first, second, *_) = programEvents()
        for event in (first, {"log_time": 1.0}, second):
            observer(event)
        self.assertEqual(out.getvalue(), f"{twisted(first)}{twisted(second)}")
