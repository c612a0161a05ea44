# -*- test-case-name: tests.test_levels -*-
"""
The program-log level of each configuration message that xinetd writes too
is xinetd's.  The expected levels are read from xinetd 2.3.15's sources
(the C{msg}/C{parsemsg} calls of parse.c, parsers.c, confparse.c,
parsesup.c, includedir.c) and xinetd-reference.md, not from txinetd.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, captureMessages
from txinetd.core.diagnostics import Diagnostic, Location, Severity
from txinetd.core.events import Level
from txinetd.daemon.programlog import reportDiagnostics

#: An internal echo service, with room for more lines.
ECHO = "service echo\n{{\n type = INTERNAL{type}\n socket_type = stream\n wait = no\n{more}}}\n"

#: (xinetd's message, its level in xinetd, the configuration that makes it).
CASES = [
    ("Bad service type: BOGUS", Level.WARNING, ECHO.format(type=" BOGUS", more="")),
    ("Bad service flag: BOGUS", Level.WARNING, ECHO.format(type="", more=" flags = BOGUS\n")),
    (
        "Bad log_on_success flag: BOGUS",
        Level.WARNING,
        ECHO.format(type="", more=" log_on_success = BOGUS\n"),
    ),
    (
        "Bad log_on_failure flag: BOGUS",
        Level.WARNING,
        ECHO.format(type="", more=" log_on_failure = BOGUS\n"),
    ),
    (
        "attribute flags expects at least 1 value and none was given.",
        Level.WARNING,
        ECHO.format(type="", more=" flags =\n"),
    ),
    (
        "Error parsing attribute flags - DISABLING SERVICE",
        Level.ERROR,
        ECHO.format(type="", more=" flags = BOGUS\n"),
    ),
    (
        "failed to parse nosuchhost",
        Level.ERROR,
        ECHO.format(type="", more=" only_from = nosuchhost\n"),
    ),
    (
        "Internal services cannot be intercepted: echo ",
        Level.ERROR,
        ECHO.format(type="", more=" flags = INTERCEPT\n"),
    ),
    (
        "Service echo will use IPv6 or fallback to IPv4",
        Level.INFO,
        ECHO.format(type="", more=" flags = IPv4 IPv6\n"),
    ),
    (
        "attribute: port should not be in default section",
        Level.WARNING,
        "defaults\n{\n port = 7\n}\n" + ECHO.format(type="", more=""),
    ),
    (
        "Bad socket type: bogus",
        Level.ERROR,
        ECHO.format(type="", more="").replace("stream", "bogus"),
    ),
    (
        "Service echo: attribute already set: wait",
        Level.WARNING,
        ECHO.format(type="", more=" wait = no\n"),
    ),
    (
        "attribute port expects 1 values and 2 values were specified",
        Level.WARNING,
        ECHO.format(type="", more=" port = 1 2\n"),
    ),
]


class ProgramLogLevelTests(SynchronousTestCase):
    """
    Each message reaches the program log at xinetd's level.
    """

    def test_xinetdLevels(self) -> None:
        files = ConfigFiles(self)
        for message, level, text in CASES:
            with self.subTest(message=message):
                files.write("xinetd.conf", text)
                config = files.load()
                messages = captureMessages(self)
                reportDiagnostics(config)
                found = [(lvl, m.split(" [file=")[0]) for lvl, m in messages]
                self.assertIn((level, message), found)
                del messages[:]

    def test_unknownAttribute(self) -> None:
        """
        An unknown attribute is an error, with the closest known name:
        xinetd writes C{bad service attribute} at WARNING, txinetd at
        ERROR (docs/differences.md), so that an alert on errors sees
        the typo that drops an C{only_from}.
        """
        files = ConfigFiles(self)
        files.write("xinetd.conf", ECHO.format(type="", more=" onlyfrom = 127.0.0.1\n"))
        messages = captureMessages(self)
        reportDiagnostics(files.load())
        found = [(lvl, m.split(" [file=")[0]) for lvl, m in messages]
        self.assertIn(
            (Level.ERROR, "bad service attribute: onlyfrom (did you mean only_from?)"), found
        )

    def test_includedirSkip(self) -> None:
        """
        A file that includedir skips is named at INFO.
        """
        files = ConfigFiles(self)
        files.write("d/finger.xinetd", "")
        files.write("xinetd.conf", "includedir d\n")
        messages = captureMessages(self)
        reportDiagnostics(files.load())
        self.assertEqual(
            messages,
            [
                (
                    Level.INFO,
                    "d/finger.xinetd is skipped: includedir reads no file whose name contains "
                    "a dot, as xinetd [file=xinetd.conf] [line=1]",
                )
            ],
        )

    def test_bySeverity(self) -> None:
        """
        Other messages take the level of their severity; a fatal one is an
        ERROR, as xinetd's messages before it exits.
        """
        self.assertEqual(
            [Diagnostic(severity, "x", Location("f", 1)).level for severity in Severity],
            [Level.ERROR, Level.ERROR, Level.WARNING, Level.INFO],
        )
