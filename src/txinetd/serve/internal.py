# -*- test-case-name: tests.serve.test_internal -*-
"""
Internal services (txinetd's built-ins, plugins, SENSOR services), in
process: on admitted stream connections (L{InternalRunner}), and on
datagrams (L{InternalDatagrams}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol, ITransport
from twisted.internet.protocol import DatagramProtocol, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.builtins.simple import SENSORS, InternalContext, InternalServices, shouldAnswer
from txinetd.core.addresses import addressOf
from txinetd.core.config import ServiceConfig, ServiceKind
from txinetd.interfaces import IInternalService
from txinetd.net.acceptor import PendingConnection
from txinetd.net.tlsdirect import DirectConnection
from txinetd.serve.admission import Admission
from txinetd.serve.datagrams import DatagramChecks
from txinetd.serve.immediate import receivedWhole
from txinetd.serve.runner import Runner, adopt
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared

__all__ = ["InternalDatagrams", "InternalRunner", "ServedProtocol", "internalServiceOf"]


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


class InternalRunner:
    """
    Runs an internal service: on a stream connection in process (a service
    that only sends a reply, as daytime and time do, gets it written to the
    socket and closed, without a Twisted transport; behind TLS, the
    service's protocol or reply goes to the TLS layer in memory, a
    L{DirectConnection}); on a datagram, its answer.
    """

    def __init__(
        self,
        config: ServiceConfig,
        shared: Shared,
        plugin: IInternalService | None,
        view: Any,
        exhausted: Callable[[int], None],
    ) -> None:
        """
        @param plugin: the internal service (L{None}: it is not installed).
        @param view: what the introspection services see of the daemon.
        @param exhausted: told when a connection could not be adopted for
            want of descriptors.
        """
        self.serviceId = config.id
        self.reactor = shared.reactor
        self.plugin = plugin
        self.view = view
        self.exhausted = exhausted

    def service(self) -> IInternalService:
        """
        The internal service.

        @raise RuntimeError: if it is not installed.
        """
        if self.plugin is None:
            raise RuntimeError(f"no internal service {self.serviceId}")
        return self.plugin

    def run(self, connection: PendingConnection, session: Session) -> None:
        plugin = self.service()
        context = InternalContext(self.reactor, self.serviceId, connection.peer, self.view)
        reply = getattr(plugin, "reply", None)
        if reply is not None:
            _answer(connection, session, reply(context))
            return
        answer = getattr(plugin, "answer", None)
        if answer is not None and not isinstance(connection, DirectConnection):
            # A client that has sent all it will send (and shut its side)
            # is answered on the accepted socket, without a transport
            # (behind TLS, the socket carries records, not what it sent).
            try:
                received = receivedWhole(connection.socket)
            except OSError:
                session.abandon()
                connection.close()
                return
            if received is not None:
                _answer(connection, session, answer(received))
                return
        protocol = plugin.buildProtocol(context)
        served = ServedProtocol(protocol, session.ended)  # type: ignore[arg-type]
        session.stopWith(served.stop)
        if isinstance(connection, DirectConnection):
            # Behind TLS, the plaintext is served in memory.
            connection.serve(served)
            session.begin(0)
        elif adopt(self.reactor, connection, session, served, self.exhausted):
            session.begin(0)

    def answer(self, datagram: bytes, peer: tuple[str, int]) -> bytes | None:
        """
        The service's answer to a datagram from C{peer}.
        """
        context = InternalContext(self.reactor, self.serviceId, peer, self.view)
        return self.service().answerDatagram(datagram, context)


def _answer(connection: PendingConnection, session: Session, data: bytes) -> None:
    """
    Send a whole answer, then close and end: at once when the kernel takes
    it all now (the common case: a short answer), else once it has.  START
    is written once the answer is with the kernel and the connection
    closed, so the client does not wait for the log; when part of the
    answer must wait, the service has started, and START comes before it.
    """
    rest = connection.sendNow(data, closing=True)
    if rest:
        session.begin(0)
        connection.send(rest).addBoth(_replied, connection, session)
    else:
        connection.close()
        session.begin(0)
        session.ended(0)


def _replied(result: object, connection: PendingConnection, session: Session) -> None:
    connection.close()
    session.ended(0)


class DatagramService(TypingProtocol):
    """
    The service an L{InternalDatagrams} answers for, as it is now (its
    admission and runner change with its configuration; its socket stays).
    """

    admission: Admission
    datagrams: DatagramChecks
    runner: Runner


class InternalDatagrams(DatagramProtocol):
    """
    Answers datagrams with an internal service, after the service's checks
    (which refuse the daemon's own datagram ports), never to a source port
    below 1024.
    """

    noisy = False

    def __init__(self, service: DatagramService) -> None:
        self.service = service

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        peer = addressOf(addr)
        if peer is None or not shouldAnswer(peer[1]):
            return
        checked = self.service.datagrams.check(peer)
        checked.addCallback(self._answer, datagram, addr, peer)

    def _answer(self, allowed: bool, datagram: bytes, addr: Any, peer: tuple[str, int]) -> None:
        if not allowed:
            return
        service = self.service
        runner = service.runner
        assert isinstance(runner, InternalRunner)
        reply = runner.answer(datagram, peer)
        service.admission.started(0, peer[0], peer[1])
        if reply is not None and self.transport is not None:
            self.transport.write(reply, addr)


@implementer(IHalfCloseableProtocol)
class ServedProtocol(Protocol):
    """
    Wraps the protocol of an internal service to tell its L{Session} when
    the connection ends; half-closes and flow control pass through.
    """

    def __init__(self, wrapped: IProtocol, onEnd: Callable[[], None]) -> None:
        self.wrapped = wrapped
        self.onEnd = onEnd

    def makeConnection(self, transport: ITransport) -> None:
        self.transport = transport
        self.connected = 1
        self.wrapped.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.wrapped.dataReceived(data)

    def stop(self, force: bool) -> None:
        """
        End the connection (C{force}: without flushing).
        """
        if self.transport is None:
            return
        if force:
            self.transport.abortConnection()  # type: ignore[attr-defined]
        else:
            # A service that is its own producer (echo) may be paused; it
            # must not hold the close back.
            if getattr(self.transport, "producer", None) is not None:
                self.transport.unregisterProducer()  # type: ignore[attr-defined]
            self.transport.loseConnection()

    def readConnectionLost(self) -> None:
        halfCloseable = IHalfCloseableProtocol(self.wrapped, None)
        if halfCloseable is not None:
            halfCloseable.readConnectionLost()
        elif self.transport is not None:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        halfCloseable = IHalfCloseableProtocol(self.wrapped, None)
        if halfCloseable is not None:
            halfCloseable.writeConnectionLost()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        try:
            self.wrapped.connectionLost(reason)
        finally:
            self.onEnd()
