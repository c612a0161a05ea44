"""
The real fail2ban in front of a real txinetd: a jail with fail2ban's
C{xinetd-fail} filter reads txinetd's service log, and its C{hostsdeny}
action writes the hosts.deny that txinetd reads.  A ban applies to the next
connection and an unban lifts it, with no signal sent to txinetd.

Needs the Debian package fail2ban (C{fail2ban-client}, the filter and the
action); the test is skipped without it.  fail2ban runs with a
configuration, socket, pid file and database of its own, in the run's
temporary directory.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from .support import (
    CollectingProcess,
    freePorts,
    pollUntil,
    reactor,
    readText,
    tcpExchangeFrom,
    withTimeout,
)
from .test_logging import (
    DAYTIME,
    FILE_DATEPATTERN,
    HOST,
    TxinetdRun,
    fileLogDefaults,
    needCommand,
    serviceEntry,
)

FAIL2BAN_CONFIG = "/etc/fail2ban"
BANNED = "127.0.0.2"
#: Failures from one address before fail2ban bans it.
MAXRETRY = 3

FAIL2BAN_CONF = """\
[Definition]
loglevel = INFO
logtarget = {directory}/fail2ban.log
socket = {directory}/f2b.sock
pidfile = {directory}/f2b.pid
dbfile = {directory}/f2b.sqlite3
dbpurgeage = 1d
syslogsocket = auto
allowipv6 = auto
"""

#: The jail: fail2ban's own filter and action, on txinetd's FILE log (whose
#: timestamp needs a datepattern) and on the hosts.deny txinetd reads.
JAIL_CONF = """\
[txinetd]
enabled = true
filter = xinetd-fail
datepattern = {datepattern}
logpath = {serviceLog}
backend = polling
usedns = no
maxretry = {maxretry}
findtime = 600
bantime = 600
action = hostsdeny[file="{hostsDeny}"]
"""


class Fail2banRun:
    """
    A fail2ban server with its own configuration directory, socket, pid
    file and database, in the foreground as a child of the test; stopped
    when the test ends.
    """

    def __init__(self, testCase: TestCase, directory: str) -> None:
        self.testCase = testCase
        self.client = needCommand("fail2ban-client", "fail2ban")
        for needed in ("filter.d/xinetd-fail.conf", "action.d/hostsdeny.conf"):
            if not os.path.exists(os.path.join(FAIL2BAN_CONFIG, needed)):
                raise SkipTest(f"{FAIL2BAN_CONFIG}/{needed} is missing (Debian package fail2ban)")
        self.directory = directory
        self.config = os.path.join(directory, "fail2ban")
        os.mkdir(self.config)
        for name in ("filter.d", "action.d"):
            os.symlink(os.path.join(FAIL2BAN_CONFIG, name), os.path.join(self.config, name))
        self.socket = os.path.join(directory, "f2b.sock")
        self.log = os.path.join(directory, "fail2ban.log")
        self.process: Any = None
        self.protocol = CollectingProcess()

    def start(self, serviceLog: str, hostsDeny: str) -> Deferred[Any]:
        """
        Write the configuration and start the server; fires once the jail
        runs.  The service log is made empty first: fail2ban refuses a jail
        without its log file.
        """
        with open(serviceLog, "a"):
            pass
        with open(os.path.join(self.config, "fail2ban.conf"), "w") as f:
            f.write(FAIL2BAN_CONF.format(directory=self.directory))
        with open(os.path.join(self.config, "jail.conf"), "w") as f:
            f.write(
                JAIL_CONF.format(
                    # A % is doubled in fail2ban's configuration files.
                    datepattern=FILE_DATEPATTERN.replace("%", "%%"),
                    serviceLog=serviceLog,
                    hostsDeny=hostsDeny,
                    maxretry=MAXRETRY,
                )
            )
        arguments = [self.client, "-c", self.config, "-s", self.socket]
        arguments += ["-p", os.path.join(self.directory, "f2b.pid"), "-x", "-f", "start"]
        self.process = reactor.spawnProcess(
            self.protocol, self.client, arguments, env=dict(os.environ), path=self.directory
        )
        self.testCase.addCleanup(self.stop)

        def started() -> bool | None:
            if "Jail 'txinetd' started" in self.logText():
                return True
            if self.protocol.ended.called:
                self.testCase.fail(f"fail2ban ended: {self.protocol.output!r}")
            return None

        return pollUntil(
            started,
            lambda: (
                f"fail2ban's jail to start; its log: {self.logText()!r}, "
                f"its output: {self.protocol.output!r}"
            ),
            60,
        )

    def logText(self) -> str:
        return readText(self.log)

    def command(self, *arguments: str) -> Deferred[tuple[bytes, bytes, int]]:
        """
        Run C{fail2ban-client} against this server.
        """
        return withTimeout(
            getProcessOutputAndValue(
                self.client, ["-s", self.socket, *arguments], env=dict(os.environ)
            ),
            60,
        )

    def stop(self) -> Deferred[None]:
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGTERM)
        return withTimeout(self.protocol.ended, 60)


class Fail2banBanTests(TestCase):
    """
    fail2ban bans through hosts.deny, and txinetd obeys at once.
    """

    @inlineCallbacks
    def test_banAndUnban(self) -> Generator[Deferred[Any], Any, None]:
        """
        After C{MAXRETRY} refusals of 127.0.0.2 by C{guarded}'s
        C{only_from}, fail2ban writes C{ALL: 127.0.0.2} to hosts.deny: the
        next connection of 127.0.0.2 to C{open} is refused by libwrap,
        127.0.0.1 is still served, and C{fail2ban-client unban} lets
        127.0.0.2 in again.  txinetd is never signalled: it never
        reconfigures.
        """
        guarded, opened = freePorts(2)
        txinetd = TxinetdRun(self)
        fail2ban = Fail2banRun(self, txinetd.directory)
        hostsDeny = txinetd.path("hosts.deny")
        yield fail2ban.start(txinetd.serviceLog, hostsDeny)
        yield txinetd.start(
            fileLogDefaults(txinetd.serviceLog)
            + serviceEntry("daytime", "guarded", "stream", guarded, "only_from = 127.0.0.1")
            + serviceEntry("daytime", "open", "stream", opened)
        )
        answer = yield tcpExchangeFrom(BANNED, HOST, opened)
        self.assertRegex(answer, DAYTIME)
        for _ in range(MAXRETRY):
            refused = yield tcpExchangeFrom(BANNED, HOST, guarded)
            self.assertEqual(refused, b"")
        yield pollUntil(
            lambda: True if "ALL: 127.0.0.2\n" in readText(hostsDeny) else None,
            lambda: f"the ban in hosts.deny; fail2ban's log: {fail2ban.logText()!r}",
            60,
        )
        refused = yield tcpExchangeFrom(BANNED, HOST, opened)
        self.assertEqual(refused, b"")
        yield txinetd.waitForLine(f": FAIL: open libwrap from={BANNED}")
        answer = yield tcpExchangeFrom(HOST, HOST, opened)
        self.assertRegex(answer, DAYTIME)
        out, err, code = yield fail2ban.command("unban", BANNED)
        self.assertEqual(code, 0, (out, err))
        self.assertNotIn("127.0.0.2", readText(hostsDeny))
        answer = yield tcpExchangeFrom(BANNED, HOST, opened)
        self.assertRegex(answer, DAYTIME)

        def openLines() -> list[str] | None:
            lines = [message for message in txinetd.messages() if message.split()[1] == "open"]
            return lines if len(lines) >= 7 else None

        lines = yield pollUntil(openLines, lambda: f"7 lines of open in {txinetd.lines()}")
        self.assertEqual(
            lines,
            [
                f"START: open pid=0 from={BANNED}",
                "EXIT: open status=0 pid=0 duration=N(sec)",
                f"FAIL: open libwrap from={BANNED}",
                f"START: open pid=0 from={HOST}",
                "EXIT: open status=0 pid=0 duration=N(sec)",
                f"START: open pid=0 from={BANNED}",
                "EXIT: open status=0 pid=0 duration=N(sec)",
            ],
        )
        output = bytes(txinetd.daemon.output)
        self.assertNotIn(b"reconfiguration", output)
        self.assertIn(
            f"libwrap refused connection to open (libwrap=daytime) from {BANNED}".encode(), output
        )
