# -*- test-case-name: tests.core.test_times -*-
"""
C{access_times}: the intervals of the day a service may be used.  Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from txinetd.core.addressentries import DIGITS, AccessParseError, boundedInt

__all__ = ["TimeInterval", "TimeIntervals", "parseAccessTimes", "parseTimeInterval"]


@dataclass(frozen=True)
class TimeInterval:
    """
    An C{access_times} interval, bounds included.

    @ivar start: its first minute, counted from midnight.
    @ivar end: its last minute, counted from midnight.
    """

    start: int
    end: int


@dataclass(frozen=True)
class TimeIntervals:
    """
    The C{access_times} of a service; no intervals means always.
    """

    intervals: tuple[TimeInterval, ...] = ()

    def __str__(self) -> str:
        """
        The intervals as C{access_times} writes them: C{8:00-12:00 14:00-18:30}.
        """
        return " ".join(
            f"{i.start // 60}:{i.start % 60:02d}-{i.end // 60}:{i.end % 60:02d}"
            for i in self.intervals
        )

    def contains(self, hour: int, minute: int) -> bool:
        """
        Whether the local time C{hour:minute} is in one of the intervals.
        """
        now = hour * 60 + minute
        return not self.intervals or any(
            interval.start <= now <= interval.end for interval in self.intervals
        )


def _timeNumber(text: str, position: int, stop: str, highest: int) -> tuple[int, int]:
    """
    Read digits (none reads as 0) that must be followed by C{stop} (C{""}
    for the end of the text).

    @return: the number and the position after C{stop}.
    """
    end = position
    while end < len(text) and text[end] in DIGITS:
        end += 1
    if text[end : end + 1] != stop:
        raise AccessParseError("incorrect time interval")
    value = boundedInt(text[position:end] or "0")
    if value > highest:
        raise AccessParseError("invalid time interval")
    return value, end + 1


def parseTimeInterval(text: str) -> TimeInterval:
    """
    Parse one C{H:MM-H:MM} value: hours 0-23, minutes 0-59, the start
    strictly before the end.

    @raise AccessParseError: with xinetd's message if it is invalid.
    """
    position = len(text) - len(text.lstrip(" "))
    startHour, position = _timeNumber(text, position, ":", 23)
    startMinute, position = _timeNumber(text, position, "-", 59)
    endHour, position = _timeNumber(text, position, ":", 23)
    endMinute, position = _timeNumber(text, position, "", 59)
    interval = TimeInterval(startHour * 60 + startMinute, endHour * 60 + endMinute)
    if interval.start >= interval.end:
        raise AccessParseError(f"invalid time interval: {text}")
    return interval


def parseAccessTimes(values: Sequence[str]) -> TimeIntervals:
    """
    Parse the values of an C{access_times} attribute.

    @raise AccessParseError: if there are no values or one is invalid.
    """
    if not values:
        raise AccessParseError(
            "attribute access_times expects at least 1 value and none was given."
        )
    return TimeIntervals(tuple(parseTimeInterval(value) for value in values))
