# -*- test-case-name: tests.test_command -*-
"""
Tests for L{txinetd.command}: xinetd's command line turned into twistd's,
and the daemon's twistd log.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from typing import Any

from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txinetd.command import PLUGIN, ForeignErrors, launchArguments
from txinetd.core.events import Level
from txinetd.daemon.logtargets import FileLogTarget
from txinetd.daemon.programlog import ProgramLogObserver

DEBIAN = ["-pidfile", "/run/xinetd.pid", "-stayalive", "-inetd_compat", "-inetd_ipv6"]


class LaunchArgumentsTests(SynchronousTestCase):
    """
    L{launchArguments}: twistd without its pid file and log file, with
    xinetd's umask, forking unless told not to.
    """

    def test_debianUnit(self) -> None:
        """
        Debian's unit's arguments fork, with the program log in syslog's
        daemon facility (xinetd's default); the plugin gets them as they
        are.
        """
        launch = launchArguments(DEBIAN, umask=0o022)
        self.assertFalse(launch.foreground)
        self.assertEqual(
            launch.twistd, ("--pidfile=", "--umask=0022", PLUGIN, "-syslog", "daemon", *DEBIAN)
        )

    def test_umask(self) -> None:
        """
        The daemon's umask is the starting one with 022 added, as xinetd's
        (twistd's own default for a daemon is 077).
        """
        self.assertIn("--umask=0027", launchArguments([], umask=0o007).twistd)
        self.assertIn("--umask=0077", launchArguments([], umask=0o077).twistd)

    def test_foreground(self) -> None:
        """
        C{-dontfork} and C{-d} keep txinetd in the foreground; its log goes
        to standard output then, so no syslog facility is added.
        """
        for option in ("-dontfork", "--dontfork", "-d", "--debug"):
            launch = launchArguments([option, "-f", "x.conf"], umask=0o022)
            self.assertTrue(launch.foreground)
            self.assertEqual(
                launch.twistd,
                ("--pidfile=", "--umask=0022", "--nodaemon", PLUGIN, option, "-f", "x.conf"),
            )

    def test_programLogNamed(self) -> None:
        for given in (["-filelog", "/var/log/x"], ["-syslog", "local3"], ["--filelog=/x"]):
            launch = launchArguments(given, umask=0o022)
            self.assertEqual(launch.twistd, ("--pidfile=", "--umask=0022", PLUGIN, *given))


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class ForeignErrorsTests(SynchronousTestCase):
    """
    L{ForeignErrors} passes on Twisted's warnings and errors, and nothing
    the program log gets by itself.
    """

    def setUp(self) -> None:
        self.recorder = Recorder()
        self.observer = ForeignErrors(self.recorder)  # type: ignore[arg-type]

    def event(self, level: LogLevel, namespace: str, **more: Any) -> dict[str, Any]:
        return {
            "log_level": level,
            "log_namespace": namespace,
            "log_format": "it {what}",
            "what": "broke",
            "log_time": 7.0,
            **more,
        }

    def test_passed(self) -> None:
        failure = Failure(ValueError("bad value"))
        self.observer(self.event(LogLevel.critical, "twisted.internet.defer", log_failure=failure))
        self.observer(self.event(LogLevel.warn, "twisted.python.threadpool"))
        self.assertEqual(
            [
                (event["xinetd_level"], event["text"], event["log_time"])
                for event in self.recorder.events
            ],
            [
                (Level.ERROR, "it broke: ValueError: bad value", 7.0),
                (Level.WARNING, "it broke", 7.0),
            ],
        )

    def test_dropped(self) -> None:
        """
        Information, and txinetd's own messages, are not written again.
        """
        self.observer(self.event(LogLevel.info, "twisted.application.app"))
        self.observer(self.event(LogLevel.error, "txinetd"))
        self.observer(self.event(LogLevel.error, "txinetd.service"))
        self.observer(self.event(LogLevel.error, "other", xinetd_level=Level.ERROR))
        self.assertEqual(self.recorder.events, [])

    def test_written(self) -> None:
        """
        What it passes on is written as a program-log line.
        """
        path = self.mktemp()
        target = FileLogTarget(path)
        self.addCleanup(target.close)
        observer = ForeignErrors(ProgramLogObserver(target))
        observer(self.event(LogLevel.error, "twisted.internet.defer"))
        with open(path) as f:
            self.assertRegex(f.read(), r"^\S+ xinetd\[\d+\]: ERROR: it broke\n$")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORKING_UNIT = os.path.join(ROOT, "etc", "xinetd.service")
INSTALLED = "/opt/txinetd/bin/txinetd"
TXINETD = os.path.join(os.path.dirname(sys.executable), "txinetd")


class ForkingUnitTests(SynchronousTestCase):
    """
    C{etc/xinetd.service}: Debian's unit for xinetd, with txinetd's path.
    """

    def setUp(self) -> None:
        with open(FORKING_UNIT, encoding="utf-8") as f:
            self.text = f.read()
        # ExecReload= is given twice: not strict.
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(self.text)
        self.service = parser["Service"]

    def test_debiansUnit(self) -> None:
        self.assertEqual(
            (self.service["Type"], self.service["PIDFile"], self.service["ExecStart"].split()),
            ("forking", "/run/xinetd.pid", [INSTALLED, *DEBIAN]),
        )

    def test_reloadChecksFirst(self) -> None:
        """
        C{systemctl reload} runs C{--check} with ExecStart's command line,
        then sends SIGHUP; the check of a configuration with errors exits
        with 1, so the reload fails before anything is signalled.
        """
        check, signal = re.findall(r"(?m)^ExecReload=(.*)$", self.text)
        self.assertEqual(signal, "/bin/kill -HUP $MAINPID")
        self.assertEqual(check.split(), [*self.service["ExecStart"].split(), "--check"])
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        bad = os.path.join(directory, "bad.conf")
        with open(bad, "w") as f:
            f.write("service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = nope\n}\n")
        inetdConf = os.path.join(directory, "inetd.conf")
        open(inetdConf, "w").close()
        results = [
            subprocess.run(
                [TXINETD, *check.split()[1:], "-f", config, "--inetd-conf", inetdConf],
                capture_output=True,
                cwd="/",
                timeout=60,
                check=False,
            )
            for config in (bad, os.path.join(ROOT, "etc", "demo.conf"))
        ]
        self.assertEqual([result.returncode for result in results], [1, 0])
        self.assertIn(b"bad.conf:5: error: Bad value for wait: nope", results[0].stdout)
        self.assertIn(b"10 services, 0 errors, 0 warnings", results[1].stdout)

    def test_inReadme(self) -> None:
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            self.assertIn(self.text, f.read())

    def test_commandLineAccepted(self) -> None:
        """
        The command takes the unit's command line (checked on the demo
        configuration with C{--check}, which binds and forks nothing).
        """
        words = self.service["ExecStart"].split()
        result = subprocess.run(
            [TXINETD, *words[1:], "-f", "etc/demo.conf", "--check"],
            capture_output=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertIn(b"etc/demo.conf: 10 services, 0 errors, 0 warnings", result.stdout)

    def test_systemdAnalyzeVerify(self) -> None:
        command = shutil.which("systemd-analyze")
        if command is None:
            raise SkipTest("systemd-analyze is not installed (Debian package systemd)")
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        path = os.path.join(directory, "xinetd.service")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.text.replace(INSTALLED, TXINETD))
        result = subprocess.run(
            [command, "verify", "--man=no", path], capture_output=True, timeout=60, check=False
        )
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, b""))
