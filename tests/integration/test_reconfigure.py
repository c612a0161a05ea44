"""
Reconfiguration of a running tree with the real reactor: kept services keep
their socket, removed ones close, new ones open, invalid configurations are
rejected whole.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from typing import Any

from twisted.application.service import Application
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import ILogObserver
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from txinetd.daemon.loading import loadConfig
from txinetd.daemon.logtargets import FileLogTarget, TextLogFile
from txinetd.daemon.programlog import ProgramLogObserver
from txinetd.daemon.service import ListeningService
from txinetd.daemon.tree import XinetdService

from .support import (
    captureLog,
    collaborators,
    internalService,
    pollUntil,
    reactor,
    tcpExchange,
    writeConfig,
)


def entry(name: str, serviceId: str, port: int, extra: str = "") -> str:
    return internalService(name, "stream", port, extra).replace(
        f"id = {name}-stream", f"id = {serviceId}"
    )


#: A client that exchanges a line with the echo service on the port given
#: as its argument, over and over, and prints C{ok} or what went wrong after
#: each exchange, until it is killed.
RACER = """
import socket, sys
port = int(sys.argv[1])
for n in range(10**9):
    payload = b"racer %d" % n
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(1024):
                reply += chunk
        outcome = "ok" if reply == payload else f"wrong reply {reply!r}"
    except OSError as e:
        outcome = f"error {e!r}"
    print(outcome, flush=True)
"""


class Racer(ProcessProtocol):
    """
    The L{RACER} client process, and the outcomes it printed.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.output = b""
        self.ended: Deferred[None] = Deferred()

    @property
    def outcomes(self) -> list[str]:
        return self.output.decode().splitlines()

    @property
    def exchanges(self) -> int:
        return self.output.count(b"\n")

    def start(self, case: TestCase) -> Deferred[int]:
        """
        Start the client; fire once it has made its first exchange.
        """
        self.process = reactor.spawnProcess(
            self, sys.executable, [sys.executable, "-c", RACER, str(self.port)], env=None
        )
        case.addCleanup(self.stop)
        return self.exchanged(1)

    def exchanged(self, count: int) -> Deferred[int]:
        """
        Fire once the client has made C{count} exchanges.
        """
        return pollUntil(
            lambda: self.exchanges if self.exchanges >= count else None,
            lambda: f"{count} exchanges of the racing client; it printed {self.output!r}",
        )

    def stop(self) -> Deferred[list[str]]:
        """
        Kill the client; fire with its outcomes once it has ended.
        """
        if not self.ended.called:
            self.process.signalProcess("KILL")
        return self.ended.addCallback(lambda _: self.outcomes)

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)


def readAll(client: socket.socket) -> Deferred[bytes]:
    """
    Read a blocking socket until its peer closes, without blocking the
    reactor; fire with what was read.
    """
    client.setblocking(False)
    received = bytearray()

    def read() -> bytes | None:
        try:
            while chunk := client.recv(4096):
                received.extend(chunk)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            return b"(reset) " + bytes(received)
        return bytes(received)

    return pollUntil(read, lambda: f"the end of the reply; read {bytes(received)!r}")


def freePort() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::", 0))
        return int(s.getsockname()[1])


class ReconfigureTests(TestCase):
    def setUp(self) -> None:
        self.ports = [freePort() for _ in range(3)]
        self.path = writeConfig(self.text(entry("echo", "e", self.ports[0])))
        self.log = captureLog(self)
        config = self.load()
        self.tree = XinetdService(config, collaborators(), loader=self.load)
        self.tree.privilegedStartService()
        self.tree.startService()
        self.addCleanup(self.tree.stopService)

    def text(self, *entries: str) -> str:
        return (
            entry("daytime", "d", self.ports[1])
            + entry("time", "t", self.ports[2])
            + "".join(entries)
        )

    def load(self) -> Any:
        return loadConfig(self.path, baseDirectory=os.path.dirname(self.path))

    def rewrite(self, text: str) -> None:
        with open(self.path, "w") as f:
            f.write(text)

    def child(self, name: str) -> ListeningService:
        child = self.tree.getServiceNamed(name)
        assert isinstance(child, ListeningService)
        return child

    @inlineCallbacks
    def test_keepChangeAddRemove(self) -> Any:
        daytime = self.child("d")
        assert daytime.port is not None
        daytimeSocket = daytime.port.socket
        newPort = freePort()
        self.rewrite(
            entry("daytime", "d", self.ports[1], " instances = 3\n")
            + entry("chargen", "c", newPort)
            + entry("echo", "e", self.ports[0])
        )
        self.tree.reconfigure(hard=True)
        kept = self.child("d").port
        assert kept is not None
        self.assertIs(kept.socket, daytimeSocket)
        self.assertEqual(self.child("d").config.instances, 3)
        self.assertNotIn("t", self.tree.namedServices)
        self.assertIn("Reconfigured: new=1 old=2 dropped=1 (services)", self.log)
        self.assertIn("readjusting service d", self.log)
        self.assertIn("service t deactivated", self.log)
        chargen = yield tcpExchange("127.0.0.1", newPort, halfClose=False, limit=74)
        self.assertGreaterEqual(len(chargen), 74)
        self.assertTrue(chargen[:74].endswith(b"\r\n"))
        with socket.socket() as probe:
            self.assertNotEqual(probe.connect_ex(("127.0.0.1", self.ports[2])), 0)

    @inlineCallbacks
    def test_noRefusalDuringReload(self) -> Any:
        """
        Connections racing twenty reloads of a kept service are all served:
        one made by the loader, so that it waits in the listening socket's
        queue while the new configuration is applied, and those of a client
        process that connects over and over, each reload coming between two
        of its exchanges.  A listening socket closed by a reload would reset
        the queued connection and refuse the client's.
        """
        # Without cps = 0 0 the racing client would trip the default cps.
        unlimited = " cps = 0 0\n"
        self.rewrite(self.text(entry("echo", "e", self.ports[0], unlimited)))
        self.tree.reconfigure(hard=False)
        racer = Racer(self.ports[0])
        yield racer.start(self)
        queued: list[socket.socket] = []

        def connectFirst() -> Any:
            client = socket.create_connection(("127.0.0.1", self.ports[0]), timeout=5)
            self.addCleanup(client.close)
            client.sendall(b"queued %d" % len(queued))
            client.shutdown(socket.SHUT_WR)
            queued.append(client)
            return self.load()

        self.tree.loader = connectFirst
        for round in range(20):
            extra = f" instances = {round + 5}\n"
            self.rewrite(self.text(entry("echo", "e", self.ports[0], extra + unlimited)))
            exchanged = racer.exchanges
            self.tree.reconfigure(hard=False)
            self.assertEqual(len(queued), round + 1)
            echoed = yield readAll(queued[-1])
            self.assertEqual(echoed, b"queued %d" % round)
            yield racer.exchanged(exchanged + 2)
        outcomes = yield racer.stop()
        self.assertGreaterEqual(len(outcomes), 40)
        self.assertEqual([outcome for outcome in outcomes if outcome != "ok"], [])
        self.assertEqual(self.child("e").config.instances, 24)

    def test_invalidRejectedWhole(self) -> None:
        before = {child.name: child.config for child in self.tree.listening()}
        self.rewrite(self.text(entry("echo", "e", self.ports[0], " wait = maybe\n")) + "junk\n")
        self.tree.reconfigure(hard=True)
        after = {child.name: child.config for child in self.tree.listening()}
        self.assertEqual(before, after)
        self.assertIn(
            f"reconfiguration failed: 1 error in {self.path}; the running configuration stays",
            self.log,
        )

    @inlineCallbacks
    def test_hardEndsRefusedSessions(self) -> Any:
        """
        A hard reconfiguration that no longer allows a running session's
        client ends it; a soft one would not.
        """
        self.rewrite(self.text(entry("echo", "e", self.ports[0])))
        self.tree.reconfigure(hard=True)
        held = tcpExchange("127.0.0.1", self.ports[0], b"x", halfClose=False)
        yield self.waitForSessions("e", 1)
        self.rewrite(self.text(entry("echo", "e", self.ports[0], " only_from = 127.0.0.2\n")))
        self.tree.reconfigure(hard=False)
        self.assertEqual(len(self.child("e").sessions()), 1)
        self.tree.reconfigure(hard=True)
        received = yield held
        self.assertEqual(received, b"x")

    def waitForSessions(self, name: str, count: int) -> Any:
        from twisted.internet.task import deferLater

        @inlineCallbacks
        def poll() -> Any:
            for _ in range(200):
                if len(self.child(name).sessions()) == count:
                    return
                yield deferLater(reactor, 0.01, lambda: None)
            self.fail(f"{name} never had {count} sessions")

        return poll()


class LogReopenTests(TestCase):
    """
    Every reconfiguration signal reopens the program log, twistd's log and
    the services' FILE logs, even when the new configuration is rejected.
    """

    @inlineCallbacks
    def test_reopenedOnRejectedConfiguration(self) -> Any:
        port = freePort()
        directory = tempfile.mkdtemp(prefix="txinetd-reopen-")
        self.addCleanup(shutil.rmtree, directory)
        logs = {name: os.path.join(directory, name) for name in ("program", "twistd", "svc")}
        service = entry(
            "daytime", "d", port, f" log_type = FILE {logs['svc']}\n log_on_success = HOST\n"
        )
        path = writeConfig(service)

        def load() -> Any:
            return loadConfig(path, baseDirectory=os.path.dirname(path))

        tree = XinetdService(
            load(),
            collaborators(),
            programLog=ProgramLogObserver(FileLogTarget(logs["program"])),
            loader=load,
            twistdLog=TextLogFile(logs["twistd"]),
        )
        application = Application("txinetd")
        tree.setServiceParent(application)
        twistdObserver = application.getComponent(ILogObserver)
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        yield tcpExchange("127.0.0.1", port)
        for name in logs.values():
            os.rename(name, name + ".1")
        with open(path, "w") as f:
            f.write(service.replace("wait = no", "wait = perhaps"))
        tree.reconfigure(hard=True)
        twistdObserver({"log_format": "after the rotation", "log_time": 0.0})
        yield tcpExchange("127.0.0.1", port)

        def read(name: str) -> str:
            with open(name) as f:
                return f.read()

        self.assertIn("Started working", read(logs["program"] + ".1"))
        self.assertIn("NOTICE: Starting reconfiguration\n", read(logs["program"]))
        self.assertIn("; the running configuration stays\n", read(logs["program"]))
        self.assertTrue(read(logs["twistd"]).endswith("after the rotation\n"))
        self.assertEqual(
            [read(name).count(": START: d ") for name in (logs["svc"] + ".1", logs["svc"])],
            [1, 1],
        )
