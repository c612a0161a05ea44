# -*- test-case-name: tests.core.test_dump -*-
"""
Tests for L{txinetd.core.dump}: address entries, the defaults and service
blocks, and the totals of the state dump.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import Authority
from tests.fakes import ConfigFiles, FakeSystem
from txinetd.core.addressentries import AddressEntry, DomainEntry, HostNameEntry, NetworkEntry
from txinetd.core.dump import ServiceState, describeEntry, formatDefaults, formatDump, formatService
from txinetd.core.servertable import ServerState


class EntryTests(SynchronousTestCase):
    """
    L{describeEntry}: address entries as xinetd's dump shows them.
    """

    def test_kinds(self) -> None:
        entries: list[AddressEntry] = [
            NetworkEntry(4, 0x7F000001, 32),
            NetworkEntry(4, 0x0A000000, 8),
            NetworkEntry(6, 1, 128),
            NetworkEntry(6, 0x20010DB8 << 96, 32),
            HostNameEntry("host.example.test"),
            DomainEntry(".example.test"),
        ]
        self.assertEqual(
            [describeEntry(entry) for entry in entries],
            [
                "127.0.0.1(NUMERIC)",
                "10.0.0.0/8(NET)",
                "::1(NUMERIC)",
                "2001:db8::/32(NET)",
                "host.example.test(HOST)",
                ".example.test(DOMAIN)",
            ],
        )


class DumpTests(SynchronousTestCase):
    """
    L{formatDefaults} and L{formatDump} on a loaded configuration.
    """

    def setUp(self) -> None:
        files = ConfigFiles(self)
        files.write(
            "xinetd.conf",
            "defaults\n{\n instances = 30\n only_from = 127.0.0.1 10.0.0.0/8\n"
            " log_type = FILE /var/log/txinetd.log 1K\n log_on_success = PID HOST\n}\n"
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n"
            " wait = no\n port = 7007\n}\n",
        )
        self.config = files.load(system=FakeSystem())
        self.assertEqual([str(d) for d in self.config.diagnostics], [])

    def test_defaults(self) -> None:
        self.assertEqual(
            formatDefaults(self.config.defaults),
            [
                "Service defaults",
                "\tInstances = 30",
                "\tBind = All addresses.",
                "\tOnly from: 127.0.0.1(NUMERIC) 10.0.0.0/8(NET)",
                "\tNo access: No blocked sites",
                "\tLogging to file: /var/log/txinetd.log (soft=1024 hard=6144)",
                "\tLog_on_success flags = HOST PID",
                "\tLog_on_failure flags = ",
            ],
        )

    def test_totals(self) -> None:
        """
        The dump ends with the counts of active and available services,
        running servers and SENSOR entries, the limits and the file.
        """
        (service,) = self.config.services
        services = [
            ServiceState(service, "Active", 1, ("0.0.0.0", 7007)),
            ServiceState(service, "Suspended", 0, None),
        ]
        servers = [ServerState(service.id, 0, "127.0.0.1", 0.0)]
        text = formatDump(0.0, self.config, services, servers, 12, 3, 1024, "9.9")
        self.assertTrue(text.startswith("INTERNAL STATE DUMP: txinetd 9.9\n"), text)
        self.assertIn("\tremote_address = 127.0.0.1\n", text)
        tail = text.split("Server table dump:\n", 1)[1].split("\n\n", 1)[1]
        self.assertEqual(
            [line for line in tail.splitlines() if line],
            [
                "active_services = 1",
                "available_services = 2",
                "running_servers = 1",
                "global_no_access entries = 3",
                "max_descriptors = 1024",
                "process_limit = 12",
                f"config_file = {self.config.path}",
                "END OF DUMP",
            ],
        )


class ListeningOnTests(SynchronousTestCase):
    """
    The C{listening on} line names every socket of a service.
    """

    def test_addresses(self) -> None:
        files = ConfigFiles(self)
        files.write(
            "xinetd.conf",
            "service echo\n{\n type = INTERNAL UNLISTED\n socket_type = stream\n wait = no\n"
            " port = 7007\n}\n",
        )
        config = files.load(system=FakeSystem())
        (service,) = config.services
        both = (("::", 7007), ("0.0.0.0", 7007))
        lines = [
            formatService(state, config.defaults)[-1]
            for state in (
                ServiceState(service, "Active", 0, both[0], both),
                ServiceState(service, "Active", 0, ("::", 7007)),
                ServiceState(service, "Disabled", 0, None),
            )
        ]
        self.assertEqual(
            lines,
            [
                "\tlistening on = ::,7007 0.0.0.0,7007",
                "\tlistening on = ::,7007",
                "\tlistening on = -",
            ],
        )


class ServiceBlockTests(SynchronousTestCase):
    def block(self, *lines: str, address: tuple[str, int] | None = None) -> list[str]:
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
        return formatService(ServiceState(service, "Active", 0, address), config.defaults)

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
        self.assertIn("\t\tport = -", lines)

    def test_boundPort(self) -> None:
        """
        The port shown is the one the service is bound to, where it differs
        from the configured one (an RPC service's is chosen at bind).
        """
        lines = self.block("port = 0", address=("::", 40123))
        self.assertIn("\t\tport = 40123", lines)

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
