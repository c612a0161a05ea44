"""
Tests for L{txinetd.net.systemd} (sd_notify messages on a test socket) and for
the systemd unit C{etc/txinetd.service}.

The unit is checked with C{systemd-analyze verify} (Debian package
systemd); that test is skipped where the command is missing.  What a real
twistd sends to C{NOTIFY_SOCKET} is tested in
L{tests.integration.test_operating}.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.paths import ROOT
from txinetd.daemon.stopping import STOP_GRACE
from txinetd.net import systemd
from txinetd.net.systemd import ListenFds

UNIT = os.path.join(ROOT, "etc", "txinetd.service")
#: Where the unit expects txinetd's virtualenv.
INSTALLED_TWISTD = "/opt/txinetd/bin/twistd"
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
#: struct ucred: pid, uid, gid.
_UCRED = struct.Struct("3i")


@dataclass(frozen=True)
class Notification:
    """
    One sd_notify datagram.

    @ivar pid: the sender's pid, as the kernel reports it.
    @ivar text: the message.
    """

    pid: int | None
    text: str


class NotifyReceiver:
    """
    A datagram socket bound in a test's temporary directory (or at
    C{address}), as systemd's notify socket is: it learns each sender's pid
    (C{SO_PASSCRED}), which C{NotifyAccess=main} checks.

    @ivar received: every notification taken from the socket so far.
    """

    def __init__(self, case: SynchronousTestCase, address: str | bytes | None = None) -> None:
        if address is None:
            # Short: a socket path has at most 107 bytes.
            directory = tempfile.mkdtemp(prefix="txinetd-notify-")
            case.addCleanup(shutil.rmtree, directory, True)
            address = os.path.join(directory, "notify")
        self.address = address
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        case.addCleanup(self.socket.close)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.socket.bind(address)
        self.socket.setblocking(False)
        self.received: list[Notification] = []

    def receive(self) -> list[Notification]:
        """
        Take the queued datagrams.

        @return: L{received}.
        """
        while True:
            try:
                data, ancillary, _, _ = self.socket.recvmsg(4096, socket.CMSG_SPACE(_UCRED.size))
            except BlockingIOError:
                return self.received
            pid = None
            for level, kind, payload in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                    pid = _UCRED.unpack(payload[: _UCRED.size])[0]
            self.received.append(Notification(pid, data.decode()))

    def texts(self) -> list[str]:
        """
        The text of every notification received so far.
        """
        return [notification.text for notification in self.receive()]


class NotifyAddressTests(SynchronousTestCase):
    def test_none(self) -> None:
        self.assertIsNone(systemd.notifyAddress({}))
        self.assertIsNone(systemd.notifyAddress({"NOTIFY_SOCKET": ""}))

    def test_path(self) -> None:
        address = systemd.notifyAddress({"NOTIFY_SOCKET": "/run/systemd/notify"})
        self.assertEqual(address, "/run/systemd/notify")

    def test_abstract(self) -> None:
        """
        A leading C{@} names an abstract socket: a NUL byte instead.
        """
        self.assertEqual(systemd.notifyAddress({"NOTIFY_SOCKET": "@sd/notify"}), b"\0sd/notify")


class NotifyTests(SynchronousTestCase):
    def test_sent(self) -> None:
        receiver = NotifyReceiver(self)
        environ = {"NOTIFY_SOCKET": str(receiver.address)}
        self.assertTrue(systemd.notify("READY=1\nSTATUS=up", environ))
        self.assertTrue(systemd.notify("STOPPING=1", environ))
        self.assertEqual(receiver.texts(), ["READY=1\nSTATUS=up", "STOPPING=1"])
        self.assertEqual({n.pid for n in receiver.received}, {os.getpid()})

    def test_abstractSocket(self) -> None:
        name = f"txinetd-test-{uuid.uuid4().hex}"
        receiver = NotifyReceiver(self, b"\0" + name.encode())
        self.assertTrue(systemd.notify("READY=1", {"NOTIFY_SOCKET": "@" + name}))
        self.assertEqual(receiver.texts(), ["READY=1"])

    def test_processEnvironment(self) -> None:
        """
        Without an explicit environment, the process's C{NOTIFY_SOCKET} is
        used.
        """
        receiver = NotifyReceiver(self)
        self.patch(os, "environ", {"NOTIFY_SOCKET": str(receiver.address)})
        self.assertTrue(systemd.notify("READY=1"))
        self.assertEqual(receiver.texts(), ["READY=1"])

    def test_notUnderSystemd(self) -> None:
        self.assertFalse(systemd.notify("READY=1", {}))

    def test_nobodyListening(self) -> None:
        """
        A socket that does not exist (systemd went away) is not an error.
        """
        missing = os.path.join(os.path.abspath(self.mktemp()), "notify")
        self.assertFalse(systemd.notify("READY=1", {"NOTIFY_SOCKET": missing}))

    def test_ready(self) -> None:
        """
        L{systemd.ready} sends C{READY=1} with the status line.
        """
        receiver = NotifyReceiver(self)
        self.assertTrue(systemd.ready("up: 3", {"NOTIFY_SOCKET": str(receiver.address)}))
        self.assertEqual(receiver.texts(), ["READY=1\nSTATUS=up: 3"])

    def test_reloading(self) -> None:
        """
        C{RELOADING=1} carries the monotonic clock in microseconds.
        """
        receiver = NotifyReceiver(self)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertTrue(systemd.reloading({"NOTIFY_SOCKET": str(receiver.address)}))
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        (message,) = receiver.texts()
        first, second = message.split("\n")
        self.assertEqual(first, "RELOADING=1")
        name, value = second.split("=")
        self.assertEqual(name, "MONOTONIC_USEC")
        self.assertTrue(before <= int(value) <= after, (before, value, after))


def unitText() -> str:
    with open(UNIT, encoding="utf-8") as f:
        return f.read()


def localUnit(case: SynchronousTestCase, *replacements: tuple[str, str]) -> str:
    """
    A copy of the unit with this checkout's twistd instead of the installed
    one (and more replacements), in a temporary directory.

    @return: its path.
    """
    text = unitText().replace(INSTALLED_TWISTD, TWISTD)
    for old, new in replacements:
        text = text.replace(old, new)
    directory = os.path.abspath(case.mktemp())
    os.makedirs(directory)
    path = os.path.join(directory, "txinetd.service")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class UnitTests(SynchronousTestCase):
    """
    C{etc/txinetd.service}.
    """

    def setUp(self) -> None:
        # ExecReload= is given twice: not strict, and read by reloadCommands.
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(UNIT, encoding="utf-8")
        self.service = parser["Service"]

    def reloadCommands(self) -> list[str]:
        """
        The C{ExecReload=} lines, in order.
        """
        return re.findall(r"(?m)^ExecReload=(.*)$", unitText())

    def test_notify(self) -> None:
        """
        systemd waits for READY=1 and takes it from twistd only.
        """
        self.assertEqual((self.service["Type"], self.service["NotifyAccess"]), ("notify", "main"))

    def test_foreground(self) -> None:
        """
        twistd runs in the foreground (systemd supervises it, its log goes
        to the journal) without a twistd pid file.
        """
        words = self.service["ExecStart"].split()
        self.assertEqual(words[0], INSTALLED_TWISTD)
        self.assertEqual(words[1:4], ["--nodaemon", "--pidfile=", "xinetd"])
        self.assertEqual(self.service["Restart"], "on-failure")

    def test_reloadChecksFirst(self) -> None:
        """
        C{systemctl reload} runs C{--check} with the options of ExecStart,
        then sends SIGHUP: a configuration with errors fails the reload
        (exit status 1, the errors on its output, which goes to the
        journal) before anything is signalled; a good one passes.
        """
        check, signal = self.reloadCommands()
        self.assertEqual(signal, "/bin/kill -HUP $MAINPID")
        start = self.service["ExecStart"].split()
        self.assertEqual(check.split(), [start[0], *start[start.index("xinetd") :], "--check"])
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        bad = os.path.join(directory, "bad.conf")
        with open(bad, "w") as f:
            f.write("service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = nope\n}\n")
        results = []
        for config in (bad, os.path.join(ROOT, "etc", "demo.conf")):
            words = check.replace(INSTALLED_TWISTD, TWISTD).replace("/etc/xinetd.conf", config)
            results.append(
                subprocess.run(words.split(), capture_output=True, cwd="/", timeout=60, check=False)
            )
        self.assertEqual([result.returncode for result in results], [1, 0])
        self.assertIn(b"bad.conf:5: error: Bad value for wait: nope", results[0].stdout)
        self.assertIn(b"10 services, 0 errors, 0 warnings", results[1].stdout)

    def test_stopLeavesServersToTxinetd(self) -> None:
        """
        Only twistd is signalled, and the stop timeout is longer than the
        grace txinetd gives its servers before SIGKILL.
        """
        self.assertEqual(self.service["KillMode"], "process")
        self.assertGreater(int(self.service["TimeoutStopSec"]), STOP_GRACE)

    def test_commandLineAccepted(self) -> None:
        """
        twistd accepts the unit's command line (checked on the demo
        configuration with C{--check}).
        """
        words = self.service["ExecStart"].replace("/etc/xinetd.conf", "etc/demo.conf").split()
        result = subprocess.run(
            [TWISTD, *words[1:], "--check"],
            capture_output=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertIn(b"etc/demo.conf: 10 services, 0 errors, 0 warnings", result.stdout)

    def test_inReadme(self) -> None:
        """
        The README shows the unit as it is.
        """
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        self.assertTrue(unitText() in readme, "the README's unit is not etc/txinetd.service")

    def verify(self, path: str) -> subprocess.CompletedProcess[bytes]:
        command = shutil.which("systemd-analyze")
        if command is None:
            raise SkipTest("systemd-analyze is not installed (Debian package systemd)")
        return subprocess.run(
            [command, "verify", "--man=no", path], capture_output=True, timeout=60, check=False
        )

    def test_systemdAnalyzeVerify(self) -> None:
        """
        C{systemd-analyze verify} finds nothing to say about the unit.
        """
        result = self.verify(localUnit(self))
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, b""))

    def test_systemdAnalyzeComplains(self) -> None:
        """
        The check above can fail: a misspelt setting is reported.
        """
        result = self.verify(localUnit(self, ("KillMode=process", "KillMode=proces")))
        self.assertIn(b"Failed to parse kill mode", result.stdout + result.stderr)


class ListenFdsTests(SynchronousTestCase):
    """
    L{ListenFds}: the sockets of socket activation.
    """

    def test_forThisProcess(self) -> None:
        """
        LISTEN_FDS descriptors from 3, named by LISTEN_FDNAMES.
        """
        passed = ListenFds.fromEnvironment(
            {"LISTEN_FDS": "2", "LISTEN_PID": "42", "LISTEN_FDNAMES": "pop3s:imaps"}, 42
        )
        self.assertEqual(passed, ListenFds((3, 4), ("pop3s", "imaps")))
        self.assertEqual(passed.find("imaps", None), 4)
        self.assertEqual(passed.find(None, 0), 3)
        self.assertIsNone(passed.find("smtp", None))
        self.assertIsNone(passed.find(None, 2))
        self.assertEqual(passed.describe(), "systemd passed 0=pop3s, 1=imaps")

    def test_otherProcess(self) -> None:
        """
        Sockets passed to another pid (a parent before a fork) are not ours.
        """
        environ = {"LISTEN_FDS": "1", "LISTEN_PID": "41"}
        self.assertEqual(ListenFds.fromEnvironment(environ, 42), ListenFds())
        self.assertEqual(ListenFds().describe(), "systemd passed no sockets")

    def test_unnamed(self) -> None:
        """
        Without names, each descriptor is C{unknown}; garbage is nothing.
        """
        passed = ListenFds.fromEnvironment({"LISTEN_FDS": "2", "LISTEN_PID": "7"}, 7)
        self.assertEqual(passed.names, ("unknown", "unknown"))
        bad = {"LISTEN_FDS": "x", "LISTEN_PID": "7"}
        self.assertEqual(ListenFds.fromEnvironment(bad, 7), ListenFds())

    def test_take(self) -> None:
        """
        L{ListenFds.take} (run in a child process that really has fd 3)
        removes the variables and makes the descriptors close-on-exec.
        """
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        script = (
            "import os, sys\n"
            "from txinetd.net.systemd import ListenFds\n"
            "env = dict(os.environ, LISTEN_PID=str(os.getpid()))\n"
            "passed = ListenFds.take(env)\n"
            "left = sorted(k for k in env if k.startswith('LISTEN'))\n"
            "print(passed.fds, passed.names, os.get_inheritable(3), left)\n"
        )
        child = subprocess.run(
            [sys.executable, "-c", script],
            env=dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="x"),
            close_fds=False,
            preexec_fn=lambda: os.dup2(a.fileno(), 3),
            capture_output=True,
            text=True,
            check=True,
        )
        self.assertEqual(child.stdout, "(3,) ('x',) False []\n")
