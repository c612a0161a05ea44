# -*- test-case-name: tests.test_dump -*-
"""
Tests for L{txinetd.dump}: the service blocks of the state dump.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import Authority
from tests.fakes import ConfigFiles, FakeSystem
from txinetd.dump import ServiceState, formatService


class ServiceBlockTests(SynchronousTestCase):
    def block(self, *lines: str) -> list[str]:
        files = ConfigFiles(self)
        files.write(
            "xinetd.conf",
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            + "".join(f" {line}\n" for line in lines)
            + "}\n",
        )
        config = files.load(system=FakeSystem())
        self.assertEqual([str(d) for d in config.diagnostics], [])
        (service,) = config.services
        return formatService(ServiceState(service, "Active", 0, None), config.defaults)

    def test_plainService(self) -> None:
        """
        A service with C{port} shows its port and bind address, and no
        C{Listen} line.
        """
        lines = self.block("port = 7007", "bind = 127.0.0.1")
        self.assertIn("\t\tport = 7007", lines)
        self.assertIn("\t\tBind = 127.0.0.1", lines)
        self.assertFalse([line for line in lines if "Listen" in line])

    def test_listen(self) -> None:
        """
        A service with C{listen} shows the description as written.
        """
        lines = self.block("listen = unix:/run/echo.sock:mode=600")
        self.assertIn("\t\tListen = unix:/run/echo.sock:mode=600", lines)

    def test_tls(self) -> None:
        """
        A TLS service names its certificate file.
        """
        authority = Authority(_directory(self))
        issued = authority.server("server", "localhost")
        lines = self.block(
            "port = 7007", f"tls_certificate = {issued.certificate}", f"tls_key = {issued.key}"
        )
        self.assertIn(f"\t\tTLS certificate = {issued.certificate}", lines)


def _directory(case: SynchronousTestCase) -> str:
    path = os.path.abspath(str(case.mktemp()))
    os.makedirs(path)
    return path
