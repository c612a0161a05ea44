# -*- test-case-name: tests.test_startup -*-
"""
Tests for L{txinetd.startup}: start-up problems in one line.
"""

from __future__ import annotations

import io
import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from txinetd.startup import (
    exitWith,
    explainUsageError,
    parseOrExit,
    twistdLogFile,
    twistdProblem,
    unwritable,
)


class Small(usage.Options):
    optParameters = [["limit", None, None, "A number.", int]]
    optFlags = [["stayalive", None, "A flag."]]


class ExplainTests(SynchronousTestCase):
    """
    L{explainUsageError}: Twisted's and getopt's messages as one line with
    what to do.
    """

    def explain(self, *arguments: str) -> str:
        error = self.assertRaises(usage.UsageError, Small().parseOptions, list(arguments))
        return explainUsageError(error, ("limit", "stayalive"))

    def test_messages(self) -> None:
        self.assertEqual(
            [
                self.explain("--limit=x"),
                self.explain("--limit"),
                self.explain("--stayalive=1"),
                self.explain("--bogus"),
                self.explain("-u", "nobody"),
            ],
            [
                "invalid literal for int() with base 10: 'x'",
                "option -limit needs a value; see twistd xinetd --help",
                "option -stayalive takes no value; see twistd xinetd --help",
                "unknown option --bogus; see twistd xinetd --help",
                "unknown option -u: it is an option of twistd; give it before the word xinetd",
            ],
        )

    def test_ownCommand(self) -> None:
        """
        For a command of its own, the options are listed by that command,
        and no option is taken for twistd's.
        """
        error = self.assertRaises(usage.UsageError, Small().parseOptions, ["-u", "x"])
        self.assertEqual(
            explainUsageError(error, helpCommand="txinetd --help"),
            "unknown option -u; see txinetd --help",
        )

    def test_otherMessagesKept(self) -> None:
        self.assertEqual(explainUsageError(usage.UsageError("as it is")), "as it is")

    def test_parseOrExit(self) -> None:
        err = io.StringIO()
        exit = self.assertRaises(SystemExit, parseOrExit, Small(), ["--bogus"], err, "prog")
        self.assertEqual(exit.code, 1)
        self.assertEqual(err.getvalue(), "prog: unknown option --bogus; see prog --help\n")
        options = Small()
        parseOrExit(options, ["--limit", "4"], err)
        self.assertEqual(options["limit"], 4)

    def test_exitWith(self) -> None:
        err = io.StringIO()
        exit = self.assertRaises(SystemExit, exitWith, "what, where, what to do", err)
        self.assertEqual((exit.code, err.getvalue()), (1, "txinetd: what, where, what to do\n"))


class FilesTests(SynchronousTestCase):
    """
    What twistd will write, and whether it can.
    """

    def test_unwritable(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        existing = os.path.join(directory, "existing")
        with open(existing, "w"):
            pass
        self.assertEqual(
            [
                unwritable(os.path.join(directory, "new")),
                unwritable(existing),
                unwritable(os.path.join(directory, "missing", "new")),
            ],
            [None, None, "No such file or directory"],
        )

    def test_unwritableByPermission(self) -> None:
        """
        A directory the user may not write (its access(2) says so; root
        may write anywhere, so the check is given that answer here, and
        tests.integration.test_twistd runs twistd as nobody).
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        realAccess = os.access

        def access(path: str, mode: int) -> bool:
            return path != directory and realAccess(path, mode)

        self.patch(os, "access", access)
        self.assertEqual(unwritable(os.path.join(directory, "x")), "Permission denied")
        self.assertIsNone(unwritable(os.path.join(os.path.dirname(directory), "x")))

    def test_twistdLogFile(self) -> None:
        """
        twistd logs to a file when told to, or when it daemonizes without
        C{--logfile} (C{twistd.log} here); to standard output or syslog
        otherwise.
        """
        here = os.path.abspath("twistd.log")
        cases: list[tuple[dict[str, object], str | None]] = [
            ({"nodaemon": True, "logfile": None}, None),
            ({"nodaemon": True, "logfile": "-"}, None),
            ({"nodaemon": True, "logfile": "x.log"}, os.path.abspath("x.log")),
            ({"nodaemon": False, "logfile": None}, here),
            ({"nodaemon": False, "logfile": None, "syslog": True}, None),
        ]
        self.assertEqual(
            [twistdLogFile(options) for options, _ in cases], [path for _, path in cases]
        )

    def test_noProblem(self) -> None:
        self.assertIsNone(
            twistdProblem({"file": "twistd.tap", "pidfile": "", "nodaemon": True, "logfile": None})
        )
