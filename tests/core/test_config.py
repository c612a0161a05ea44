# -*- test-case-name: tests.core.test_config -*-
"""
Tests for L{txinetd.core.config}: what the configuration records say of
themselves.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.core.test_inheritance import LoadingCase, entry
from tests.fakes import INTERNAL_SERVICES
from txinetd.core.config import Config, Defaults, Listening, ServiceKind
from txinetd.core.diagnostics import Diagnostic, Location, Severity


class WhereTests(LoadingCase):
    """
    L{txinetd.core.config.ServiceConfig.where} and C{place}: where a
    service listens, as messages show it.
    """

    def test_port(self) -> None:
        service = self.loadOne(
            entry("echo", "type = INTERNAL", "socket_type = stream", "wait = no", "bind = ::1")
        )
        self.assertEqual((service.where, service.place), ("::1 port 7", None))

    def test_listen(self) -> None:
        """
        A UNIX socket, or one systemd passes, is where its description says.
        """
        unix = self.loadOne(
            entry(
                "echo",
                "type = INTERNAL",
                "socket_type = stream",
                "wait = no",
                "listen = unix:/run/e.sock",
            )
        )
        passed = self.loadOne(
            entry(
                "echo",
                "type = INTERNAL",
                "socket_type = stream",
                "wait = no",
                "listen = systemd:name=echo",
            )
        )
        self.assertEqual(
            [(unix.where, unix.place), (passed.where, passed.place)],
            [("unix:/run/e.sock", "unix:/run/e.sock"), ("systemd:name=echo", "systemd:name=echo")],
        )

    def test_rpc(self) -> None:
        """
        An RPC service has no port of its own: it gets one when it binds,
        which the portmapper makes known.
        """
        service = self.loadOne(
            entry(
                "mine",
                "type = RPC UNLISTED",
                "socket_type = dgram",
                "wait = yes",
                "user = root",
                "server = /bin/cat",
                "rpc_version = 2",
                "rpc_number = 300000",
            )
        )
        self.assertEqual((service.where, service.port), (":: port chosen at bind", None))

    def test_tcpmux(self) -> None:
        """
        A service reached through tcpmux listens on no port of its own.
        """
        service = self.loadOne(
            entry(
                "hello",
                "type = TCPMUX UNLISTED",
                "socket_type = stream",
                "wait = no",
                "user = root",
                "server = /bin/cat",
            )
        )
        self.assertEqual((service.where, service.listens), ("tcpmux", False))


#: (what a service's entry says, its kind, how its clients reach it).
KINDS: list[tuple[tuple[str, ...], ServiceKind, Listening]] = [
    (
        ("type = INTERNAL", "socket_type = stream", "wait = no"),
        ServiceKind.INTERNAL,
        Listening.ACCEPT,
    ),
    (
        ("type = INTERNAL", "socket_type = stream", "wait = yes"),
        ServiceKind.INTERNAL,
        Listening.ACCEPT_ONE_AT_A_TIME,
    ),
    (
        ("type = INTERNAL", "socket_type = dgram", "wait = yes"),
        ServiceKind.INTERNAL,
        Listening.DATAGRAMS,
    ),
    (
        ("type = UNLISTED", "socket_type = stream", "wait = no", "flags = SENSOR", "port = 5000"),
        ServiceKind.SENSOR,
        Listening.ACCEPT,
    ),
    (
        ("type = UNLISTED", "socket_type = dgram", "wait = yes", "flags = SENSOR", "port = 5000"),
        ServiceKind.SENSOR,
        Listening.DATAGRAMS,
    ),
    (
        (
            "type = UNLISTED",
            "socket_type = stream",
            "wait = no",
            "port = 5000",
            "user = root",
            "redirect = 127.0.0.1 25",
        ),
        ServiceKind.REDIRECT,
        Listening.ACCEPT,
    ),
    (
        (
            "type = UNLISTED",
            "socket_type = stream",
            "wait = no",
            "port = 5000",
            "user = root",
            "server = /bin/cat",
        ),
        ServiceKind.SERVER,
        Listening.ACCEPT,
    ),
    (
        (
            "type = UNLISTED",
            "socket_type = stream",
            "wait = yes",
            "port = 5000",
            "user = root",
            "server = /bin/cat",
        ),
        ServiceKind.SERVER,
        Listening.HAND_OVER_STREAM,
    ),
    (
        (
            "type = UNLISTED",
            "socket_type = dgram",
            "wait = yes",
            "port = 5000",
            "user = root",
            "server = /bin/cat",
        ),
        ServiceKind.SERVER,
        Listening.HAND_OVER_DATAGRAMS,
    ),
    (
        (
            "type = TCPMUX UNLISTED",
            "socket_type = stream",
            "wait = no",
            "user = root",
            "server = /bin/cat",
        ),
        ServiceKind.SERVER,
        Listening.THROUGH_TCPMUX,
    ),
    (
        ("type = TCPMUXPLUS UNLISTED INTERNAL", "socket_type = stream", "wait = no"),
        ServiceKind.INTERNAL,
        Listening.THROUGH_TCPMUX,
    ),
]


class KindTests(LoadingCase):
    """
    A service's L{ServiceKind} and L{Listening}, decided when it is
    loaded.
    """

    def test_kinds(self) -> None:
        """
        Each kind of service, as its entry makes it.
        """
        found = []
        for lines, _, _ in KINDS:
            name = "echo" if "INTERNAL" in lines[0] else "mux"
            service = self.loadOne(entry(name, *lines), internal=INTERNAL_SERVICES)
            found.append((service.kind, service.listening))
        self.assertEqual(found, [(kind, listening) for _, kind, listening in KINDS])

    def test_multiplexer(self) -> None:
        """
        The internal stream service named tcpmux is the multiplexer.
        """
        service = self.loadOne(
            entry(
                "TcpMux",
                "type = INTERNAL UNLISTED",
                "port = 1",
                "socket_type = stream",
                "wait = no",
            )
        )
        self.assertEqual((service.kind, service.listening), (ServiceKind.TCPMUX, Listening.ACCEPT))

    def test_inProcess(self) -> None:
        """
        What runs in txinetd's process: what C{type = INTERNAL} means.
        """
        self.assertEqual(
            {kind for kind in ServiceKind if kind.inProcess},
            {ServiceKind.INTERNAL, ServiceKind.TCPMUX, ServiceKind.SENSOR},
        )

    def test_listening(self) -> None:
        """
        Which ways of listening accept connections, and which hand the
        socket over to the server.
        """
        self.assertEqual(
            {each for each in Listening if each.accepts},
            {Listening.ACCEPT, Listening.ACCEPT_ONE_AT_A_TIME},
        )
        self.assertEqual(
            {each for each in Listening if each.handsOver},
            {Listening.HAND_OVER_STREAM, Listening.HAND_OVER_DATAGRAMS},
        )


class ConfigTests(SynchronousTestCase):
    """
    L{Config}: its errors, and whether it can be used at all.
    """

    def test_errors(self) -> None:
        where = Location("xinetd.conf", 3)
        diagnostics = (
            Diagnostic(Severity.WARNING, "w", where),
            Diagnostic(Severity.ERROR, "e", where),
            Diagnostic(Severity.INFO, "i"),
        )
        config = Config("xinetd.conf", Defaults(), (), diagnostics)
        self.assertEqual(config.errors, (diagnostics[1],))
        self.assertFalse(config.isFatal)

    def test_fatal(self) -> None:
        config = Config("xinetd.conf", Defaults(), (), (Diagnostic(Severity.FATAL, "f"),))
        self.assertEqual(len(config.errors), 1)
        self.assertTrue(config.isFatal)
