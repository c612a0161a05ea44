# -*- test-case-name: tests.daemon.test_loading -*-
"""
Tests for L{txinetd.daemon.loading}: this machine's look-ups and files, and
loading a configuration against them.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Callable
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.core.test_addressentries import FakeResolver, v4
from tests.core.test_inheritance import entry
from tests.fakes import ConfigFiles, FakeSystem, describe
from txinetd.core.addressentries import parseAddressToken
from txinetd.daemon import machine
from txinetd.daemon.loading import LocalSystem, checkExecutable, loadConfig, readNetworks
from txinetd.daemon.machine import daemonEnvironment


class LocalSystemTests(SynchronousTestCase):
    """
    L{LocalSystem}: this machine's look-ups.
    """

    def test_environCaptured(self) -> None:
        """
        The environment is a copy taken when the object is made.
        """
        environ = {"A": "1"}
        system = LocalSystem(environ)
        environ["B"] = "2"
        self.assertEqual(dict(system.environ), {"A": "1"})
        self.assertEqual(dict(LocalSystem().environ), daemonEnvironment())

    def test_environWithoutCoercion(self) -> None:
        """
        By default the environment is the daemon's (see
        L{txinetd.daemon.machine.daemonEnvironment}): without the
        C{LC_CTYPE} Python's C locale coercion added.
        """
        self.patch(os, "environ", {"PATH": "/bin", "LANG": "C", "LC_CTYPE": "C.UTF-8"})
        self.patch(machine, "readStartupEnviron", lambda: b"PATH=/bin\0LANG=C\0")
        self.assertEqual(dict(LocalSystem().environ), {"PATH": "/bin", "LANG": "C"})

    def test_registeredInternalServices(self) -> None:
        """
        By default L{loadConfig} checks internal services against the
        registered plugins.
        """
        files = ConfigFiles(self)
        internal = ("socket_type = stream", "wait = no")
        files.write(
            "xinetd.conf",
            entry("daytime", "type = INTERNAL", *internal)
            + entry("nosuch", "type = INTERNAL UNLISTED", "port = 5000", *internal),
        )
        config = loadConfig("xinetd.conf", system=FakeSystem(), baseDirectory=files.base, euid=0)
        self.assertEqual([s.id for s in config.services], ["daytime"])
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:7: error: No such internal service: nosuch/stream - DISABLING"],
        )

    def test_lookups(self) -> None:
        """
        The look-ups use this machine's files (a numeric address needs no
        resolver).
        """
        system = LocalSystem({})
        self.assertEqual(system.userByName("root"), (0, 0))
        self.assertIsNone(system.userByName("no-such-user-txinetd"))
        self.assertEqual(system.groupByName("root"), 0)
        self.assertIsNone(system.groupByName("no-such-group-txinetd"))
        self.assertEqual(system.protocolByName("tcp"), 6)
        self.assertIsNone(system.protocolByName("no-such-protocol"))
        self.assertIsNone(system.portByName("no-such-service", "tcp"))
        self.assertIsNone(system.rpcByName("no-such-program"))
        self.assertEqual(system.resolveHost("127.0.0.1"), ["127.0.0.1"])
        self.assertEqual(
            system.checkExecutable("/nonexistent/x"), "Unable to stat: /nonexistent/x."
        )

    def test_lookupsOncePerObject(self) -> None:
        """
        A L{LocalSystem} (one is made for each load) looks each name up
        once, found or not, and gives the same answer again; another one
        looks it up anew.
        """
        calls: list[str] = []

        def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
            def lookup(*args: Any, **kwargs: Any) -> Any:
                calls.append(name)
                return function(*args, **kwargs)

            return lookup

        self.patch(pwd, "getpwnam", counting("user", pwd.getpwnam))
        self.patch(grp, "getgrnam", counting("group", grp.getgrnam))
        self.patch(socket, "getprotobyname", counting("protocol", socket.getprotobyname))
        self.patch(socket, "getservbyname", counting("port", socket.getservbyname))
        self.patch(socket, "getaddrinfo", counting("host", socket.getaddrinfo))

        def lookEverythingUp(system: LocalSystem) -> list[object]:
            return [
                system.userByName("root"),
                system.userByName("no-such-user-txinetd"),
                system.groupByName("root"),
                system.groupByName("no-such-group-txinetd"),
                system.protocolByName("tcp"),
                system.protocolByName("no-such-protocol"),
                system.portByName("no-such-service", "tcp"),
                system.resolveHost("127.0.0.1"),
            ]

        first = LocalSystem({})
        answers = lookEverythingUp(first)
        once = list(calls)
        again = lookEverythingUp(first)
        first.resolveHost("127.0.0.1").append("changed by a caller")
        self.assertEqual(
            (again, calls, first.resolveHost("127.0.0.1")),
            (answers, once, ["127.0.0.1"]),
        )
        lookEverythingUp(LocalSystem({}))
        self.assertEqual(calls, once * 2)
        self.assertEqual(
            once, ["user", "user", "group", "group", "protocol", "protocol", "port", "host"]
        )


class NetworksFileTests(SynchronousTestCase):
    """
    L{readNetworks} reads networks(5) files.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def write(self, text: str) -> str:
        path = os.path.join(self.directory, "networks")
        with open(path, "w") as networksFile:
            networksFile.write(text)
        return path

    def test_read(self) -> None:
        """
        Names and aliases map to their numbers, case-insensitively; comments,
        blank lines and lines with bad numbers are skipped; the first line
        naming a network wins.
        """
        path = self.write(
            "# comment\n"
            "\n"
            "Loopback 127 lo-net # trailing comment\n"
            "link-local 169.254.0.0\n"
            "broken 1.2.3.4.5\n"
            "short\n"
            "loopback 10\n"
        )
        self.assertEqual(
            readNetworks(path),
            {"loopback": 127, "lo-net": 127, "link-local": 0xA9FE0000},
        )

    def test_missing(self) -> None:
        """
        A missing file is empty.
        """
        self.assertEqual(readNetworks(os.path.join(self.directory, "absent")), {})

    def test_usedByParser(self) -> None:
        """
        A network read from a file is usable by L{parseAddressToken}.
        """
        networks = readNetworks(self.write("office 192.168.5\n"))
        self.assertEqual(
            parseAddressToken("office", FakeResolver({}), networks).entries,
            (v4("192.168.5.0", 24),),
        )


class CheckExecutableTests(SynchronousTestCase):
    """
    The real parse-time check of a C{server} path, on files this test makes.
    """

    def test_messages(self) -> None:
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        runnable = os.path.join(base, "runnable")
        plain = os.path.join(base, "plain")
        for path, mode in [(runnable, 0o755), (plain, 0o644)]:
            with open(path, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(path, mode)
        missing = os.path.join(base, "missing")
        self.assertEqual(
            [checkExecutable(p) for p in (runnable, plain, missing)],
            [None, f"Server {plain} is not executable", f"Unable to stat: {missing}."],
        )
