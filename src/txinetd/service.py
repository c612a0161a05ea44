# -*- test-case-name: tests.integration.test_builtins -*-
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

import socket
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.interfaces import (
    IHalfCloseableProtocol,
    IListeningPort,
    IReactorSocket,
    IReactorTime,
)
from twisted.internet.protocol import DatagramProtocol, Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from txinetd.attributes import Flag, SocketType
from txinetd.config import Config, ServiceConfig
from txinetd.interfaces import IInternalService
from txinetd.internal import InternalContext, findInternalService, shouldAnswer

LISTEN_BACKLOG = 64
MAX_DATAGRAM = 65536

log = Logger(namespace="txinetd")


def normaliseHost(host: str) -> str:
    """
    The client address as txinetd shows and matches it: an IPv4 client of a
    dual-stack socket (C{::ffff:a.b.c.d}) becomes C{a.b.c.d}.
    """
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    return host


def peerOf(address: Any) -> tuple[str, int] | None:
    """
    The normalised (host, port) of a Twisted address or a socket address
    tuple, or L{None} if it has none.
    """
    if isinstance(address, tuple):
        return normaliseHost(str(address[0])), int(address[1])
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return None
    return normaliseHost(str(host)), int(port)


def openListeningSocket(config: ServiceConfig) -> socket.socket:
    """
    Make, configure and bind the listening socket of a service.

    @raise OSError: if it cannot be made or bound.
    """
    stream = config.socket_type is SocketType.STREAM
    kind = socket.SOCK_STREAM if stream else socket.SOCK_DGRAM
    sock = socket.socket(config.family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if config.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(bool(config.v6only)))
        if stream and Flag.NODELAY in config.flags:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if stream and Flag.KEEPALIVE in config.flags:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.bind((config.bindAddress, config.port or 0))
        if stream:
            sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class InternalStreamFactory(ServerFactory):
    """
    Builds an internal service's protocol for each accepted connection.  With
    C{wait = yes} one connection is served at a time: the port stops
    accepting until it ends.
    """

    noisy = False

    def __init__(self, service: ListeningService, plugin: IInternalService) -> None:
        self.service = service
        self.plugin = plugin

    def buildProtocol(self, addr: Any) -> Protocol | None:
        context = InternalContext(self.service.reactor, self.service.config.id, peerOf(addr))
        protocol: Protocol = self.plugin.buildProtocol(context)  # type: ignore[assignment]
        if self.service.config.wait:
            return _OneAtATime(protocol, self.service)
        return protocol


@implementer(IHalfCloseableProtocol)
class _OneAtATime(Protocol):
    """
    Wraps the protocol of a C{wait = yes} internal stream service: the port
    pauses while the connection lives.
    """

    def __init__(self, wrapped: Protocol, service: ListeningService) -> None:
        self.wrapped = wrapped
        self.service = service

    def makeConnection(self, transport: Any) -> None:
        self.service.pauseListening()
        self.wrapped.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.wrapped.dataReceived(data)

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
        self.wrapped.connectionLost(reason)
        self.service.resumeListening()


class InternalDatagramProtocol(DatagramProtocol):
    """
    Answers every datagram with an internal service, never to a source port
    below 1024.
    """

    noisy = False

    def __init__(self, service: ListeningService, plugin: IInternalService) -> None:
        self.service = service
        self.plugin = plugin

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        peer = peerOf(addr)
        if peer is None or not shouldAnswer(peer[1]):
            return
        context = InternalContext(self.service.reactor, self.service.config.id, peer)
        reply = self.plugin.answerDatagram(datagram, context)
        if reply is not None and self.transport is not None:
            self.transport.write(reply, addr)


class ListeningService(Service):
    """
    One configured service and its listening socket.

    @ivar config: its L{ServiceConfig}.
    @ivar port: the Twisted port reading the socket, once started.
    """

    def __init__(self, config: ServiceConfig, reactor: Any) -> None:
        self.config = config
        self.reactor = reactor
        self.port: IListeningPort | None = None
        self.bindAttempted = False
        self.setName(config.id)

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self.bind()

    def startService(self) -> None:
        super().startService()
        self.bind()

    def bind(self) -> None:
        """
        Bind and start reading the listening socket, once; a failure is
        logged and leaves the service inactive.
        """
        if self.bindAttempted:
            return
        self.bindAttempted = True
        try:
            sock = openListeningSocket(self.config)
        except OSError as e:
            log.error(
                "bind failed ({error} (errno = {errno})). service = {service}",
                error=e.strerror,
                errno=e.errno,
                service=self.config.id,
            )
            log.error(
                "Service {service} failed to start and is deactivated.", service=self.config.id
            )
            return
        try:
            self.port = self.adopt(sock)
        finally:
            sock.close()

    def adopt(self, sock: socket.socket) -> IListeningPort:
        """
        Hand a bound socket to the reactor with this service's protocol.
        """
        reactor: IReactorSocket = self.reactor
        plugin = findInternalService(self.config.name, self.config.socket_type.value)
        if plugin is None:
            raise RuntimeError(f"no internal service {self.config.name}")
        if self.config.socket_type is SocketType.STREAM:
            return reactor.adoptStreamPort(
                sock.fileno(), sock.family, InternalStreamFactory(self, plugin)
            )
        return reactor.adoptDatagramPort(
            sock.fileno(), sock.family, InternalDatagramProtocol(self, plugin), MAX_DATAGRAM
        )

    @property
    def address(self) -> tuple[str, int] | None:
        """
        The (host, port) the service listens on, or L{None} if it is not
        listening.
        """
        if self.port is None:
            return None
        bound = self.port.getHost()
        return str(bound.host), int(bound.port)  # type: ignore[attr-defined]

    def pauseListening(self) -> None:
        """
        Stop accepting connections (C{wait = yes}).
        """
        if self.port is not None:
            self.port.stopReading()  # type: ignore[attr-defined]

    def resumeListening(self) -> None:
        """
        Accept connections again.
        """
        if self.port is not None and self.running:
            self.port.startReading()  # type: ignore[attr-defined]

    def stopService(self) -> Any:
        super().stopService()
        self.bindAttempted = False
        port, self.port = self.port, None
        if port is not None:
            return port.stopListening()
        return None


class XinetdService(MultiService):
    """
    The root of the service tree: one L{ListeningService} per service that
    listens, named by its id (services sharing an id get their port and
    protocol appended).
    """

    def __init__(self, config: Config, reactor: IReactorTime) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor
        for serviceConfig in config.services:
            if serviceConfig.listens:
                child = ListeningService(serviceConfig, reactor)
                if child.name in self.namedServices:
                    child.setName(self.uniqueName(serviceConfig))
                child.setServiceParent(self)

    @staticmethod
    def uniqueName(config: ServiceConfig) -> str:
        return f"{config.id}@{config.bindAddress}:{config.port}/{config.protocol}"

    def startService(self) -> None:
        super().startService()
        active = [child for child in self if getattr(child, "port", None) is not None]
        count = len(active)
        log.info(
            "Started working: {count} available {noun}",
            count=count,
            noun="service" if count == 1 else "services",
        )
