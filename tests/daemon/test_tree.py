# -*- test-case-name: tests.daemon.test_tree -*-
"""
Tests for L{txinetd.daemon.tree} and L{txinetd.daemon.service}: the service
tree on a L{MemoryReactorClock}, with an injected socket opener that hands
out fake listening sockets, so that binding, accepting, pausing,
reactivating and reloading are seen without a real socket listening.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import socket
from dataclasses import replace
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import FakeSystem, captureMessages, fakeShared
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.diagnostics import Diagnostic, Severity
from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    Reloaded,
    ReloadResult,
    SessionEvent,
    Started,
)
from txinetd.daemon.loading import loadConfig
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.machine import Collaborators
from txinetd.daemon.service import ListeningService
from txinetd.daemon.tree import XinetdService
from txinetd.net import systemd
from txinetd.net.acceptor import StreamAcceptor
from txinetd.serve import rpc


class FakeListeningSocket:
    """
    A listening socket that accepts the connections a test queues on it.

    @ivar pending: what L{accept} returns next, oldest first.
    """

    family = socket.AF_INET
    type = socket.SOCK_STREAM
    proto = 0

    def __init__(self, port: int) -> None:
        self.port = port
        self.pending: list[tuple[socket.socket, tuple[str, int]]] = []
        self.closed = False

    def fileno(self) -> int:
        return -1 if self.closed else 1000 + self.port

    def getsockname(self) -> tuple[str, int]:
        if self.closed:
            raise OSError(errno.EBADF, "closed")
        return ("127.0.0.1", self.port)

    def _accept(self) -> tuple[int, tuple[str, int]]:
        """
        What C{socket.socket._accept} returns: a queued connection's
        descriptor (its socket object let go of it) and its peer.
        """
        if self.closed:
            raise OSError(errno.EBADF, "closed")
        if not self.pending:
            raise BlockingIOError(errno.EAGAIN, "nothing pending")
        connection, peer = self.pending.pop(0)
        return connection.detach(), peer

    def close(self) -> None:
        self.closed = True


class FakeOpener:
    """
    A L{txinetd.net.listening.SocketOpener} that makes fake sockets, or fails
    for the ports a test says.

    @ivar opened: every socket made, in order, with its service's id.
    @ivar failing: the ports whose bind fails with C{EADDRINUSE}.
    """

    def __init__(self) -> None:
        self.opened: list[tuple[str, FakeListeningSocket]] = []
        self.failing: set[int] = set()

    def __call__(self, config: ServiceConfig) -> list[socket.socket]:
        # An RPC service's port is chosen at bind.
        port = 40111 if config.port is None else config.port
        if port in self.failing:
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        sock = FakeListeningSocket(port)
        self.opened.append((config.id, sock))
        fake: Any = sock
        return [fake]

    def sockets(self, serviceId: str) -> list[FakeListeningSocket]:
        return [sock for opened, sock in self.opened if opened == serviceId]


def daytime(name: str, port: int, extra: str = "") -> str:
    """
    The text of an internal daytime service entry.
    """
    return (
        f"service daytime\n{{\n type = INTERNAL UNLISTED\n id = {name}\n"
        f" socket_type = stream\n protocol = tcp\n wait = no\n port = {port}\n{extra}}}\n"
    )


#: An error in a configuration, which rejects a reload.
BROKEN = Diagnostic(Severity.ERROR, "Bad attribute")


class TreeTests(SynchronousTestCase):
    """
    The service tree, driven by hand.
    """

    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.events: list[SessionEvent] = []
        self.shared = fakeShared(self.clock, observers=(self.events.append,))
        self.opener = FakeOpener()
        self.messages = captureMessages(self)
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)

    def load(self, text: str) -> Config:
        path = os.path.join(self.directory, "xinetd.conf")
        with open(path, "w") as f:
            f.write(text)
        config = loadConfig(path, system=FakeSystem(), baseDirectory=self.directory, euid=0)
        self.assertEqual([error.message for error in config.errors], [])
        return config

    def start(self, text: str) -> XinetdService:
        collaborators = Collaborators(self.shared, self.shared.logs, self.opener)  # type: ignore[arg-type]
        tree = XinetdService(self.load(text), collaborators, stayalive=True)
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        return tree

    def child(self, tree: XinetdService, name: str) -> ListeningService:
        (found,) = [child for child in tree.listening() if child.config.id == name]
        return found

    def acceptors(self) -> list[StreamAcceptor]:
        return [reader for reader in self.clock.readers if isinstance(reader, StreamAcceptor)]

    def connect(self, sock: FakeListeningSocket, host: str = "127.0.0.1") -> socket.socket:
        """
        Queue a connection from C{host} on C{sock} and let its acceptor read
        it.

        @return: the client's end.
        """
        server, client = socket.socketpair()
        self.addCleanup(client.close)
        sock.pending.append((server, (host, 40000)))
        listening: Any = sock
        (acceptor,) = [reader for reader in self.acceptors() if reader.socket is listening]
        acceptor.doRead()
        return client

    def test_bind(self) -> None:
        """
        Starting the tree opens each service's sockets once and reads them;
        a service whose bind fails is left out, and the others serve.
        """
        self.opener.failing.add(1014)
        tree = self.start(daytime("one", 1013) + daytime("two", 1014))
        (sock,) = self.opener.sockets("one")
        self.assertEqual(
            ([reader.socket for reader in self.acceptors()], self.opener.sockets("two")),
            ([sock], []),
        )
        self.assertEqual([state.state for state in tree.serviceStates()], ["Active", "Disabled"])
        self.assertIn(
            (Level.ERROR, "Service two failed to start and is deactivated."), self.messages
        )
        self.assertEqual(tree.counted(), "1 available service")

    def test_accept(self) -> None:
        """
        An accepted connection is admitted and served by the service's
        runner: daytime's reply reaches the client, and the session's
        START and EXIT are told to the observers.
        """
        self.start(daytime("daytime", 1013))
        (sock,) = self.opener.sockets("daytime")
        client = self.connect(sock, "127.0.0.5")
        reply = client.recv(100)
        self.assertTrue(reply.endswith(b"\r\n"), reply)
        self.assertEqual(client.recv(100), b"")
        self.assertEqual(
            [(type(event), event.service, event.host) for event in self.events],  # type: ignore[union-attr]
            [(Started, "daytime", "127.0.0.5"), (Exited, "daytime", "127.0.0.5")],
        )

    def test_refused(self) -> None:
        """
        A client the service's only_from refuses is closed without a word,
        with a FAIL event naming the reason.
        """
        self.start(daytime("daytime", 1013, " only_from = 127.0.0.1\n"))
        (sock,) = self.opener.sockets("daytime")
        client = self.connect(sock, "127.0.0.9")
        self.assertEqual(client.recv(100), b"")
        self.assertEqual(
            [(type(event), getattr(event, "reason", None)) for event in self.events],
            [(Failed, FailReason.ADDRESS)],
        )

    def test_deactivateAndReactivate(self) -> None:
        """
        A cps trip closes the socket and stops reading it; after the cps
        wait the service opens a new socket and reads it again.
        """
        tree = self.start(daytime("daytime", 1013, " cps = 1 7\n"))
        (first,) = self.opener.sockets("daytime")
        self.connect(first)
        self.connect(first)
        self.assertEqual(
            (first.closed, self.acceptors(), [state.state for state in tree.serviceStates()]),
            (True, [], ["Suspended"]),
        )
        self.assertIn(
            (Failed, FailReason.CPS), [(type(e), getattr(e, "reason", None)) for e in self.events]
        )
        self.clock.advance(6.9)
        self.assertEqual(len(self.opener.sockets("daytime")), 1)
        self.clock.advance(0.2)
        (_, second) = self.opener.sockets("daytime")
        self.assertEqual(
            ([reader.socket for reader in self.acceptors()], second.closed),
            ([second], False),
        )
        self.assertIn((Level.ERROR, "Activating service daytime"), self.messages)

    def test_reloadKeepsSockets(self) -> None:
        """
        A reload keeps the socket of a service that is still configured (and
        gives it the new attributes), closes the socket of a removed one and
        opens one for an added one.
        """
        tree = self.start(daytime("kept", 1013) + daytime("removed", 1014))
        (kept,) = self.opener.sockets("kept")
        (removed,) = self.opener.sockets("removed")
        tree.applyConfig(
            self.load(daytime("kept", 1013, " only_from = 127.0.0.1\n") + daytime("added", 1015)),
            hard=False,
        )
        (added,) = self.opener.sockets("added")
        self.assertEqual(
            (
                self.opener.sockets("kept"),
                kept.closed,
                removed.closed,
                sorted(reader.socket.port for reader in self.acceptors()),  # type: ignore[attr-defined]
            ),
            ([kept], False, True, [1013, 1015]),
        )
        self.connect(kept, "127.0.0.9")
        self.assertEqual(
            [(type(event), getattr(event, "reason", None)) for event in self.events],
            [(Reloaded, None), (Failed, FailReason.ADDRESS)],
        )
        self.assertFalse(added.closed)
        self.assertEqual(self.events[0], Reloaded(ReloadResult.APPLIED, self.clock.seconds()))

    def test_reloadRejected(self) -> None:
        """
        A configuration with errors is rejected whole; the observers every
        service shares are told, as they are of one applied.
        """
        tree = self.start(daytime("kept", 1013))
        self.clock.advance(5)
        broken = replace(self.load(daytime("kept", 1013)), diagnostics=(BROKEN,))
        tree.applyConfig(broken, hard=False)
        self.assertEqual(self.events, [Reloaded(ReloadResult.REJECTED, self.clock.seconds())])

    def test_reloadUnchanged(self) -> None:
        """
        A reload keeps the admission of a service whose settings are the
        same (it takes the new configuration object) and makes a new one
        for a service whose settings changed.
        """
        tree = self.start(daytime("same", 1013) + daytime("changed", 1014))
        same, changed = self.child(tree, "same"), self.child(tree, "changed")
        before = (same.admission, changed.admission)
        config = self.load(
            daytime("same", 1013) + daytime("changed", 1014, " only_from = 127.0.0.1\n")
        )
        tree.applyConfig(config, hard=False)
        self.assertEqual(
            (
                same.admission is before[0],
                same.admission.config is same.config,
                same.config in config.services,
                changed.admission is before[1],
                changed.admission.config is changed.config,
            ),
            (True, True, True, False, True),
        )

    def test_reloadOpensServiceLog(self) -> None:
        """
        A service log that could not be opened is opened again by a reload,
        even of the same settings, and the service's lines reach it.
        """
        directory = os.path.join(self.directory, "later")
        path = os.path.join(directory, "service.log")
        text = daytime("daytime", 1013, f" log_type = FILE {path}\n log_on_success = PID\n")
        tree = self.start(text)
        os.mkdir(directory)
        tree.applyConfig(self.load(text), hard=False)
        (sock,) = self.opener.sockets("daytime")
        self.connect(sock).recv(100)
        with open(path) as log:
            self.assertIn("START: daytime pid=", log.read())

    def test_reloadPausesCollector(self) -> None:
        """
        The cycle collector is paused while a reconfiguration loads and
        applies its configuration, and resumes when it is done, applied or
        not; its time limit is not left pending.
        """
        self.addCleanup(gc.enable if gc.isenabled() else gc.disable)
        gc.enable()
        seen: list[bool] = []
        texts = [daytime("kept", 1013), "this is no configuration\n"]

        def loader() -> Config:
            seen.append(gc.isenabled())
            path = os.path.join(self.directory, "xinetd.conf")
            with open(path, "w") as f:
                f.write(texts[len(seen) - 1])
            return loadConfig(path, system=FakeSystem(), baseDirectory=self.directory, euid=0)

        collaborators = Collaborators(self.shared, self.shared.logs, self.opener)  # type: ignore[arg-type]
        tree = XinetdService(
            self.load(daytime("kept", 1013)), collaborators, loader=loader, stayalive=True
        )
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        timers = self.clock.getDelayedCalls()
        for _ in texts:
            tree.reconfigure(hard=False)
        self.assertEqual(
            (
                seen,
                gc.isenabled(),
                self.clock.getDelayedCalls(),
                [type(event) for event in self.events],
            ),
            ([False, False], True, timers, [Reloaded, Reloaded]),
        )
        self.assertEqual(
            [event.result for event in self.events if isinstance(event, Reloaded)],
            [ReloadResult.APPLIED, ReloadResult.REJECTED],
        )

    def test_logBatchHeldWhileRunning(self) -> None:
        """
        With a log batch, the reactor's steps hold it while the tree runs,
        and no longer once it stops.
        """
        batch = WriteBatch()
        held: list[bool] = []

        class SteppingReactor(MemoryReactorClock):
            def doIteration(self, timeout: float | None) -> None:
                held.append(batch.holding)

            def runUntilCurrent(self) -> None:
                held.append(batch.holding)

        self.shared = fakeShared(SteppingReactor())
        collaborators = Collaborators(self.shared, self.shared.logs, self.opener)  # type: ignore[arg-type]
        tree = XinetdService(
            self.load(daytime("one", 1013)), collaborators, stayalive=True, logBatch=batch
        )
        reactor: Any = self.shared.reactor
        reactor.doIteration(0)
        tree.privilegedStartService()
        tree.startService()
        reactor.doIteration(0)
        reactor.runUntilCurrent()
        tree.stopService()
        reactor.doIteration(0)
        self.assertEqual(held, [False, True, True, False])

    def test_periodicConsistencyCheck(self) -> None:
        """
        C{-cc}'s periodic check says it passed only with C{-d}, as xinetd's;
        the one SIGABRT asks for always says it.
        """
        passed = (Level.INFO, "Consistency check passed")
        for debug in (False, True):
            with self.subTest(debug=debug):
                shared = fakeShared(self.clock, debug=debug)
                collaborators = Collaborators(shared, shared.logs, self.opener)  # type: ignore[arg-type]
                tree = XinetdService(
                    self.load(daytime("one", 1013)),
                    collaborators,
                    stayalive=True,
                    consistencyInterval=5,
                )
                tree.privilegedStartService()
                tree.startService()
                self.messages.clear()
                self.clock.advance(5)
                self.clock.advance(5)
                self.assertEqual(self.messages.count(passed), 2 if debug else 0)
                self.messages.clear()
                tree.checkConsistency()
                self.assertEqual(self.messages.count(passed), 1)
                tree.stopService()

    def test_rpcRegistrationsOverlapping(self) -> None:
        """
        An RPC service registered anew (its versions changed) before the
        portmapper answered the first registration: the first one's
        versions are taken off, but for those the second asks for; at the
        stop, the versions the portmapper took for the second go.
        """
        calls: list[tuple[str, tuple[int, ...]]] = []
        pending: list[Deferred[list[tuple[int, bool]]]] = []

        def register(reactor: Any, program: int, versions: Any, *rest: Any) -> Any:
            calls.append(("set", tuple(versions)))
            pending.append(Deferred())
            return pending[-1]

        def unregister(reactor: Any, program: int, versions: Any) -> Any:
            calls.append(("unset", tuple(versions)))
            return succeed([])

        self.patch(rpc, "register", register)
        self.patch(rpc, "unregister", unregister)
        entry = (
            "service mine\n{{\n type = RPC UNLISTED\n rpc_number = 300000\n"
            " rpc_version = {versions}\n socket_type = stream\n protocol = tcp\n wait = no\n"
            " user = root\n server = /bin/cat\n}}\n"
        )
        tree = self.start(entry.format(versions="1-2"))
        tree.applyConfig(self.load(entry.format(versions="2-3")), hard=False)
        pending[0].callback([(1, True), (2, True)])
        pending[1].callback([(2, True), (3, True)])
        tree.stopService()
        self.assertEqual(
            calls,
            [("set", (1, 2)), ("set", (2, 3)), ("unset", (1,)), ("unset", (2, 3))],
        )

    def test_logWrittenBeforeSystemd(self) -> None:
        """
        The lines held in the log batch are written before systemd hears
        that a reconfiguration starts and that it is done: whoever READY=1
        wakes finds C{Reconfigured: ...} in the logs.
        """
        batch = WriteBatch()
        said: list[str] = []

        class Target:
            def writeHeld(self) -> None:
                said.append("written")

        def loader() -> Config:
            batch.add(Target())
            return self.load(daytime("one", 1013))

        collaborators = Collaborators(self.shared, self.shared.logs, self.opener)  # type: ignore[arg-type]
        tree = XinetdService(
            self.load(daytime("one", 1013)),
            collaborators,
            loader=loader,
            stayalive=True,
            logBatch=batch,
        )
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        self.patch(systemd, "reloading", lambda: said.append("RELOADING=1"))
        self.patch(systemd, "ready", lambda status: said.append(f"READY=1 {status}"))
        with batch:
            batch.add(Target())
            tree.reconfigure(hard=False)
            self.assertEqual(
                said,
                [
                    "written",
                    "RELOADING=1",
                    "written",
                    "READY=1 Reconfigured: new=0 old=1 dropped=0 (services): 1 available service",
                ],
            )

    def test_stop(self) -> None:
        """
        Stopping the tree closes every socket and reads none.
        """
        tree = self.start(daytime("one", 1013) + daytime("two", 1014))
        tree.stopService()
        self.assertEqual(
            ([sock.closed for _, sock in self.opener.opened], self.acceptors()),
            ([True, True], []),
        )

    def exiting(self) -> int:
        """
        How many C{Exiting...} warnings were logged.
        """
        return self.messages.count((Level.WARNING, "Exiting..."))

    def test_stopOnSIGTERM(self) -> None:
        """
        A stop by SIGTERM logs C{Exiting...} (WARNING) once, as it begins:
        xinetd's SIGTERM ends as its SIGQUIT.
        """
        tree = self.start(daytime("one", 1013))
        self.clock._exitSignal = signal.SIGTERM  # type: ignore[attr-defined]
        tree.stopService()
        tree.stopService()
        self.assertEqual(self.exiting(), 1)

    def test_stopOtherwise(self) -> None:
        """
        A stop by SIGINT (xinetd ignores it, or exits silently with C{-d}),
        or one that no signal asked for, logs no C{Exiting...}.
        """
        for number in (signal.SIGINT, None):
            tree = self.start(daytime("one", 1013))
            self.clock._exitSignal = number  # type: ignore[attr-defined]
            tree.stopService()
        self.assertEqual(self.exiting(), 0)

    def test_quitThenSIGTERM(self) -> None:
        """
        SIGQUIT logs C{Exiting...} once, even if a SIGTERM stops the
        reactor before it has stopped.
        """
        tree = self.start(daytime("one", 1013))
        tree.quit()
        self.clock._exitSignal = signal.SIGTERM  # type: ignore[attr-defined]
        tree.stopService()
        self.assertEqual((self.exiting(), self.clock.hasStopped), (1, True))
