"""
Reconfiguration of a running tree with the real reactor: kept services keep
their socket, removed ones close, new ones open, invalid configurations are
rejected whole.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from typing import Any

from twisted.application.service import Application
from twisted.internet.defer import inlineCallbacks
from twisted.logger import ILogObserver
from twisted.trial.unittest import TestCase

from txinetd.config import loadConfig
from txinetd.observers import FileLogTarget, ProgramLogObserver, TextLogFile
from txinetd.service import ListeningService, XinetdService

from .support import captureLog, internalService, reactor, tcpExchange, writeConfig


def entry(name: str, serviceId: str, port: int, extra: str = "") -> str:
    return internalService(name, "stream", port, extra).replace(
        f"id = {name}-stream", f"id = {serviceId}"
    )


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
        self.tree = XinetdService(config, reactor, loader=self.load)
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
        A client connecting over and over to a kept service while the
        configuration is reloaded many times is never refused.
        """
        for round in range(20):
            extra = f" instances = {round + 5}\n"
            self.rewrite(self.text(entry("echo", "e", self.ports[0], extra)))
            self.tree.reconfigure(hard=False)
            echoed = yield tcpExchange("127.0.0.1", self.ports[0], b"%d" % round)
            self.assertEqual(echoed, b"%d" % round)
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
            reactor,
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
