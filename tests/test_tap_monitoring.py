# -*- test-case-name: tests.test_tap_monitoring -*-
"""
Tests for the monitoring options of L{txinetd.tap}: C{--metrics},
C{--json-log} (their one-line errors, and what L{makeService} builds with
them) and C{--explain} (its output and exit statuses).
"""

from __future__ import annotations

import io
import os

from twisted.trial.unittest import SynchronousTestCase

from txinetd.daemon.eventlog import EventLog, LogObservers
from txinetd.daemon.metrics import SessionTally
from txinetd.daemon.monitor import MonitorService
from txinetd.tap import Options, makeService

ECHO = (
    "service echo\n{\n type = INTERNAL UNLISTED\n id = echo-stream\n socket_type = stream\n"
    " wait = no\n port = 10007\n bind = 127.0.0.1\n only_from = 127.0.0.0/8\n"
    " no_access = 127.0.0.2\n access_times = 08:00-17:00\n}\n"
    "service chargen\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n"
    " wait = no\n port = 10019\n disable = yes\n}\n"
)


class MonitoringOptionsTests(SynchronousTestCase):
    """
    L{Options} with the monitoring options, output captured.
    """

    def parse(self, text: str, *arguments: str) -> Options:
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        self.path = path
        options = Options()
        options.out, options.err = io.StringIO(), io.StringIO()
        try:
            options.parseOptions(["-f", path, *arguments])
        finally:
            self.out, self.err = options.out.getvalue(), options.err.getvalue()
        return options

    def exits(self, text: str, *arguments: str) -> int:
        exit = self.assertRaises(SystemExit, self.parse, text, *arguments)
        assert isinstance(exit.code, int)
        return exit.code

    def test_badEndpoint(self) -> None:
        """
        A C{--metrics} that is no endpoint description is one line and
        exit status 1, with --check too.
        """
        for extra in ((), ("--check",)):
            self.assertEqual(self.exits(ECHO, "--metrics", "bogus:9101", *extra), 1)
            self.assertEqual(self.out, "")
            self.assertTrue(self.err.startswith("txinetd: --metrics bogus:9101: "), self.err)
            self.assertIn("tcp:9101:interface=127.0.0.1", self.err)
            self.assertEqual(self.err.count("\n"), 1)

    def test_jsonLogUnwritable(self) -> None:
        """
        A C{--json-log} in a directory that does not exist is one line and
        exit status 1.
        """
        self.assertEqual(self.exits(ECHO, "--json-log", "/nonexistent/dir/events.json"), 1)
        self.assertEqual(
            self.err,
            "txinetd: --json-log /nonexistent/dir/events.json: No such file or directory; give "
            "a file in an existing directory that txinetd may write\n",
        )

    def test_makeService(self) -> None:
        """
        With both options, every service's sessions are observed by the
        JSON event log and the tally, the program messages go to the event
        log too, and the endpoint is a child of the tree watching it.
        """
        events = os.path.abspath(self.mktemp())
        options = self.parse(ECHO, "--metrics", "tcp:0:interface=127.0.0.1", "--json-log", events)
        tree = makeService(options)
        observers = tree.shared.observers  # type: ignore[attr-defined]
        self.assertEqual([type(o) for o in observers], [EventLog, SessionTally, MonitorService])
        self.assertIsInstance(tree.programLog, LogObservers)  # type: ignore[attr-defined]
        (monitor,) = [child for child in tree if isinstance(child, MonitorService)]  # type: ignore[attr-defined]
        self.assertIs(monitor.tree, tree)
        self.assertIs(monitor.tally, observers[1])
        self.assertTrue(os.path.exists(events))
        observers[0].close()

    def test_withoutOptions(self) -> None:
        """
        Without them, nothing observes the sessions but the service logs.
        """
        tree = makeService(self.parse(ECHO))
        self.assertEqual(tree.shared.observers, ())  # type: ignore[attr-defined]
        self.assertEqual([c for c in tree if isinstance(c, MonitorService)], [])  # type: ignore[attr-defined]


class ExplainOptionTests(MonitoringOptionsTests):
    """
    C{--explain SERVICE ADDRESS [NAME] [--at HH:MM]}.
    """

    def test_admits(self) -> None:
        """
        Exit status 0 and the rules that let the client in, the service
        found by its id or by its name.
        """
        for wanted in ("echo-stream", "echo"):
            self.assertEqual(self.exits(ECHO, "--explain", wanted, "127.0.0.1", "--at", "09:00"), 0)
            lines = self.out.splitlines()
            self.assertEqual(lines[0], "echo-stream: admitted")
            self.assertIn(f"only_from entry 127.0.0.0/8 ({self.path}:9)", lines[3])
            self.assertEqual(self.err, "")

    def test_refuses(self) -> None:
        """
        Exit status 1 and the rule that refused: the address lists, the
        time (C{--at} before or after the arguments, or C{--at=}), a
        disabled service.
        """
        self.assertEqual(self.exits(ECHO, "--explain", "echo", "127.0.0.2", "--at", "09:00"), 1)
        self.assertEqual(self.out.splitlines()[0], "echo-stream: refused (FAIL address)")
        self.assertIn(f"no_access entry 127.0.0.2 ({self.path}:10)", self.out)
        self.assertEqual(self.exits(ECHO, "--at", "03:00", "--explain", "echo", "127.0.0.1"), 1)
        self.assertEqual(self.out.splitlines()[0], "echo-stream: refused (FAIL time)")
        self.assertEqual(self.exits(ECHO, "--explain", "echo", "127.0.0.1", "--at=03:00"), 1)
        self.assertEqual(self.exits(ECHO, "--explain", "chargen", "127.0.0.1"), 1)
        self.assertEqual(self.out, f"chargen: refused: disabled in {self.path}\n")

    def test_bad(self) -> None:
        """
        Exit status 2 and one line for a bad argument or configuration.
        """
        cases = [
            ((ECHO, "--explain", "echo", "nowhere"), "nowhere is not an IPv4 or IPv6 address"),
            ((ECHO, "--explain", "ftp", "127.0.0.1"), "no service ftp in "),
            ((ECHO, "--explain", "echo", "127.0.0.1", "--at", "25:00"), "--at 25:00: "),
            ((ECHO, "--explain", "echo"), "--explain takes a service, an address"),
            ((ECHO, "--explain", "echo", "127.0.0.1", "--at"), "--at needs a value"),
            (("defaults\n{\n instances = many\n}\n" + ECHO, "--explain", "echo", "127.0.0.1"), ""),
        ]
        for (text, *arguments), message in cases:
            with self.subTest(arguments=arguments):
                self.assertEqual(self.exits(text, *arguments), 2)
                self.assertEqual(self.out, "")
                self.assertIn(message, self.err)
