# -*- test-case-name: tests.integration.test_service_lifecycle,tests.daemon.test_service -*-
"""
One configured service and its listening sockets (L{ListeningService}):
binding them, what reads them, pausing and reactivating them, the portmapper
registration of an RPC service, and a reconfiguration that keeps them open.
Each admitted connection goes to the service's runner (L{txinetd.serve.runner}).

Sockets are made by an injected L{SocketOpener} rather than by
C{listenTCP}/C{listenUDP}, so that every option xinetd sets is set (dual stack
with C{IPV6_V6ONLY} explicitly off, C{SO_REUSEADDR}, C{TCP_NODELAY},
C{SO_KEEPALIVE}, a backlog of 64) and so that a reconfiguration can keep a
socket open while its service changes.  They are bound in
C{privilegedStartService}; a bind failure deactivates that service alone.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
)

from txinetd.builtins.introspect import DaemonView
from txinetd.builtins.simple import InternalServices
from txinetd.core.config import Listening, ServiceConfig, ServiceKind
from txinetd.core.endpoint import UNIXListen
from txinetd.core.events import Level
from txinetd.core.limits import RunningServers
from txinetd.core.values import ServiceType, SocketType
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.safefiles import reachDirectory
from txinetd.daemon.stopping import terminate
from txinetd.net.acceptor import (
    PendingConnection,
    StreamAcceptor,
)
from txinetd.net.listening import SocketOpener, bindFailed, removeUnixSocket
from txinetd.net.readers import (
    Listeners,
    WaitingWatcher,
)
from txinetd.net.tls import TLSError, TLSFront, clientCreator, serverOptions
from txinetd.serve import rpc
from txinetd.serve.admission import Admission
from txinetd.serve.datagrams import DatagramChecks
from txinetd.serve.internal import InternalDatagrams, InternalRunner, internalServiceOf
from txinetd.serve.proxied import ProxyFront
from txinetd.serve.redirect import RedirectRunner
from txinetd.serve.rpc import pmapSetFailed, rpcProgram, rpcVersions
from txinetd.serve.runner import Runner
from txinetd.serve.servers import HandOver, ServerRunner
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared
from txinetd.serve.tcpmux import TcpmuxRunner, TcpmuxTarget

__all__ = ["ListeningService"]

MAX_DATAGRAM = 65536


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
        tcpmuxTargets: Callable[[], Sequence[TcpmuxTarget]] = tuple,
    ) -> None:
        """
        @param shared: what every service shares.
        @param openSockets: makes the listening sockets.
        @param internals: the installed internal services.
        @param view: what the introspection services see of the daemon.
        @param tcpmuxTargets: the services reachable through tcpmux now
            (for the tcpmux service).
        """
        self.config = config
        self.shared = shared
        self.openSockets = openSockets
        self.view = view
        self.internals = internals
        self.tcpmuxTargets = tcpmuxTargets
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
        self.datagrams = DatagramChecks(self.admission)
        self.port: Listeners | None = None
        self.sockets: list[socket.socket] = []
        #: The errnos of C{IPV6_ADDRFORM} failures already logged.
        self.addrformFailures: set[int | None] = set()
        self.handOver = HandOver(self)
        self.socket: socket.socket | None = None
        self.bindAttempted = False
        self.reactivation: Any = None
        #: The RPC program registered (or being registered), the versions
        #: the portmapper took, and the registration under way.
        self.rpcProgram: int | None = None
        self.rpcRegistered: tuple[int, ...] = ()
        self.rpcAsked: tuple[int, ...] = ()
        self._rpcAttempt: object | None = None
        self.ending: set[Deferred[None]] = set()
        self.tlsFront: Any = None
        self.proxyFront = ProxyFront(self.reactor)
        self.redirectTLS: Any = None
        #: The port of this datagram service, while it listens.
        self.datagramPort: int | None = None
        self.secure(config)
        self.runner = self.runnerFor(config)
        self.setName(config.id)

    def runnerFor(self, config: ServiceConfig) -> Runner:
        """
        What runs the service on each admitted connection, by its kind.
        """
        kind = config.kind
        exhausted = self.descriptorsExhausted
        if kind is ServiceKind.SERVER:
            return ServerRunner(config, self.shared, exhausted, self.addrformFailures)
        if kind is ServiceKind.REDIRECT:
            return RedirectRunner(config, self.reactor, self.redirectTLS, exhausted)
        if kind is ServiceKind.TCPMUX:
            return TcpmuxRunner(self.reactor, self.tcpmuxTargets)
        plugin = internalServiceOf(config, self.internals)
        return InternalRunner(config, self.shared, plugin, self.view, exhausted)

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
            return [WaitingWatcher(self.reactor, self.socket, self.handOver.onReadable)]
        if isinstance(self.runner, InternalRunner):
            self.runner.service()
        ports: list[Any] = []
        try:
            for sock in sockets:
                ports.append(
                    self.reactor.adoptDatagramPort(
                        sock.fileno(),
                        sock.family,
                        InternalDatagrams(self),
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
        L{txinetd.serve.datagrams.DatagramChecks}).
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
        versions = tuple(rpcVersions(config))
        attempt = object()
        self.rpcProgram, self.rpcRegistered, self.rpcAsked = program, (), versions
        self._rpcAttempt = attempt

        def registered(results: list[tuple[int, bool]]) -> None:
            taken = tuple(version for version, ok in results if ok)
            for version, ok in results:
                if not ok:
                    programMessage(Level.ERROR, pmapSetFailed(config.id, program, version))
            if self._rpcAttempt is not attempt:
                # Deactivated, or registered anew, meanwhile: what this
                # attempt registered is no one's, but for the versions the
                # attempt under way asks for (its own mapping of them).
                current = self.rpcAsked if self.rpcProgram == program else ()
                stale = tuple(version for version in taken if version not in current)
                if stale:
                    rpc.unregister(self.reactor, program, stale)
                return
            self.rpcRegistered = taken
            if results and not taken:
                programMessage(
                    Level.ERROR, f"Service {config.id} failed to start and is deactivated."
                )
                self.deactivate()

        registering = rpc.register(self.reactor, program, versions, config.protocol, address[1])
        registering.addCallback(registered)

    def unregisterRpc(self) -> None:
        """
        Take what this service registered off the portmapper: only the
        versions it took (a version another server holds stays his).
        """
        if self.rpcProgram is not None and self.rpcRegistered:
            rpc.unregister(self.reactor, self.rpcProgram, self.rpcRegistered)
        self.rpcProgram, self.rpcRegistered, self.rpcAsked = None, (), ()
        self._rpcAttempt = None

    def deactivate(self) -> Any:
        """
        Close the listening socket (and take an RPC service off the
        portmapper).
        """
        self.unregisterRpc()
        self.releaseDatagramPort()
        port, self.port = self.port, None
        sockets, self.sockets = self.sockets, []
        self.socket = None
        stopping = None if port is None else port.stopListening()
        for sock in sockets:
            if isinstance(self.config.listen, UNIXListen):
                removeUnixSocket(sock, programMessage, reachDirectory)
            sock.close()
        return stopping

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
        if self.port is not None and ServiceType.RPC in config.type:
            program = rpcProgram(config, self.shared.rpcByName)
            if (program, tuple(rpcVersions(config))) != (self.rpcProgram, self.rpcAsked):
                # Other versions (or another program): registered anew, as
                # xinetd does.
                self.unregisterRpc()
                self.registerRpc()
        if internals is not None:
            self.internals = internals
        self.runner = self.runnerFor(config)
        if config == old.config and self.shared.logs.serviceLog(config) is old.observers[0]:
            # The same settings (a reload readjusts every service, most of
            # them unchanged): the rules compiled from them stay, and take
            # the new configuration object.
            old.config = config
        else:
            self.admission = Admission(
                config,
                self.shared,
                self.servers,
                pauseFor=self.deactivateFor,
                onCountChange=old.onCountChange,
                cps=old.cps if config.cps == old.config.cps else None,
            )
            self.datagrams = DatagramChecks(self.admission)
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
        proxy = self.config.proxy
        if proxy is not None:
            # The PROXY header comes before anything else, TLS included.
            self.proxyFront.receive(connection, proxy, self.admission, self.proxied)
            return
        self.proxied(connection)

    def proxied(self, connection: PendingConnection) -> None:
        """
        An accepted connection, with its client's addresses: behind TLS if
        the service has it, then admitted.
        """
        if self.tlsFront is not None:
            # A service run in process takes the plaintext in memory.
            inProcess = isinstance(self.runner, InternalRunner)
            secured = self.tlsFront.secure(connection, inProcess)
            if secured is None:
                return
            connection = secured
        self.admission.admit(connection, self.runner)

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
