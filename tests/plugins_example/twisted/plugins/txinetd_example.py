# -*- test-case-name: tests.builtins.test_simple -*-
"""
An example third-party txinetd plugin module: two internal services that
C{type = INTERNAL} entries named C{hello} (stream) and C{upper} (dgram) use
once this directory's C{twisted/plugins/} is on the plugin path.
"""

from __future__ import annotations

from twisted.internet.protocol import Protocol

from txinetd.internal import DatagramService, InternalContext, StreamService


class HelloProtocol(Protocol):
    """
    Greet the client, then close.
    """

    def connectionMade(self) -> None:
        if self.transport is not None:
            self.transport.write(b"hello\r\n")
            self.transport.loseConnection()


def upperCase(data: bytes, context: InternalContext) -> bytes:
    """
    Answer a datagram with its upper-case copy.
    """
    return data.upper()


hello = StreamService("hello", lambda context: HelloProtocol())
upper = DatagramService("upper", upperCase)
