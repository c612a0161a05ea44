# -*- test-case-name: tests.serve.test_runner,tests.serve.test_internal -*-
"""
What runs a service on an admitted connection (the last step of
L{txinetd.serve.admission}): a L{Runner}, one per kind of service --
L{txinetd.serve.internal.InternalRunner} (built-in and plugin services,
SENSOR services), L{txinetd.serve.servers.ServerRunner} (a server
started per connection), L{txinetd.serve.redirect.RedirectRunner}, and
L{txinetd.serve.tcpmux.TcpmuxRunner} -- and what runners share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet.protocol import Protocol

from txinetd.core.events import Level
from txinetd.net.acceptor import DESCRIPTOR_ERRORS, PendingConnection, attachProtocol
from txinetd.serve.session import Session

__all__ = ["Runner", "adopt"]


class Runner(TypingProtocol):
    """
    Runs a service on an admitted connection.
    """

    def run(self, connection: PendingConnection, session: Session) -> None:
        """
        Take the connection over; tell C{session} when the service runs
        (L{Session.begin}), how to stop it (L{Session.stopWith}) and when
        it ended (L{Session.ended}), or that it never ran
        (L{Session.abandon}, L{Session.fail}).
        """


def adopt(
    reactor: Any,
    connection: PendingConnection,
    session: Session,
    protocol: Protocol,
    exhausted: Callable[[int], None],
) -> bool:
    """
    Give an admitted connection to a Twisted transport running
    C{protocol}; txinetd's raw copy is closed.  If it cannot be adopted,
    the session is dropped, and, out of descriptors, C{exhausted} is told
    the errno (the service pauses, as when accept() fails).  If the
    transport was made but C{protocol} failed as it started (a system call
    of its own refused), the failure is logged and the connection aborted:
    the client is not left waiting on a half-made transport.

    @return: whether it was adopted.
    """
    try:
        attachProtocol(reactor, connection.fileno(), connection.family, protocol)
    except OSError as e:
        session.abandon()
        if e.errno in DESCRIPTOR_ERRORS:
            exhausted(e.errno)
        elif protocol.transport is not None:
            session.say(Level.ERROR, f"cannot serve a connection: {e.strerror or e}")
            transport = protocol.transport
            getattr(transport, "abortConnection", transport.loseConnection)()
        return False
    finally:
        connection.close()
    return True
