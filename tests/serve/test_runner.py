"""
Tests for L{txinetd.serve.runner.adopt}: an admitted connection given to a
Twisted transport, and what happens when that fails.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, cast

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import Level
from txinetd.net.acceptor import PendingConnection
from txinetd.serve.runner import adopt
from txinetd.serve.session import Session


class _Session:
    """
    What L{adopt} tells a session.
    """

    def __init__(self) -> None:
        self.told: list[object] = []

    def abandon(self) -> None:
        self.told.append("abandon")

    def say(self, level: Level, text: str) -> None:
        self.told.append((level, text))


class _Reactor(Clock):
    """
    Adopts a connection as Twisted does: a transport, then the protocol
    connected to it; or fails with C{refusal} before any transport.
    """

    def __init__(self, refusal: OSError | None = None) -> None:
        super().__init__()
        self.refusal = refusal
        self.transports: list[StringTransport] = []

    def adoptStreamConnection(self, fileno: int, family: int, factory: Factory) -> None:
        if self.refusal is not None:
            raise self.refusal
        protocol = factory.buildProtocol(None)
        assert protocol is not None
        transport = StringTransport()
        self.transports.append(transport)
        protocol.makeConnection(transport)


class _Refusing(Protocol):
    """
    Fails as it starts, as a socket option the socket refuses.
    """

    def connectionMade(self) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")


class AdoptTests(SynchronousTestCase):
    def adopt(self, reactor: _Reactor, protocol: Protocol) -> tuple[bool, list[object], list[int]]:
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        connection = PendingConnection(cast(Any, reactor), ours, "", "")
        session = _Session()
        exhausted: list[int] = []
        adopted = adopt(reactor, connection, cast(Session, session), protocol, exhausted.append)
        self.assertTrue(connection.closed)
        return adopted, session.told, exhausted

    def test_adopted(self) -> None:
        reactor = _Reactor()
        protocol = Protocol()
        self.assertEqual(self.adopt(reactor, protocol), (True, [], []))
        self.assertIs(protocol.transport, reactor.transports[0])

    def test_clientGone(self) -> None:
        """
        A connection the client reset before it was adopted: the session is
        dropped, quietly.
        """
        reactor = _Reactor(OSError(errno.ENOTCONN, "Transport endpoint is not connected"))
        self.assertEqual(self.adopt(reactor, Protocol()), (False, ["abandon"], []))

    def test_noDescriptor(self) -> None:
        reactor = _Reactor(OSError(errno.EMFILE, "Too many open files"))
        self.assertEqual(self.adopt(reactor, Protocol()), (False, ["abandon"], [errno.EMFILE]))

    def test_protocolFailed(self) -> None:
        """
        A protocol that fails as it starts: the session is dropped, the
        failure logged, and the transport made for it aborted.
        """
        reactor = _Reactor()
        told = self.adopt(reactor, _Refusing())
        self.assertEqual(
            told,
            (
                False,
                ["abandon", (Level.ERROR, "cannot serve a connection: Operation not supported")],
                [],
            ),
        )
        self.assertTrue(reactor.transports[0].disconnecting)
