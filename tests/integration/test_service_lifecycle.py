# -*- test-case-name: tests.integration.test_service_lifecycle -*-
"""
The life of the services of a tree on the real reactor: a service that
wants TLS it cannot have never listens, a service that could not listen
comes back on the next reconfiguration, a socket passed by systemd that a
service cannot use leaves it inactive, nothing is accepted while the daemon
stops, the servers of removed services are ended with the others, a
log file no service names any more is closed, and a cps trip of a datagram
service logs once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import signal
import socket
import sys
from collections import Counter
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from tests.certificates import Authority
from txinetd.core.config import Config
from txinetd.core.endpoint import RedirectTLS
from txinetd.daemon.loading import loadConfig
from txinetd.daemon.machine import Collaborators
from txinetd.daemon.service import ListeningService
from txinetd.daemon.stopping import STOP_GRACE
from txinetd.daemon.tree import XinetdService
from txinetd.net.systemd import ListenFds

from .support import (
    captureLog,
    collaborators,
    freePorts,
    internalService,
    pollUntil,
    reactor,
    tcpExchange,
    withTimeout,
    writeConfig,
)
from .test_operating import Client

Generated = Generator[Deferred[Any], Any, None]

HOST = "127.0.0.1"
MISBEHAVE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers", "misbehave.py"
)


def echo(serviceId: str, port: int, extra: str = "") -> str:
    """
    An internal echo stream service on L{HOST}.
    """
    return internalService("echo", "stream", port, f" bind = {HOST}\n{extra}").replace(
        "id = echo-stream", f"id = {serviceId}"
    )


def misbehaving(serviceId: str, port: int, how: str, extra: str = "") -> str:
    """
    A stream service on L{HOST} whose server is C{misbehave.py how}, run as
    the test's user.
    """
    user = pwd.getpwuid(os.geteuid()).pw_name
    return (
        f"service {serviceId}\n{{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
        f" protocol = tcp\n port = {port}\n bind = {HOST}\n user = {user}\n"
        f" server = {sys.executable}\n server_args = -I -S {MISBEHAVE} {how}\n{extra}}}\n"
    )


def refused(port: int) -> bool:
    """
    Whether a connection to C{port} on L{HOST} is refused.
    """
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == errno.ECONNREFUSED


def alive(pid: int) -> bool:
    """
    Whether C{pid} exists and is not a zombie.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def ended(client: socket.socket) -> bool | None:
    """
    Whether the server has closed a non-blocking client socket that got
    nothing; L{None} while it is open.
    """
    try:
        return client.recv(1) == b"" or None
    except BlockingIOError:
        return None
    except ConnectionResetError:
        return True


def killIfAlive(pid: int) -> None:
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Tree:
    """
    A tree on the real reactor whose configuration file a test rewrites.
    """

    def __init__(self, case: TestCase, text: str, made: Collaborators | None = None) -> None:
        self.case = case
        self.path = writeConfig(text)
        self.tree = XinetdService(
            self.load(), made if made is not None else collaborators(), loader=self.load
        )
        self.tree.privilegedStartService()
        self.tree.startService()
        case.addCleanup(self.stop)

    def load(self) -> Config:
        config = loadConfig(self.path, baseDirectory=os.path.dirname(self.path))
        self.case.assertEqual(config.errors, ())
        return config

    def stop(self) -> Any:
        if self.tree.running:
            return self.tree.stopService()
        return None

    def reload(self, text: str, hard: bool = True) -> None:
        with open(self.path, "w") as f:
            f.write(text)
        self.tree.reconfigure(hard)

    def child(self, name: str) -> ListeningService:
        child = self.tree.getServiceNamed(name)
        assert isinstance(child, ListeningService)
        return child

    @inlineCallbacks
    def hold(self, port: int) -> Generator[Deferred[Any], Any, tuple[Client, int]]:
        """
        Connect to a L{misbehaving} server and keep the connection.

        @return: the client and the server's pid.
        """
        client = yield withTimeout(
            connectProtocol(TCP4ClientEndpoint(reactor, HOST, port), Client())
        )
        self.case.addCleanup(client.abort)
        yield pollUntil(lambda: client.received.endswith(b"\n") or None, lambda: "ready")
        pid = int(bytes(client.received).split()[1])
        self.case.addCleanup(killIfAlive, pid)
        return client, pid


class TLSGuardTests(TestCase):
    """
    A service that wants TLS to its redirect target, when the CA file cannot
    be read, never listens (it would relay in the clear).
    """

    def setUp(self) -> None:
        self.log = captureLog(self)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        self.authority = Authority(directory)
        self.port, self.target = freePorts(2)

    def redirect(self, tls: str = "") -> str:
        return (
            f"service relay\n{{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
            f" protocol = tcp\n port = {self.port}\n bind = {HOST}\n user = nobody\n"
            f" redirect = {HOST} {self.target}\n{tls}}}\n"
        )

    def test_startWithoutCA(self) -> None:
        tls = f" redirect_tls = yes\n redirect_tls_ca = {self.authority.path}\n"
        path = writeConfig(self.redirect(tls))
        config = loadConfig(path, baseDirectory=os.path.dirname(path))
        self.assertEqual(config.errors, ())
        os.unlink(self.authority.path)
        tree = XinetdService(config, collaborators())
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        child = tree.getServiceNamed("relay")
        assert isinstance(child, ListeningService)
        self.assertIsNone(child.address)
        self.assertTrue(refused(self.port))
        self.assertIn("Service relay failed to start and is deactivated.", self.log)

    def test_reloadWithoutCA(self) -> None:
        """
        A reconfiguration that adds C{redirect_tls} with an unreadable CA
        closes the socket; one that drops it listens again.
        """
        tree = Tree(self, self.redirect())
        child = tree.child("relay")
        self.assertIsNotNone(child.address)
        missing = RedirectTLS("localhost", "/nonexistent/ca.pem")
        child.reconfigure(replace(child.config, redirectTLS=missing), hard=False)
        self.assertIsNone(child.address)
        self.assertTrue(refused(self.port))
        tree.reload(self.redirect())
        self.assertIsNotNone(child.address)


class RevivalTests(TestCase):
    """
    A service kept across a reconfiguration that could not listen is
    started again, as xinetd starts a failed service as a new one.
    """

    @inlineCallbacks
    def test_bindFailedThenFree(self) -> Generated:
        log = captureLog(self)
        port, other = freePorts(2)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind((HOST, port))
        holder.listen(1)
        text = echo("e", port) + echo("other", other)
        tree = Tree(self, text)
        self.assertIsNone(tree.child("e").address)
        self.assertIn(
            f"bind failed (Address already in use (errno = 98)). service = e on {HOST} port "
            f"{port}/tcp",
            log,
        )
        holder.close()
        tree.reload(text)
        self.assertEqual(tree.child("e").address, (HOST, port))
        echoed = yield tcpExchange(HOST, port, b"back")
        self.assertEqual(echoed, b"back")

    def test_noAvailableServices(self) -> None:
        """
        A reconfiguration that leaves no service listening ends the daemon,
        even when a service that could not listen is kept.
        """
        log = captureLog(self)
        (port,) = freePorts(1)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind((HOST, port))
        holder.listen(1)
        tree = Tree(self, echo("e", port))
        stops: list[bool] = []

        class Reactor:
            def stop(self) -> None:
                stops.append(True)

            def __getattr__(self, name: str) -> Any:
                return getattr(reactor, name)

        tree.tree.reactor = Reactor()
        tree.reload(echo("e", port))
        self.assertEqual(stops, [True])
        self.assertIn("No available services. Exiting", log)


class PassedSocketTests(TestCase):
    """
    A datagram service given a UNIX socket by systemd fails to start like a
    service whose bind fails, and the daemon goes on.
    """

    def test_unixDatagram(self) -> None:
        log = captureLog(self)
        passed = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(passed.close)
        (port,) = freePorts(1)
        text = (
            "service echo\n{\n type = INTERNAL UNLISTED\n id = echo-dgram\n"
            " socket_type = dgram\n wait = yes\n listen = systemd:name=passed\n}\n"
            + echo("other", port)
        )
        made = collaborators(listenFds=ListenFds((passed.fileno(),), ("passed",)))
        tree = Tree(self, text, made)
        self.assertIsNone(tree.child("echo-dgram").address)
        self.assertIsNotNone(tree.child("other").address)
        self.assertIn(
            "bind failed (systemd:name=passed: datagram services need an IP socket "
            "(errno = 97)). service = echo-dgram on systemd:name=passed",
            log,
        )


class StopTests(TestCase):
    """
    While the daemon stops, its services accept no connection.
    """

    @inlineCallbacks
    def test_nothingAcceptedDuringGrace(self) -> Generated:
        port, other = freePorts(2)
        tree = Tree(self, misbehaving("stubborn", port, "stubborn") + echo("e", other))
        client, pid = yield tree.hold(port)
        stopping = tree.tree.stopService()
        self.assertNoResult(stopping)
        self.assertTrue(refused(port))
        self.assertTrue(refused(other))
        self.assertTrue(alive(pid))
        os.kill(pid, signal.SIGKILL)
        yield withTimeout(stopping)
        yield withTimeout(client.closed)


class RemovedServiceTests(TestCase):
    """
    The servers of removed services are still the daemon's: a soft
    reconfiguration leaves them running until the daemon stops, a hard one
    ends them (SIGKILL after the grace period if SIGTERM does not), as it
    ends those the new rules refuse.
    """

    @inlineCallbacks
    def test_softRemovalEndedAtStop(self) -> Generated:
        port, other = freePorts(2)
        tree = Tree(self, misbehaving("hang", port, "hang") + echo("e", other))
        client, pid = yield tree.hold(port)
        tree.reload(echo("e", other), hard=False)
        self.assertNotIn("hang", tree.tree.namedServices)
        self.assertEqual([session.pid for session in tree.tree.sessions()], [pid])
        self.assertTrue(alive(pid))
        yield withTimeout(tree.tree.stopService())
        yield withTimeout(client.closed)
        yield pollUntil(lambda: not alive(pid) or None, lambda: f"{pid} ended")

    @inlineCallbacks
    def test_hardRemovalAndRefusalKill(self) -> Generated:
        log = captureLog(self)
        removedPort, keptPort = freePorts(2)
        kept = misbehaving("kept", keptPort, "stubborn")
        tree = Tree(self, misbehaving("removed", removedPort, "stubborn") + kept)
        removed, removedPid = yield tree.hold(removedPort)
        refusedClient, refusedPid = yield tree.hold(keptPort)
        start = reactor.seconds()
        tree.reload(misbehaving("kept", keptPort, "stubborn", " only_from = 127.0.0.2\n"))
        self.assertEqual(
            sorted(session.pid for session in tree.tree.sessions()),
            sorted([removedPid, refusedPid]),
        )
        yield withTimeout(removed.closed, STOP_GRACE + 5)
        yield withTimeout(refusedClient.closed, STOP_GRACE + 5)
        self.assertGreaterEqual(reactor.seconds() - start, STOP_GRACE - 1)
        for name, pid in (("removed", removedPid), ("kept", refusedPid)):
            self.assertIn(f"Sending signal 9 to {name} server {pid}", log)
        yield pollUntil(lambda: tree.tree.sessions() == [] or None, lambda: "no session")


class LogFileTests(TestCase):
    """
    A FILE log that no service names any more after a reconfiguration is
    closed, and not made again by the next one.
    """

    def openPaths(self) -> set[str]:
        paths = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                paths.add(os.readlink(f"/proc/self/fd/{fd}"))
        return paths

    def test_unusedLogClosed(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        old, new = os.path.join(directory, "a.log"), os.path.join(directory, "b.log")
        (port,) = freePorts(1)
        tree = Tree(self, echo("e", port, f" log_type = FILE {old}\n"))
        self.assertIn(old, self.openPaths())
        tree.reload(echo("e", port, f" log_type = FILE {new}\n"))
        os.unlink(old)
        tree.reload(echo("e", port, f" log_type = FILE {new}\n"))
        paths = self.openPaths()
        self.assertEqual(
            (old in paths, os.path.exists(old), new in paths, os.path.exists(new)),
            (False, False, True, True),
        )


class DatagramTripTests(TestCase):
    """
    A cps trip of a datagram service, whose socket is read in batches.
    """

    @inlineCallbacks
    def test_oneDeactivatingLine(self) -> Generated:
        """
        A burst of datagrams that trips C{cps} logs one C{Deactivating}
        line, though the datagrams read in the same batch trip it again.
        """
        log = captureLog(self)
        (port,) = freePorts(1)
        tree = Tree(self, internalService("echo", "dgram", port, f" bind = {HOST}\n cps = 1 5\n"))
        child = tree.child("echo-dgram")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(30):
                sender.sendto(b"x", (HOST, port))
        yield pollUntil(lambda: child.reactivation or None, lambda: "deactivated")
        self.assertEqual(len([line for line in log if "Deactivating service" in line]), 1)


class DatagramPortTests(TestCase):
    """
    The daemon's own datagram ports, which no datagram service answers.
    """

    def test_followsListening(self) -> None:
        """
        A datagram service's port counts while it listens: from its start,
        through a pause, to its removal; stream services' ports do not.
        """
        echo, daytime, stream = freePorts(3)
        text = (
            internalService("echo", "dgram", echo, f" bind = {HOST}\n")
            + internalService("daytime", "dgram", daytime, f" bind = {HOST}\n")
            + internalService("echo", "stream", stream, f" bind = {HOST}\n")
        )
        tree = Tree(self, text)
        ports = tree.tree.shared.datagramPorts
        self.assertEqual(ports, Counter({echo: 1, daytime: 1}))
        tree.child("echo-dgram").deactivateFor(10, "a test")
        self.assertEqual(ports, Counter({daytime: 1}))
        tree.child("echo-dgram").reactivation.cancel()
        tree.child("echo-dgram").reactivate()
        self.assertEqual(ports, Counter({echo: 1, daytime: 1}))
        tree.reload(internalService("daytime", "dgram", daytime, f" bind = {HOST}\n"))
        self.assertEqual(ports, Counter({daytime: 1}))
        tree.stop()
        self.assertEqual(ports, Counter())


#: A grace period no test waits for.
HOUR = 3600.0


class WaitingSessionTests(TestCase):
    """
    Sessions admitted but still waiting before their service starts end at
    once when the daemon stops: a tcpmux client that has not sent its
    service name, and a client of a TLS service that has not begun its
    handshake.
    """

    @inlineCallbacks
    def test_stopEndsWaitingSessions(self) -> Generated:
        log = captureLog(self)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        issued = Authority(directory).server("server", "localhost", HOST)
        serviceLog = os.path.join(directory, "service.log")
        logging = (
            f" log_type = FILE {serviceLog}\n log_on_success = PID HOST EXIT\n"
            " log_on_failure = HOST\n"
        )
        muxPort, tlsPort = freePorts(2)
        tree = Tree(
            self,
            internalService("tcpmux", "stream", muxPort, f" bind = {HOST}\n{logging}")
            + echo(
                "tlsecho",
                tlsPort,
                f" tls_certificate = {issued.certificate}\n tls_key = {issued.key}\n{logging}",
            ),
        )
        clients = []
        for port in (muxPort, tlsPort):
            client = socket.create_connection((HOST, port), timeout=5)
            self.addCleanup(client.close)
            clients.append(client)
        yield pollUntil(
            lambda: len(tree.tree.sessions()) == 2 or None,
            lambda: f"two sessions, not {tree.tree.sessions()}",
        )
        # With an hour of grace, the stop ends before the test's timeout
        # only if stopping the sessions ends them at once.
        self.patch(tree.tree, "endSessions", lambda: XinetdService.endSessions(tree.tree, HOUR))
        yield withTimeout(tree.tree.stopService())
        for client in clients:
            client.setblocking(False)
        yield pollUntil(
            lambda: all(ended(client) for client in clients) or None, lambda: "clients closed"
        )
        with open(serviceLog) as f:
            entries = [line.split(": ", 1)[1] for line in f.read().splitlines()]
        self.assertEqual(
            entries,
            [f"START: tcpmux-stream pid=0 from={HOST}", "EXIT: tcpmux-stream status=0 pid=0"],
        )
        self.assertEqual([line for line in log if "Sending signal 9" in line], [])
        self.assertEqual([line for line in log if "TLS handshake" in line], [])
        self.assertEqual(self.flushLoggedErrors(), [])


class InternalsTests(TestCase):
    """
    The internal services a configuration was checked against are the ones
    that serve it: the plugins are read once per load.
    """

    def test_sameTable(self) -> None:
        (port,) = freePorts(1)
        tree = Tree(self, echo("e", port))
        first = tree.tree.config.internals
        self.assertIsNotNone(first)
        self.assertIs(tree.tree.internals, first)
        tree.reload(echo("e", port))
        self.assertIsNot(tree.tree.config.internals, first)
        self.assertIs(tree.tree.internals, tree.tree.config.internals)
