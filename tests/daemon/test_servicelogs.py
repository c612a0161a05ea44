# -*- test-case-name: tests.daemon.test_servicelogs -*-
"""
Tests for L{txinetd.daemon.servicelogs}: a service's sessions' events in
xinetd's lines, and the targets the service logs share.
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, MemoryTarget, captureMessages
from txinetd.core.config import ServiceConfig
from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    NoIdReason,
    NotIdentified,
    ProgramMessage,
    Started,
    Traffic,
    UserIdentified,
)
from txinetd.core.logformat import Facility, SyslogLevel
from txinetd.core.values import LogKind, LogSpec, SuccessFlag
from txinetd.daemon.logtargets import FileLogTarget, SyslogTarget
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.servicelogs import LogTargets, ServiceLog

NOW = 1_700_000_000.0
CLIENT = "192.0.2.1"
OTHER = "198.51.100.7"


def loadService(
    case: SynchronousTestCase, attributes: str = "", serviceId: str = "svc"
) -> ServiceConfig:
    """
    An internal echo stream service with id C{serviceId}, logging START
    with PID and HOST, EXIT with DURATION, FAIL with HOST.
    """
    files = ConfigFiles(case)
    path = files.write(
        f"{serviceId}.conf",
        f"service echo\n{{\n type = INTERNAL UNLISTED\n id = {serviceId}\n"
        f" socket_type = stream\n wait = no\n port = 7\n"
        f" log_on_success = PID HOST EXIT DURATION\n log_on_failure = HOST\n"
        f"{attributes}}}\n",
    )
    config = files.load(path)
    case.assertEqual(config.errors, ())
    (service,) = config.services
    return service


class LogTargetsTests(SynchronousTestCase):
    """
    L{LogTargets} opens each service-log target once.
    """

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.targets = LogTargets(programMessage, syslogPath=os.path.join(self.directory, "log"))
        self.addCleanup(self.targets.close)
        self.messages = captureMessages(self)

    def fileSpec(self, name: str = "svc.log") -> LogSpec:
        return LogSpec(LogKind.FILE, os.path.join(self.directory, name))

    def read(self, name: str = "svc.log") -> str:
        with open(os.path.join(self.directory, name)) as f:
            return f.read()

    def test_none(self) -> None:
        self.assertIsNone(self.targets.forSpec(None, "svc"))

    def test_fileShared(self) -> None:
        """
        Services naming one FILE path share one target.
        """
        first = self.targets.forSpec(self.fileSpec(), "a")
        second = self.targets.forSpec(self.fileSpec(), "b")
        self.assertIsInstance(first, FileLogTarget)
        self.assertIs(first, second)
        self.assertIsNot(first, self.targets.forSpec(self.fileSpec("other.log"), "c"))

    def test_fileLimits(self) -> None:
        """
        A FILE path with other size limits is another target, with those
        limits.
        """
        first = self.targets.forSpec(self.fileSpec(), "a")
        limited = self.targets.forSpec(replace(self.fileSpec(), soft=100, hard=200), "b")
        assert isinstance(limited, FileLogTarget)
        self.assertIsNot(first, limited)
        self.assertEqual((limited.softLimit, limited.hardLimit), (100, 200))

    def test_fileCannotOpen(self) -> None:
        spec = LogSpec(LogKind.FILE, os.path.join(self.directory, "missing", "svc.log"))
        self.assertIsNone(self.targets.forSpec(spec, "svc"))
        self.assertEqual(
            self.messages,
            [(Level.ERROR, f"Cannot open svc log {spec.path}: No such file or directory")],
        )

    def test_syslog(self) -> None:
        target = self.targets.forSpec(
            LogSpec(LogKind.SYSLOG, facility="local3", level="warning"), "s"
        )
        assert isinstance(target, SyslogTarget)
        self.assertEqual(
            (target.facility, target.level, target.socketPath),
            (Facility.LOCAL3, SyslogLevel.WARNING, self.targets.syslogPath),
        )

    def test_reopen(self) -> None:
        """
        L{LogTargets.reopen} follows a rotated FILE log.
        """
        target = self.targets.forSpec(self.fileSpec(), "svc")
        assert target is not None
        target.writeService("START: before", NOW)
        os.rename(os.path.join(self.directory, "svc.log"), os.path.join(self.directory, "old.log"))
        self.targets.reopen()
        target.writeService("START: after", NOW)
        self.assertIn("START: before", self.read("old.log"))
        self.assertNotIn("START: after", self.read("old.log"))
        self.assertIn("START: after", self.read())

    def test_close(self) -> None:
        """
        L{LogTargets.close} closes every target and forgets them.
        """
        target = self.targets.forSpec(self.fileSpec(), "svc")
        assert target is not None
        self.targets.close()
        target.writeService("START: late", NOW)
        self.assertEqual(self.read(), "")
        self.assertIsNot(self.targets.forSpec(self.fileSpec(), "svc"), target)


class ServiceLogTests(SynchronousTestCase):
    """
    L{ServiceLog} writes each event of the service's sessions as xinetd's
    line, at the event's time.
    """

    def setUp(self) -> None:
        self.target = MemoryTarget()
        self.messages = captureMessages(self)

    def serviceLog(self, attributes: str = "", target: MemoryTarget | None = None) -> ServiceLog:
        return ServiceLog(loadService(self, attributes), target, programMessage)

    def test_entries(self) -> None:
        config = loadService(self)
        traffic = replace(config, log_on_success=config.log_on_success | {SuccessFlag.TRAFFIC})
        log = ServiceLog(traffic, self.target, programMessage)
        log(Started("svc", 12, CLIENT, NOW))
        log(Exited("svc", 12, CLIENT, 0, None, 3.7, NOW + 1))
        log(Exited("svc", 13, CLIENT, None, 15, 0, NOW + 2))
        log(Failed("svc", FailReason.PER_SOURCE_LIMIT, CLIENT, NOW + 3))
        log(UserIdentified("svc", "UNIX : alice", CLIENT, NOW + 4))
        log(NotIdentified("svc", CLIENT, NoIdReason.TIMEOUT, NOW + 5))
        log(Traffic("svc", 22, 69, NOW + 6))
        self.assertEqual(
            self.target.service,
            [
                (NOW, f"START: svc pid=12 from={CLIENT}"),
                (NOW + 1, "EXIT: svc status=0 pid=12 duration=3(sec)"),
                (NOW + 2, "EXIT: svc signal=15 pid=13 duration=0(sec)"),
                (NOW + 3, f"FAIL: svc per_source_limit from={CLIENT}"),
                (NOW + 4, "USERID: svc UNIX : alice"),
                (NOW + 5, f"NOID: svc {CLIENT} timeout"),
                (NOW + 6, "TRAFFIC: svc in=22(bytes) out=69(bytes)"),
            ],
        )

    def test_flagsSelect(self) -> None:
        """
        Without HOST there is no C{from=}; without TRAFFIC no TRAFFIC entry;
        an empty list writes no START or FAIL.
        """
        log = self.serviceLog(" log_on_success = PID\n log_on_failure = ATTEMPT\n", self.target)
        log(Started("svc", 5, CLIENT, NOW))
        log(Failed("svc", FailReason.TIME, CLIENT, NOW))
        log(Traffic("svc", 1, 2, NOW))
        log(Exited("svc", 5, CLIENT, 0, None, 1, NOW))
        self.assertEqual(self.target.entries, ["START: svc pid=5", "FAIL: svc time"])
        quiet = self.serviceLog(" log_on_success =\n log_on_failure =\n", self.target)
        quiet(Started("svc", 5, CLIENT, NOW))
        quiet(Failed("svc", FailReason.TIME, CLIENT, NOW))
        self.assertEqual(len(self.target.entries), 2)

    def test_noTarget(self) -> None:
        """
        Without a target (no C{log_type}), entries go nowhere, but a refusal
        is written to the program log with the client's address, even when
        C{log_on_failure} is empty.
        """
        log = self.serviceLog()
        log(Started("svc", 1, CLIENT, NOW))
        log(UserIdentified("svc", "UNIX : alice", CLIENT, NOW))
        log(Failed("svc", FailReason.ADDRESS, CLIENT, NOW))
        self.serviceLog(" log_on_failure =\n")(Failed("svc", FailReason.TIME, CLIENT, NOW))
        self.assertEqual(self.target.service, [])
        self.assertEqual(
            self.messages,
            [
                (Level.INFO, f"FAIL: svc address from={CLIENT}"),
                (Level.INFO, f"FAIL: svc time from={CLIENT}"),
            ],
        )

    def test_targetKeepsRefusals(self) -> None:
        """
        With a target, a refusal is in the service log only.
        """
        self.serviceLog(target=self.target)(Failed("svc", FailReason.ADDRESS, CLIENT, NOW))
        self.assertEqual(
            (self.target.entries, self.messages), ([f"FAIL: svc address from={CLIENT}"], [])
        )

    def test_programMessages(self) -> None:
        """
        The program messages of the service's sessions go to the program
        log, and not to the service log.
        """
        self.serviceLog(target=self.target)(ProgramMessage(Level.WARNING, "TLS handshake failed"))
        self.assertEqual(
            (self.target.entries, self.messages), ([], [(Level.WARNING, "TLS handshake failed")])
        )


class LogReloadTests(SynchronousTestCase):
    """
    Service logs across reconfigurations: L{LogTargets.serviceLog} and
    L{LogTargets.retain}.
    """

    def setUp(self) -> None:
        self.files = ConfigFiles(self)
        self.logs = LogTargets(programMessage)
        self.addCleanup(self.logs.close)

    def path(self, name: str) -> str:
        return os.path.join(self.files.base, name)

    def logging(
        self,
        name: str,
        soft: int | None = None,
        hard: int | None = None,
        serviceId: str = "svc",
        success: frozenset[SuccessFlag] | None = None,
    ) -> ServiceLog:
        """
        The log of C{serviceId} once its configuration logs to the FILE
        C{name}, with the C{log_on_success} flags C{success} if given.
        """
        config = loadService(self, serviceId=serviceId)
        config = replace(
            config,
            log_type=LogSpec(LogKind.FILE, self.path(name), soft, hard),
            log_on_success=config.log_on_success if success is None else success,
        )
        return self.logs.serviceLog(config)

    def reload(self, *logs: ServiceLog) -> None:
        """
        What the daemon does after a reconfiguration that kept the services
        of C{logs}.
        """
        self.logs.retain(log.serviceId for log in logs)
        self.logs.reopen()

    def entries(self, name: str) -> list[str]:
        """
        The entries of a FILE log, without their time.
        """
        with open(self.path(name)) as f:
            return [line.split(": ", 1)[1] for line in f.read().splitlines()]

    def test_raisedLimit(self) -> None:
        """
        A FILE log stopped by its hard limit writes again once a
        reconfiguration raises the limit.
        """
        self.logging("svc.log", 10, 20)(Started("svc", 1, CLIENT, NOW))
        self.logging("svc.log", 10, 20)(Started("svc", 2, CLIENT, NOW))
        raised = self.logging("svc.log", 10_000, 20_000)
        self.reload(raised)
        raised(Started("svc", 3, OTHER, NOW))
        self.assertEqual(
            self.entries("svc.log"),
            [f"START: svc pid=1 from={CLIENT}", f"START: svc pid=3 from={OTHER}"],
        )

    def test_unusedClosed(self) -> None:
        """
        A FILE log no service uses any more is closed and forgotten: it is
        not opened again (nor created) when logs are reopened.
        """
        old = self.logging("old.log")
        target = old.target
        assert isinstance(target, FileLogTarget)
        new = self.logging("new.log")
        os.remove(self.path("old.log"))
        self.reload(new)
        new(Started("svc", 2, CLIENT, NOW))
        target.writeService("START: stray", NOW)
        self.assertFalse(os.path.exists(self.path("old.log")))
        self.assertEqual(self.entries("new.log"), [f"START: svc pid=2 from={CLIENT}"])

    def test_sessionFollowsService(self) -> None:
        """
        A session begun before a reconfiguration logs its EXIT where the
        service logs now, with the service's current flags: its log is the
        one object, reconfigured.
        """
        log = self.logging("old.log")
        log(Started("svc", 1, CLIENT, NOW))
        self.assertIs(self.logging("new.log", success=frozenset({SuccessFlag.EXIT})), log)
        self.reload(log)
        log(Exited("svc", 1, CLIENT, 0, None, 0, NOW))
        self.assertEqual(self.entries("old.log"), [f"START: svc pid=1 from={CLIENT}"])
        self.assertEqual(self.entries("new.log"), ["EXIT: svc status=0"])

    def test_removedService(self) -> None:
        """
        The sessions of a service that a reconfiguration removed log
        nothing more; the other services keep logging to a shared file.
        """
        removed = self.logging("shared.log", serviceId="gone")
        removed(Started("gone", 1, CLIENT, NOW))
        kept = self.logging("shared.log", serviceId="kept")
        self.reload(kept)
        removed(Exited("gone", 1, CLIENT, 0, None, 0, NOW))
        kept(Started("kept", 2, OTHER, NOW))
        self.assertEqual(
            self.entries("shared.log"),
            [f"START: gone pid=1 from={CLIENT}", f"START: kept pid=2 from={OTHER}"],
        )
