"""
C{listen} descriptions served by the real twistd: a socket passed the way
systemd passes it (with systemd's own C{systemd-socket-activate}, and with
the variables set by hand), and UNIX sockets.

The socket-activation test needs C{systemd-socket-activate} (Debian
package systemd); it is skipped without it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import sys
import tempfile
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from .support import (
    freePorts,
    hostsOptions,
    pollUntil,
    reactor,
    tcpExchange,
    withTimeout,
    writeConfig,
)
from .test_twistd import ROOT, TWISTD, Daemon

#: Runs twistd with one listening socket on fd 3 and LISTEN_* set, as
#: systemd does: argv is the socket's address, port, name, then twistd's.
PASS_SOCKET = """
import os, socket, sys
host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, port))
sock.listen(16)
os.dup2(sock.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES=name)
os.execv(sys.argv[4], sys.argv[4:])
"""

NOBODY = 65534

ECHO = (
    "service echo\n{{\n type = INTERNAL UNLISTED\n id = {id}\n socket_type = stream\n"
    " wait = no\n listen = {listen}\n{extra}}}\n"
)


class EndpointCase(TestCase):
    """
    A real twistd per test, on services after a defaults section that logs
    to C{self.log} in a temporary C{self.directory}.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="txinetd-endpoints-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.log = os.path.join(self.directory, "service.log")

    @inlineCallbacks
    def start(self, services: str, *launcher: str, ready: bool = True) -> Any:
        path = writeConfig(
            f"defaults\n{{\n log_type = FILE {self.log}\n"
            " log_on_success = PID HOST EXIT USERID\n log_on_failure = HOST\n}\n" + services
        )
        self.daemon = Daemon()
        argv = [*launcher, TWISTD, "-n", "--pidfile=", "xinetd", "-f", path]
        argv += hostsOptions(self.directory)
        self.process = reactor.spawnProcess(
            self.daemon, argv[0], argv, env=dict(os.environ), path=ROOT
        )
        self.addCleanup(self.stop)
        if ready:
            yield withTimeout(self.daemon.ready, 60)

    def stop(self) -> Deferred[Any]:
        if self.process.pid is not None:
            self.process.signalProcess("TERM")
        return withTimeout(self.daemon.ended)

    def logLines(self) -> list[str]:
        try:
            with open(self.log) as f:
                return [line.rstrip("\n").split(": ", 1)[1] for line in f]
        except FileNotFoundError:
            return []

    def waitForLog(self, pattern: str) -> Deferred[list[str]]:
        """
        Fires with the service log's entries once one matches C{pattern}.
        """

        def check() -> list[str] | None:
            lines = self.logLines()
            return lines if any(re.search(pattern, line) for line in lines) else None

        return pollUntil(check, lambda: f"{pattern!r} in {self.logLines()}")


class SystemdSocketTests(EndpointCase):
    """
    C{listen = systemd:name=NAME}: the socket systemd passed.
    """

    @inlineCallbacks
    def test_systemdSocketActivate(self) -> Any:
        """
        Under systemd's own C{systemd-socket-activate}, which starts
        twistd when the first client connects, the echo serves that pending
        connection on the passed socket named C{echo}; a service naming a
        socket that was not passed is reported.
        """
        tool = shutil.which("systemd-socket-activate")
        if tool is None:
            raise SkipTest("systemd-socket-activate is not installed (Debian: systemd)")
        (port,) = freePorts(1)
        yield self.start(
            ECHO.format(id="echo-passed", listen="systemd:domain=INET:name=echo", extra="")
            + ECHO.format(id="echo-missing", listen="systemd:name=other", extra=""),
            tool,
            f"--listen=127.0.0.1:{port}",
            "--fdname=echo",
            ready=False,
        )
        yield self.daemon.waitFor(b"Listening on 127.0.0.1")
        echoed = yield tcpExchange("127.0.0.1", port, b"passed by systemd\n")
        self.assertEqual(echoed, b"passed by systemd\n")
        yield withTimeout(self.daemon.ready, 60)
        self.assertIn(
            b"no socket named other from systemd; systemd passed 0=echo",
            bytes(self.daemon.output),
        )
        # The echo's START line is written after its answer is sent.
        lines = yield self.waitForLog(r"^START: echo-passed ")
        self.assertIn("START: echo-passed pid=0 from=127.0.0.1", lines)

    @inlineCallbacks
    def test_passedByIndex(self) -> Any:
        """
        The variables set by hand the way systemd sets them (by a launcher
        that binds the socket, puts it on fd 3 and execs twistd): the
        service names it by index.
        """
        (port,) = freePorts(1)
        yield self.start(
            ECHO.format(id="echo-passed", listen="systemd:index=0", extra=""),
            sys.executable,
            "-c",
            PASS_SOCKET,
            "127.0.0.1",
            str(port),
            "echo",
        )
        echoed = yield tcpExchange("127.0.0.1", port, b"first\n")
        self.assertEqual(echoed, b"first\n")


class UnixSocketTests(EndpointCase):
    """
    C{listen = unix:PATH}.
    """

    @inlineCallbacks
    def test_echoOverUnixSocket(self) -> Any:
        """
        The echo answers on the socket, whose file has the mode asked for;
        the USERID line names the client's user (SO_PEERCRED) and there is
        no client address; the file is removed when txinetd stops.
        """
        path = os.path.join(self.directory, "echo.sock")
        yield self.start(ECHO.format(id="echo-unix", listen=f"unix:{path}:mode=600", extra=""))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

        def exchange() -> bytes:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(10)
                client.connect(path)
                client.sendall(b"over a unix socket\n")
                client.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := client.recv(4096):
                    received += chunk
                return received

        echoed = yield deferToThread(exchange)
        self.assertEqual(echoed, b"over a unix socket\n")
        lines = yield pollUntil(
            lambda: self.logLines() if len(self.logLines()) >= 3 else None,
            lambda: f"three lines in {self.logLines()}",
        )
        self.assertEqual(
            lines,
            [
                "USERID: echo-unix UNIX : root",
                "START: echo-unix pid=0 from=<no address>",
                "EXIT: echo-unix status=0 pid=0",
            ],
        )
        yield self.stop()
        self.assertFalse(os.path.exists(path))

    @inlineCallbacks
    def test_plantedLinks(self) -> Any:
        """
        A symbolic link that another user planted on the way to a socket
        is not followed: a service whose path goes through one in a
        directory everyone can write does not start, and one whose
        directory its owner (another user) swapped for a link to root's
        directory before the stop does not make txinetd remove root's file
        there.
        """
        if os.geteuid() != 0:
            raise SkipTest("changing owners needs root")
        shared = os.path.join(self.directory, "tmp")
        os.mkdir(shared, 0o755)
        os.chmod(shared, 0o1777)
        dirA = os.path.join(shared, "dirA")
        os.mkdir(dirA)
        os.chown(dirA, NOBODY, -1)
        planted = os.path.join(shared, "xx-ud")
        os.symlink(dirA, planted)
        os.lchown(planted, NOBODY, -1)
        sub = os.path.join(dirA, "sub")
        os.mkdir(sub)
        os.chown(sub, NOBODY, -1)
        dirB = os.path.join(shared, "dirB")
        os.mkdir(dirB, 0o700)
        victim = os.path.join(dirB, "svc.sock")
        with open(victim, "w") as f:
            f.write("root's\n")
        os.chmod(victim, 0o600)
        through = os.path.join(planted, "svc.sock")
        inside = os.path.join(sub, "svc.sock")
        yield self.start(
            ECHO.format(id="echo-link", listen=f"unix:{through}:mode=666", extra="")
            + ECHO.format(id="echo-unix", listen=f"unix:{inside}:mode=666", extra="")
        )
        yield withTimeout(self.daemon.waitFor(b"Service echo-link failed to start"))
        self.assertIn(
            "bind failed (xx-ud is a symbolic link in a directory writable by everyone; not"
            f" followed (errno = 1)). service = echo-link on unix:{through}:mode=666",
            self.daemon.output.decode(),
        )
        self.assertEqual(os.listdir(dirA), ["sub"])
        self.assertEqual(stat.S_IMODE(os.lstat(inside).st_mode), 0o666)

        os.rename(sub, os.path.join(dirA, "old"))
        os.symlink(dirB, sub)
        os.lchown(sub, NOBODY, -1)
        yield self.stop()
        with open(victim) as f:
            self.assertEqual(f.read(), "root's\n")
        self.assertIn(
            f"{inside} not removed: sub is a symbolic link in a directory owned by uid"
            f" {NOBODY}; not followed",
            self.daemon.output.decode(),
        )

    def test_onlyFromRejected(self) -> None:
        """
        A UNIX-socket service with its own only_from is rejected by
        --check: there is no client address to match.
        """
        from txinetd.daemon.loading import loadConfig

        path = writeConfig(
            ECHO.format(id="echo-unix", listen="unix:/tmp/x.sock", extra=" only_from = 127.0.0.1\n")
        )
        config = loadConfig(path)
        self.assertEqual(
            [d.message for d in config.diagnostics],
            ["Service echo: only_from needs an IP listener"],
        )
