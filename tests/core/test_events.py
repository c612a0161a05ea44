# -*- test-case-name: tests.core.test_events -*-
"""
Tests for L{txinetd.core.events}: the words of xinetd's vocabulary, and
events that cannot be changed once made.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    NoIdReason,
    ProgramMessage,
    Started,
)


class VocabularyTests(SynchronousTestCase):
    """
    The reason words are xinetd 2.3.15's (and txinetd's own two), the
    levels syslog's.
    """

    def test_failReasons(self) -> None:
        self.assertEqual(
            {reason.value for reason in FailReason},
            {
                "address",
                "time",
                "fork",
                "service_limit",
                "per_source_limit",
                "process_limit",
                "libwrap",
                "load",
                "connections per second",
                "tls",
                "execv",
                "proxy",
            },
        )

    def test_noIdReasons(self) -> None:
        self.assertEqual(
            {reason.value for reason in NoIdReason},
            {
                "no server",
                "timeout",
                "system error",
                "error while receiving response",
                "bad response",
            },
        )

    def test_levels(self) -> None:
        """
        A level's value is the syslog priority it is sent with (LOG_CRIT 2
        ... LOG_DEBUG 7).
        """
        self.assertEqual(
            [(level.name, int(level)) for level in Level],
            [
                ("CRITICAL", 2),
                ("ERROR", 3),
                ("WARNING", 4),
                ("NOTICE", 5),
                ("INFO", 6),
                ("DEBUG", 7),
            ],
        )


class EventTests(SynchronousTestCase):
    """
    Events are values: compared by what they say, never changed.
    """

    def test_values(self) -> None:
        self.assertEqual(Started("echo", 0, "192.0.2.1", 1.0), Started("echo", 0, "192.0.2.1", 1.0))
        self.assertNotEqual(
            Failed("echo", FailReason.TIME, None, 1.0), Failed("echo", FailReason.LOAD, None, 1.0)
        )

    def test_immutable(self) -> None:
        exited = Exited("echo", 12, None, 0, None, 2.5, 10.0)
        self.assertRaises(AttributeError, setattr, exited, "status", 1)

    def test_fields(self) -> None:
        """
        Observers read events by their fields' names.
        """
        message = ProgramMessage(Level.ERROR, "execv( /bin/x ) failed")
        self.assertEqual((message.level, message.text), (Level.ERROR, "execv( /bin/x ) failed"))
        exited = Exited("echo", 12, "::1", None, 9, 2.5, 10.0)
        self.assertEqual(
            (exited.service, exited.pid, exited.host, exited.signal, exited.duration),
            ("echo", 12, "::1", 9, 2.5),
        )
