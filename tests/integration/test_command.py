"""
The real C{txinetd} command, as units and init scripts run the C{xinetd}
binary: Debian's unit's command line forks a daemon, and the command exits
with 0 once every service listens and the pid file holds the daemon's pid;
SIGHUP reconfigures the daemon and SIGTERM stops it and removes the pid
file.  C{-dontfork} stays in the foreground.  Nothing is left in the
working directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from .support import freePorts, pollUntil, reactor, readText, tcpExchange, withTimeout
from .test_twistd import Daemon

Generated = Generator[Deferred[Any], Any, None]
TXINETD = os.path.join(os.path.dirname(sys.executable), "txinetd")
HOST = "127.0.0.1"

#: The arguments of Debian's xinetd.service, after the pid file's.
DEBIAN = ("-stayalive", "-inetd_compat", "-inetd_ipv6")


def echoService(serviceId: str, port: int) -> str:
    return (
        f"service echo\n{{\n\ttype = INTERNAL UNLISTED\n\tid = {serviceId}\n"
        f"\tsocket_type = stream\n\twait = no\n\tport = {port}\n\tbind = {HOST}\n}}\n"
    )


def alive(pid: int) -> bool:
    """
    Whether a process runs (a zombie does not count).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def sessionOf(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


class CommandRun:
    """
    A directory with a configuration, an empty inetd.conf and hosts files,
    where C{txinetd} runs; any daemon left is killed when the test ends.
    """

    def __init__(self, testCase: TestCase) -> None:
        self.testCase = testCase
        self.directory = tempfile.mkdtemp(prefix="txinetd-cmd-")
        testCase.addCleanup(shutil.rmtree, self.directory, True)
        self.config = self.path("xinetd.conf")
        self.pidFile = self.path("xinetd.pid")
        with open(self.path("inetd.conf"), "w"):
            pass
        testCase.addCleanup(self.killLeftover)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def write(self, text: str) -> None:
        with open(self.config, "w") as f:
            f.write(text)

    def arguments(self, *extra: str) -> list[str]:
        """
        The command line: C{extra}, then the configuration and the files of
        the run's directory.
        """
        return [
            *extra,
            "-f",
            self.config,
            "--inetd-conf",
            self.path("inetd.conf"),
            "--hosts-allow",
            self.path("hosts.allow"),
            "--hosts-deny",
            self.path("hosts.deny"),
            "-filelog",
            self.path("program.log"),
        ]

    def run(self, *extra: str) -> Deferred[tuple[bytes, bytes, int]]:
        """
        Run the command to its end, in the run's directory.
        """
        return withTimeout(
            getProcessOutputAndValue(
                TXINETD, self.arguments(*extra), env=dict(os.environ), path=self.directory
            ),
            60,
        )

    def daemonPid(self) -> int:
        with open(self.pidFile) as f:
            return int(f.read())

    def programLog(self) -> str:
        return readText(self.path("program.log"))

    def waitForLog(self, text: str, count: int = 1) -> Deferred[str]:
        return pollUntil(
            lambda: self.programLog() if self.programLog().count(text) >= count else None,
            lambda: f"{count} x {text!r} in the program log: {self.programLog()!r}",
            30,
        )

    def killLeftover(self) -> None:
        try:
            pid = self.daemonPid()
        except (OSError, ValueError):
            return
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


class DaemonTests(TestCase):
    """
    C{txinetd -pidfile P -stayalive -inetd_compat -inetd_ipv6}, Debian's
    C{Type=forking} unit's command line.
    """

    @inlineCallbacks
    def test_forksLikeXinetd(self) -> Generated:
        """
        The command exits with 0 once the service listens: a client
        connecting at once is served, by a daemon in a session of its own
        (twistd forks twice, so it is not the session's leader) whose pid
        is in P.  SIGHUP reconfigures it (a service added since
        listens), SIGTERM stops it and removes P.  No twistd.pid or
        twistd.log appears in the working directory.
        """
        first, second = freePorts(2)
        run = CommandRun(self)
        run.write(echoService("one", first))
        out, err, code = yield run.run("-pidfile", run.pidFile, *DEBIAN)
        self.assertEqual((code, out, err), (0, b"", b""))
        pid = run.daemonPid()
        self.assertTrue(alive(pid))
        self.assertEqual(
            sorted(os.listdir(run.directory)),
            ["inetd.conf", "program.log", "xinetd.conf", "xinetd.pid"],
        )
        self.assertNotEqual(sessionOf(pid), os.getsid(0))
        echoed = yield tcpExchange(HOST, first, b"at once\n")
        self.assertEqual(echoed, b"at once\n")
        log = run.programLog()
        self.assertIn(f"xinetd[{pid}]: NOTICE: Started working: 1 available service\n", log)
        run.write(echoService("one", first) + echoService("two", second))
        os.kill(pid, signal.SIGHUP)
        yield run.waitForLog("Reconfigured: new=1 old=1 dropped=0 (services)")
        echoed = yield tcpExchange(HOST, second, b"added\n")
        self.assertEqual(echoed, b"added\n")
        os.kill(pid, signal.SIGTERM)
        yield pollUntil(
            lambda: True if not alive(pid) else None, lambda: f"process {pid} to end", 30
        )
        self.assertFalse(os.path.exists(run.pidFile))
        self.assertEqual(
            sorted(os.listdir(run.directory)), ["inetd.conf", "program.log", "xinetd.conf"]
        )

    @inlineCallbacks
    def test_badConfiguration(self) -> Generated:
        """
        A configuration that cannot be used: the command exits with 1 and
        says why on standard error; no daemon is left.
        """
        run = CommandRun(self)
        run.write("defaults\n{\n\tinstances = lots\n}\n")
        _, err, code = yield run.run("-pidfile", run.pidFile, *DEBIAN)
        self.assertEqual(code, 1)
        self.assertIn(b"Number of instances is invalid: lots", err)
        self.assertFalse(os.path.exists(run.pidFile))
        self.assertEqual(sorted(os.listdir(run.directory)), ["inetd.conf", "xinetd.conf"])

    @inlineCallbacks
    def test_unknownOption(self) -> Generated:
        run = CommandRun(self)
        run.write(echoService("one", 0))
        _, err, code = yield run.run("-nosuchoption")
        self.assertEqual(code, 1)
        self.assertEqual(err, b"txinetd: unknown option -nosuchoption; see txinetd --help\n")


class ForegroundTests(TestCase):
    """
    C{txinetd -dontfork} stays in the foreground.
    """

    @inlineCallbacks
    def test_dontfork(self) -> Generated:
        """
        The process that was started serves, writes its own pid to the pid
        file, logs to standard output as well, and ends on SIGTERM with exit
        status 0, as xinetd.
        """
        (port,) = freePorts(1)
        run = CommandRun(self)
        run.write(echoService("one", port))
        daemon = Daemon()
        process = reactor.spawnProcess(
            daemon,
            TXINETD,
            [TXINETD, *run.arguments("-dontfork", "-pidfile", run.pidFile)],
            env=dict(os.environ),
            path=run.directory,
        )
        yield withTimeout(daemon.ready, 30)
        self.assertEqual(run.daemonPid(), process.pid)
        echoed = yield tcpExchange(HOST, port, b"foreground\n")
        self.assertEqual(echoed, b"foreground\n")
        self.assertIn(b"Started working: 1 available service", daemon.output)
        process.signalProcess(signal.SIGTERM)
        ended = yield withTimeout(daemon.ended, 30)
        self.assertEqual(
            (getattr(ended, "exitCode", None), getattr(ended, "signal", None)), (0, None)
        )
        self.assertFalse(os.path.exists(run.pidFile))
