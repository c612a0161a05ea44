# -*- test-case-name: tests.builtins.test_simple -*-
"""
Interfaces that txinetd consumes.

An internal service (a service configured with C{type = INTERNAL}) is found
by its service name and socket type among the objects that provide
L{IInternalService} and are registered through Twisted's plugin system: any
module in a C{twisted/plugins/} directory on C{sys.path} may define such
objects.  txinetd's own built-ins (echo, discard, chargen, daytime, time) are
registered the same way, so a third-party package adds a native Twisted
protocol to txinetd by shipping one small plugin module.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IInternalService(Interface):
    """
    A service that txinetd runs in its own process.

    A provider serves one socket type: C{"stream"} providers implement
    L{IInternalService.buildProtocol}, C{"dgram"} providers implement
    L{IInternalService.answerDatagram}.  txinetd applies access control,
    limits, banners and logging in front of either; a provider only speaks
    its protocol.

    A stream provider that only sends one reply and closes (daytime, time)
    may also have C{reply(context) -> bytes}: txinetd then sends that on the
    accepted socket without building a transport or a protocol.  One whose
    whole answer depends only on what the client sent, and which closes
    when the client stops sending (echo, discard), may have C{answer(data)
    -> bytes}: a client that has sent everything by the time it is admitted
    is then answered on the accepted socket, likewise.
    """

    name = Attribute(
        "The service name it serves, in lower case: the word after "
        "C{service} in the configuration (C{echo}, C{daytime}).",
    )
    socketType = Attribute("C{'stream'} or C{'dgram'}.")

    def buildProtocol(context: InternalContext) -> object:  # type: ignore[name-defined] # noqa: F821
        """
        Build the protocol for one accepted stream connection.

        @param context: the service's L{txinetd.builtins.simple.InternalContext}:
            its reactor (the clock included), the service id and the
            client's address.
        @return: an L{twisted.internet.interfaces.IProtocol} provider.
        """

    def answerDatagram(data: bytes, context: InternalContext) -> bytes | None:  # type: ignore[name-defined] # noqa: F821
        """
        Answer one datagram.

        @param data: the datagram's payload.
        @param context: the service's L{txinetd.builtins.simple.InternalContext}.
        @return: the reply's payload, or L{None} for no reply.
        """
