# -*- test-case-name: tests.daemon.test_machine -*-
"""
Tests for L{txinetd.daemon.machine}: what the services share, made from
this machine once.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time

from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import captureMessages
from txinetd.core.events import Level
from txinetd.daemon import machine
from txinetd.daemon.machine import (
    UNLIMITED_FILES,
    LocalTime,
    daemonEnvironment,
    daemonUmask,
    defaultFileLimit,
    onThisMachine,
    readLoadAverage,
)
from txinetd.daemon.servicelogs import LogTargets
from txinetd.net.listening import ListeningSockets
from txinetd.serve.hostsfiles import HostsFiles
from txinetd.serve.lookups import FixedHosts

INFINITY = resource.RLIM_INFINITY


class DaemonDefaultsTests(SynchronousTestCase):
    """
    L{defaultFileLimit} and L{daemonUmask}.
    """

    def test_fileLimit(self) -> None:
        self.patch(resource, "getrlimit", lambda number: (1024, 5000))
        self.assertEqual(defaultFileLimit(), 5000)

    def test_unlimitedFiles(self) -> None:
        self.patch(resource, "getrlimit", lambda number: (1024, INFINITY))
        self.assertEqual(defaultFileLimit(), 4096)

    def test_fileLimitIsNofile(self) -> None:
        asked: list[int] = []

        def getrlimit(number: int) -> tuple[int, int]:
            asked.append(number)
            return (1, 2)

        self.patch(resource, "getrlimit", getrlimit)
        defaultFileLimit()
        self.assertEqual(asked, [resource.RLIMIT_NOFILE])

    def test_umask(self) -> None:
        """
        The daemon's umask with 022 added; the daemon's own is unchanged.
        """
        previous = os.umask(0o007)
        try:
            self.assertEqual(daemonUmask(), 0o027)
            self.assertEqual(os.umask(0o007), 0o007)
        finally:
            os.umask(previous)


class DaemonEnvironmentTests(SynchronousTestCase):
    """
    L{daemonEnvironment}: the environment the daemon was started with,
    without what Python's C locale coercion added.
    """

    def environment(self, current: dict[str, str], startup: bytes | None) -> dict[str, str]:
        return daemonEnvironment(current, lambda: startup)

    def test_coercionUndone(self) -> None:
        """
        An C{LC_CTYPE} that the process was not started with, with a value
        Python's coercion gives it, is not the daemon's.
        """
        for coerced in ("C.UTF-8", "C.utf8", "UTF-8"):
            with self.subTest(coerced=coerced):
                self.assertEqual(
                    self.environment(
                        {"PATH": "/bin", "LANG": "C", "LC_CTYPE": coerced},
                        b"PATH=/bin\0LANG=C\0",
                    ),
                    {"PATH": "/bin", "LANG": "C"},
                )

    def test_managerVariablesLeftOut(self) -> None:
        """
        What systemd gives the daemon alone (C{NOTIFY_SOCKET}, the watchdog's
        variables) is not the servers': one that called sd_notify would
        speak for txinetd.
        """
        current = {
            "PATH": "/bin",
            "NOTIFY_SOCKET": "/run/systemd/notify",
            "WATCHDOG_USEC": "30000000",
            "WATCHDOG_PID": "1",
        }
        self.assertEqual(self.environment(current, None), {"PATH": "/bin"})
        self.assertEqual(current["NOTIFY_SOCKET"], "/run/systemd/notify")

    def test_startupValueKept(self) -> None:
        """
        An C{LC_CTYPE} the process was started with is the daemon's: the
        value it had (C{C}, which the coercion replaced), or the coerced
        value itself when it was given.  The first entry counts, as for
        C{getenv}.
        """
        cases = [
            (b"LC_CTYPE=C\0LC_CTYPE=de_DE.UTF-8\0", "C"),
            (b"LC_CTYPE=C.UTF-8\0", "C.UTF-8"),
            (b"X=LC_CTYPE=POSIX\0LC_CTYPE=POSIX", "POSIX"),
        ]
        for startup, value in cases:
            with self.subTest(startup=startup):
                self.assertEqual(
                    self.environment({"LC_CTYPE": "C.UTF-8"}, startup), {"LC_CTYPE": value}
                )

    def test_otherwiseAsItIs(self) -> None:
        """
        Without a coerced C{LC_CTYPE}, or where the environment the process
        was started with cannot be read, the environment is the current
        one (from which the daemon may have taken variables that were for
        itself); the start-up one is then not read.
        """
        read: list[None] = []

        def readStartup() -> bytes:
            read.append(None)
            return b"LISTEN_FDS=1\0"

        self.assertEqual(
            daemonEnvironment({"LC_CTYPE": "de_DE.UTF-8", "A": "1"}, readStartup),
            {"LC_CTYPE": "de_DE.UTF-8", "A": "1"},
        )
        self.assertEqual((daemonEnvironment({}, readStartup), read), ({}, []))
        self.assertEqual(self.environment({"LC_CTYPE": "C.UTF-8"}, None), {"LC_CTYPE": "C.UTF-8"})

    def test_default(self) -> None:
        """
        By default it is this process's environment, a copy, corrected by
        what C{/proc/self/environ} says.
        """
        with open("/proc/self/environ", "rb") as f:
            startup = f.read()
        self.assertEqual(daemonEnvironment(), daemonEnvironment(os.environ, lambda: startup))
        self.assertIsNot(daemonEnvironment(), os.environ)


class LoadAverageTests(SynchronousTestCase):
    """
    L{readLoadAverage} reads the 1-minute load from a file of
    C{/proc/loadavg}'s format.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def test_read(self) -> None:
        """
        The file is read at each call.
        """
        path = os.path.join(self.directory, "loadavg")
        self.assertEqual(readLoadAverage(path), -1.0)
        with open(path, "w") as loadFile:
            loadFile.write("1.50 1.00 0.50 1/100 200\n")
        self.assertEqual(readLoadAverage(path), 1.5)

    def test_unreadable(self) -> None:
        """
        A load that cannot be read is -1, which never refuses a positive
        C{max_load}.
        """
        self.assertEqual(readLoadAverage(os.path.join(self.directory, "absent")), -1.0)


class OnThisMachineTests(SynchronousTestCase):
    """
    L{onThisMachine} makes everything the tree is built with, once.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def test_parts(self) -> None:
        """
        The options reach the parts they are for; the service logs are
        both the shared ones and the tree's; the environment is a copy.
        """
        environ = {"PATH": "/bin"}
        made = onThisMachine(
            MemoryReactorClock(),
            identPort=1113,
            logprocs=3,
            processLimit=7,
            environ=environ,
            debug=True,
        )
        shared = made.shared
        environ["LATER"] = "1"
        self.assertEqual(
            (
                shared.ident.port,
                shared.ident.forFailures.limit,
                shared.ident.forFailures.parent,
                shared.processes.limit,
                dict(shared.servers.environ),
                shared.debug,
            ),
            (1113, 3, shared.ident.cap, 7, {"PATH": "/bin"}, True),
        )
        self.assertIsInstance(made.logs, LogTargets)
        self.assertIs(shared.logs, made.logs)
        self.assertIsInstance(made.openSockets, ListeningSockets)
        self.assertEqual(shared.servers.euid, os.geteuid())
        self.assertEqual(shared.servers.umask, daemonUmask())

    def test_environWithoutCoercion(self) -> None:
        """
        By default servers inherit the daemon's environment (see
        L{daemonEnvironment}): without the C{LC_CTYPE} Python's C locale
        coercion added.
        """
        self.patch(os, "environ", {"PATH": "/bin", "LANG": "C", "LC_CTYPE": "C.UTF-8"})
        self.patch(machine, "readStartupEnviron", lambda: b"PATH=/bin\0LANG=C\0")
        shared = onThisMachine(MemoryReactorClock()).shared
        self.assertEqual(dict(shared.servers.environ), {"PATH": "/bin", "LANG": "C"})

    def test_noHostsFiles(self) -> None:
        self.assertEqual(onThisMachine(MemoryReactorClock()).shared.hosts, FixedHosts())

    def test_hostsFilesReadNow(self) -> None:
        """
        hosts.allow and hosts.deny are read when the parts are made, before
        the tree runs (and watched only while it does).
        """
        allow = os.path.join(self.directory, "hosts.allow")
        deny = os.path.join(self.directory, "hosts.deny")
        with open(deny, "w") as f:
            f.write("ALL: 192.0.2.1\n")
        hosts = onThisMachine(MemoryReactorClock(), hostsFiles=(allow, deny)).shared.hosts
        assert isinstance(hosts, HostsFiles)
        self.assertEqual((hosts.notifier, len(hosts.access.deny.rules)), (None, 1))

    def test_identCapSaid(self) -> None:
        """
        Reaching the daemon-wide ident bound is said in the program log.
        """
        messages = captureMessages(self)
        cap = onThisMachine(MemoryReactorClock()).shared.ident.cap
        cap.limit = 0
        self.assertIsNone(cap.run(Deferred))
        self.assertEqual([level for level, _ in messages], [Level.WARNING])

    def test_unlimitedFiles(self) -> None:
        self.patch(resource, "getrlimit", lambda number: (1024, INFINITY))
        self.assertEqual(defaultFileLimit(), UNLIMITED_FILES)


class LocalTimeTests(SynchronousTestCase):
    """
    L{LocalTime}: the local time of a moment, asked once a second.
    """

    def test_oncePerSecond(self) -> None:
        asked: list[float] = []

        def localtime(now: float) -> time.struct_time:
            asked.append(now)
            return time.gmtime(now)

        local = LocalTime(localtime)
        moments = [1_700_000_000.1, 1_700_000_000.9, 1_700_000_001.0, 1_700_000_061.5]
        results = [local(moment) for moment in moments]
        self.assertEqual(asked, [1_700_000_000, 1_700_000_001, 1_700_000_061])
        self.assertEqual(results, [time.gmtime(moment) for moment in moments])

    def test_default(self) -> None:
        """
        By default it is this machine's local time.
        """
        now = time.time()
        self.assertEqual(LocalTime()(now), time.localtime(now))
