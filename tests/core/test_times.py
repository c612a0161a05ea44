# -*- test-case-name: tests.core.test_times -*-
"""
Tests for L{txinetd.core.times}: C{access_times}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.addressentries import (
    AccessParseError,
)
from txinetd.core.times import TimeInterval, TimeIntervals, parseAccessTimes, parseTimeInterval


class AccessTimesTests(SynchronousTestCase):
    """
    C{access_times} intervals.
    """

    def assertError(self, text: str, message: str) -> None:
        error = self.assertRaises(AccessParseError, parseTimeInterval, text)
        self.assertEqual(error.message, message)

    def test_parse(self) -> None:
        """
        C{H:MM-H:MM} is an interval in minutes since midnight.
        """
        self.assertEqual(parseTimeInterval("2:30-4:15"), TimeInterval(150, 255))
        self.assertEqual(parseTimeInterval("00:00-23:59"), TimeInterval(0, 1439))
        self.assertEqual(parseTimeInterval("  8:00-17:00"), TimeInterval(480, 1020))
        self.assertEqual(parseTimeInterval(":30-1:"), TimeInterval(30, 60))

    def test_errors(self) -> None:
        """
        Bad syntax, values out of range and empty or reversed intervals are
        errors, worded as xinetd words them.
        """
        self.assertError("12:00-24:00", "invalid time interval")
        self.assertError("8:60-9:00", "invalid time interval")
        self.assertError("9:00-8:00", "invalid time interval: 9:00-8:00")
        self.assertError("9:00-9:00", "invalid time interval: 9:00-9:00")
        self.assertError("22:00-02:00", "invalid time interval: 22:00-02:00")
        self.assertError("8-9", "incorrect time interval")
        self.assertError("8:00", "incorrect time interval")
        self.assertError("8:00-9:00x", "incorrect time interval")
        self.assertError("8h00-9:00", "incorrect time interval")
        self.assertError("", "incorrect time interval")

    def test_contains(self) -> None:
        """
        Bounds are included, at minute resolution; several intervals are
        OR-ed.
        """
        intervals = parseAccessTimes(["8:00-12:00", "13:30-17:00"])
        self.assertEqual(
            [
                intervals.contains(h, m)
                for h, m in [
                    (7, 59),
                    (8, 0),
                    (12, 0),
                    (12, 1),
                    (13, 29),
                    (13, 30),
                    (17, 0),
                    (17, 1),
                ]
            ],
            [False, True, True, False, False, True, True, False],
        )

    def test_always(self) -> None:
        """
        No intervals means always.
        """
        self.assertTrue(TimeIntervals().contains(3, 33))

    def test_noValues(self) -> None:
        """
        The attribute needs at least one value.
        """
        error = self.assertRaises(AccessParseError, parseAccessTimes, [])
        self.assertEqual(
            error.message, "attribute access_times expects at least 1 value and none was given."
        )
