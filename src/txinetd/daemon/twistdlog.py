# -*- test-case-name: tests.daemon.test_twistdlog -*-
"""
The observer of twistd's log file: Twisted's classic text lines
(C{2026-12-07T13:17:13+0000 [txinetd#info] readjusting service echo}),
with txinetd's own messages written without Twisted's general formatting.

A reconfiguration of many services writes a line for each of them, and
Twisted's formatter (a format string parsed for each event, a time zone
worked out and the time formatted for each) cost most of that.  A program
message (L{txinetd.daemon.programlog.programMessage}) is plain text, so its
line is put together directly, with the time stamp made once per second;
every other event goes to Twisted's formatter.  The lines are the same.
"""

from __future__ import annotations

import math
from typing import IO, Any

from twisted.logger import (
    FileLogObserver,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)

from txinetd.daemon.programlog import PROGRAM_FORMAT

__all__ = ["ClassicFormatter", "twistdLogObserver"]


class ClassicFormatter:
    """
    Formats events as Twisted's L{formatEventAsClassicLogText} with
    L{timeFormatRFC3339}, program messages directly.

    @ivar second: the second whose time stamp L{stamp} holds.
    """

    def __init__(self) -> None:
        self.second: int | None = None
        self.stamp = ""

    def timeStamp(self, when: float | None) -> str:
        """
        Twisted's time stamp of C{when}, made once per second.
        """
        if when is None:
            return "-"
        if when < 0:
            return formatTime(when, timeFormatRFC3339)
        # The second datetime.fromtimestamp() takes: the fraction rounds to
        # microseconds first, which may carry into the next second.
        fraction, whole = math.modf(when)
        second = int(whole) + (round(fraction * 1e6) >= 1_000_000)
        if second != self.second:
            self.stamp = formatTime(when, timeFormatRFC3339)
            self.second = second
        return self.stamp

    def __call__(self, event: dict[str, Any]) -> str | None:
        """
        The event's line, or L{None} if it has no text.
        """
        text = event.get("xinetd_text")
        namespace = event.get("log_namespace", "-")
        if (
            type(text) is not str
            or not text
            or event.get("log_format") != PROGRAM_FORMAT
            or "log_failure" in event
            or "log_system" in event
            or type(namespace) is not str
        ):
            return formatEventAsClassicLogText(event, self._formatTime)
        level = event.get("log_level")
        levelName = "-" if level is None else level.name
        stamp = self.timeStamp(event.get("log_time"))
        return f"{stamp} [{namespace}#{levelName}] {text.replace(chr(10), chr(10) + chr(9))}\n"

    def _formatTime(self, when: float | None) -> str:
        return self.timeStamp(when)


def twistdLogObserver(logFile: IO[Any]) -> FileLogObserver:
    """
    The observer that writes twistd's log to C{logFile} (its C{write} and
    C{flush}), as Twisted's L{twisted.logger.textFileLogObserver} would.
    """
    return FileLogObserver(logFile, ClassicFormatter())
