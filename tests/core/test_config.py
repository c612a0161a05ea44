# -*- test-case-name: tests.core.test_config -*-
"""
Tests for L{txinetd.core.config}: what the configuration records say of
themselves.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.core.test_inheritance import LoadingCase, entry
from txinetd.core.config import Config, Defaults
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
