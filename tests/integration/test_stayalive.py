"""
Staying alive without services, as xinetd -dontfork does: the distribution
layout of etc/ (every service disabled) under the real C{twistd -n} keeps
running, tells systemd it is ready with 0 services, and serves once a file
is enabled and txinetd is reconfigured.  What still ends start-up with
status 1: an unreadable main file, a bad defaults section, and no service
without the foreground or C{-stayalive}.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase

from tests.net.test_systemd import NotifyReceiver

from .support import pollUntil, reactor, readText, tcpExchange, withTimeout, writeConfig
from .test_twistd import ROOT, TWISTD, Daemon, twistd

Generated = Generator[Deferred[Any], Any, None]
ECHO_PORT = 7


def canListenOn(port: int) -> bool:
    """
    Whether this process may bind C{port} on every IPv4 address.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


class DistributionLayoutTests(TestCase):
    """
    etc/xinetd.conf and etc/xinetd.d as shipped, in the foreground.
    """

    def setUp(self) -> None:
        if not canListenOn(ECHO_PORT):
            raise SkipTest(f"port {ECHO_PORT} (echo) cannot be bound here (needs root)")
        self.directory = tempfile.mkdtemp(prefix="txinetd-dist-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        etc = os.path.join(self.directory, "etc")
        os.mkdir(etc)
        # As installed, with /etc/xinetd.d where the test put it.
        with open(os.path.join(ROOT, "etc", "xinetd.conf"), encoding="utf-8") as f:
            shipped = f.read()
        self.assertIn("\nincludedir /etc/xinetd.d\n", shipped)
        with open(os.path.join(etc, "xinetd.conf"), "w", encoding="utf-8") as f:
            f.write(
                shipped.replace("\nincludedir /etc/xinetd.d\n", f"\nincludedir {etc}/xinetd.d\n")
            )
        shutil.copytree(os.path.join(ROOT, "etc", "xinetd.d"), os.path.join(etc, "xinetd.d"))
        self.receiver = NotifyReceiver(self)
        self.daemon = Daemon()

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def programLog(self) -> str:
        return readText(self.path("program.log"))

    def start(self) -> Deferred[None]:
        arguments = [TWISTD, "-n", "--pidfile=", "xinetd", "-f", "etc/xinetd.conf"]
        arguments += ["--hosts-allow", self.path("hosts.allow")]
        arguments += ["--hosts-deny", self.path("hosts.deny")]
        arguments += ["-filelog", self.path("program.log")]
        # The shipped defaults log to syslog: to the test's socket, not the host's.
        arguments += ["--syslog-socket", self.path("syslog")]
        environ = {**os.environ, "NOTIFY_SOCKET": str(self.receiver.address)}
        self.process = reactor.spawnProcess(
            self.daemon, TWISTD, arguments, env=environ, path=self.directory
        )
        self.addCleanup(self.stop)
        return withTimeout(self.daemon.ready, 30)

    def stop(self) -> Deferred[Any]:
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGTERM)
        return withTimeout(self.daemon.ended, 30)

    def notifications(self, count: int) -> Deferred[list[str]]:
        """
        Fire with what txinetd sent to the notify socket once it is at least
        C{count} notifications.
        """
        return pollUntil(
            lambda: self.receiver.texts() if len(self.receiver.receive()) >= count else None,
            lambda: f"{count} notifications in {self.receiver.texts()}",
            30,
        )

    @inlineCallbacks
    def test_startsWithoutServicesThenServes(self) -> Generated:
        """
        Every service disabled: txinetd logs why it has none, says READY=1
        with 0 services and runs on; once echo is enabled and txinetd gets
        SIGHUP, echo answers on both families.
        """
        yield self.start()
        texts = yield self.notifications(1)
        self.assertEqual(texts, ["READY=1\nSTATUS=Started working: 0 available services"])
        log = self.programLog()
        self.assertIn(": NOTICE: Started working: 0 available services\n", log)
        self.assertIn(
            ": NOTICE: no service is enabled in etc/xinetd.conf; txinetd keeps running: "
            "enable a service and reconfigure (SIGHUP)\n",
            log,
        )
        self.assertFalse(self.daemon.ended.called)
        echo = self.path("etc/xinetd.d/echo")
        with open(echo) as f:
            text = f.read()
        with open(echo, "w") as f:
            f.write(re.sub(r"(?m)^(\s*disable\s*=\s*)yes", r"\1no", text))
        self.process.signalProcess(signal.SIGHUP)
        texts = yield self.notifications(3)
        self.assertEqual([text.split("\n")[0] for text in texts[1:]], ["RELOADING=1", "READY=1"])
        self.assertIn("Reconfigured: new=1 old=0 dropped=0 (services)", self.programLog())
        echoed = yield tcpExchange("127.0.0.1", ECHO_PORT, b"hello\n")
        self.assertEqual(echoed, b"hello\n")
        echoed = yield tcpExchange("::1", ECHO_PORT, b"hello6\n")
        self.assertEqual(echoed, b"hello6\n")


_GOOD = "service echo\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n\twait = no\n"


class StillFatalTests(TestCase):
    """
    What ends start-up with status 1 even in the foreground.
    """

    @inlineCallbacks
    def test_unreadableMainFile(self) -> Generated:
        out, err, code = yield twistd("-n", "--pidfile=", "xinetd", "-f", "/nonexistent/x.conf")
        self.assertEqual(code, 1)
        self.assertIn(b"open( /nonexistent/x.conf ) failed", err)
        self.assertNotIn(b"Traceback", out + err)

    @inlineCallbacks
    def test_badDefaults(self) -> Generated:
        path = writeConfig("defaults\n{\n\tinstances = lots\n}\n" + _GOOD + "\tport = 0\n}\n")
        _, err, code = yield twistd("-n", "--pidfile=", "xinetd", "-f", path)
        self.assertEqual(code, 1)
        self.assertIn(b"fatal: A fatal error was encountered", err)


class CheckTests(TestCase):
    """
    C{--check} exits with 0 on a configuration without errors, however
    many services it enables.
    """

    @inlineCallbacks
    def test_distributionLayout(self) -> Generated:
        out, err, code = yield twistd("-n", "xinetd", "-f", "etc/xinetd.conf", "--check")
        self.assertEqual((code, err), (0, b""))
        self.assertEqual(
            out.decode().splitlines(),
            [
                "etc/xinetd.conf: no service is enabled",
                "etc/xinetd.conf: 0 services, 0 errors, 0 warnings",
            ],
        )
