# -*- test-case-name: tests.builtins.test_introspect -*-
"""
The introspection services of the original xinetd, which later versions
removed: C{servers} lists the running servers, C{services} the available
services (C{<name> <protocol> <port>} per line), and C{xadmin} is an
interactive shell (C{help}, C{show run}, C{show avail}, C{bye}).

They show the daemon's state to whoever connects, so a service that runs
one must say who may: txinetd refuses it at load unless its own entry has
an C{only_from} (L{txinetd.core.checks.requiresOnlyFrom}).

Each protocol reads the daemon through a L{DaemonView}, which gives copies
of the state: it can change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from txinetd.builtins.simple import StreamService, WriteAndCloseProtocol
from txinetd.core.servertable import ServerState, formatServer


@dataclass(frozen=True)
class ServiceLine:
    """
    One available service.

    @ivar serviceId: its id.
    @ivar name: its service name.
    @ivar protocol: C{tcp} or C{udp}.
    @ivar port: the port it listens on (0 for none).
    @ivar address: the address it listens on.
    """

    serviceId: str
    name: str
    protocol: str
    port: int
    address: str


class DaemonView(TypingProtocol):
    """
    What the introspection services may read of the daemon.
    """

    def services(self) -> list[ServiceLine]:
        """
        The available services, in configuration order.
        """

    def servers(self) -> list[ServerState]:
        """
        The running servers and in-process sessions.
        """


def servicesText(view: DaemonView) -> bytes:
    """
    What C{services} sends: C{<name> <protocol> <port>} and LF per service.
    """
    return "".join(
        f"{service.name} {service.protocol} {service.port}\n" for service in view.services()
    ).encode("utf-8", "replace")


def serversText(view: DaemonView) -> bytes:
    """
    What C{servers} sends: each running server as the state dump shows it.
    """
    return "".join(
        line + "\n" for server in view.servers() for line in formatServer(server)
    ).encode("utf-8", "replace")


def availableText(view: DaemonView) -> bytes:
    """
    What C{show avail} sends: a header, then a line per service.
    """
    rows = [("service", "proto", "port", "address")] + [
        (service.serviceId, service.protocol, str(service.port), service.address)
        for service in view.services()
    ]
    lines = (f"{sid:<20} {proto:<5} {port:>5} {address}\n" for sid, proto, port, address in rows)
    return ("Available services:\n" + "".join(lines)).encode("utf-8", "replace")


def runningText(view: DaemonView) -> bytes:
    """
    What C{show run} sends: a header, then every running server.
    """
    return b"Running servers:\n" + serversText(view)


class ServicesProtocol(WriteAndCloseProtocol):
    """
    The C{services} service: the available services, then close.
    """

    def __init__(self, view: DaemonView) -> None:
        super().__init__(servicesText(view))


class ServersProtocol(WriteAndCloseProtocol):
    """
    The C{servers} service: the running servers, then close.
    """

    def __init__(self, view: DaemonView) -> None:
        super().__init__(serversText(view))


XADMIN_HELP = b"""\
txinetd admin commands:
  show run     the running servers
  show avail   the available services
  help         this list
  bye, exit, quit   end the session
"""
_SHOW_USAGE = b"show what? show run | show avail\n"
_FAREWELL = b"bye bye\n"
_PROMPT = b"> "
_ENDINGS = frozenset({"bye", "exit", "quit"})


@implementer(IPushProducer)
class XadminProtocol(Protocol):
    """
    The C{xadmin} service: a C{> } prompt and one command per line.

    Commands are words separated by blanks, in any case; an empty line only
    prompts again.  A line longer than L{MAX_LENGTH} ends the session.

    The session is its transport's producer: once the answers not yet sent
    fill the transport's buffer, no more commands are answered and the
    client is no longer read until the answers have drained.  So a client
    that sends commands without reading the answers makes txinetd hold at
    most one buffer of answers (and one more answer) and one read of
    commands, however many commands a read holds.  Once the session ends,
    further input is dropped unread.

    @ivar ended: whether the session has ended (its last answer is sent).
    @ivar paused: whether the answers have filled the transport's buffer.
    """

    delimiter = b"\n"
    MAX_LENGTH = 256

    def __init__(self, view: DaemonView) -> None:
        self.view = view
        self.ended = False
        self.paused = False
        self._buffer = b""
        self.commands: dict[str, Callable[[], bytes]] = {
            "help": lambda: XADMIN_HELP,
            "show run": lambda: runningText(view),
            "show avail": lambda: availableText(view),
            "show": lambda: _SHOW_USAGE,
        }

    def connectionMade(self) -> None:
        IConsumer(self.transport).registerProducer(self, True)
        self._write(_PROMPT)

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def dataReceived(self, data: bytes) -> None:
        if not self.ended:
            self._buffer += data
            self._answerLines()

    def _answerLines(self) -> None:
        """
        Answer the complete lines received, until the answers fill the
        transport's buffer or the session ends.
        """
        while not (self.ended or self.paused):
            line, delimiter, rest = self._buffer.partition(self.delimiter)
            if not delimiter:
                if len(self._buffer) > self.MAX_LENGTH:
                    self.lineLengthExceeded(self._buffer)
                return
            self._buffer = rest
            if len(line) > self.MAX_LENGTH:
                self.lineLengthExceeded(line)
                return
            self.lineReceived(line)

    def pauseProducing(self) -> None:
        """
        The answers fill the transport's buffer: answer no more, and read
        no more.
        """
        self.paused = True
        if self.transport is not None:
            self.transport.pauseProducing()  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        """
        The answers have drained: answer the lines already received, then
        read again.
        """
        self.paused = False
        self._answerLines()
        if not (self.paused or self.ended) and self.transport is not None:
            self.transport.resumeProducing()  # type: ignore[attr-defined]

    def stopProducing(self) -> None:
        """
        The connection is gone: answer nothing more.
        """
        self.ended = True
        self._buffer = b""

    def lineReceived(self, line: bytes) -> None:
        command = " ".join(line.decode("utf-8", "replace").lower().split())
        if command in _ENDINGS:
            self._end(_FAREWELL)
            return
        if command:
            self._write(self.answer(command))
        self._write(_PROMPT)

    def answer(self, command: str) -> bytes:
        """
        The output of a command that does not end the session.
        """
        run = self.commands.get(command)
        if run is not None:
            return run()
        if command.startswith("show "):
            return _SHOW_USAGE
        return f"unknown command: {command} (try help)\n".encode("utf-8", "replace")

    def lineLengthExceeded(self, line: bytes) -> None:
        if not self.ended:
            self._end(b"line too long\n")

    def _end(self, farewell: bytes) -> None:
        """
        Send the last answer, drop what is buffered and close once the
        answers are sent (the session stops being the transport's
        producer: a transport with a paused producer would never close).
        """
        self.ended = True
        self._buffer = b""
        self._write(farewell)
        if self.transport is not None:
            IConsumer(self.transport).unregisterProducer()
            self.transport.loseConnection()


#: The registered introspection services: they read the daemon through the
#: view in their context (see L{txinetd.builtins.simple.InternalContext.view}).
serversStream = StreamService("servers", lambda context: ServersProtocol(context.view))
servicesStream = StreamService("services", lambda context: ServicesProtocol(context.view))
xadminStream = StreamService("xadmin", lambda context: XadminProtocol(context.view))
