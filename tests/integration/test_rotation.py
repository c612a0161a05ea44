"""
Log rotation as an administrator runs it: the real logrotate, with the
snippet txinetd ships (etc/logrotate.d/txinetd), against a real twistd that
has daemonized (umask 077), while clients keep making log entries.  No line
is lost, and every reopened file is 0644.

Needs the Debian package logrotate (the CI script installs it); skipped
without it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from .support import freePorts, pollUntil, tcpExchange, withTimeout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
SNIPPET = os.path.join(ROOT, "etc", "logrotate.d", "txinetd")
HOST = "127.0.0.1"
#: Connections before the rotation, during it, and after logrotate is done.
BEFORE, DURING, AFTER = 200, 300, 30
#: Clients connecting at once.
CONCURRENT = 6

Generated = Generator[Deferred[Any], Any, None]

CONFIG = """\
defaults
{{
	log_type	= FILE {directory}/service.log
	log_on_success	= PID HOST EXIT
	log_on_failure	= HOST
}}

service daytime
{{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= {port}
	bind		= 127.0.0.1
	cps		= 0 1
}}
"""


def lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


class LogrotateTests(TestCase):
    """
    logrotate moves the program log (C{-filelog}), twistd's log and a
    service's FILE log of a daemonized twistd, then signals it as the
    shipped snippet does.
    """

    def setUp(self) -> None:
        command = shutil.which("logrotate") or (
            "/usr/sbin/logrotate" if os.path.exists("/usr/sbin/logrotate") else None
        )
        if command is None:
            raise SkipTest("logrotate is not installed (Debian package logrotate)")
        self.logrotate = command
        self.directory = tempfile.mkdtemp(prefix="txinetd-rot-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        (self.port,) = freePorts(1)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def rotationConfig(self) -> str:
        """
        The shipped snippet, for this test's files and pid file.
        """
        with open(SNIPPET) as f:
            text = f.read()
        text = text.replace(
            "/var/log/txinetd.log /var/log/txinetd/*.log", f"{self.directory}/*.log"
        )
        text, count = re.subn(
            r"(?m)^\t\tsystemctl kill .*$", f"\t\tkill -USR1 $(cat {self.path('twistd.pid')})", text
        )
        self.assertEqual(count, 1, "the snippet's signal line")
        path = self.path("logrotate.conf")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    @inlineCallbacks
    def start(self) -> Generated:
        """
        Start twistd as a daemon (no C{-n}) and wait until it serves.
        """
        with open(self.path("xinetd.conf"), "w") as f:
            f.write(CONFIG.format(directory=self.directory, port=self.port))
        arguments = [
            f"--pidfile={self.path('twistd.pid')}",
            f"--logfile={self.path('twistd.log')}",
            "xinetd",
            "-f",
            self.path("xinetd.conf"),
            "-filelog",
            self.path("program.log"),
            "--hosts-allow",
            self.path("allow"),
            "--hosts-deny",
            self.path("deny"),
        ]
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(TWISTD, arguments, env=dict(os.environ), path=self.directory),
            60,
        )
        self.assertEqual((code, err), (0, b""), out)
        pid = yield pollUntil(
            lambda: (
                int(lines(self.path("twistd.pid"))[0]) if lines(self.path("twistd.pid")) else None
            ),
            lambda: "twistd's pid file",
            30,
        )
        self.addCleanup(self.stop, pid)
        yield pollUntil(
            lambda: (
                any("Started working" in line for line in lines(self.path("program.log"))) or None
            ),
            lambda: f"Started working in {lines(self.path('program.log'))}",
            30,
        )

    def stop(self, pid: int) -> Deferred[bool]:
        os.kill(pid, signal.SIGTERM)
        return pollUntil(
            lambda: not os.path.exists(f"/proc/{pid}") or None, lambda: f"twistd {pid} gone", 30
        )

    @inlineCallbacks
    def connect(self, count: int) -> Generated:
        """
        Make C{count} daytime connections, L{CONCURRENT} at a time, each
        answered.
        """
        for first in range(0, count, CONCURRENT):
            batch = [tcpExchange(HOST, self.port) for _ in range(min(CONCURRENT, count - first))]
            answers = yield DeferredList(batch, fireOnOneErrback=True, consumeErrors=True)
            for _, answer in answers:
                self.assertTrue(answer.endswith(b"\r\n"), answer)

    def entries(self, kind: str) -> list[str]:
        """
        The service log's C{kind} entries, rotated file first.
        """
        return [
            line
            for name in ("service.log.1", "service.log")
            for line in lines(self.path(name))
            if f": {kind}: daytime " in line
        ]

    @inlineCallbacks
    def test_noLineLost(self) -> Generated:
        yield self.start()
        yield self.connect(BEFORE)
        rotating = getProcessOutputAndValue(
            self.logrotate,
            ["-f", "-s", self.path("logrotate.state"), self.rotationConfig()],
            env=dict(os.environ),
        )
        yield self.connect(DURING)
        out, err, code = yield withTimeout(rotating, 60)
        self.assertEqual((code, err), (0, b""), out)
        yield self.connect(AFTER)
        total = BEFORE + DURING + AFTER
        yield pollUntil(
            lambda: len(self.entries("EXIT")) == total or None,
            lambda: f"{total} EXIT lines, not {len(self.entries('EXIT'))}",
            30,
        )
        self.assertEqual((len(self.entries("START")), len(self.entries("EXIT"))), (total, total))
        # The rotation split the entries: some before the move, the last
        # connections' in the new file.
        rotated, current = lines(self.path("service.log.1")), lines(self.path("service.log"))
        self.assertGreaterEqual(len(rotated), 2 * BEFORE)
        self.assertGreaterEqual(len(current), 2 * AFTER)
        # The program log and twistd's log were reopened too: the new files
        # begin with the reconfiguration the signal asked for.
        for name in ("program.log", "twistd.log"):
            self.assertTrue(
                any("Started working" in line for line in lines(self.path(name + ".1"))), name
            )
            self.assertIn("Starting reconfiguration", lines(self.path(name))[0], name)
        # Made by txinetd under twistd's umask of 077, and yet 0644.
        for name in ("program.log", "twistd.log", "service.log"):
            mode = stat.S_IMODE(os.stat(self.path(name)).st_mode)
            self.assertEqual(oct(mode), oct(0o644), name)
