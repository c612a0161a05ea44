# -*- test-case-name: tests.test_tap -*-
"""
Tests for L{txinetd.tap}: xinetd's command line as twistd options, the
checks made before anything binds, and C{--check}.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import sys
import tempfile

from twisted.logger import LogLevel
from twisted.scripts._twistd_unix import ServerOptions
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, FakeSystem
from txinetd import __version__
from txinetd.core.events import Level
from txinetd.daemon.programlog import ProgramLogObserver
from txinetd.tap import Options, describeService, makeService, programLog

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
        """
        C{-version} prints the version and what is compiled in on standard
        error, as xinetd (C{2.3.15.3 libwrap loadavg}), nothing on standard
        output.
        """
        self.assertEqual(self.exits(ECHO, "-version"), 0)
        self.assertEqual((self.out, self.err), ("", f"txinetd {__version__} libwrap loadavg\n"))

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
        self.assertEqual(self.exits(ECHO, "-filelog", "/tmp/x", "-syslog", "daemon"), 1)
        self.assertEqual(
            self.err,
            "txinetd: -filelog and -syslog cannot be used together; give one of them\n",
        )

    def test_badFacility(self) -> None:
        options, _, err = self.parse(ECHO, "-syslog", "nosuch")
        self.assertEqual(
            (options["syslog"], err), ("daemon", "Bad syslog facility: nosuch; using daemon\n")
        )
        _, _, err = self.parse(ECHO, "-syslog", "locl3")
        self.assertEqual(err, "Bad syslog facility: locl3 (did you mean local3?); using daemon\n")

    def test_optionErrors(self) -> None:
        """
        Every option error is one line on standard error, saying what is
        wrong and what to do, and exit status 1, as xinetd's usage errors;
        nothing on standard output.
        """
        cases = [
            (["-limit", "abc"], "-limit abc: a whole number is needed, 1 or more"),
            (["-limit", "0"], "-limit 0: a whole number is needed, 1 or more"),
            (["--ident-port=70000"], "--ident-port 70000: a whole number is needed, 1 to 65535"),
            (["-limit"], "option -limit needs a value; see twistd xinetd --help"),
            (["-stayalive=yes"], "option -stayalive takes no value; see twistd xinetd --help"),
            (["-foo"], "unknown option -foo; see twistd xinetd --help"),
            (["-x"], "unknown option -x; see twistd xinetd --help"),
            (["--nosuch"], "unknown option --nosuch; see twistd xinetd --help"),
            (
                ["-n"],
                "unknown option -n: it is an option of twistd; give it before the word xinetd",
            ),
            (
                ["--logfile=/tmp/x"],
                "unknown option --logfile: it is an option of twistd; give it before the word "
                "xinetd",
            ),
            (
                ["/etc/xinetd.conf"],
                "unexpected argument /etc/xinetd.conf: txinetd takes only options; the "
                "configuration file is given with -f /etc/xinetd.conf",
            ),
        ]
        for arguments, message in cases:
            with self.subTest(arguments=arguments):
                self.assertEqual(self.exits(ECHO, *arguments), 1)
                self.assertEqual((self.out, self.err), ("", f"txinetd: {message}\n"))

    def test_filelogCannotBeOpened(self) -> None:
        """
        A C{-filelog} that cannot be opened is xinetd's C{msg_init failed}
        line, with the file, the system's error and what to do, and exit
        status 1.
        """
        options, _, _ = self.parse(ECHO, "-filelog", "/nonexistent/dir/x.log")
        exit = self.assertRaises(SystemExit, makeService, options)
        self.assertEqual(exit.code, 1)
        assert isinstance(options.err, io.StringIO)
        self.assertEqual(
            options.err.getvalue(),
            "txinetd: msg_init failed: can't open log file /nonexistent/dir/x.log: No such file "
            "or directory (errno = 2); -filelog needs a file in an existing directory that "
            "txinetd may write\n",
        )

    def test_valuesStartingWithDash(self) -> None:
        """
        A value that starts with a dash is taken as the value it is.
        """
        options, _, _ = self.parse(ECHO, "-filelog", "-odd-name", "-limit", "3")
        self.assertEqual((options["filelog"], options["limit"]), ("-odd-name", 3))

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

    def test_checkRpc(self) -> None:
        """
        C{--check} says that an RPC service's port is chosen when it binds
        and registered with the portmapper.
        """
        rpc = (
            "service mine\n{\n type = RPC UNLISTED\n socket_type = dgram\n wait = yes\n"
            " user = nobody\n server = /bin/true\n rpc_version = 2-4\n rpc_number = 300000\n}\n"
        )
        self.assertEqual(self.exits(rpc, "--check"), 0)
        self.assertEqual(
            self.out.splitlines()[0],
            "service mine: udp dgram wait server on :: port chosen at bind, RPC program 300000 "
            "versions 2-4 registered with the portmapper",
        )

    def test_checkProtocolDisagrees(self) -> None:
        """
        C{--check} fails on a C{socket_type} and a C{protocol} that
        disagree, at the service's line, and names both.
        """
        udp = ECHO.replace(" wait = no\n", " wait = no\n protocol = udp\n")
        self.assertEqual(self.exits(udp, "--check"), 1)
        self.assertRegex(
            self.out,
            r"(?m)^\S+:1: error: Service echo: socket_type stream and protocol udp disagree "
            r"\(udp sockets are dgram\)$",
        )
        self.assertRegex(self.out.splitlines()[-1], r": 0 services, 1 errors, 0 warnings$")

    def test_checkUnknownAttribute(self) -> None:
        """
        C{--check} fails on a misspelt attribute and names the one meant;
        without C{--check} the service loads without the line, as in
        xinetd, and with C{--strict} it does not load.
        """
        typo = ECHO.replace(" bind = 127.0.0.1\n", " bind = 127.0.0.1\n onlyfrom = 127.0.0.2\n")
        self.assertEqual(self.exits(typo, "--check"), 1)
        self.assertRegex(
            self.out,
            r"(?m)^\S+:9: error: bad service attribute: onlyfrom \(did you mean only_from\?\)$",
        )
        self.assertRegex(self.out.splitlines()[-1], r": 1 services, 1 errors, 0 warnings$")
        options, _, _ = self.parse(typo)
        assert options.config is not None
        self.assertEqual([s.id for s in options.config.services], ["echo-stream"])
        self.assertEqual(self.exits(typo, "--strict"), 1)
        self.assertIn("error: no services. Exiting...\n", self.err)
        self.assertIn("Error parsing attribute onlyfrom - DISABLING SERVICE", self.err)
        options, _, _ = self.parse(typo, "-strict", "-stayalive")
        assert options.config is not None
        self.assertEqual(options.config.services, ())

    def test_checkRelativeInclude(self) -> None:
        """
        C{--check} warns about a relative include path, which resolves
        against the current directory; loading does not.
        """
        cwd = os.getcwd()
        self.assertEqual(self.exits(ECHO + "include nowhere.conf\n", "--check"), 1)
        self.assertRegex(
            self.out,
            rf"(?m)^\S+:10: warning: relative path nowhere.conf resolves against the directory "
            rf"txinetd starts in \(here {re.escape(cwd)}; / under systemd\); give an absolute "
            r"path$",
        )
        self.assertIn(
            f"Unable to open included configuration file: nowhere.conf ({cwd}/nowhere.conf): "
            "No such file or directory (errno = 2)\n",
            self.out,
        )
        options, _, _ = self.parse(ECHO + "include nowhere.conf\n")
        assert options.config is not None
        self.assertNotIn("relative path", "\n".join(map(str, options.config.diagnostics)))

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


class TwistdOptionsTests(SynchronousTestCase):
    """
    The xinetd plugin under twistd's own options: what twistd is given that
    keeps txinetd from starting as meant is one line and exit status 1,
    before anything runs.
    """

    def setUp(self) -> None:
        self.err = io.StringIO()
        self.patch(sys, "stderr", self.err)
        self.config = self.mktemp()
        with open(self.config, "w") as f:
            f.write(ECHO)

    def parse(self, *arguments: str) -> ServerOptions:
        options = ServerOptions()
        options.parseOptions(list(arguments))
        return options

    def exits(self, *arguments: str) -> str:
        """
        Parse, expecting exit status 1.

        @return: what was written to standard error.
        """
        exit = self.assertRaises(SystemExit, self.parse, *arguments)
        self.assertEqual(exit.code, 1)
        return self.err.getvalue()

    def test_tapFileGivenToTwistd(self) -> None:
        """
        C{twistd -n -f conf xinetd}: twistd takes C{-f}, for a .tap file it
        then ignores; txinetd says so before it reads any configuration.
        """
        err = self.exits("-n", "--pidfile=", "-f", self.config, "xinetd")
        self.assertEqual(
            err,
            f"txinetd: -f {self.config} was given to twistd, which takes it for a .tap file "
            f"and ignores it; txinetd's options go after xinetd: twistd ... xinetd -f "
            f"{self.config}\n",
        )

    def test_pidFileUnwritable(self) -> None:
        err = self.exits("-n", "--pidfile=/nonexistent/dir/t.pid", "xinetd", "-f", self.config)
        self.assertEqual(
            err,
            "txinetd: twistd cannot write its pid file /nonexistent/dir/t.pid: No such file or "
            "directory; give twistd --pidfile= (no pid file) or --pidfile=PATH before xinetd\n",
        )

    def test_logFileUnwritable(self) -> None:
        err = self.exits("--pidfile=", "--logfile=/nonexistent/t.log", "xinetd", "-f", self.config)
        self.assertEqual(
            err,
            "txinetd: twistd cannot write its log file /nonexistent/t.log: No such file or "
            "directory; give twistd --logfile=PATH before xinetd, or -n to log to standard "
            "output\n",
        )

    def test_checkWritesNothing(self) -> None:
        """
        C{--check} runs no daemon: twistd's files do not matter.
        """
        exit = self.assertRaises(
            SystemExit,
            self.parse,
            "--pidfile=/nonexistent/dir/t.pid",
            "xinetd",
            "-f",
            self.config,
            "--check",
        )
        self.assertEqual(exit.code, 0)

    def test_dontfork(self) -> None:
        """
        C{-dontfork} keeps twistd in the foreground, as xinetd's does.
        """
        options = self.parse("--pidfile=", "xinetd", "-f", self.config, "-dontfork")
        self.assertTrue(options["nodaemon"])
        self.assertFalse(self.parse("--pidfile=", "xinetd", "-f", self.config)["nodaemon"])


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

    def test_rpc(self) -> None:
        """
        An RPC service's port is chosen when it binds, and its program and
        versions are registered with the portmapper (a listed program by
        its name in /etc/rpc).
        """
        files = ConfigFiles(self)
        files.write(
            "xinetd.conf",
            "service rstatd\n{\n type = RPC\n socket_type = dgram\n protocol = udp\n"
            " wait = yes\n user = nobody\n server = /bin/cat\n rpc_version = 2-4\n}\n"
            "service mine\n{\n type = RPC UNLISTED\n socket_type = stream\n wait = no\n"
            " user = nobody\n server = /bin/cat\n rpc_version = 1\n rpc_number = 300000\n"
            " bind = 127.0.0.1\n}\n",
        )
        config = files.load(system=FakeSystem())
        self.assertEqual(
            [describeService(service) for service in config.services],
            [
                "rstatd: udp dgram wait server on :: port chosen at bind, RPC program rstatd "
                "versions 2-4 registered with the portmapper",
                "mine: tcp stream nowait server on 127.0.0.1 port chosen at bind, RPC program "
                "300000 version 1 registered with the portmapper",
            ],
        )
