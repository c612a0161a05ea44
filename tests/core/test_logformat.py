# -*- test-case-name: tests.core.test_logformat -*-
# mypy: disable-error-code="no-untyped-call"
"""
Tests for L{txinetd.core.logformat}: xinetd's log lines, byte for byte.

The expected lines are the literal examples of section 6 of the xinetd
reference, observed on xinetd 2.3.15.
"""

from __future__ import annotations

import calendar
import os
import time

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import FailReason, Level, NoIdReason
from txinetd.core.logformat import (
    DEFAULT_FUNCTION,
    SYSLOG_FACILITIES,
    SYSLOG_LEVELS,
    Facility,
    SyslogLevel,
    defaultHardLimit,
    displayAddress,
    fileProgramLine,
    fileServiceLine,
    fileTimestamp,
    formatBadIdentLine,
    formatExit,
    formatFail,
    formatNoid,
    formatStart,
    formatTraffic,
    formatUserid,
    sanitise,
    syslogProgramMessage,
    syslogServiceMessage,
    syslogTimestamp,
)


def useTimezone(case: SynchronousTestCase, name: str) -> None:
    """
    Make local time that of the POSIX time zone C{name} for one test.
    """
    old = os.environ.get("TZ")

    def restore() -> None:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()

    case.addCleanup(restore)
    os.environ["TZ"] = name
    time.tzset()


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float:
    """
    The POSIX time of a UTC date and time.
    """
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


NOV_22 = utc(2026, 11, 22, 1, 14, 59)
JAN_5 = utc(2024, 1, 5, 9, 3, 7)


class StartTests(SynchronousTestCase):
    """
    Tests for L{formatStart}.
    """

    def test_pidAndHost(self) -> None:
        self.assertEqual(
            formatStart("srv", frozenset({"PID", "HOST"}), 31506, "127.0.0.1"),
            "START: srv pid=31506 from=127.0.0.1",
        )

    def test_pidOnly(self) -> None:
        self.assertEqual(
            formatStart("srv", frozenset({"PID", "EXIT"}), 31506, "127.0.0.1"),
            "START: srv pid=31506",
        )

    def test_hostOnly(self) -> None:
        self.assertEqual(
            formatStart("srv", frozenset({"HOST", "DURATION"}), 31506, "::1"),
            "START: srv from=::1",
        )

    def test_noField(self) -> None:
        """
        A C{log_on_success} without PID or HOST still logs a bare START.
        """
        self.assertEqual(
            formatStart("exitonly", frozenset({"EXIT"}), 6070, "127.0.0.1"),
            "START: exitonly",
        )

    def test_emptyFlags(self) -> None:
        self.assertIsNone(formatStart("srv", frozenset(), 31506, "127.0.0.1"))

    def test_inProcess(self) -> None:
        self.assertEqual(
            formatStart("daytime", frozenset({"PID", "HOST"}), 0, "127.0.0.1"),
            "START: daytime pid=0 from=127.0.0.1",
        )

    def test_noAddress(self) -> None:
        self.assertEqual(
            formatStart("tw", frozenset({"PID", "HOST"}), 32586, None),
            "START: tw pid=32586 from=<no address>",
        )

    def test_mappedAddress(self) -> None:
        """
        IPv4 clients of dual-stack sockets are shown as IPv4 addresses.
        """
        self.assertEqual(
            formatStart("daytime", frozenset({"PID", "HOST"}), 0, "::ffff:127.0.0.1"),
            "START: daytime pid=0 from=127.0.0.1",
        )

    def test_hostileAddress(self) -> None:
        """
        An address cannot add a line.
        """
        self.assertEqual(
            formatStart("srv", frozenset({"HOST"}), 1, "1.2.3.4\nFAIL: x"),
            "START: srv from=1.2.3.4?FAIL: x",
        )


class ExitTests(SynchronousTestCase):
    """
    Tests for L{formatExit}.
    """

    def test_all(self) -> None:
        self.assertEqual(
            formatExit("srv", frozenset({"PID", "HOST", "EXIT", "DURATION"}), 0, None, 31506, 0.4),
            "EXIT: srv status=0 pid=31506 duration=0(sec)",
        )

    def test_signal(self) -> None:
        self.assertEqual(
            formatExit("die", frozenset({"PID", "EXIT", "DURATION"}), None, 15, 6070, 0.0),
            "EXIT: die signal=15 pid=6070 duration=0(sec)",
        )

    def test_statusOnly(self) -> None:
        self.assertEqual(
            formatExit("srv", frozenset({"EXIT"}), 3, None, 31506, 7.0),
            "EXIT: srv status=3",
        )

    def test_durationOnly(self) -> None:
        """
        The duration is in whole seconds, rounded down.
        """
        self.assertEqual(
            formatExit("durationonly", frozenset({"DURATION"}), 0, None, 6071, 2.99),
            "EXIT: durationonly duration=2(sec)",
        )

    def test_exitAndPid(self) -> None:
        self.assertEqual(
            formatExit("srv", frozenset({"EXIT", "PID"}), 1, None, 42, 1.0),
            "EXIT: srv status=1 pid=42",
        )

    def test_nothingToLog(self) -> None:
        """
        Without EXIT or DURATION there is no EXIT entry.
        """
        self.assertIsNone(formatExit("srv", frozenset({"PID", "HOST"}), 0, None, 1, 1.0))
        self.assertIsNone(formatExit("srv", frozenset(), 0, None, 1, 1.0))

    def test_neitherStatusNorSignal(self) -> None:
        self.assertRaises(ValueError, formatExit, "srv", frozenset({"EXIT"}), None, None, 1, 1.0)


class FailTests(SynchronousTestCase):
    """
    Tests for L{formatFail}.
    """

    def test_reasons(self) -> None:
        """
        Every reason reads as in xinetd, and txinetd's own C{tls},
        C{execv} and C{proxy}.
        """
        self.assertEqual(
            [r.value for r in FailReason],
            [
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
            ],
        )

    def test_examples(self) -> None:
        flags = frozenset({"HOST"})
        cases = [
            ("inst", FailReason.SERVICE_LIMIT, "FAIL: inst service_limit from=127.0.0.1"),
            ("persrc", FailReason.PER_SOURCE_LIMIT, "FAIL: persrc per_source_limit from=127.0.0.1"),
            ("deny", FailReason.ADDRESS, "FAIL: deny address from=127.0.0.1"),
            ("atime", FailReason.TIME, "FAIL: atime time from=127.0.0.1"),
            ("load", FailReason.LOAD, "FAIL: load load from=127.0.0.1"),
            ("cpstest", FailReason.CPS, "FAIL: cpstest connections per second from=127.0.0.1"),
            ("lw1", FailReason.LIBWRAP, "FAIL: lw1 libwrap from=127.0.0.1"),
            ("f", FailReason.FORK, "FAIL: f fork from=127.0.0.1"),
        ]
        self.assertEqual(
            [formatFail(sid, reason, flags, "127.0.0.1") for sid, reason, _ in cases],
            [line for _, _, line in cases],
        )

    def test_processLimitMapped(self) -> None:
        self.assertEqual(
            formatFail("slow", FailReason.PROCESS_LIMIT, frozenset({"HOST"}), "::ffff:127.0.0.1"),
            "FAIL: slow process_limit from=127.0.0.1",
        )

    def test_withoutHost(self) -> None:
        """
        ATTEMPT and USERID add no field.
        """
        self.assertEqual(
            formatFail("deny", FailReason.ADDRESS, frozenset({"ATTEMPT", "USERID"}), "::1"),
            "FAIL: deny address",
        )

    def test_emptyFlags(self) -> None:
        self.assertIsNone(formatFail("deny", FailReason.ADDRESS, frozenset(), "::1"))


class OtherEntryTests(SynchronousTestCase):
    """
    Tests for L{formatUserid}, L{formatNoid}, L{formatTraffic} and
    L{formatBadIdentLine}.
    """

    def test_userid(self) -> None:
        self.assertEqual(formatUserid("uid-echo", "UNIX : alice"), "USERID: uid-echo UNIX : alice")

    def test_useridInjection(self) -> None:
        self.assertEqual(
            formatUserid("svc", "UNIX : alice\r\n26/11/22@01:17:34: FAIL: x"),
            "USERID: svc UNIX : alice??26/11/22@01:17:34: FAIL: x",
        )

    def test_noid(self) -> None:
        self.assertEqual(
            [
                formatNoid("idonly-echo", "127.0.0.1", NoIdReason.BAD_RESPONSE),
                formatNoid("idonly-noserver", "127.0.0.1", NoIdReason.NO_SERVER),
                formatNoid("i", "::1", NoIdReason.TIMEOUT),
                formatNoid("i", "::ffff:127.0.0.1", NoIdReason.SYSTEM_ERROR),
                formatNoid("i", None, NoIdReason.RECEIVE_ERROR),
            ],
            [
                "NOID: idonly-echo 127.0.0.1 bad response",
                "NOID: idonly-noserver 127.0.0.1 no server",
                "NOID: i ::1 timeout",
                "NOID: i 127.0.0.1 system error",
                "NOID: i <no address> error while receiving response",
            ],
        )

    def test_traffic(self) -> None:
        self.assertEqual(
            formatTraffic("redir", 22, 69), "TRAFFIC: redir in=22(bytes) out=69(bytes)"
        )

    def test_badIdentLine(self) -> None:
        self.assertEqual(
            formatBadIdentLine("::1", "4321,23 : ERROR : NO-USER\x07"),
            "Bad line received from identity server at ::1: 4321,23 : ERROR : NO-USER?",
        )


class SanitiseTests(SynchronousTestCase):
    """
    Tests for L{sanitise} and L{displayAddress}.
    """

    def test_controlCharacters(self) -> None:
        self.assertEqual(
            sanitise("a\x00b\tc\rd\ne\x1bf\x7fg\x85h\x9fi\u2028j\ud800k"),
            "a?b?c?d?e?f?g?h?i?j?k",
        )

    def test_printableKept(self) -> None:
        text = "jürgen ~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|} \u00a0ÿ 漢字"
        self.assertEqual(sanitise(text), text)

    def test_replacedAreUnprintable(self) -> None:
        """
        Every character sanitise replaces is one that C{str.isprintable}
        refuses, so text it accepts is returned as it is without a search.
        """
        replaced = [chr(c) for c in range(0x110000) if sanitise(chr(c)) == "?" and chr(c) != "?"]
        self.assertEqual(len(replaced), 0x20 + 0x21 + 2 + 0x800)
        self.assertEqual([c for c in replaced if c.isprintable()], [])

    @given(st.text())
    def test_neverALineBreak(self, text: str) -> None:
        """
        Whatever goes in, one line of the same length comes out.
        """
        result = sanitise(text)
        self.assertEqual(len(result), len(text))
        self.assertEqual(result.splitlines() or [""], [result])

    def test_displayAddress(self) -> None:
        self.assertEqual(
            [displayAddress(None), displayAddress("::ffff:127.0.0.1"), displayAddress("a\nb")],
            ["<no address>", "127.0.0.1", "a?b"],
        )


class HardLimitTests(SynchronousTestCase):
    """
    Tests for L{defaultHardLimit}.
    """

    def test_clamped(self) -> None:
        self.assertEqual(
            [
                defaultHardLimit(0),
                defaultHardLimit(100_000),
                defaultHardLimit(512_000),
                defaultHardLimit(1_000_000),
                defaultHardLimit(2_048_000),
                defaultHardLimit(10 * 1048576),
            ],
            [5120, 105_120, 517_120, 1_010_000, 2_068_480, 10 * 1048576 + 20480],
        )


class TableTests(SynchronousTestCase):
    """
    Tests for the facility and level tables.
    """

    def test_facilities(self) -> None:
        self.assertEqual(
            {name: int(f) for name, f in SYSLOG_FACILITIES.items()},
            {
                "daemon": 3,
                "auth": 4,
                "authpriv": 10,
                "user": 1,
                "mail": 2,
                "lpr": 6,
                "news": 7,
                "uucp": 8,
                "ftp": 11,
                "local0": 16,
                "local1": 17,
                "local2": 18,
                "local3": 19,
                "local4": 20,
                "local5": 21,
                "local6": 22,
                "local7": 23,
            },
        )

    def test_levels(self) -> None:
        self.assertEqual(
            {name: int(lv) for name, lv in SYSLOG_LEVELS.items()},
            {
                "emerg": 0,
                "alert": 1,
                "crit": 2,
                "err": 3,
                "warning": 4,
                "notice": 5,
                "info": 6,
                "debug": 7,
            },
        )

    def test_programLevels(self) -> None:
        self.assertEqual(
            [(lv.name, int(lv)) for lv in Level],
            [
                ("CRITICAL", 2),
                ("ERROR", 3),
                ("WARNING", 4),
                ("NOTICE", 5),
                ("INFO", 6),
                ("DEBUG", 7),
            ],
        )


class TimestampTests(SynchronousTestCase):
    """
    Tests for L{fileTimestamp} and L{syslogTimestamp}.
    """

    def setUp(self) -> None:
        useTimezone(self, "UTC0")

    def test_file(self) -> None:
        self.assertEqual(
            [
                fileTimestamp(NOV_22),
                fileTimestamp(JAN_5),
                fileTimestamp(utc(2009, 12, 31, 23, 0, 0)),
            ],
            ["26/11/22@01:14:59", "24/1/5@09:03:07", "09/12/31@23:00:00"],
        )

    def test_syslog(self) -> None:
        self.assertEqual(
            [syslogTimestamp(NOV_22), syslogTimestamp(JAN_5)],
            ["Nov 22 01:14:59", "Jan  5 09:03:07"],
        )

    def test_localTime(self) -> None:
        """
        Timestamps are in local time.
        """
        useTimezone(self, "EST5")
        self.assertEqual(
            [fileTimestamp(JAN_5), syslogTimestamp(JAN_5)],
            ["24/1/5@04:03:07", "Jan  5 04:03:07"],
        )


class FileLineTests(SynchronousTestCase):
    """
    Tests for L{fileServiceLine} and L{fileProgramLine}.
    """

    def setUp(self) -> None:
        useTimezone(self, "UTC0")

    def test_service(self) -> None:
        self.assertEqual(
            fileServiceLine(NOV_22, "START: echo-stream pid=28334 from=127.0.0.1"),
            "26/11/22@01:14:59: START: echo-stream pid=28334 from=127.0.0.1\n",
        )

    def test_serviceOneLine(self) -> None:
        self.assertEqual(
            fileServiceLine(NOV_22, "USERID: s a\nb"), "26/11/22@01:14:59: USERID: s a?b\n"
        )

    def test_program(self) -> None:
        self.assertEqual(
            [
                fileProgramLine(
                    NOV_22, "xinetd", 2109, Level.NOTICE, "Started working: 2 available services"
                ),
                fileProgramLine(NOV_22, "xinetd", 2109, Level.WARNING, "Exiting...", "quit"),
            ],
            [
                "26/11/22@01:14:59 xinetd[2109]: NOTICE: Started working: 2 available services\n",
                "26/11/22@01:14:59 xinetd[2109]: WARNING: Exiting...\n",
            ],
        )

    def test_critical(self) -> None:
        """
        CRITICAL lines name the process and the function.
        """
        when = utc(2026, 11, 22, 1, 18, 7)
        self.assertEqual(
            [
                fileProgramLine(
                    when,
                    "xinetd",
                    2109,
                    Level.CRITICAL,
                    "couldn't get configuration. Exiting...",
                    "init_services",
                ),
                fileProgramLine(when, "xinetd", 2109, Level.CRITICAL, "x"),
            ],
            [
                "26/11/22@01:18:07 xinetd[2109]: CRITICAL: 2109 {init_services} "
                "couldn't get configuration. Exiting...\n",
                f"26/11/22@01:18:07 xinetd[2109]: CRITICAL: 2109 {{{DEFAULT_FUNCTION}}} x\n",
            ],
        )


class SyslogMessageTests(SynchronousTestCase):
    """
    Tests for L{syslogServiceMessage} and L{syslogProgramMessage}.
    """

    def setUp(self) -> None:
        useTimezone(self, "UTC0")

    def test_service(self) -> None:
        self.assertEqual(
            syslogServiceMessage(
                utc(2026, 11, 22, 1, 18, 55),
                Facility.LOCAL3,
                SyslogLevel.NOTICE,
                "xinetd",
                3179,
                "START: echo pid=3180 from=127.0.0.1",
            ),
            "<157>Nov 22 01:18:55 xinetd[3179]: START: echo pid=3180 from=127.0.0.1",
        )

    def test_serviceDefaultPriority(self) -> None:
        """
        C{daemon.info} is priority 30.
        """
        self.assertEqual(
            syslogServiceMessage(
                JAN_5, Facility.DAEMON, SyslogLevel.INFO, "xinetd", 7, "FAIL: s time\n"
            ),
            "<30>Jan  5 09:03:07 xinetd[7]: FAIL: s time?",
        )

    def test_program(self) -> None:
        """
        Program messages carry no level word.
        """
        self.assertEqual(
            syslogProgramMessage(
                utc(2026, 11, 22, 1, 18, 54),
                Facility.LOCAL5,
                Level.NOTICE,
                "xinetd",
                3179,
                "Started working: 2 available services",
            ),
            "<173>Nov 22 01:18:54 xinetd[3179]: Started working: 2 available services",
        )

    def test_programCritical(self) -> None:
        self.assertEqual(
            syslogProgramMessage(
                JAN_5,
                Facility.DAEMON,
                Level.CRITICAL,
                "xinetd",
                3179,
                "Adding 127.0.0.1 to the global_no_access list for 5 minutes",
                "process_sensor",
            ),
            "<26>Jan  5 09:03:07 xinetd[3179]: 3179 {process_sensor} "
            "Adding 127.0.0.1 to the global_no_access list for 5 minutes",
        )
