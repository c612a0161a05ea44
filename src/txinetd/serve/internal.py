# -*- test-case-name: tests.serve.test_internal -*-
"""
Internal services on admitted connections, in process.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["ServedProtocol"]


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
