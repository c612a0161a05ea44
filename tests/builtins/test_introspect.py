# -*- test-case-name: tests.builtins.test_introspect -*-
"""
Tests for L{txinetd.builtins.introspect}: the C{servers}, C{services} and C{xadmin}
protocols on a L{StringTransport} with a fake daemon view, the view made of
dump states, and the load-time C{only_from} rule.
"""

from __future__ import annotations

import time

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from txinetd.builtins.introspect import (
    ServersProtocol,
    ServiceLine,
    ServicesProtocol,
    XadminProtocol,
    serversStream,
    servicesStream,
    xadminStream,
)
from txinetd.builtins.simple import InternalContext
from txinetd.core.checks import INTROSPECTION_NAMES
from txinetd.core.servertable import ServerState
from txinetd.interfaces import IInternalService

STARTED = time.mktime((2026, 11, 22, 1, 14, 59, 0, 0, -1))
SERVICES = [
    ServiceLine("echo-stream", "echo", "tcp", 7, "::"),
    ServiceLine("daytime-dgram", "daytime", "udp", 13, "0.0.0.0"),
]
SERVERS = [
    ServerState("ftp", 4242, "192.0.2.1", STARTED),
    ServerState("echo-stream", 0, None, STARTED),
]


class FakeView:
    """
    A L{txinetd.builtins.introspect.DaemonView} with fixed lists.
    """

    def __init__(
        self, services: list[ServiceLine] = SERVICES, servers: list[ServerState] = SERVERS
    ) -> None:
        self.serviceLines = services
        self.serverLines = servers

    def services(self) -> list[ServiceLine]:
        return list(self.serviceLines)

    def servers(self) -> list[ServerState]:
        return list(self.serverLines)


def connect(protocol: object) -> StringTransport:
    """
    Connect C{protocol} to a new L{StringTransport}.
    """
    transport = StringTransport()
    protocol.makeConnection(transport)  # type: ignore[attr-defined]
    return transport


SERVERS_TEXT = (
    "ftp server\n"
    "pid = 4242\n"
    f"start_time = {time.strftime('%a %b %d %H:%M:%S %Y', time.localtime(STARTED))}\n"
    "Connection info:\n"
    "\tservice = ftp\n"
    "\tremote_address = 192.0.2.1\n"
    "echo-stream server\n"
    "pid = 0\n"
    f"start_time = {time.strftime('%a %b %d %H:%M:%S %Y', time.localtime(STARTED))}\n"
    "Connection info:\n"
    "\tservice = echo-stream\n"
    "\tremote_address = <no address>\n"
).encode()


#: What C{services} sends for L{FakeView}.
SERVICES_TEXT = b"echo tcp 7\ndaytime udp 13\n"

#: What xadmin's C{show run} answers for L{FakeView}.
RUNNING_TEXT = b"Running servers:\n" + SERVERS_TEXT

#: What xadmin's C{show avail} answers for L{FakeView}.
AVAILABLE_TEXT = (
    b"Available services:\n"
    b"service              proto  port address\n"
    b"echo-stream          tcp       7 ::\n"
    b"daytime-dgram        udp      13 0.0.0.0\n"
)

#: What xadmin's C{help} answers.
HELP_TEXT = b"""\
txinetd admin commands:
  show run     the running servers
  show avail   the available services
  help         this list
  bye, exit, quit   end the session
"""


class OneShotTests(SynchronousTestCase):
    """
    L{ServicesProtocol} and L{ServersProtocol}.
    """

    def test_services(self) -> None:
        """
        C{services} sends C{<name> <protocol> <port>} per service and
        closes.
        """
        transport = connect(ServicesProtocol(FakeView()))
        self.assertEqual(transport.value(), SERVICES_TEXT)
        self.assertTrue(transport.disconnecting)

    def test_servers(self) -> None:
        """
        C{servers} sends every running server as the dump shows it, and
        closes.
        """
        transport = connect(ServersProtocol(FakeView()))
        self.assertEqual(transport.value(), SERVERS_TEXT)
        self.assertTrue(transport.disconnecting)

    def test_nothing(self) -> None:
        """
        With no services or servers, nothing is sent.
        """
        for protocol in (ServicesProtocol(FakeView([], [])), ServersProtocol(FakeView([], []))):
            transport = connect(protocol)
            self.assertEqual((transport.value(), transport.disconnecting), (b"", True))

    def test_stateOfContext(self) -> None:
        """
        The registered service reads the view of the connection's context,
        as it is then.
        """
        view = FakeView([], [])
        view.serviceLines = SERVICES[:1]
        context = InternalContext(Clock(), "services", ("127.0.0.1", 5000), view)
        transport = connect(servicesStream.buildProtocol(context))
        self.assertEqual(transport.value(), b"echo tcp 7\n")


class XadminTests(SynchronousTestCase):
    """
    L{XadminProtocol}.
    """

    def setUp(self) -> None:
        self.start()

    def start(self) -> None:
        """
        Open a new session.
        """
        self.protocol = XadminProtocol(FakeView())
        self.transport = connect(self.protocol)

    def send(self, data: bytes) -> bytes:
        """
        Send C{data}; return what the protocol wrote in answer.
        """
        self.transport.clear()
        self.protocol.dataReceived(data)
        return bytes(self.transport.value())

    def test_prompt(self) -> None:
        """
        The session opens with the prompt.
        """
        self.assertEqual(self.transport.value(), b"> ")

    def test_help(self) -> None:
        """
        C{help} lists the commands, then prompts again.
        """
        self.assertEqual(self.send(b"help\n"), HELP_TEXT + b"> ")

    def test_showRun(self) -> None:
        """
        C{show run} lists the running servers.
        """
        self.assertEqual(self.send(b"show run\r\n"), RUNNING_TEXT + b"> ")

    def test_showAvail(self) -> None:
        """
        C{show avail} lists the available services with their protocol,
        port and address.
        """
        self.assertEqual(self.send(b"  SHOW   Avail \n"), AVAILABLE_TEXT + b"> ")

    def test_showWhat(self) -> None:
        """
        C{show} without a known subject says what it can show.
        """
        usage = b"show what? show run | show avail\n> "
        self.assertEqual(self.send(b"show\n"), usage)
        self.assertEqual(self.send(b"show everything\n"), usage)

    def test_unknown(self) -> None:
        """
        An unknown command gets an error line.
        """
        self.assertEqual(self.send(b"reload\n"), b"unknown command: reload (try help)\n> ")

    def test_emptyLine(self) -> None:
        """
        An empty line only prompts again.
        """
        self.assertEqual(self.send(b"\r\n"), b"> ")

    def test_endings(self) -> None:
        """
        C{bye}, C{exit} and C{quit} say C{bye bye} and close; the lines
        after it are ignored.
        """
        for word in (b"bye", b"EXIT", b"quit"):
            self.start()
            self.assertEqual(self.send(word + b"\nhelp\n"), b"bye bye\n")
            self.assertTrue(self.transport.disconnecting)

    def test_severalLines(self) -> None:
        """
        Several commands in one segment are answered in order; a partial
        line waits for its end.
        """
        self.assertEqual(
            self.send(b"show\nfoo\nhe"),
            b"show what? show run | show avail\n> unknown command: foo (try help)\n> ",
        )
        self.assertEqual(self.send(b"lp\n"), HELP_TEXT + b"> ")

    def test_lineTooLong(self) -> None:
        """
        A line longer than 256 bytes ends the session.
        """
        self.assertEqual(self.send(b"x" * 256), b"")
        self.assertEqual(self.send(b"x"), b"line too long\n")
        self.assertTrue(self.transport.disconnecting)


class BoundedTransport(StringTransport):
    """
    A L{StringTransport} that, as a TCP transport does, pauses its producer
    once more than L{bufferSize} bytes wait to be sent, and resumes it when
    they are gone (L{drain}).
    """

    bufferSize = 1024

    def write(self, data: bytes) -> None:
        super().write(data)
        if self.producer is not None and len(self.value()) > self.bufferSize:
            self.producer.pauseProducing()

    def drain(self) -> bytes:
        """
        The client reads what was written; the producer may go on.
        """
        sent = bytes(self.value())
        self.clear()
        if self.producer is not None:
            self.producer.resumeProducing()
        return sent


class XadminBoundTests(SynchronousTestCase):
    """
    An xadmin client that sends many commands without reading: what the
    session holds stays bounded.
    """

    def test_manyCommandsOneRead(self) -> None:
        """
        A read of 5000 commands is answered only until the answers fill the
        transport's buffer; then the client is no longer read, and the
        rest is answered as the answers drain, in order.  (Before, every
        command of a read was answered at once: 5000 answers held.)
        """
        protocol = XadminProtocol(FakeView())
        transport = BoundedTransport()
        protocol.makeConnection(transport)
        transport.clear()
        protocol.dataReceived(b"show avail\n" * 5000)
        answer = protocol.answer("show avail") + b"> "
        held = len(transport.value())
        self.assertLessEqual(held, transport.bufferSize + len(answer))
        self.assertEqual(transport.producerState, "paused")
        received = b""
        for _ in range(10000):
            received += transport.drain()
            if transport.producerState == "producing":
                break
        self.assertEqual(received, answer * 5000)
        self.assertEqual(protocol._buffer, b"")

    def test_endWhilePaused(self) -> None:
        """
        C{bye} behind commands whose answers fill the buffer ends the
        session once they are answered.
        """
        protocol = XadminProtocol(FakeView())
        transport = BoundedTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"help\n" * 100 + b"bye\nhelp\n")
        self.assertFalse(transport.disconnecting)
        received = b""
        while not transport.disconnecting:
            received += transport.drain()
        received += transport.value()
        self.assertEqual(received, b"> " + (HELP_TEXT + b"> ") * 100 + b"bye bye\n")


class ServicesTests(SynchronousTestCase):
    """
    The registered introspection services.
    """

    def test_services(self) -> None:
        """
        Three stream internal services, named as in the original xinetd,
        each building its protocol on the view of its context.
        """
        services = (serversStream, servicesStream, xadminStream)
        context = InternalContext(Clock(), "x", None, FakeView())
        self.assertEqual(
            [(s.name, s.socketType, type(s.buildProtocol(context))) for s in services],
            [
                ("servers", "stream", ServersProtocol),
                ("services", "stream", ServicesProtocol),
                ("xadmin", "stream", XadminProtocol),
            ],
        )
        for service in services:
            self.assertTrue(verifyObject(IInternalService, service))

    def test_namesOfTheRule(self) -> None:
        """
        The services that the load-time rule asks an C{only_from} of are
        these three.
        """
        self.assertEqual(
            {service.name for service in (serversStream, servicesStream, xadminStream)},
            set(INTROSPECTION_NAMES),
        )
