# -*- test-case-name: tests.test_tap -*-
"""
Tests for L{txinetd.tap}: xinetd's command line as twistd options, the
checks made before anything binds, and C{--check}.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import sys
import tempfile

from twisted.logger import LogLevel
from twisted.python import usage
from twisted.scripts._twistd_unix import ServerOptions
from twisted.trial.unittest import SynchronousTestCase

from txinetd import __version__
from txinetd.logformat import Level
from txinetd.observers import ProgramLogObserver
from txinetd.tap import Options, describeService, programLog

ECHO = (
    "service echo\n{\n type = INTERNAL UNLISTED\n id = echo-stream\n socket_type = stream\n"
    " wait = no\n port = 10007\n bind = 127.0.0.1\n}\n"
)
DISABLED = ECHO.replace(" port = 10007\n", " port = 10007\n disable = yes\n")
BROKEN = "defaults\n{\n instances = many\n}\n" + ECHO


class OptionsTests(SynchronousTestCase):
    """
    L{Options}, parsed as twistd would, with its output captured.
    """

    def configFile(self, text: str) -> str:
        path = str(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        return path

    def parse(self, text: str, *arguments: str) -> tuple[Options, str, str]:
        """
        Parse C{arguments} with C{-f} naming a file holding C{text}.

        @return: the options, and what they wrote to stdout and stderr.
        """
        options = Options()
        options.out, options.err = io.StringIO(), io.StringIO()
        try:
            options.parseOptions(["-f", self.configFile(text), *arguments])
        finally:
            self.out, self.err = options.out.getvalue(), options.err.getvalue()
        return options, self.out, self.err

    def exits(self, text: str, *arguments: str) -> int:
        """
        Parse, expecting an exit.

        @return: its status.
        """
        exit = self.assertRaises(SystemExit, self.parse, text, *arguments)
        assert isinstance(exit.code, int)
        return exit.code

    def test_singleDash(self) -> None:
        """
        xinetd's single-dash long options are read as double-dash ones;
        short options and unknown names are left alone.
        """
        self.assertEqual(
            [
                Options.doubleDash(option)
                for option in ("-filelog", "-limit=3", "-f", "-d", "-unknown", "--stayalive", "x")
            ],
            ["--filelog", "--limit=3", "-f", "-d", "-unknown", "--stayalive", "x"],
        )

    def test_version(self) -> None:
        self.assertEqual(self.exits(ECHO, "-version"), 0)
        self.assertEqual(self.out, f"txinetd {__version__}\n")

    def test_services(self) -> None:
        """
        A good configuration is loaded and kept for L{makeService}.
        """
        options, out, err = self.parse(ECHO, "-limit", "5", "-stayalive")
        assert options.config is not None
        self.assertEqual(
            ([s.id for s in options.config.services], options["limit"], options["stayalive"]),
            (["echo-stream"], 5, True),
        )
        self.assertEqual((out, err), ("", ""))

    def test_noServices(self) -> None:
        """
        Without a service txinetd exits with 1, unless C{-stayalive} or
        C{-dontfork} (which implies it).
        """
        self.assertEqual(self.exits(DISABLED), 1)
        self.assertIn("error: no services. Exiting...\n", self.err)
        for option in ("-stayalive", "-dontfork"):
            options, _, _ = self.parse(DISABLED, option)
            self.assertTrue(options["stayalive"])

    def test_foregroundStaysAlive(self) -> None:
        """
        Under C{twistd -n} (in the foreground, as xinetd's C{-dontfork})
        txinetd stays alive without services; without C{-n} it exits.
        """
        err = io.StringIO()
        self.patch(sys, "stderr", err)
        path = self.configFile(DISABLED)
        foreground = ServerOptions()
        foreground.parseOptions(["-n", "--pidfile=", "xinetd", "-f", path])
        options = foreground.subOptions
        self.assertEqual((options.foreground, options["stayalive"]), (True, True))
        self.assertEqual(err.getvalue(), "")
        background = ServerOptions()
        exit = self.assertRaises(
            SystemExit, background.parseOptions, ["--pidfile=", "xinetd", "-f", path]
        )
        self.assertEqual(exit.code, 1)
        self.assertIn("error: no services. Exiting...\n", err.getvalue())

    def test_fatalConfiguration(self) -> None:
        """
        A configuration that cannot be used is reported with its file and
        line, and txinetd exits with 1.
        """
        self.assertEqual(self.exits(BROKEN), 1)
        self.assertRegex(self.err, r"(?m)^\S+:3: fatal: A fatal error was encountered")

    def test_shutdownprocs(self) -> None:
        _, _, err = self.parse(ECHO, "-shutdownprocs", "5")
        self.assertEqual(err, "The shutdownprocs option has been deprecated.\n")

    def test_filelogAndSyslog(self) -> None:
        error = self.assertRaises(
            usage.UsageError, self.parse, ECHO, "-filelog", "/tmp/x", "-syslog", "daemon"
        )
        self.assertEqual(str(error), "-filelog and -syslog cannot be used together")

    def test_badFacility(self) -> None:
        options, _, err = self.parse(ECHO, "-syslog", "nosuch")
        self.assertEqual(
            (options["syslog"], err), ("daemon", "Bad syslog facility: nosuch; using daemon\n")
        )

    def test_limitPositive(self) -> None:
        self.assertRaises(usage.UsageError, self.parse, ECHO, "-limit", "0")

    def test_check(self) -> None:
        """
        C{--check} lists the services and a summary and exits with 0 when
        there is no error, with 1 when there is one.
        """
        self.assertEqual(self.exits(ECHO, "--check"), 0)
        lines = self.out.splitlines()
        self.assertEqual(
            lines[0], "service echo-stream: tcp stream nowait internal on 127.0.0.1 port 10007"
        )
        self.assertRegex(lines[1], r": 1 services, 0 errors, 0 warnings$")
        self.assertEqual(self.exits(ECHO + ECHO.replace("echo-stream", "echo-2"), "--check"), 1)
        self.assertRegex(self.out.splitlines()[-1], r": 1 services, 1 errors, 0 warnings$")

    def test_checkWithoutServices(self) -> None:
        """
        C{--check} of a configuration without errors exits with 0 even if
        it enables no service, and says so.
        """
        self.assertEqual(self.exits(DISABLED, "--check"), 0)
        lines = self.out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r": no service is enabled$")
        self.assertRegex(lines[1], r": 0 services, 0 errors, 0 warnings$")
        self.assertEqual(self.exits("service echo\n{\n wait = maybe\n}\n", "--check"), 1)

    def test_programLog(self) -> None:
        """
        The program log goes to C{-filelog} or C{-syslog}, or nowhere of
        txinetd's own.
        """
        options, _, _ = self.parse(ECHO)
        self.assertIsNone(programLog(options))
        directory = tempfile.mkdtemp(prefix="txinetd-tap-")
        self.addCleanup(shutil.rmtree, directory)
        path, socketPath = os.path.join(directory, "program.log"), os.path.join(directory, "log")
        options, _, _ = self.parse(ECHO, "-filelog", path)
        emit(programLog(options), "to the file")
        with open(path) as f:
            self.assertIn("to the file", f.read())
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(receiver.close)
        receiver.bind(socketPath)
        options, _, _ = self.parse(ECHO, "-syslog", "local3", "--syslog-socket", socketPath)
        emit(programLog(options), "to syslog")
        message = receiver.recv(4096)
        # local3 (19) * 8 + notice (5), the level of the message
        self.assertTrue(message.startswith(b"<157>"), message)
        self.assertIn(b"to syslog", message)


def emit(observer: ProgramLogObserver | None, text: str) -> None:
    """
    Give C{observer} a program message.
    """
    assert observer is not None
    observer(
        {
            "log_namespace": "txinetd",
            "log_level": LogLevel.info,
            "log_format": "{xinetd_text}",
            "log_time": 0.0,
            "xinetd_level": Level.NOTICE,
            "xinetd_text": text,
        }
    )


class DescribeServiceTests(SynchronousTestCase):
    """
    L{describeService}: the one line C{--check} gives a service.
    """

    def test_kinds(self) -> None:
        options = Options()
        options.out, options.err = io.StringIO(), io.StringIO()
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(
                ECHO + "service cat\n{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
                " port = 10008\n user = nobody\n server = /bin/cat\n}\n"
                "service relay\n{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
                " port = 10009\n user = nobody\n redirect = 127.0.0.1 10007\n}\n"
                "service echo\n{\n type = INTERNAL UNLISTED\n id = echo-unix\n"
                " socket_type = stream\n wait = no\n listen = unix:/run/echo.sock\n}\n"
            )
        options.parseOptions(["-f", path])
        assert options.config is not None
        self.assertEqual(
            [describeService(service) for service in options.config.services],
            [
                "echo-stream: tcp stream nowait internal on 127.0.0.1 port 10007",
                "cat: tcp stream nowait server on :: port 10008",
                "relay: tcp stream nowait redirect on :: port 10009",
                "echo-unix: tcp stream nowait internal on unix:/run/echo.sock",
            ],
        )
