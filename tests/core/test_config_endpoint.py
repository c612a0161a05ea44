# -*- test-case-name: tests.core.test_config_endpoint -*-
"""
Tests for the C{listen}, C{tls_*} and C{redirect_tls*} attributes as
L{txinetd.core.config} validates them.
"""

from __future__ import annotations

import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import Authority
from tests.fakes import ConfigFiles, FakeSystem, describe
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.endpoint import RedirectTLS, SystemdListen, TCPListen, TLSSettings, UNIXListen

INTERNAL = ("type = INTERNAL UNLISTED", "socket_type = stream", "wait = no")


#: A stream service with no server of its own, for the redirect cases.
RELAY = ("type = UNLISTED", "socket_type = stream", "wait = no", "user = root", "port = 7007")


class EndpointConfigTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.files = ConfigFiles(self)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        self.authority = Authority(directory)
        self.issued = self.authority.server("server", "localhost")

    def load(self, *lines: str, name: str = "echo") -> Config:
        body = "".join(f"    {line}\n" for line in lines)
        self.files.write("xinetd.conf", f"service {name}\n{{\n{body}}}\n")
        return self.files.load(system=FakeSystem())

    def loadOne(self, *lines: str) -> ServiceConfig:
        config = self.load(*lines)
        self.assertEqual(describe(config.diagnostics), [])
        (service,) = config.services
        return service

    def errors(self, *lines: str) -> list[str]:
        config = self.load(*lines)
        self.assertEqual(config.services, ())
        return describe(config.diagnostics)

    def test_tcpListen(self) -> None:
        """
        C{listen = tcp:} sets the port and bind address.
        """
        service = self.loadOne(*INTERNAL, "listen = tcp:7007:interface=127.0.0.1")
        self.assertEqual(
            (service.port, service.bindAddress, service.family, service.place),
            (7007, "127.0.0.1", socket.AF_INET, None),
        )
        self.assertIsInstance(service.listen, TCPListen)

    def test_unixListen(self) -> None:
        """
        C{listen = unix:} has no port; its path is its place.
        """
        service = self.loadOne(*INTERNAL, "listen = unix:/run/echo.sock")
        self.assertEqual(
            (service.port, service.family, service.place),
            (None, socket.AF_UNIX, "unix:/run/echo.sock"),
        )
        self.assertIsInstance(service.listen, UNIXListen)

    def test_systemdListen(self) -> None:
        service = self.loadOne(*INTERNAL, "listen = systemd:name=echo")
        self.assertIsInstance(service.listen, SystemdListen)
        self.assertEqual(service.family, socket.AF_UNSPEC)

    def test_sslListen(self) -> None:
        """
        C{listen = ssl:} is TCP plus TLS settings from its keys.
        """
        service = self.loadOne(
            *INTERNAL,
            f"listen = ssl:993:privateKey={self.issued.key}:certKey={self.issued.certificate}",
        )
        self.assertEqual(service.port, 993)
        self.assertEqual(service.tls, TLSSettings(self.issued.certificate, self.issued.key))

    def test_clientCertificates(self) -> None:
        """
        C{tls_client_ca} asks for a certificate, required unless
        C{tls_client_cert = optional}.
        """
        lines = (
            *INTERNAL,
            "port = 7007",
            f"tls_certificate = {self.issued.certificate}",
            f"tls_key = {self.issued.key}",
            f"tls_client_ca = {self.authority.path}",
        )
        required = self.loadOne(*lines)
        assert required.tls is not None
        self.assertEqual(
            (required.tls.clientCA, required.tls.clientRequired), (self.authority.path, True)
        )
        optional = self.loadOne(*lines, "tls_client_cert = optional")
        assert optional.tls is not None
        self.assertFalse(optional.tls.clientRequired)

    def test_redirectTLS(self) -> None:
        """
        C{redirect_tls} checks the redirect host's name unless told another.
        """
        service = self.loadOne(*RELAY, "redirect = 127.0.0.1 8000", "redirect_tls = yes")
        self.assertEqual(service.redirectTLS, RedirectTLS("127.0.0.1", None))
        named = self.loadOne(
            *RELAY,
            "redirect = 127.0.0.1 8000",
            "redirect_tls = yes",
            "redirect_tls_name = b.example",
        )
        self.assertEqual(named.redirectTLS, RedirectTLS("b.example", None))

    def test_mistakes(self) -> None:
        """
        Each misuse is reported at the service's line, and the service is
        dropped.
        """
        cert, key = self.issued.certificate, self.issued.key
        other = self.authority.server("other", "localhost")
        cases = {
            ("listen = tcp:7007", "port = 7007"): "listen replaces port",
            ("listen = unix:/run/a.sock", "bind = 127.0.0.1"): "listen replaces bind",
            (
                "listen = unix:/run/a.sock",
                "only_from = 127.0.0.1",
            ): "only_from needs an IP listener",
            ("port = 7007", f"tls_key = {key}"): "TLS attributes need tls_certificate",
            (
                f"listen = ssl:993:privateKey={key}",
                f"tls_certificate = {cert}",
            ): "the ssl: description already names the keys",
            ("port = 7007", "tls_certificate = /nonexistent.pem"): (
                "TLS: cannot read /nonexistent.pem: No such file or directory"
            ),
            ("port = 7007", f"tls_certificate = {cert}", f"tls_key = {other.key}"): (
                f"TLS: {other.key} does not fit {cert}"
            ),
            ("port = 7007", "redirect_tls = yes"): "redirect_tls needs redirect",
            (
                "port = 7007",
                f"tls_certificate = {cert}",
                f"tls_key = {key}",
                "tls_client_cert = required",
            ): "tls_client_cert needs tls_client_ca",
            (
                "port = 7007",
                f"tls_certificate = {cert}",
                f"tls_key = {key}",
                "tls_client_cert = optional",
            ): "tls_client_cert needs tls_client_ca",
            (
                "listen = systemd:name=echo:domain=UNIX",
                "no_access = 10.0.0.1",
            ): "no_access needs an IP listener",
        }
        for lines, message in cases.items():
            with self.subTest(lines=lines):
                (error,) = self.errors(*INTERNAL, *lines)
                self.assertTrue(error.startswith("xinetd.conf:1: error: Service echo: "), error)
                self.assertIn(message, error)

    def test_systemdIPListenKeepsAddressRules(self) -> None:
        """
        A systemd socket of an IP family, or of a family known only once it
        is adopted, may have address rules of its own.
        """
        for domain in (":domain=INET6", ""):
            with self.subTest(domain=domain):
                service = self.loadOne(
                    *INTERNAL, f"listen = systemd:name=echo{domain}", "only_from = 127.0.0.1"
                )
                self.assertIsNotNone(service.only_from)

    def test_redirectCA(self) -> None:
        """
        C{redirect_tls_ca} is read at load: a file that cannot be read or
        holds no usable certificate drops the service, with the reason.
        """
        garbage = os.path.join(self.authority.directory, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        base = (*RELAY, "redirect = 127.0.0.1 8000", "redirect_tls = yes")
        cases = {
            "/nonexistent.pem": "TLS: cannot read /nonexistent.pem: No such file or directory",
            garbage: f"TLS: bad certificate in {garbage}: ",
        }
        for path, message in cases.items():
            with self.subTest(path=path):
                (error,) = self.errors(*base, f"redirect_tls_ca = {path}")
                self.assertTrue(error.startswith("xinetd.conf:1: error: Service echo: "), error)
                self.assertIn(message, error)
        service = self.loadOne(*base, f"redirect_tls_ca = {self.authority.path}")
        self.assertEqual(service.redirectTLS, RedirectTLS("127.0.0.1", self.authority.path))

    def test_tlsNeedsStreamWithoutWait(self) -> None:
        (error,) = self.errors(
            "type = INTERNAL UNLISTED",
            "socket_type = dgram",
            "wait = yes",
            "port = 7007",
            f"tls_certificate = {self.issued.certificate}",
            f"tls_key = {self.issued.key}",
        )
        self.assertIn("TLS needs socket_type = stream and wait = no", error)
