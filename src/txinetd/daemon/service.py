# -*- test-case-name: tests.integration.test_builtins,tests.integration.test_service_lifecycle -*-
"""
The service tree: one named child service per configured service, each
owning its listening socket.

Sockets are made here rather than by C{listenTCP}/C{listenUDP} so that every
option xinetd sets is set (dual stack with C{IPV6_V6ONLY} explicitly off,
C{SO_REUSEADDR}, C{TCP_NODELAY}, C{SO_KEEPALIVE}, a backlog of 64) and so that
a reconfiguration can keep a socket open while its service changes.  They are
bound in C{privilegedStartService}; a bind failure deactivates that service
alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import socket
from collections.abc import Callable
from typing import IO, Any, cast

from twisted.application.service import MultiService, Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    maybeDeferred,
    succeed,
)
from twisted.internet.protocol import DatagramProtocol, Protocol
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import ILogObserver, Logger, globalLogPublisher, textFileLogObserver
from twisted.python.components import Componentized
from twisted.python.failure import Failure

from txinetd import __version__
from txinetd.builtins.introspect import DaemonView
from txinetd.builtins.simple import SENSORS, InternalContext, InternalServices, shouldAnswer
from txinetd.core.addresses import addressOf
from txinetd.core.attributes import Flag, ServiceType, SocketType
from txinetd.core.config import Config, Listening, ServiceConfig, ServiceKind
from txinetd.core.dump import ServiceState, formatDump
from txinetd.core.endpoint import UNIXListen
from txinetd.core.events import FailReason, Level
from txinetd.core.limits import RunningServers
from txinetd.core.servertable import ServerState
from txinetd.daemon.logtargets import TextLogFile
from txinetd.daemon.machine import Collaborators
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.reload import ReloadQueue, SignalDispatcher, planReload
from txinetd.daemon.safefiles import openForWriting, removeFile
from txinetd.daemon.states import StateView
from txinetd.interfaces import IInternalService
from txinetd.net import systemd
from txinetd.net.acceptor import (
    DESCRIPTOR_ERRORS,
    PendingConnection,
    StreamAcceptor,
    asIPv4,
    attachProtocol,
)
from txinetd.net.listening import SocketOpener, bindFailed, removeUnixSocket
from txinetd.net.readers import (
    Listeners,
    WaitingWatcher,
    acceptAndClose,
    discardDatagrams,
    peekSender,
)
from txinetd.net.relay import Relay
from txinetd.net.tls import TLSError, TLSFront, clientCreator, serverOptions
from txinetd.serve import rpc
from txinetd.serve.admission import Admission
from txinetd.serve.external import clientEnvironment, serverSpec
from txinetd.serve.immediate import receivedWhole
from txinetd.serve.internal import ServedProtocol
from txinetd.serve.redirect import describeConnectError
from txinetd.serve.rpc import pmapSetFailed, rpcProgram, rpcVersions
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared
from txinetd.serve.tcpmux import acceptReply, multiplex
from txinetd.spawn.spawner import ProcessExit, RunningProcess, SpawnError, SpawnSpec

log = Logger(namespace="txinetd")

__all__ = ["ListeningService", "XinetdService"]

DEFAULT_DUMP_FILE = "/var/run/xinetd.dump"
SENSOR_SCAN_INTERVAL = 60
#: Seconds running servers get between SIGTERM and SIGKILL when txinetd stops,
#: when their service is removed, or when a hard reconfiguration refuses them.
STOP_GRACE = 5.0
STOP_POLL = 0.05
MAX_DATAGRAM = 65536


def internalServiceOf(
    config: ServiceConfig, installed: InternalServices
) -> IInternalService | None:
    """
    The built-in (or plugin) that serves a service: by its name, or
    C{sensor} for a SENSOR service, and its socket type.
    """
    if config.kind is ServiceKind.SENSOR:
        return SENSORS.get(config.socket_type.value)
    return installed.find(config.name, config.socket_type.value)


class InternalDatagramProtocol(DatagramProtocol):
    """
    Answers datagrams with an internal service, after the service's checks
    (which refuse the daemon's own datagram ports), never to a source port
    below 1024.
    """

    noisy = False

    def __init__(self, service: ListeningService, plugin: IInternalService) -> None:
        self.service = service
        self.plugin = plugin

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        peer = addressOf(addr)
        if peer is None or not shouldAnswer(peer[1]):
            return
        checked = self.service.admission.checkDatagram(peer)
        checked.addCallback(self._answer, datagram, addr, peer)

    def _answer(self, allowed: bool, datagram: bytes, addr: Any, peer: tuple[str, int]) -> None:
        if not allowed:
            return
        context = InternalContext(
            self.service.reactor, self.service.config.id, peer, self.service.view
        )
        reply = self.plugin.answerDatagram(datagram, context)
        self.service.admission.started(0, peer[0])
        if reply is not None and self.transport is not None:
            self.transport.write(reply, addr)


class ListeningService(Service):
    """
    One configured service and its listening socket.

    @ivar config: its L{ServiceConfig}.
    @ivar admission: its L{Admission}.
    @ivar port: what reads the sockets once they are bound: L{Listeners}
        of L{StreamAcceptor}s for stream services, of Twisted UDP ports for
        internal dgram ones, of a L{WaitingWatcher} for C{wait = yes}
        external ones.
    @ivar sockets: the listening sockets txinetd closes itself (not those
        of Twisted ports).
    @ivar socket: the one listening socket of a service that hands it to
        its servers (external C{wait = yes}).
    """

    def __init__(
        self,
        config: ServiceConfig,
        shared: Shared,
        openSockets: SocketOpener,
        internals: InternalServices,
        view: DaemonView,
    ) -> None:
        """
        @param shared: what every service shares.
        @param openSockets: makes the listening sockets.
        @param internals: the installed internal services.
        @param view: what the introspection services see of the daemon.
        """
        self.config = config
        self.shared = shared
        self.openSockets = openSockets
        self.view = view
        self.internals = internals
        self.reactor = shared.reactor
        self.servers = RunningServers(shared.processes)
        self.admission = Admission(
            config,
            shared,
            self.servers,
            pauseFor=self.deactivateFor,
            onCountChange=(
                self._oneAtATime if config.listening is Listening.ACCEPT_ONE_AT_A_TIME else None
            ),
        )
        self.plugin = internalServiceOf(config, internals)
        #: What the service's servers are started with, made at the first.
        self.serverSpec: SpawnSpec | None = None
        self.port: Listeners | None = None
        self.sockets: list[socket.socket] = []
        #: The errnos of C{IPV6_ADDRFORM} failures already logged.
        self.addrformFailures: set[int | None] = set()
        self.socket: socket.socket | None = None
        self.bindAttempted = False
        self.reactivation: Any = None
        self.rpcProgram: int | None = None
        self.ending: set[Deferred[None]] = set()
        self.tlsFront: Any = None
        self.redirectTLS: Any = None
        #: The port of this datagram service, while it listens.
        self.datagramPort: int | None = None
        self.secure(config)
        self.setName(config.id)

    def secure(self, config: ServiceConfig) -> None:
        """
        Read the TLS certificates of C{config} (for the connections accepted
        from now on); on failure the ones in use stay, and a service that
        has none cannot be activated (see L{tlsMissing}).
        """
        if config.tls is None and config.redirectTLS is None:
            self.tlsFront = self.redirectTLS = None
            return
        try:
            front = (
                None if config.tls is None else TLSFront(self.reactor, serverOptions(config.tls))
            )
            target = None if config.redirectTLS is None else clientCreator(config.redirectTLS)
        except TLSError as e:
            programMessage(Level.ERROR, f"Service {config.id}: TLS: {e}")
            # A side the new configuration no longer wants is dropped all
            # the same.
            front = self.tlsFront if config.tls is not None else None
            target = self.redirectTLS if config.redirectTLS is not None else None
        self.tlsFront, self.redirectTLS = front, target

    def tlsMissing(self, config: ServiceConfig) -> bool:
        """
        Whether C{config} wants TLS (in front, or to the redirect target)
        that the service does not have: it must not listen then, rather
        than serve or relay in the clear.
        """
        return (config.tls is not None and self.tlsFront is None) or (
            config.redirectTLS is not None and self.redirectTLS is None
        )

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self.bind()

    def startService(self) -> None:
        super().startService()
        self.bind()

    def bind(self) -> None:
        """
        Bind and start reading the listening socket, once; a failure is
        logged and leaves the service inactive.  A TCPMUX service has no
        socket of its own; an RPC one is registered with the portmapper.
        """
        if self.bindAttempted or not self.config.listens:
            return
        self.bindAttempted = True
        self.listen()

    def listen(self) -> None:
        """
        Activate the service and register it with the portmapper if it is
        an RPC one; a failure is logged and leaves it inactive.
        """
        if self.activate():
            if ServiceType.RPC in self.config.type:
                self.registerRpc()
            return
        programMessage(Level.ERROR, f"Service {self.config.id} failed to start and is deactivated.")

    def activate(self) -> bool:
        """
        Open the listening sockets and start serving them.

        @return: whether it worked (the error is logged).
        """
        if self.tlsMissing(self.config):
            return False
        try:
            sockets = self.openSockets(self.config)
            readers = self.readersFor(sockets)
        except OSError as e:
            programMessage(Level.ERROR, bindFailed(self.config, e))
            return False
        self.port = Listeners(readers)
        self.port.startReading()
        if self.config.socket_type is SocketType.DGRAM:
            self.claimDatagramPort()
        return True

    def readersFor(self, sockets: list[socket.socket]) -> list[Any]:
        """
        What reads each listening socket: an acceptor for stream services, a
        watcher for an external C{wait = yes} service (which has one
        socket), a Twisted port for internal dgram ones.

        @raise OSError: if a Twisted port cannot be made (every socket is
            closed then).
        """
        config = self.config
        if config.listening.accepts:
            self.sockets = sockets
            accepted, exhausted = self.connectionAccepted, self.descriptorsExhausted
            return [StreamAcceptor(self.reactor, sock, accepted, exhausted) for sock in sockets]
        if config.listening.handsOver:
            self.sockets = sockets
            (self.socket,) = sockets
            stream = config.listening is Listening.HAND_OVER_STREAM
            onReadable = self.pendingConnection if stream else self.pendingDatagram
            return [WaitingWatcher(self.reactor, self.socket, onReadable)]
        ports: list[Any] = []
        try:
            for sock in sockets:
                ports.append(
                    self.reactor.adoptDatagramPort(
                        sock.fileno(),
                        sock.family,
                        InternalDatagramProtocol(self, self.internalPlugin()),
                        MAX_DATAGRAM,
                    )
                )
        except OSError:
            Listeners(ports).stopListening()
            raise
        finally:
            for sock in sockets:
                sock.close()
        return ports

    def claimDatagramPort(self) -> None:
        """
        Count the port of this datagram service among the daemon's own:
        no datagram service answers a datagram from it (see
        L{txinetd.serve.admission.Admission.checkDatagram}).
        """
        address = self.address
        if address is not None:
            self.datagramPort = address[1]
            self.shared.datagramPorts[address[1]] += 1

    def releaseDatagramPort(self) -> None:
        port, self.datagramPort = self.datagramPort, None
        if port is not None:
            self.shared.datagramPorts[port] -= 1
            if self.shared.datagramPorts[port] <= 0:
                del self.shared.datagramPorts[port]

    def registerRpc(self) -> None:
        """
        Register every version of an RPC service with the portmapper; a
        service with none registered is deactivated.
        """
        config, address = self.config, self.address
        program = rpcProgram(config, self.shared.rpcByName)
        if program is None or address is None:
            return
        self.rpcProgram = program

        def registered(results: list[tuple[int, bool]]) -> None:
            for version, ok in results:
                if not ok:
                    programMessage(Level.ERROR, pmapSetFailed(config.id, program, version))
            if results and not any(ok for _, ok in results):
                programMessage(
                    Level.ERROR, f"Service {config.id} failed to start and is deactivated."
                )
                self.deactivate()

        versions = rpcVersions(config)
        registering = rpc.register(self.reactor, program, versions, config.protocol, address[1])
        registering.addCallback(registered)

    def deactivate(self) -> Any:
        """
        Close the listening socket (and take an RPC service off the
        portmapper).
        """
        if self.rpcProgram is not None:
            rpc.unregister(self.reactor, self.rpcProgram, rpcVersions(self.config))
            self.rpcProgram = None
        self.releaseDatagramPort()
        port, self.port = self.port, None
        sockets, self.sockets = self.sockets, []
        self.socket = None
        stopping = None if port is None else port.stopListening()
        for sock in sockets:
            if isinstance(self.config.listen, UNIXListen):
                removeUnixSocket(sock)
            sock.close()
        return stopping

    def internalPlugin(self) -> IInternalService:
        if self.plugin is None:
            raise RuntimeError(f"no internal service {self.config.name}")
        return self.plugin

    def reconfigure(
        self, config: ServiceConfig, hard: bool, internals: InternalServices | None = None
    ) -> None:
        """
        Take a new configuration of the same service for new connections;
        the socket stays open.  C{hard}: sessions the new rules refuse are
        ended.
        """
        old = self.admission
        self.secure(config)
        if self.tlsMissing(config):
            self.deactivate()
        self.config = config
        if internals is not None:
            self.internals = internals
        self.plugin = internalServiceOf(config, self.internals)
        self.serverSpec = None
        self.admission = Admission(
            config,
            self.shared,
            self.servers,
            pauseFor=self.deactivateFor,
            onCountChange=old.onCountChange,
            cps=old.cps if config.cps == old.config.cps else None,
        )
        if hard:
            self.recheckSessions()
        if self.idle:
            # As xinetd, which frees a service that failed and starts it as
            # a new one on the next reconfiguration.
            self.bindAttempted = True
            self.listen()

    @property
    def idle(self) -> bool:
        """
        Whether the service runs and should listen, but does not and will
        not by itself (its bind failed, or TLS was missing).
        """
        return (
            bool(self.running)
            and self.port is None
            and self.reactivation is None
            and self.config.listens
        )

    def sessions(self) -> list[Session]:
        """
        The sessions running now, oldest first.
        """
        return [key for key in self.servers.counted() if isinstance(key, Session)]

    def recheckSessions(self) -> None:
        """
        End the running sessions that the current rules refuse, and the
        newest ones beyond C{instances} and C{per_source}.
        """
        sessions = self.sessions()
        for session in sessions:
            self.admission.recheck(session).addCallback(self._endIfRefused, session)
        excess: list[Session] = []
        instances = self.config.instances
        if instances is not None:
            excess += sessions[instances:]
        perSource = self.config.per_source
        if perSource is not None:
            seen: dict[str | None, int] = {}
            for session in sessions:
                seen[session.host] = seen.get(session.host, 0) + 1
                if session.host is not None and seen[session.host] > perSource:
                    excess.append(session)
        if excess:
            self.end(excess)

    def _endIfRefused(self, reason: object, session: Session) -> None:
        if reason is not None:
            self.end([session])

    def end(self, sessions: list[Session]) -> None:
        """
        End some of the service's sessions (see L{terminate}); when the
        service stops first, the daemon ends them with the others.
        """
        ending = terminate(self.reactor, lambda: sessions)
        self.ending.add(ending)
        ending.addErrback(lambda failure: failure.trap(CancelledError))
        ending.addBoth(lambda _: self.ending.discard(ending))

    def connectionAccepted(self, connection: PendingConnection) -> None:
        if self.tlsFront is not None:
            secured = self.tlsFront.secure(connection)
            if secured is None:
                return
            connection = secured
        self.admission.admit(connection, self)

    def run(self, connection: PendingConnection, session: Session) -> None:
        """
        Run this service on an admitted connection (the admission's
        L{Runner<txinetd.serve.admission.Runner>}).
        """
        kind = self.config.kind
        if kind is ServiceKind.SERVER:
            self.startExternal(connection, session)
        elif kind is ServiceKind.REDIRECT:
            self.startRedirect(connection, session)
        elif kind is ServiceKind.TCPMUX:
            self.startTcpmux(connection, session)
        else:
            self.startInternal(connection, session)

    def startTcpmux(self, connection: PendingConnection, session: Session) -> None:
        """
        The tcpmux service (RFC 1078): read the service name, then run the
        named TCPMUX service on the connection, through that service's own
        checks.  Stopping the session while it waits for the name closes
        the connection; its EXIT is logged.
        """
        session.begin(0)
        targets = [child.config for child in self.tcpmuxTargets()]
        choosing = multiplex(self.reactor, connection, targets)
        session.stopWith(lambda force: choosing.cancel())
        choosing.addCallback(self._tcpmuxChosen, connection, session)
        choosing.addErrback(lambda failure: connection.close())
        choosing.addBoth(lambda _: session.ended(0))

    def tcpmuxTargets(self) -> list[ListeningService]:
        parent = self.parent
        if not isinstance(parent, XinetdService):
            return []
        return [
            child
            for child in parent.listening()
            if child.config.listening is Listening.THROUGH_TCPMUX
        ]

    def _tcpmuxChosen(
        self, target: ServiceConfig | None, connection: PendingConnection, session: Session
    ) -> None:
        if target is None:
            return
        for child in self.tcpmuxTargets():
            if child.config is target:
                # The target's checks come first: a refused client gets no +Go.
                child.admission.admit(connection, child, acceptReply(target))
                return
        connection.close()

    def startRedirect(self, connection: PendingConnection, session: Session) -> None:
        """
        Relay an admitted connection to the C{redirect} target.
        """
        redirect = self.config.redirect
        assert redirect is not None
        address = redirect.host.addresses[0]

        def ended(bytesIn: int, bytesOut: int, reached: bool) -> None:
            if reached:
                session.traffic(bytesIn, bytesOut)
            session.ended(0)

        def failed(failure: Failure) -> None:
            programMessage(
                Level.ERROR,
                f"can't connect to remote host {address}: {describeConnectError(failure)}",
            )

        relay = Relay(
            self.reactor,
            address,
            redirect.port,
            Flag.KEEPALIVE in self.config.flags,
            ended,
            failed,
            tls=self.redirectTLS,
        )
        session.stopWith(relay.stop)
        if self.adopt(connection, session, relay.client):
            session.begin(0)

    def launch(
        self, peer: tuple[str, int] | None, fd: int, extra: dict[str, str] | None = None
    ) -> RunningProcess:
        """
        Start the service's server for a client with C{fd} on its fds 0-2
        (C{extra}: more environment variables).

        @raise SpawnError: if no child could be started.
        """
        servers = self.shared.servers
        if self.serverSpec is None:
            # Once per configuration: only the client's variables change.
            self.serverSpec = serverSpec(
                self.config, servers.environ, servers.euid, servers.fileLimit, servers.umask
            )
        process: RunningProcess = servers.spawner.launch(
            self.serverSpec, fd, clientEnvironment(peer, extra)
        )
        return process

    def serverLaunched(self, process: RunningProcess, session: Session) -> None:
        """
        A child exists for C{session}: it is a server until it is reaped, and
        stopping the session signals it.  START is logged once it runs.
        """
        session.stopWith(lambda force: process.signal(signal.SIGKILL if force else signal.SIGTERM))
        executed = process.whenExecuted()
        executed.addCallback(self.serverStarted, session)
        executed.addErrback(self.serverFailed, session)

    def serverStarted(self, process: RunningProcess, session: Session) -> RunningProcess:
        """
        A server runs for C{session}: log START, and EXIT when it ends.
        """
        session.begin(process.pid)
        process.whenExited().addCallback(self.serverExited, session)
        return process

    @staticmethod
    def serverExited(exit: ProcessExit, session: Session) -> None:
        status = exit.status
        if status is None and exit.signal is None:
            status = -1
        session.ended(status, exit.signal)

    def serverFailed(self, failure: Failure, session: Session) -> None:
        """
        A server could not be started: log why in the program log and a
        FAIL line in the service log (C{fork} when no process could be
        made, C{execv} otherwise); the daemon goes on.
        """
        error = failure.value
        reason = FailReason.EXEC
        if isinstance(error, SpawnError):
            programMessage(Level.ERROR, error.describe() + execHint(error))
            if error.operation in _FORK_OPERATIONS:
                reason = FailReason.FORK
        else:
            programMessage(Level.ERROR, f"execv( {self.config.server} ) failed: {error}")
        session.fail(reason)

    def startExternal(self, connection: PendingConnection, session: Session) -> None:
        """
        Start the server of an admitted connection; txinetd's copy of the
        socket is closed (never shut down) once the server has its own.
        """
        self.toIPv4(connection)
        try:
            process = self.launch(connection.peer, connection.fileno(), connection.environment)
        except SpawnError as e:
            self.serverFailed(Failure(e), session)
            if e.operation == "fork" and e.errno in DESCRIPTOR_ERRORS:
                self.descriptorsExhausted(e.errno)
            return
        finally:
            connection.close()
        self.serverLaunched(process, session)

    def toIPv4(self, connection: PendingConnection) -> None:
        """
        Make the connection of an IPv4 client on a dual-stack socket (one
        systemd passed; txinetd's own are never dual-stack) an AF_INET one
        for its server.  A kernel without C{IPV6_ADDRFORM} cannot: the
        server then sees C{::ffff:a.b.c.d}, which is logged at WARNING (as
        xinetd does) once per service and reason.
        """
        try:
            asIPv4(connection)
        except OSError as e:
            if e.errno in self.addrformFailures:
                return
            self.addrformFailures.add(e.errno)
            programMessage(
                Level.WARNING,
                f"service {self.config.id}, IPV6_ADDRFORM setsockopt() failed: "
                f"{e.strerror} (errno = {e.errno})",
            )

    def pendingConnection(self) -> None:
        """
        C{wait = yes} stream: a connection is pending on the listening
        socket.  Hand the socket to a server and watch it again only when
        that server has exited.
        """
        self.pauseListening()
        reason = self.admission.checkLimits(None)
        if reason is not None:
            self.admission.failed(reason, None)
            if self.socket is not None:
                acceptAndClose(self.socket)
            self.resumeListening()
            return
        self.handOver(None)

    def pendingDatagram(self) -> None:
        """
        C{wait = yes} dgram: a datagram is queued.  Check its sender, then
        hand the socket to a server; once it has exited, discardDatagrams what is left
        and watch the socket again.
        """
        if self.socket is None:
            return
        sender = peekSender(self.socket)
        if sender is None:
            return
        self.pauseListening()
        checked = self.admission.checkDatagram(sender)
        checked.addCallback(self._datagramChecked, sender)

    def _datagramChecked(self, allowed: bool, sender: tuple[str, int]) -> None:
        if self.socket is None:
            return
        if not allowed:
            discardDatagrams(self.socket, limit=1)
            self.resumeListening()
            return
        self.handOver(sender)

    def handOver(self, peer: tuple[str, int] | None) -> None:
        """
        Start a server with the listening socket itself on its fds 0-2.
        """
        assert self.socket is not None
        session = self.admission.reserve(peer[0] if peer is not None else None)
        try:
            process = self.launch(peer, self.socket.fileno())
        except SpawnError as e:
            self.serverFailed(Failure(e), session)
            self._serverGone(None)
            return
        self.serverLaunched(process, session)
        # Whether it ran or not, the socket is watched again once it is reaped.
        gone = process.whenExecuted().addCallback(lambda _: process.whenExited())
        gone.addBoth(self._serverGone)

    def _serverGone(self, ignored: object) -> None:
        if self.socket is not None and self.config.socket_type is SocketType.DGRAM:
            discardDatagrams(self.socket)
        self.resumeListening()

    def startInternal(self, connection: PendingConnection, session: Session) -> None:
        """
        Serve an admitted connection with the internal service, in process.
        A service that only sends a reply (daytime, time) gets it written to
        the socket and closed, without a Twisted transport.
        """
        plugin = self.internalPlugin()
        context = InternalContext(self.reactor, self.config.id, connection.peer, self.view)
        reply = getattr(plugin, "reply", None)
        if reply is not None:
            session.begin(0)
            connection.send(reply(context)).addBoth(self._replied, connection, session)
            return
        answer = getattr(plugin, "answer", None)
        if answer is not None:
            try:
                received = receivedWhole(connection.socket)
            except OSError:
                session.abandon()
                connection.close()
                return
            if received is not None:
                session.begin(0)
                connection.send(answer(received)).addBoth(self._replied, connection, session)
                return
        protocol = plugin.buildProtocol(context)
        served = ServedProtocol(protocol, session.ended)  # type: ignore[arg-type]
        session.stopWith(served.stop)
        if self.adopt(connection, session, served):
            session.begin(0)

    def adopt(self, connection: PendingConnection, session: Session, protocol: Protocol) -> bool:
        """
        Give an admitted connection to a Twisted transport running
        C{protocol}; txinetd's raw copy is closed.  Out of descriptors, the
        service is deactivated as when accept() fails.

        @return: whether it was adopted (if not, the session is dropped).
        """
        try:
            attachProtocol(self.reactor, connection.fileno(), connection.family, protocol)
        except OSError as e:
            session.abandon()
            if e.errno in DESCRIPTOR_ERRORS:
                self.descriptorsExhausted(e.errno)
            return False
        finally:
            connection.close()
        return True

    @staticmethod
    def _replied(result: object, connection: PendingConnection, session: Session) -> None:
        connection.close()
        session.ended(0)

    def _oneAtATime(self, running: int) -> None:
        """
        C{wait = yes} stream: accept nothing while a connection is served.
        """
        if running:
            self.pauseListening()
        else:
            self.resumeListening()

    def descriptorsExhausted(self, errno: int) -> None:
        """
        accept(), an adoption or a server's start failed for want of
        descriptors (C{errno}): pause as xinetd does.
        """
        self.deactivateFor(self.config.cps.wait or 10, "no available descriptors")

    def deactivateFor(self, wait: int, why: str) -> None:
        """
        Close the socket for C{wait} seconds (a cps trip, no descriptors):
        clients are refused meanwhile.  Only the first call of a pause logs
        and counts: a datagram batch read on may trip again.

        @param why: the reason, for the program log.
        """
        if self.reactivation is not None:
            return
        programMessage(
            Level.ERROR,
            f"Deactivating service {self.config.name} due to {why}.  Restarting in {wait} seconds.",
        )
        self.deactivate()
        self.reactivation = self.reactor.callLater(wait, self.reactivate)

    def reactivate(self) -> None:
        self.reactivation = None
        if not self.running:
            return
        if self.activate():
            programMessage(Level.ERROR, f"Activating service {self.config.name}")
            return
        programMessage(Level.ERROR, f"Error activating service {self.config.name}")
        # Unlike xinetd, which gives up here, try again after another wait
        # (descriptors or the port may be free by then).
        self.reactivation = self.reactor.callLater(self.config.cps.wait or 10, self.reactivate)

    @property
    def address(self) -> tuple[str, int] | None:
        """
        The (host, port) the service listens on, or L{None} if it is not
        listening.
        """
        return None if self.port is None else self.port.address

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """
        The (host, port) of every IP socket the service listens on.
        """
        return () if self.port is None else self.port.addresses

    def pauseListening(self) -> None:
        """
        Stop accepting connections (C{wait = yes}).
        """
        if self.port is not None:
            self.port.stopReading()

    def resumeListening(self) -> None:
        """
        Accept connections again.
        """
        if self.port is not None and self.running:
            self.port.startReading()

    def stopService(self) -> Any:
        """
        Stop listening (and stay so: nothing listens again by itself).  It
        may be called again, to no effect.
        """
        super().stopService()
        self.bindAttempted = False
        if self.reactivation is not None:
            self.reactivation.cancel()
            self.reactivation = None
        for ending in list(self.ending):
            ending.cancel()
        return self.deactivate()


class XinetdService(MultiService):
    """
    The root of the service tree: one L{ListeningService} per service that
    listens, named by its id (services sharing an id get their port and
    protocol appended).
    """

    def __init__(
        self,
        config: Config,
        collaborators: Collaborators,
        programLog: ILogObserver | None = None,
        loader: Callable[[], Config] | None = None,
        loadInThread: bool = False,
        stayalive: bool = False,
        installSignals: bool = False,
        dumpFile: str = DEFAULT_DUMP_FILE,
        pidFile: str | None = None,
        consistencyInterval: int | None = None,
        twistdLog: TextLogFile | None = None,
    ) -> None:
        """
        @param config: the configuration, loaded with the installed internal
            services (L{txinetd.core.config.Config.internals}).
        @param collaborators: what the tree is built with.
        @param programLog: the observer of C{-filelog} or C{-syslog}.
        @param loader: reads the configuration anew, for reconfiguration.
        @param loadInThread: read the files of a reconfiguration in a thread.
        @param stayalive: keep running when a reconfiguration leaves no
            service.
        @param installSignals: install the reconfiguration signal handlers
            while running.
        @param dumpFile: where SIGABRT appends the state dump.
        @param pidFile: where to write the daemon's pid while it runs.
        @param consistencyInterval: check the bookkeeping this often
            (seconds).
        @param twistdLog: twistd's log file, which the tree installs as the
            log observer of the application it is added to, so that it is
            reopened with the other logs.
        """
        super().__init__()
        self.config = config
        self.collaborators = collaborators
        self.shared = collaborators.shared
        self.reactor = reactor = self.shared.reactor
        self.internals = installedWith(config)
        self.view = StateView(self.serviceStates, self.serverStates)
        self.programLog = programLog
        self.twistdLog = twistdLog
        self.loader = loader
        self.loadInThread = loadInThread
        self.reloads = ReloadQueue(self._reconfigure)
        self.stayalive = stayalive
        self.shared.servers.spawner.setServiceParent(self)
        self.leaveServersRunning = False
        #: Removed services whose sessions may still run.
        self.retired: list[ListeningService] = []
        self.dumpFile = dumpFile
        self.pidFile = pidFile
        self.sensorScan = LoopingCall(self.expireSensor)
        self.sensorScan.clock = reactor
        self.checker: LoopingCall | None = None
        if consistencyInterval is not None:
            self.checker = LoopingCall(self.checkConsistency)
            self.checker.clock = reactor
            self.consistencyInterval = consistencyInterval
        self.signals: SignalDispatcher | None = None
        if installSignals:
            self.signals = SignalDispatcher(
                reactor,
                {
                    signal.SIGHUP: lambda: self.reconfigure(hard=True),
                    signal.SIGUSR2: lambda: self.reconfigure(hard=True),
                    signal.SIGUSR1: lambda: self.reconfigure(hard=False),
                    signal.SIGQUIT: self.quit,
                    signal.SIGABRT: self.checkAndDump,
                },
            )
        for serviceConfig in config.services:
            self.addListening(serviceConfig)

    def setServiceParent(self, parent: Any) -> None:
        """
        Join the application; with a twistd log file, make it the
        application's log observer, which twistd then uses instead of
        opening the file itself (it could not be reopened after rotation).
        """
        super().setServiceParent(parent)
        if self.twistdLog is not None and isinstance(parent, Componentized):
            # A text file as far as the observer is concerned: write and flush.
            logFile = cast(IO[Any], self.twistdLog)
            parent.setComponent(ILogObserver, textFileLogObserver(logFile))

    def reopenLogs(self) -> None:
        """
        Reopen every log file: the program log, twistd's log and the
        services' FILE logs (log rotation, on every reconfiguration signal).
        """
        reopen = getattr(self.programLog, "reopen", None)
        if reopen is not None:
            reopen()
        if self.twistdLog is not None:
            self.twistdLog.reopen()
        self.collaborators.logs.reopen()

    def addListening(self, config: ServiceConfig) -> ListeningService:
        """
        Add the service of a configuration to the tree (started at once if
        the tree runs).
        """
        child = ListeningService(
            config, self.shared, self.collaborators.openSockets, self.internals, self.view
        )
        if child.name in self.namedServices:
            child.setName(self.uniqueName(config))
        child.setServiceParent(self)
        return child

    def listening(self) -> list[ListeningService]:
        """
        The services of the tree.
        """
        return [child for child in self if isinstance(child, ListeningService)]

    def available(self) -> list[ListeningService]:
        """
        The services that listen, or will again after a pause (as xinetd's
        available services).
        """
        return [
            child
            for child in self.listening()
            if child.port is not None or child.reactivation is not None
        ]

    def reconfigure(self, hard: bool) -> Deferred[None]:
        """
        Read the configuration anew and apply it: services whose identity
        is unchanged keep their socket and take the new attributes, removed
        ones stop (C{hard}: their sessions end too, and so do sessions the
        new rules refuse), new ones start.  An invalid configuration is
        rejected whole and the running one stays.  With C{loadInThread} the
        files are read in a thread, so the reactor keeps serving meanwhile.
        Every log file is reopened first (see L{reopenLogs}).
        A reconfiguration asked for while one runs follows it (see
        L{ReloadQueue}): the last configuration on disk is the one in effect.

        @return: fires once a reconfiguration that started after this call
            is done.
        """
        # The log files are reopened whatever becomes of the configuration:
        # logrotate's signal must not be lost to an invalid one.
        self.reopenLogs()
        if self.loader is None:
            return succeed(None)
        if self.reloads.running:
            programMessage(Level.NOTICE, "reconfiguration already in progress; another follows it")
        return self.reloads.request(hard)

    def _reconfigure(self, hard: bool) -> Deferred[None]:
        """
        One reconfiguration (see L{reconfigure}); L{ReloadQueue} runs one at
        a time.
        """
        assert self.loader is not None
        systemd.reloading()
        programMessage(Level.NOTICE, "Starting reconfiguration")
        if self.loadInThread:
            loading: Deferred[Config] = deferToThreadPool(
                self.reactor, self.reactor.getThreadPool(), self.loader
            )
        else:
            loading = maybeDeferred(self.loader)

        def done(result: object) -> None:
            if isinstance(result, Failure):
                log.failure("Reconfiguration failed", result)
                result = self.rejected(result.getErrorMessage())
            systemd.ready(str(result))

        return loading.addCallback(self.applyConfig, hard).addBoth(done)

    def rejected(self, why: str) -> str:
        """
        Log that a reconfiguration failed and why, and that the running
        configuration stays.

        @return: the status for systemd.
        """
        programMessage(
            Level.WARNING, f"reconfiguration failed: {why}; the running configuration stays"
        )
        return (
            f"Reconfiguration failed: {why}; running the previous configuration, {self.counted()}"
        )

    def availableCount(self) -> int:
        """
        How many services listen.
        """
        return len([child for child in self.listening() if child.port is not None])

    def counted(self) -> str:
        """
        C{N available services}: how many services listen.
        """
        count = self.availableCount()
        return f"{count} available {'service' if count == 1 else 'services'}"

    def applyConfig(self, config: Config, hard: bool) -> str:
        """
        Apply a newly loaded configuration (see L{reconfigure}).

        @return: what txinetd runs now, for systemd's status.
        """
        if config.isFatal or config.errors:
            reportDiagnostics(config)
            count = len(config.errors)
            return self.rejected(f"{count} {'error' if count == 1 else 'errors'} in {config.path}")
        reportDiagnostics(config)
        programMessage(Level.NOTICE, "Swapping defaults")
        self.config = config
        self.internals = installedWith(config)
        self.shared.hosts.reread()
        plan = planReload(
            [(child, child.config) for child in self.listening()],
            config.services,
        )
        for child, newConfig in plan.kept:
            programMessage(Level.NOTICE, f"readjusting service {newConfig.id}")
            child.reconfigure(newConfig, hard, self.internals)
        for child in plan.removed:
            child.disownServiceParent()
            programMessage(Level.NOTICE, f"service {child.config.id} deactivated")
            self.retired.append(child)
            if hard:
                child.end(child.sessions())
        for newConfig in plan.added:
            self.addListening(newConfig)
        self.collaborators.logs.retain(child.config.id for child in self.owners())
        programMessage(Level.NOTICE, plan.summary())
        if not self.available() and not self.stayalive:
            programMessage(Level.CRITICAL, "No available services. Exiting")
            self.reactor.stop()
        return f"{plan.summary()}: {self.counted()}"

    def serviceStates(self) -> list[ServiceState]:
        """
        Every service's state, for the dump.
        """
        states = []
        for child in self.listening():
            if child.port is not None:
                state = "Active"
            elif child.reactivation is not None:
                state = "Suspended"
            else:
                state = "Disabled"
            states.append(
                ServiceState(
                    child.config, state, child.servers.running, child.address, child.addresses
                )
            )
        return states

    def serverStates(self) -> list[ServerState]:
        """
        Every running server or session, for the dump.
        """
        return [
            ServerState(child.config.id, session.pid, session.host, session.started)
            for child in self.owners()
            for session in child.sessions()
        ]

    def consistencyErrors(self) -> list[str]:
        """
        What is inconsistent in the daemon's bookkeeping.
        """
        errors = []
        total = 0
        for child in self.owners():
            sessions = len(child.sessions())
            total += sessions
            if sessions != child.servers.running:
                errors.append(
                    f"service {child.config.id}: {child.servers.running} servers counted, "
                    f"{sessions} running"
                )
            if child.port is None and child.reactivation is None and child.bindAttempted:
                errors.append(f"service {child.config.id}: not listening")
        if total != self.shared.processes.running:
            errors.append(f"{self.shared.processes.running} processes counted, {total} running")
        return errors

    def expireSensor(self) -> None:
        """
        Take expired entries off the SENSOR list (every minute, as xinetd).
        """
        expiry = self.shared.sensor.expire(self.reactor.seconds())
        for message in expiry.messages:
            programMessage(message.level, message.text)

    def checkConsistency(self) -> None:
        """
        Log what is inconsistent in the bookkeeping, or that nothing is.
        """
        errors = self.consistencyErrors()
        for error in errors:
            programMessage(Level.ERROR, error)
        if errors:
            programMessage(Level.WARNING, f"Consistency check detected {len(errors)} errors")
        else:
            programMessage(Level.INFO, "Consistency check passed")

    def checkAndDump(self) -> None:
        """
        SIGABRT: check the bookkeeping and append the state dump to the dump
        file.
        """
        self.checkConsistency()
        text = formatDump(
            self.reactor.seconds(),
            self.config,
            self.serviceStates(),
            self.serverStates(),
            self.shared.processes.limit,
            len(self.shared.sensor),
            resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            __version__,
        )
        try:
            descriptor = openForWriting(self.dumpFile, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(descriptor, text.encode("utf-8", "replace"))
            finally:
                os.close(descriptor)
        except OSError as e:
            programMessage(
                Level.ERROR, f"Cannot write the state dump to {self.dumpFile}: {e.strerror}"
            )
            return
        programMessage(Level.INFO, f"generated state dump in file {self.dumpFile}")

    def quit(self) -> None:
        """
        SIGQUIT: exit now, leaving running servers alone.
        """
        self.leaveServersRunning = True
        programMessage(Level.WARNING, "Exiting...")
        self.reactor.stop()

    @staticmethod
    def uniqueName(config: ServiceConfig) -> str:
        return f"{config.id}@{config.bindAddress}:{config.port}/{config.protocol}"

    def privilegedStartService(self) -> None:
        if self.programLog is not None:
            globalLogPublisher.addObserver(self.programLog)
        programMessage(
            Level.NOTICE,
            f"txinetd {__version__} started with libwrap loadavg options compiled in.",
        )
        reportDiagnostics(self.config)
        if self.pidFile is not None:
            writePidFile(self.pidFile)
        super().privilegedStartService()

    def startService(self) -> None:
        if self.signals is not None:
            self.signals.install()
        self.shared.hosts.start()
        super().startService()
        self.sensorScan.start(SENSOR_SCAN_INTERVAL, now=False)
        if self.checker is not None:
            self.checker.start(self.consistencyInterval, now=False)
        # Announce (and tell systemd) only once the reactor runs, so that
        # its own SIGTERM handling is in place as well.
        if getattr(self.reactor, "running", True):
            self.announce()
        else:
            self.reactor.callWhenRunning(self.announce)

    def announce(self) -> None:
        """
        Log C{Started working: N available services} and tell systemd that
        txinetd is ready.
        """
        status = f"Started working: {self.counted()}"
        programMessage(Level.NOTICE, status)
        if not self.availableCount():
            programMessage(Level.NOTICE, self.noServiceReason())
        systemd.ready(status)

    def noServiceReason(self) -> str:
        """
        Why no service is available, and what to do about it.
        """
        config = self.config
        if config.services:
            why = "no service could start (see the errors above)"
        elif config.errors:
            why = f"no service is left in {config.path}: the enabled ones have errors (see above)"
        else:
            why = f"no service is enabled in {config.path}"
        return f"{why}; txinetd keeps running: enable a service and reconfigure (SIGHUP)"

    def stopService(self) -> Any:
        systemd.notify("STOPPING=1")
        if self.signals is not None:
            self.signals.uninstall()
        for loop in (self.sensorScan, self.checker):
            if loop is not None and loop.running:
                loop.stop()
        if self.pidFile is not None:
            removePidFile(self.pidFile)
        # Accept nothing more while the running servers end; the services
        # are stopped again, to no effect, with the rest of the tree.
        ending: Deferred[Any] = DeferredList(
            [maybeDeferred(child.stopService) for child in self.owners()]
        )
        if not self.leaveServersRunning:
            ending.addCallback(lambda _: self.endSessions())
        ending.addCallback(lambda _: super(XinetdService, self).stopService())
        ending.addCallback(self._stopped)
        return ending

    def _stopped(self, ignored: object) -> None:
        self.collaborators.logs.close()
        self.shared.hosts.stop()
        if self.programLog is not None:
            globalLogPublisher.removeObserver(self.programLog)

    def owners(self) -> list[ListeningService]:
        """
        The services of the tree, and the removed ones whose sessions still
        run.
        """
        self.retired = [child for child in self.retired if child.sessions() or child.ending]
        return self.listening() + self.retired

    def sessions(self) -> list[Session]:
        """
        Every running session of every service, removed ones included.
        """
        return [session for child in self.owners() for session in child.sessions()]

    def endSessions(self, grace: float = STOP_GRACE) -> Deferred[None]:
        """
        End every running session (see L{terminate}).
        """
        return terminate(self.reactor, self.sessions, grace)


#: The spawn operations whose failure means that no process was made.
_FORK_OPERATIONS = frozenset({"fork"})

#: What an administrator looks at when a server cannot be executed.
_EXEC_HINTS = {
    errno.ENOENT: "the server, or the interpreter its #! line names, does not exist",
    errno.ENOEXEC: "the server is not a program and has no #! line",
    errno.EACCES: "the server, or a directory on its path, may not be executed by its user",
}


def installedWith(config: Config) -> InternalServices:
    """
    The internal services C{config} was checked against, which serve it.

    @raise ValueError: if it was loaded without them (with a table of
        names, as tests load configurations).
    """
    if not isinstance(config.internals, InternalServices):
        raise ValueError(f"{config.path} was not loaded with the installed internal services")
    return config.internals


def execHint(error: SpawnError) -> str:
    """
    What to check when a server could not be executed, after the
    program-log line: C{; the server, or the interpreter its #! line names,
    does not exist}.
    """
    hint = _EXEC_HINTS.get(error.errno or 0) if error.operation == "execve" else None
    return "" if hint is None else f"; {hint}"


def writePidFile(path: str) -> None:
    """
    Write C{"<pid>\\n"} to a new file (xinetd's -pidfile), never through a
    link another user planted; a failure is logged.
    """
    try:
        descriptor = openForWriting(path, os.O_WRONLY, replace=True)
        with os.fdopen(descriptor, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as e:
        programMessage(Level.ERROR, f"Cannot write the pid file {path}: {e.strerror}")


def removePidFile(path: str) -> None:
    with contextlib.suppress(OSError):
        removeFile(path)


def terminate(
    reactor: Any, sessions: Callable[[], list[Session]], grace: float = STOP_GRACE
) -> Deferred[None]:
    """
    Ask running sessions to end (a server gets SIGTERM), end those still
    running after C{grace} seconds at once (SIGKILL), and fire when all
    have ended (or, for servers that even SIGKILL does not end, after
    another grace).  Cancelling it stops it where it is.

    @param sessions: the sessions to end, asked again at every poll.
    """
    polls: list[Any] = []
    done: Deferred[None] = Deferred(lambda _: polls[-1].cancel())
    deadline = reactor.seconds() + grace
    for session in sessions():
        session.stop(force=False)

    def poll(killed: bool) -> None:
        remaining = [session for session in sessions() if not session.done]
        now = reactor.seconds()
        if not remaining or (killed and now >= deadline + grace):
            done.callback(None)
            return
        if not killed and now >= deadline:
            for session in remaining:
                if session.pid:
                    programMessage(
                        Level.WARNING,
                        f"Sending signal 9 to {session.admission.serviceId} server {session.pid}",
                    )
                session.stop(force=True)
            killed = True
        polls[:] = [reactor.callLater(STOP_POLL, poll, killed)]

    poll(False)
    return done


def reportDiagnostics(config: Config) -> None:
    """
    Write every problem of a configuration to the program log, the way
    xinetd words parse messages.
    """
    for diagnostic in config.diagnostics:
        text = diagnostic.message
        if diagnostic.location is not None:
            where = diagnostic.location
            text = f"{text} [file={where.path}] [line={where.line}]"
        programMessage(diagnostic.level, text)
