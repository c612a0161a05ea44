"""
Tests for the PROXY protocol and C{connection_env} attributes as the
configuration loads them (L{txinetd.core.checks.ServiceBuilder.fillProxy}).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, FakeSystem, describe
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.proxyprotocol import (
    DEFAULT_PROXY_TIMEOUT,
    ConnectionEnv,
    ProxyLocal,
    ProxyVersion,
)

SERVER = ("type = UNLISTED", "socket_type = stream", "wait = no", "user = root", "port = 7007")


class ProxyConfigTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.files = ConfigFiles(self)

    def load(self, *lines: str) -> Config:
        body = "".join(f"    {line}\n" for line in lines)
        self.files.write("xinetd.conf", f"service echo\n{{\n{body}}}\n")
        return self.files.load(system=FakeSystem())

    def loadOne(self, *lines: str) -> ServiceConfig:
        config = self.load(*lines)
        self.assertEqual(describe(config.diagnostics), [])
        (service,) = config.services
        return service

    def test_settings(self) -> None:
        """
        C{proxy_protocol} and C{proxy_from} make the service's L{ProxySettings};
        C{proxy_local} and C{proxy_timeout} default to refuse and 10 s.
        """
        service = self.loadOne(
            *SERVER, "server = /bin/cat", "proxy_protocol = v2", "proxy_from = 10.0.0.0/8"
        )
        assert service.proxy is not None
        self.assertEqual(service.proxy.versions, {ProxyVersion.V2})
        self.assertEqual(
            (service.proxy.local, service.proxy.timeout), (ProxyLocal.REFUSE, DEFAULT_PROXY_TIMEOUT)
        )
        self.assertTrue(service.proxy.trusts("10.1.2.3"))
        self.assertTrue(service.proxy.trusts("::ffff:10.1.2.3"))
        self.assertFalse(service.proxy.trusts("11.0.0.1"))
        self.assertFalse(service.proxy.trusts("not an address"))
        given = self.loadOne(
            *SERVER,
            "server = /bin/cat",
            "proxy_protocol = v1 v2",
            "proxy_from = 127.0.0.1 ::1",
            "proxy_local = serve",
            "proxy_timeout = 3",
            "connection_env = ucspi systemd",
        )
        assert given.proxy is not None
        self.assertEqual(given.proxy.versions, {ProxyVersion.V1, ProxyVersion.V2})
        self.assertEqual((given.proxy.local, given.proxy.timeout), (ProxyLocal.SERVE, 3))
        self.assertTrue(given.proxy.trusts("::1"))
        self.assertEqual(given.connection_env, {ConnectionEnv.UCSPI, ConnectionEnv.SYSTEMD})

    def test_plainServiceUnchanged(self) -> None:
        """
        A plain xinetd service has none of it.
        """
        service = self.loadOne(*SERVER, "server = /bin/cat")
        self.assertEqual(
            (service.proxy, service.redirect_proxy, service.connection_env),
            (None, None, frozenset()),
        )

    def test_redirectProxy(self) -> None:
        service = self.loadOne(*SERVER, "redirect = 127.0.0.1 8080", "redirect_proxy = v1")
        self.assertEqual(service.redirect_proxy, ProxyVersion.V1)

    def test_mistakes(self) -> None:
        """
        Each misuse is reported with the file and line, and the service is
        dropped.
        """
        cases = {
            ("server = /bin/cat", "proxy_protocol = v1"): "proxy_protocol needs proxy_from",
            ("server = /bin/cat", "proxy_from = 127.0.0.1"): "proxy_from needs proxy_protocol",
            ("server = /bin/cat", "proxy_local = serve"): "proxy_local needs proxy_protocol",
            ("server = /bin/cat", "proxy_timeout = 5"): "proxy_timeout needs proxy_protocol",
            (
                "server = /bin/cat",
                "proxy_protocol = v2",
                "proxy_from = .example.com",
            ): "proxy_from takes addresses and networks, not names: .example.com",
            ("server = /bin/cat", "redirect_proxy = v2"): "redirect_proxy needs redirect",
            (
                "redirect = 127.0.0.1 8080",
                "redirect_proxy = v2",
                "redirect_tls = yes",
            ): "redirect_proxy cannot be used with redirect_tls",
            (
                "redirect = 127.0.0.1 8080",
                "connection_env = ucspi",
            ): "connection_env needs a server",
        }
        for lines, message in cases.items():
            with self.subTest(lines=lines):
                config = self.load(*SERVER, *lines)
                self.assertEqual(config.services, ())
                errors = describe(config.diagnostics)
                self.assertEqual(len(errors), 1, errors)
                self.assertTrue(
                    errors[0].startswith("xinetd.conf:1: error: Service echo: "), errors
                )
                self.assertIn(message, errors[0])

    def test_badValueLine(self) -> None:
        """
        A bad value is reported at its own line.
        """
        config = self.load(*SERVER, "server = /bin/cat", "proxy_protocol = v3")
        self.assertIn(
            "xinetd.conf:9: error: Bad value for proxy_protocol: v3",
            describe(config.diagnostics)[0],
        )

    def test_waitingService(self) -> None:
        """
        A service whose server takes the listening socket cannot read
        headers.
        """
        lines = [line.replace("wait = no", "wait = yes") for line in SERVER]
        config = self.load(
            *lines, "server = /bin/cat", "proxy_protocol = v2", "proxy_from = 127.0.0.1"
        )
        self.assertEqual(config.services, ())
        self.assertIn(
            "Service echo: proxy_protocol needs socket_type = stream and wait = no",
            describe(config.diagnostics)[0],
        )
