# -*- test-case-name: tests.test_service_passed -*-
"""
Tests for L{txinetd.daemon.service.adoptPassedSocket}: which sockets systemd passed
a service can use.
"""

from __future__ import annotations

import errno
import socket

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, FakeSystem, describe
from txinetd.core.config import ServiceConfig
from txinetd.core.endpoint import SystemdListen
from txinetd.daemon.service import adoptPassedSocket, bindFailed
from txinetd.net.systemd import ListenFds


class AdoptPassedSocketTests(SynchronousTestCase):
    """
    A passed socket is adopted when its type and family suit the service;
    otherwise L{OSError} says why, so that the service fails to start as
    when a bind fails.
    """

    def service(self, socketType: str, *lines: str) -> ServiceConfig:
        files = ConfigFiles(self)
        wait = "yes" if socketType == "dgram" else "no"
        body = "".join(f"    {line}\n" for line in lines)
        files.write(
            "xinetd.conf",
            f"service echo\n{{\n    type = INTERNAL UNLISTED\n    socket_type = {socketType}\n"
            f"    wait = {wait}\n    listen = systemd:name=passed\n{body}}}\n",
        )
        config = files.load(system=FakeSystem())
        self.assertEqual(describe(config.errors), [])
        (service,) = config.services
        return service

    def adopt(
        self, config: ServiceConfig, family: socket.AddressFamily, kind: socket.SocketKind
    ) -> socket.socket:
        passed = socket.socket(family, kind)
        self.addCleanup(passed.close)
        spec = config.listen
        assert isinstance(spec, SystemdListen)
        adopted = adoptPassedSocket(config, spec, ListenFds((passed.fileno(),), ("passed",)))
        self.addCleanup(adopted.close)
        return adopted

    def refused(
        self, config: ServiceConfig, family: socket.AddressFamily, kind: socket.SocketKind
    ) -> OSError:
        error: OSError = self.assertRaises(OSError, self.adopt, config, family, kind)
        return error

    def test_unixDatagramRefused(self) -> None:
        """
        A datagram service cannot serve a UNIX socket (its clients have no
        address to answer or check).
        """
        error = self.refused(self.service("dgram"), socket.AF_UNIX, socket.SOCK_DGRAM)
        self.assertEqual(error.errno, errno.EAFNOSUPPORT)
        self.assertEqual(error.strerror, "systemd:name=passed: datagram services need an IP socket")

    def test_ipDatagramAdopted(self) -> None:
        adopted = self.adopt(self.service("dgram"), socket.AF_INET, socket.SOCK_DGRAM)
        self.assertEqual((adopted.family, adopted.type), (socket.AF_INET, socket.SOCK_DGRAM))

    def test_unixStreamAdopted(self) -> None:
        adopted = self.adopt(self.service("stream"), socket.AF_UNIX, socket.SOCK_STREAM)
        self.assertEqual((adopted.family, adopted.type), (socket.AF_UNIX, socket.SOCK_STREAM))

    def test_unixWithOwnAddressRulesRefused(self) -> None:
        """
        A service with its own C{only_from} or C{no_access} cannot take a
        UNIX socket: there is no client address to check.
        """
        for rule in ("only_from = 127.0.0.1", "no_access = 10.0.0.1"):
            error = self.refused(self.service("stream", rule), socket.AF_UNIX, socket.SOCK_STREAM)
            self.assertEqual(error.errno, errno.EAFNOSUPPORT)
            name = rule.split()[0]
            self.assertEqual(error.strerror, f"systemd:name=passed: {name} needs an IP socket")

    def test_ipWithAddressRulesAdopted(self) -> None:
        adopted = self.adopt(
            self.service("stream", "only_from = 127.0.0.1"), socket.AF_INET6, socket.SOCK_STREAM
        )
        self.assertEqual(adopted.family, socket.AF_INET6)

    def test_otherKindRefused(self) -> None:
        error = self.refused(self.service("stream"), socket.AF_INET, socket.SOCK_DGRAM)
        self.assertEqual(error.errno, errno.EPROTOTYPE)


class BindFailedTests(SynchronousTestCase):
    """
    L{bindFailed}: xinetd's message for a socket that could not be made,
    naming where the service was to listen.
    """

    def services(self, *entries: str) -> list[ServiceConfig]:
        files = ConfigFiles(self)
        files.write("xinetd.conf", "".join(entries))
        config = files.load(system=FakeSystem())
        self.assertEqual(describe(config.errors), [])
        return list(config.services)

    def test_places(self) -> None:
        """
        An IP service names its address, port and protocol (C{::} for the
        default dual-stack socket); a C{listen} socket names its
        description.
        """
        entry = "service {name}\n{{\n type = INTERNAL UNLISTED\n socket_type = {kind}\n{rest}}}\n"
        services = self.services(
            entry.format(name="echo", kind="stream", rest=" wait = no\n port = 7777\n"),
            entry.format(
                name="time", kind="dgram", rest=" wait = yes\n port = 37\n bind = 127.0.0.2\n"
            ),
            entry.format(
                name="daytime", kind="stream", rest=" wait = no\n listen = unix:/run/d.sock\n"
            ),
        )
        error = OSError(errno.EADDRINUSE, "Address already in use")
        self.assertEqual(
            [bindFailed(service, error) for service in services],
            [
                f"bind failed (Address already in use (errno = 98)). service = {where}"
                for where in [
                    "echo on :: port 7777/tcp",
                    "time on 127.0.0.2 port 37/udp",
                    "daytime on unix:/run/d.sock",
                ]
            ],
        )
