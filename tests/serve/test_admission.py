# -*- test-case-name: tests.serve.test_admission -*-
"""
Tests for L{txinetd.serve.admission}: the checks, banners, ident and log lines in
front of every connection, driven by a L{MemoryReactorClock}, a fake
connection, a fake reverse lookup and an in-memory log target.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

import txinetd.serve.admission
import txinetd.serve.datagrams
from tests.fakes import INTERNAL_SERVICES, ConfigFiles, MemoryTarget, captureMessages, fakeShared
from txinetd.core.config import ServiceConfig
from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    NoIdReason,
    SessionEvent,
    Started,
    Traffic,
)
from txinetd.core.libwrap import HostsAccess, parseHostsTable
from txinetd.core.limits import LoadAverage, ProcessLimit
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.servicelogs import ServiceLog
from txinetd.net.acceptor import PendingConnection
from txinetd.net.tls import TLSError
from txinetd.serve import banners
from txinetd.serve.admission import _LOOK_UP, Admission
from txinetd.serve.datagrams import DGRAM_FAIL_QUIET, DatagramChecks
from txinetd.serve.hostsfiles import HostsFiles
from txinetd.serve.ident import NoId, UserId
from txinetd.serve.lookups import FixedHosts, HostName, IdentLookups
from txinetd.serve.session import Session

T = TypeVar("T")

#: The daemon clock's start: some time in 2023.
NOW = 1_700_000_000.0
CLIENT = "192.0.2.1"
DONE = Failure(ConnectionDone())
OTHER = "198.51.100.7"


def fixedLocalTime(hour: int, minute: int) -> time.struct_time:
    """
    A local time on some day at C{hour:minute}.
    """
    return time.struct_time((2024, 1, 1, hour, minute, 0, 0, 1, 0))


class FakeConnection:
    """
    A L{PendingConnection} stand-in: records what is sent and whether it
    was closed.  With C{manual}, sends complete when the test says so.
    """

    def __init__(
        self, host: str = CLIENT, port: int = 40000, local: tuple[str, int] = ("203.0.113.9", 7)
    ) -> None:
        self.peer = (host, port)
        self.local = local
        self.sent: list[bytes] = []
        self.manual = False
        self.pending: list[Deferred[None]] = []
        self.closed = False
        self.whenSecured: Any = None
        self.environment: dict[str, str] = {}

    def send(self, data: bytes) -> Deferred[None]:
        self.sent.append(data)
        if not self.manual:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self.pending.append(d)
        return d

    def close(self) -> None:
        self.closed = True

    @property
    def pendingConnection(self) -> PendingConnection:
        return cast(PendingConnection, self)


class Starts:
    """
    A runner that records its calls and begins the session with pid 0.
    """

    def __init__(self) -> None:
        self.sessions: list[Session] = []

    def run(self, connection: PendingConnection, session: Session) -> None:
        self.sessions.append(session)
        session.begin(0)


class StubIdentAdmission(Admission):
    """
    An L{Admission} whose ident lookups are L{Deferred}s the test fires.

    @ivar lookups: the pending lookups, with the timeout each was given.
    @ivar cancelled: the lookups given up.
    """

    lookups: list[tuple[Deferred[UserId | NoId], float | None]]
    cancelled: list[Deferred[UserId | NoId]]

    def askIdent(
        self, connection: PendingConnection, timeout: float | None
    ) -> Deferred[UserId | NoId]:
        d: Deferred[UserId | NoId] = Deferred(self.cancelled.append)
        self.lookups.append((d, timeout))
        return d


class AdmissionTestCase(SynchronousTestCase):
    """
    Builds admissions from configuration text, with a shared fake daemon.
    """

    def setUp(self) -> None:
        self.files = ConfigFiles(self)
        self.clock = MemoryReactorClock()
        self.clock.advance(NOW)
        self.loadAverage = 0.0
        self.localTime = (12, 0)
        self.names: dict[str, Deferred[str | None]] = {}
        self.addresses: dict[str, list[str]] = {}
        self.asked: list[tuple[str, bool]] = []
        self.blockingRuns = 0
        self.shared = fakeShared(
            self.clock,
            load=LoadAverage(lambda: self.loadAverage),
            names=self.lookup,
            localTime=lambda now: fixedLocalTime(*self.localTime),
            blocking=self.runBlocking,
        )
        self.target = MemoryTarget()
        self.messages = captureMessages(self)

    def runBlocking(self, work: Callable[[], T]) -> Deferred[T]:
        """
        Run blocking work (reading banners) at once, recording it.
        """
        self.blockingRuns += 1
        return maybeDeferred(work)

    def lookup(self, address: str, verify: bool) -> Deferred[HostName]:
        """
        A fake resolver: reverse names from C{names}, forward addresses
        from C{addresses}.
        """
        self.asked.append((address, verify))

        def check(name: str | None) -> HostName:
            mapsBack = address in self.addresses.get(name or "", [])
            return HostName(name, verify and name is not None and not mapsBack)

        return (self.names.get(address) or succeed(None)).addCallback(check)

    def config(self, attributes: str = "", serviceId: str = "svc") -> ServiceConfig:
        """
        An internal echo stream service with id C{serviceId}, logging START
        with PID and HOST, EXIT with DURATION, FAIL with HOST.
        """
        path = self.files.write(
            f"{serviceId}.conf",
            f"service echo\n{{\n type = INTERNAL UNLISTED\n id = {serviceId}\n"
            f" socket_type = stream\n wait = no\n port = 7\n"
            f" log_on_success = PID HOST EXIT DURATION\n log_on_failure = HOST\n"
            f"{attributes}}}\n",
        )
        config = self.files.load(path, internal=INTERNAL_SERVICES | {("sensor", "stream")})
        self.assertEqual(config.errors, ())
        (service,) = config.services
        return service

    def admission(
        self,
        attributes: str = "",
        serviceId: str = "svc",
        admissionType: type[Admission] = Admission,
        **kwargs: Any,
    ) -> Admission:
        admission = admissionType(self.config(attributes, serviceId), self.shared, **kwargs)
        self.serviceLog(admission).target = self.target
        return admission

    def serviceLog(self, admission: Admission) -> ServiceLog:
        """
        The xinetd log of an admission's service.
        """
        log = admission.observers[0]
        assert isinstance(log, ServiceLog)
        return log

    def change(self, **changes: Any) -> None:
        """
        Give the shared collaborators of the admissions made from now on other
        values.
        """
        self.shared = replace(self.shared, **changes)

    def bannerFiles(self) -> str:
        """
        Attribute lines for three banner files.
        """
        lines = ""
        for attribute, content in (
            ("banner", b"B\r\n"),
            ("banner_success", b"\x00S\n"),
            ("banner_fail", b"F\xff"),
        ):
            path = os.path.join(self.files.base, attribute)
            with open(path, "wb") as f:
                f.write(content)
            lines += f" {attribute} = {path}\n"
        return lines

    def connect(
        self, admission: Admission, host: str = CLIENT, port: int = 40000
    ) -> tuple[FakeConnection, Starts]:
        connection = FakeConnection(host, port)
        starts = Starts()
        admission.admit(connection.pendingConnection, starts)
        return connection, starts


class AdmissionTests(AdmissionTestCase):
    """
    L{Admission.admit} admits a connection: banners, START,
    its slot until the session ends.
    """

    def test_admitted(self) -> None:
        counts: list[int] = []
        admission = self.admission(self.bannerFiles())
        admission.onCountChange = counts.append
        connection, starts = self.connect(admission)
        self.assertEqual(connection.sent, [b"B\r\n\x00S\n"])
        self.assertFalse(connection.closed)
        (session,) = starts.sessions
        self.assertEqual(admission.running.runningFrom(CLIENT), 1)
        self.clock.advance(2.5)
        session.ended(0)
        session.ended(1)
        self.assertEqual(admission.running.running, 0)
        self.assertEqual(counts, [1, 0])
        self.assertEqual(
            self.target.service,
            [
                (NOW, f"START: svc pid=0 from={CLIENT}"),
                (NOW + 2.5, "EXIT: svc status=0 pid=0 duration=2(sec)"),
            ],
        )

    def test_reply(self) -> None:
        """
        A reply given with the connection (a tcpmux target's C{+Go}) goes
        out first, and only to an admitted client.
        """
        admission = self.admission(self.bannerFiles())
        connection = FakeConnection()
        admission.admit(connection.pendingConnection, Starts(), b"+Go\r\n\x00")
        self.assertEqual(connection.sent, [b"+Go\r\n\x00B\r\n\x00S\n"])
        refusing = self.admission(" only_from = 10.0.0.1\n" + self.bannerFiles())
        refused = FakeConnection()
        refusing.admit(refused.pendingConnection, Starts(), b"+Go\r\n\x00")
        self.assertEqual(refused.sent, [b"B\r\nF\xff"])

    def test_noBanners(self) -> None:
        connection, starts = self.connect(self.admission())
        self.assertEqual(connection.sent, [])
        self.assertEqual(len(starts.sessions), 1)

    def test_startsAfterGreeting(self) -> None:
        """
        The service starts once the greeting is with the kernel.
        """
        admission = self.admission(self.bannerFiles())
        connection = FakeConnection()
        connection.manual = True
        starts = Starts()
        admission.admit(connection.pendingConnection, starts)
        self.assertEqual(starts.sessions, [])
        connection.pending[0].callback(None)
        self.assertEqual(len(starts.sessions), 1)

    def test_greetingFails(self) -> None:
        """
        A client gone before the greeting is sent is closed and uncounted,
        without START, EXIT or a logged error.
        """
        admission = self.admission(self.bannerFiles())
        connection = FakeConnection()
        connection.manual = True
        starts = Starts()
        admission.admit(connection.pendingConnection, starts)
        connection.pending[0].errback(ConnectionResetError())
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(self.target.service, [])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_unexpectedError(self) -> None:
        """
        An unexpected error while checking is logged; the connection is
        closed and uncounted.
        """
        self.names[CLIENT] = fail(RuntimeError("resolver broke"))
        admission = self.admission(" only_from = .example.com\n")
        connection, starts = self.connect(admission)
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class EventTests(AdmissionTestCase):
    """
    The events a session emits carry the client's address and port, and
    START the time the connection was admitted.
    """

    def setUp(self) -> None:
        super().setUp()
        self.events: list[SessionEvent] = []
        self.change(observers=(self.events.append,))

    def test_session(self) -> None:
        admission = self.admission()
        _, starts = self.connect(admission, port=40123)
        (session,) = starts.sessions
        self.clock.advance(1.5)
        session.ended(3)
        started, exited = self.events
        self.assertEqual(started, Started("svc", 0, CLIENT, NOW, port=40123, admitted=NOW))
        self.assertEqual(exited, Exited("svc", 0, CLIENT, 3, None, 1.5, NOW + 1.5, port=40123))

    def test_startDelayed(self) -> None:
        """
        A service that starts later (a TLS handshake, a server being
        spawned) has START's time later than the admission's.
        """
        admission = self.admission()
        session = admission.reserve(CLIENT, 40500)
        self.clock.advance(0.25)
        session.begin(1234)
        (started,) = self.events
        assert isinstance(started, Started) and started.admitted is not None
        self.assertEqual((started.when - started.admitted, started.port), (0.25, 40500))

    def test_refused(self) -> None:
        admission = self.admission(" instances = 0\n")
        self.connect(admission, port=40999)
        self.assertEqual(
            self.events, [Failed("svc", FailReason.SERVICE_LIMIT, CLIENT, NOW, port=40999)]
        )

    def test_failedAfterAdmission(self) -> None:
        """
        A session that fails after its admission (its server could not be
        started) says the client's port in its FAIL.
        """
        session = self.admission().reserve(CLIENT, 40777)
        session.fail(FailReason.EXEC)
        self.assertEqual(self.events, [Failed("svc", FailReason.EXEC, CLIENT, NOW, port=40777)])

    def test_datagram(self) -> None:
        admission = self.admission(" only_from = 198.51.100.0/24\n")
        self.successResultOf(DatagramChecks(admission).check((CLIENT, 5353)))
        admission.started(0, OTHER, 5354)
        self.assertEqual(
            self.events,
            [
                Failed("svc", FailReason.ADDRESS, CLIENT, NOW, port=5353),
                Started("svc", 0, OTHER, NOW, port=5354),
            ],
        )

    def test_traffic(self) -> None:
        session = self.admission().reserve(CLIENT, 40001)
        session.traffic(10, 20)
        self.assertEqual(self.events, [Traffic("svc", 10, 20, NOW, CLIENT, 40001)])


class BannerTests(AdmissionTestCase):
    """
    L{Admission.readBanners} reads banner files for each connection, off
    the reactor thread; a service without banners reads nothing.
    """

    def test_read(self) -> None:
        """
        Each read is made anew (an edit shows at the next connection), in
        one run of the daemon's blocking runner for all the files.
        """
        path = os.path.join(self.files.base, "banner")
        admission = self.admission()
        for content in (b"\x00one\r\n", b"two\n\xff"):
            with open(path, "wb") as f:
                f.write(content)
            self.assertEqual(self.successResultOf(admission.readBanners((path, path))), content * 2)
        self.assertEqual(self.blockingRuns, 2)
        refusing = self.admission(" only_from = 10.0.0.1\n")
        for served in (admission, refusing):
            connection, _ = self.connect(served)
            self.assertEqual(connection.sent, [])
        self.assertEqual((self.blockingRuns, self.messages), (2, []))

    def test_missing(self) -> None:
        path = os.path.join(self.files.base, "missing")
        self.assertEqual(self.successResultOf(self.admission().readBanners((path,))), b"")
        self.assertEqual(
            self.messages, [(Level.ERROR, f"service = svc, open of banner {path} failed")]
        )

    def test_refusedKinds(self) -> None:
        """
        A banner that became a FIFO, a device or a file over
        L{banners.MAX_BANNER} after the configuration was loaded is not
        read: logged as one that cannot be opened.
        """
        fifo = os.path.join(self.files.base, "fifo")
        os.mkfifo(fifo)
        large = os.path.join(self.files.base, "large")
        with open(large, "wb") as f:
            f.write(b"x" * (banners.MAX_BANNER + 1))
        admission = self.admission()
        for path in (fifo, "/dev/zero", large):
            self.assertEqual(self.successResultOf(admission.readBanners((path,))), b"")
        self.assertEqual(
            self.messages,
            [
                (Level.ERROR, f"service = svc, open of banner {path} failed")
                for path in (fifo, "/dev/zero", large)
            ],
        )


class LimitCheckTests(AdmissionTestCase):
    """
    The parent checks, in xinetd's order, and what a refused client gets.
    """

    def test_refusal(self) -> None:
        """
        A refusal logs FAIL, sends banner and banner_fail, then closes; the
        service never starts and nothing is counted.
        """
        admission = self.admission(" instances = 0\n" + self.bannerFiles())
        connection = FakeConnection()
        connection.manual = True
        starts = Starts()
        admission.admit(connection.pendingConnection, starts)
        self.assertEqual(connection.sent, [b"B\r\nF\xff"])
        self.assertFalse(connection.closed)
        connection.pending[0].callback(None)
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(self.target.entries, [f"FAIL: svc service_limit from={CLIENT}"])

    def test_refusalClosesWhenSendFails(self) -> None:
        admission = self.admission(" instances = 0\n" + self.bannerFiles())
        connection = FakeConnection()
        connection.manual = True
        admission.admit(connection.pendingConnection, Starts())
        connection.pending[0].errback(BrokenPipeError())
        self.assertTrue(connection.closed)

    def test_order(self) -> None:
        """
        load, then time, then instances: the first failure is the reason.
        """
        admission = self.admission(" max_load = 2\n access_times = 8:00-9:00\n instances = 0\n")
        self.loadAverage = 3.0
        self.localTime = (10, 0)
        reasons = [admission.checkLimits(CLIENT)]
        self.loadAverage = 1.0
        reasons.append(admission.checkLimits(CLIENT))
        self.localTime = (8, 30)
        reasons.append(admission.checkLimits(CLIENT))
        self.assertEqual(reasons, [FailReason.LOAD, FailReason.TIME, FailReason.SERVICE_LIMIT])
        self.assertEqual(
            self.messages, [(Level.ERROR, f"refused connect from {CLIENT} due to excessive load")]
        )

    def test_localTimeOfNow(self) -> None:
        """
        C{access_times} is checked against the local time of the check.
        """
        asked: list[float] = []

        def localTime(now: float) -> time.struct_time:
            asked.append(now)
            return fixedLocalTime(9, 1)

        self.change(localTime=localTime)
        admission = self.admission(" access_times = 8:00-9:00\n")
        _, starts = self.connect(admission)
        self.assertEqual((asked, starts.sessions), ([NOW], []))
        self.assertEqual(self.target.entries, [f"FAIL: svc time from={CLIENT}"])

    def test_cpsTrip(self) -> None:
        """
        The third connection in one second with C{cps = 2 3} trips: FAIL,
        and the service is told to close for 3 seconds, and why.
        """
        trips: list[tuple[int, str]] = []
        admission = self.admission(
            " cps = 2 3\n", pauseFor=lambda wait, why: trips.append((wait, why))
        )
        for port in (1, 2, 3):
            self.connect(admission, port=40000 + port)
        self.assertEqual(trips, [(3, "excessive incoming connections")])
        self.assertEqual(self.target.entries[-1], f"FAIL: svc connections per second from={CLIENT}")

    def test_perSource(self) -> None:
        admission = self.admission(" per_source = 1\n")
        self.connect(admission)
        refused, _ = self.connect(admission)
        _, starts = self.connect(admission, OTHER)
        self.assertTrue(refused.closed)
        self.assertEqual(len(starts.sessions), 1)
        self.assertEqual(self.target.entries[1], f"FAIL: svc per_source_limit from={CLIENT}")

    def test_processLimit(self) -> None:
        """
        C{-limit} counts the sessions of every service of the daemon.
        """
        self.change(processes=ProcessLimit(1))
        first = self.admission(serviceId="first")
        second = self.admission(serviceId="second")
        _, starts = self.connect(first)
        self.connect(second, OTHER)
        self.assertEqual(self.target.entries[-1], f"FAIL: second process_limit from={OTHER}")
        starts.sessions[0].ended(0)
        _, again = self.connect(second, OTHER)
        self.assertEqual(len(again.sessions), 1)

    def test_sharedRunning(self) -> None:
        """
        A admission given the running servers of its predecessor counts them.
        """
        first = self.admission(" instances = 1\n")
        self.connect(first)
        second = self.admission(" instances = 1\n", running=first.running)
        refused, _ = self.connect(second, OTHER)
        self.assertTrue(refused.closed)


class AddressCheckTests(AdmissionTestCase):
    """
    The SENSOR list, C{only_from} / C{no_access} and libwrap.
    """

    def test_refusedAfterReservation(self) -> None:
        """
        An address refusal releases the slot taken by the limit checks and
        sends banner and banner_fail; no START.
        """
        counts: list[int] = []
        admission = self.admission(" only_from = 10.0.0.0/8\n" + self.bannerFiles())
        admission.onCountChange = counts.append
        connection, starts = self.connect(admission)
        self.assertEqual(connection.sent, [b"B\r\nF\xff"])
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, counts), ([], [1, 0]))
        self.assertEqual(self.target.entries, [f"FAIL: svc address from={CLIENT}"])

    def test_noLookupForNumericLists(self) -> None:
        admission = self.admission(" only_from = 192.0.2.0/24\n no_access = 192.0.2.9\n")
        _, starts = self.connect(admission)
        self.assertEqual((len(starts.sessions), self.asked), (1, []))

    def test_decidedAtOnce(self) -> None:
        """
        Numeric lists are decided without waiting; a list that names hosts
        needs the client's name looked up first.
        """
        numeric = self.admission(" only_from = 10.0.0.0/8\n")
        named = self.admission(" only_from = .example.com\n", serviceId="named")
        self.assertEqual(
            [numeric.addressNow(CLIENT), named.addressNow(CLIENT)],
            [FailReason.ADDRESS, _LOOK_UP],
        )
        self.assertEqual(self.asked, [])

    def test_reverseNameAwaited(self) -> None:
        """
        A C{.domain} entry waits for the reverse lookup; the slot is held
        meanwhile.
        """
        name: Deferred[str | None] = Deferred()
        self.names[CLIENT] = name
        admission = self.admission(" only_from = .example.com\n")
        _, starts = self.connect(admission)
        self.assertEqual((starts.sessions, admission.running.running), ([], 1))
        name.callback("www.Example.COM")
        self.assertEqual((len(starts.sessions), self.asked), (1, [(CLIENT, False)]))

    def test_reverseNameRefuses(self) -> None:
        self.names[CLIENT] = succeed("example.com.evil.test")
        admission = self.admission(" only_from = .example.com\n")
        connection, _ = self.connect(admission)
        self.assertTrue(connection.closed)
        self.assertEqual(self.target.entries, [f"FAIL: svc address from={CLIENT}"])

    def test_equalMatches(self) -> None:
        admission = self.admission(" only_from = 192.0.2.0/24\n no_access = 192.0.2.0/24\n")
        connection, _ = self.connect(admission)
        self.assertTrue(connection.closed)
        self.assertEqual(
            self.messages,
            [
                (
                    Level.ERROR,
                    "Service=svc: only_from list and no_access list match equally the address "
                    + CLIENT,
                )
            ],
        )

    def test_noHost(self) -> None:
        """
        A connection without an address (wait = yes) passes the address
        checks.
        """
        admission = self.admission(" only_from = 10.0.0.1\n")
        self.assertIsNone(self.successResultOf(admission.checkAddress(None)))


class SensorTests(AdmissionTestCase):
    """
    A SENSOR service lists its clients on the daemon's global list.
    """

    def sensor(self, denyTime: str) -> Admission:
        return self.admission(f" flags = SENSOR\n deny_time = {denyTime}\n", serviceId="trap")

    def test_listed(self) -> None:
        trap = self.sensor("2")
        guarded = self.admission(serviceId="guarded")
        connection, starts = self.connect(trap)
        self.assertTrue(connection.closed)
        self.assertEqual(starts.sessions, [])
        self.assertEqual(
            self.messages,
            [(Level.CRITICAL, f"Adding {CLIENT} to the global_no_access list for 2 minutes")],
        )
        refused, _ = self.connect(guarded)
        _, served = self.connect(guarded, OTHER)
        self.assertTrue(refused.closed)
        self.assertEqual(len(served.sessions), 1)
        self.clock.advance(119)
        self.assertEqual(self.successResultOf(guarded.checkAddress(CLIENT)), FailReason.ADDRESS)
        self.clock.advance(1)
        self.assertIsNone(self.successResultOf(guarded.checkAddress(CLIENT)))
        self.assertEqual(
            self.target.entries[:2],
            [f"FAIL: trap address from={CLIENT}", f"FAIL: guarded address from={CLIENT}"],
        )

    def test_forever(self) -> None:
        trap = self.sensor("FOREVER")
        self.connect(trap)
        self.clock.advance(10 * 365 * 86400)
        self.assertEqual(
            self.messages,
            [(Level.CRITICAL, f"Adding {CLIENT} to the global_no_access list for -1 minutes")],
        )
        self.assertTrue(self.shared.sensor.contains(CLIENT, self.clock.seconds()))

    def test_never(self) -> None:
        """
        C{deny_time = NEVER}: the client is refused, not listed.
        """
        trap = self.sensor("NEVER")
        connection, _ = self.connect(trap)
        self.assertTrue(connection.closed)
        self.assertEqual(self.messages, [])
        self.assertEqual(len(self.shared.sensor), 0)
        self.assertEqual(self.target.entries, [f"FAIL: trap address from={CLIENT}"])


class LibwrapTests(AdmissionTestCase):
    """
    hosts.allow / hosts.deny through the daemon's L{HostsAccess}.
    """

    def setUp(self) -> None:
        super().setUp()
        self.change(
            hosts=FixedHosts(
                HostsAccess(
                    parseHostsTable(
                        "hosts.allow",
                        f"echo: {OTHER}\nother: ALL\nnamed: .example.com\n"
                        "wary: ALL EXCEPT PARANOID\n",
                        True,
                    ),
                    parseHostsTable("hosts.deny", "ALL: ALL\n", False),
                )
            )
        )

    def test_daemonNames(self) -> None:
        self.assertEqual(self.admission().rules.libwrapName, "echo")
        self.assertEqual(self.admission(" libwrap = other\n").rules.libwrapName, "other")
        self.assertIsNone(self.admission(" flags = NOLIBWRAP\n").rules.libwrapName)
        self.change(hosts=FixedHosts())
        self.assertIsNone(self.admission().rules.libwrapName)

    def test_refused(self) -> None:
        connection, _ = self.connect(self.admission())
        self.assertTrue(connection.closed)
        self.assertEqual(self.target.entries, [f"FAIL: svc libwrap from={CLIENT}"])
        self.assertEqual(
            self.messages,
            [(Level.INFO, f"libwrap refused connection to svc (libwrap=echo) from {CLIENT}")],
        )
        self.assertEqual(self.asked, [])

    def test_allowed(self) -> None:
        _, starts = self.connect(self.admission(), OTHER)
        _, byAttribute = self.connect(self.admission(" libwrap = other\n"))
        _, unwrapped = self.connect(self.admission(" flags = NOLIBWRAP\n"))
        self.assertEqual([len(s.sessions) for s in (starts, byAttribute, unwrapped)], [1, 1, 1])

    def test_daemonNameWithoutServer(self) -> None:
        """
        An external service is known by its server's base name; a service
        without a server by its name.
        """
        path = self.files.write(
            "cat.conf",
            "service echo\n{\n type = UNLISTED\n socket_type = stream\n wait = no\n"
            " port = 7\n protocol = tcp\n user = nobody\n server = /bin/cat\n}\n",
        )
        (config,) = self.files.load(path).services
        self.assertEqual(Admission(config, self.shared).rules.libwrapName, "cat")
        unnamed = replace(config, server=None)
        self.assertEqual(Admission(unnamed, self.shared).rules.libwrapName, "echo")

    def test_byName(self) -> None:
        """
        A rule that looks at names gets the client's reverse name, checked
        to map back to the address.
        """
        self.names[CLIENT] = succeed("host.example.com")
        self.addresses["host.example.com"] = [OTHER, CLIENT]
        _, starts = self.connect(self.admission(" libwrap = named\n"))
        self.assertEqual((len(starts.sessions), self.asked), (1, [(CLIENT, True)]))

    def test_unverifiedName(self) -> None:
        """
        A reverse name that does not map back to the address is not
        trusted: a client that controls its reverse zone does not pass a
        domain rule.
        """
        self.names[CLIENT] = succeed("host.example.com")
        self.addresses["host.example.com"] = [OTHER]
        connection, starts = self.connect(self.admission(" libwrap = named\n"))
        self.assertEqual((starts.sessions, connection.closed), ([], True))
        self.assertEqual(self.target.entries, [f"FAIL: svc libwrap from={CLIENT}"])

    def test_paranoid(self) -> None:
        """
        C{PARANOID} matches a name that does not map back, not a verified
        name and not a missing one.
        """
        self.names[CLIENT] = succeed("liar.example.com")
        self.names[OTHER] = succeed("honest.example.com")
        self.addresses["honest.example.com"] = [OTHER]
        admission = self.admission(" libwrap = wary\n")
        refused, _ = self.connect(admission)
        _, honest = self.connect(admission, OTHER)
        _, nameless = self.connect(admission, "203.0.113.77")
        self.assertTrue(refused.closed)
        self.assertEqual([len(honest.sessions), len(nameless.sessions)], [1, 1])

    def test_onlyFromKeepsReverseName(self) -> None:
        """
        When both only_from and libwrap look at names, one lookup serves
        both: only_from takes the reverse name as it is, libwrap only a
        name that maps back.
        """
        self.names[CLIENT] = succeed("liar.example.com")
        admission = self.admission(" only_from = .example.com\n libwrap = wary\n")
        connection, _ = self.connect(admission)
        self.assertTrue(connection.closed)
        self.assertEqual(self.target.entries, [f"FAIL: svc libwrap from={CLIENT}"])
        self.assertEqual(self.asked, [(CLIENT, True)])

    def test_rulesWalkedOnce(self) -> None:
        """
        Whether the rules need the client's name is worked out once for
        each version of the files, not for every connection.
        """
        walks: list[str] = []
        needsReverseName = HostsAccess.needsReverseName

        def counted(hostsAccess: HostsAccess, daemon: str) -> bool:
            walks.append(daemon)
            return needsReverseName(hostsAccess, daemon)

        self.patch(HostsAccess, "needsReverseName", counted)
        self.names[CLIENT] = succeed("host.example.com")
        self.addresses["host.example.com"] = [CLIENT]
        admission = self.admission(" libwrap = named\n")
        for port in range(3):
            self.connect(admission, port=40000 + port)
        self.assertEqual((walks, len(self.asked)), (["named"], 3))


class LiveHostsFilesTests(AdmissionTestCase):
    """
    hosts.allow / hosts.deny as they are when each connection comes, read
    by the daemon's L{HostsFiles} (here checked at each decision, with the
    thread run at once).
    """

    def setUp(self) -> None:
        super().setUp()
        directory = self.files.base
        self.allow = os.path.join(directory, "hosts.allow")
        self.deny = os.path.join(directory, "hosts.deny")
        watch = HostsFiles(
            self.clock, self.allow, self.deny, programMessage, maybeDeferred, lambda reactor: None
        )
        watch.start()
        self.change(hosts=watch)

    def write(self, path: str, text: str) -> None:
        with open(path, "w") as f:
            f.write(text)

    def served(self, admission: Admission, port: int) -> bool:
        connection, starts = self.connect(admission, port=port)
        return bool(starts.sessions) and not connection.closed

    def test_changesApplyToTheNextConnection(self) -> None:
        """
        A admission made while neither file exists obeys a rule written later,
        and stops obeying it once it is gone, with no reload.
        """
        admission = self.admission()
        self.assertEqual(admission.rules.libwrapName, "echo")
        outcomes = [self.served(admission, 40000)]
        self.write(self.deny, f"echo: {CLIENT}\n")
        outcomes.append(self.served(admission, 40001))
        self.write(self.allow, f"ALL: {CLIENT}\n")
        outcomes.append(self.served(admission, 40002))
        os.unlink(self.allow)
        outcomes.append(self.served(admission, 40003))
        os.unlink(self.deny)
        outcomes.append(self.served(admission, 40004))
        self.assertEqual(outcomes, [True, False, True, False, True])
        self.assertEqual(
            [entry for entry in self.target.entries if entry.startswith("FAIL")],
            [f"FAIL: svc libwrap from={CLIENT}"] * 2,
        )

    def test_nameNeededOnlyByRulesThatUseIt(self) -> None:
        """
        The client's name is looked up once a rule for the service looks at
        names, and no more once it is gone.
        """
        admission = self.admission()
        self.served(admission, 40000)
        self.write(self.deny, "echo: .example.com\n")
        self.served(admission, 40001)
        os.unlink(self.deny)
        self.served(admission, 40002)
        self.assertEqual(self.asked, [(CLIENT, True)])

    def test_noLibwrap(self) -> None:
        self.change(hosts=FixedHosts())
        self.assertIsNone(self.admission().rules.libwrapName)


class IdentTests(AdmissionTestCase):
    """
    USERID and IDONLY, with ident lookups the test answers.
    """

    def identAdmission(self, attributes: str, serviceId: str = "svc") -> StubIdentAdmission:
        admission = self.admission(attributes, serviceId, StubIdentAdmission)
        assert isinstance(admission, StubIdentAdmission)
        admission.lookups = []
        admission.cancelled = []
        return admission

    def test_userid(self) -> None:
        """
        Without IDONLY the service starts at once; USERID follows.
        """
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n")
        _, starts = self.connect(admission)
        self.assertEqual(len(starts.sessions), 1)
        ((lookup, timeout),) = admission.lookups
        self.assertEqual(timeout, self.shared.ident.timeout)
        lookup.callback(UserId("UNIX : alice"))
        self.assertEqual(
            self.target.entries, [f"START: svc pid=0 from={CLIENT}", "USERID: svc UNIX : alice"]
        )

    def test_useridNoId(self) -> None:
        """
        Without IDONLY a failed lookup logs nothing in the service log; an
        unusable reply is reported in the program log.
        """
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n")
        self.connect(admission)
        self.connect(admission)
        admission.lookups[0][0].callback(NoId(NoIdReason.NO_SERVER))
        admission.lookups[1][0].callback(NoId(NoIdReason.BAD_RESPONSE, "1 , 7 : ERROR : NO-USER"))
        self.assertEqual(self.target.entries, [f"START: svc pid=0 from={CLIENT}"] * 2)
        self.assertEqual(
            self.messages,
            [
                (
                    Level.ERROR,
                    f"Bad line received from identity server at {CLIENT}: 1 , 7 : ERROR : NO-USER",
                )
            ],
        )

    def test_idonly(self) -> None:
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n flags = IDONLY\n")
        _, starts = self.connect(admission)
        ((lookup, timeout),) = admission.lookups
        self.assertEqual((starts.sessions, timeout), ([], self.shared.ident.timeout))
        lookup.callback(UserId("UNIX : alice"))
        self.assertEqual(len(starts.sessions), 1)
        self.assertEqual(
            self.target.entries, ["USERID: svc UNIX : alice", f"START: svc pid=0 from={CLIENT}"]
        )

    def test_idonlyNoId(self) -> None:
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n flags = IDONLY\n")
        connection, starts = self.connect(admission)
        admission.lookups[0][0].callback(NoId(NoIdReason.BAD_RESPONSE, "1,7:ERROR:NO-USER"))
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(self.target.entries, [f"NOID: svc {CLIENT} bad response"])

    def test_onFailure(self) -> None:
        """
        USERID in C{log_on_failure}: a limit refusal asks ident and logs
        USERID after FAIL; an address refusal does not ask.
        """
        address = self.identAdmission(" log_on_failure = HOST USERID\n only_from = 10.0.0.1\n", "a")
        limit = self.identAdmission(" log_on_failure = HOST USERID\n instances = 0\n", "l")
        addressed, _ = self.connect(address)
        limited, _ = self.connect(limit)
        self.assertEqual(address.lookups, [])
        self.assertTrue(addressed.closed)
        ((lookup, timeout),) = limit.lookups
        self.assertEqual(timeout, self.shared.ident.timeout)
        # The refused connection stays open while its client's ident server
        # is asked: a client gone from its tables would be NO-USER.
        self.assertFalse(limited.closed)
        lookup.callback(UserId("UNIX : bob"))
        self.assertTrue(limited.closed)
        self.assertEqual(
            self.target.entries,
            [
                f"FAIL: a address from={CLIENT}",
                f"FAIL: l service_limit from={CLIENT}",
                "USERID: l UNIX : bob",
            ],
        )

    def test_onFailureBounded(self) -> None:
        """
        At most C{-logprocs} failure lookups run at once.
        """
        self.change(
            ident=replace(self.shared.ident, forFailures=IdentLookups(1, self.shared.ident.cap))
        )
        admission = self.identAdmission(" log_on_failure = HOST USERID\n instances = 0\n")
        self.connect(admission)
        self.connect(admission)
        self.assertEqual(len(admission.lookups), 1)
        admission.lookups[0][0].callback(NoId(NoIdReason.TIMEOUT))
        self.connect(admission)
        self.assertEqual(len(admission.lookups), 2)

    def test_slotHeldWhileLookupRuns(self) -> None:
        """
        A session whose service has ended keeps its slot while its ident
        lookup runs (its USERID line still waits): C{instances} holds, as
        in xinetd, where the lookup runs in the counted child.
        """
        admission = self.identAdmission(" log_on_success = PID HOST EXIT USERID\n instances = 1\n")
        _, starts = self.connect(admission)
        starts.sessions[0].ended()
        self.assertEqual(admission.running.running, 1)
        _, refused = self.connect(admission, port=40001)
        self.assertEqual(refused.sessions, [])
        admission.lookups[0][0].callback(UserId("UNIX : alice"))
        self.assertEqual(admission.running.running, 0)
        _, served = self.connect(admission, port=40002)
        self.assertEqual(len(served.sessions), 1)
        self.assertEqual(
            self.target.entries[:4],
            [
                f"START: svc pid=0 from={CLIENT}",
                "EXIT: svc status=0 pid=0",
                f"FAIL: svc service_limit from={CLIENT}",
                "USERID: svc UNIX : alice",
            ],
        )

    def test_stopGivesUpLookup(self) -> None:
        """
        Stopping a session (a hard reload, the daemon's stop) gives up its
        ident lookup: the slot is free once the service has ended.
        """
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n")
        _, starts = self.connect(admission)
        session = starts.sessions[0]
        session.stop()
        self.assertEqual(admission.cancelled, [admission.lookups[0][0]])
        self.assertEqual(admission.running.running, 1)
        session.ended()
        self.assertEqual(admission.running.running, 0)

    def test_endedThenStopped(self) -> None:
        """
        A session that ended and waits for its lookup alone is released
        when it is stopped.
        """
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n")
        _, starts = self.connect(admission)
        starts.sessions[0].ended()
        starts.sessions[0].stop()
        self.assertEqual(admission.running.running, 0)

    def test_idonlyStoppedWhileWaiting(self) -> None:
        """
        An IDONLY session stopped while it waits for ident: the lookup is
        given up, the connection closed, the slot freed, nothing logged.
        """
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n flags = IDONLY\n")
        connection, starts = self.connect(admission)
        [session] = admission.running.counted()
        assert isinstance(session, Session)
        session.stop()
        self.assertEqual(admission.cancelled, [admission.lookups[0][0]])
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(self.target.entries, [])

    def test_daemonWideCap(self) -> None:
        """
        At most C{identCap} lookups run at once over the daemon: past it a
        connection is served without one (no USERID line), and the program
        log says so once until a lookup ends.
        """
        self.shared.ident.cap.limit = 1
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n")
        for port in range(3):
            self.connect(admission, port=40000 + port)
        self.assertEqual((len(admission.lookups), admission.running.running), (1, 3))
        full = (
            Level.WARNING,
            "1 ident lookups are running: no more are made until one ends "
            "(no USERID line; IDONLY services refuse with NOID)",
        )
        self.assertEqual(self.messages, [full])
        admission.lookups[0][0].callback(NoId(NoIdReason.TIMEOUT))
        self.connect(admission, port=40003)
        self.connect(admission, port=40004)
        self.assertEqual((len(admission.lookups), self.messages), (2, [full, full]))

    def test_daemonWideCapIdOnly(self) -> None:
        """
        An IDONLY connection that cannot have a lookup is refused with
        C{NOID ... system error}.
        """
        self.shared.ident.cap.limit = 0
        admission = self.identAdmission(" log_on_success = PID HOST USERID\n flags = IDONLY\n")
        connection, starts = self.connect(admission)
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(self.target.entries, [f"NOID: svc {CLIENT} system error"])

    def test_failureLookupsUnderCap(self) -> None:
        """
        Lookups for USERID on failure count toward the daemon-wide cap too.
        """
        self.shared.ident.cap.limit = 1
        success = self.identAdmission(" log_on_success = PID HOST USERID\n", "s")
        failure = self.identAdmission(" log_on_failure = HOST USERID\n instances = 0\n", "f")
        self.connect(success)
        self.connect(failure)
        self.assertEqual((len(success.lookups), failure.lookups), (1, []))

    def test_query(self) -> None:
        """
        L{Admission.askIdent} connects from the connection's local address
        to the client's ident port.
        """
        self.change(ident=replace(self.shared.ident, port=1113))
        admission = self.admission()
        connection = FakeConnection(CLIENT, 40000, ("203.0.113.9", 7))
        admission.askIdent(connection.pendingConnection, 5.0)
        ((host, port, _, timeout, bindAddress),) = self.clock.tcpClients
        self.assertEqual(
            (host, port, timeout, bindAddress), (CLIENT, 1113, 5.0, ("203.0.113.9", 0))
        )


class DatagramTests(AdmissionTestCase):
    """
    L{txinetd.serve.datagrams.DatagramChecks}.
    """

    def test_allowed(self) -> None:
        admission = DatagramChecks(self.admission(" only_from = 192.0.2.0/24\n"))
        self.assertTrue(self.successResultOf(admission.check((CLIENT, 5000))))
        self.assertEqual((self.target.entries, admission.admission.running.running), ([], 0))

    def test_refusedQuietly(self) -> None:
        """
        One FAIL per sender (address and port) per minute.
        """
        admission = DatagramChecks(self.admission(" only_from = 10.0.0.1\n"))
        answers = [self.successResultOf(admission.check((CLIENT, 5000))) for _ in range(2)]
        answers.append(self.successResultOf(admission.check((CLIENT, 5001))))
        self.clock.advance(DGRAM_FAIL_QUIET - 1)
        answers.append(self.successResultOf(admission.check((CLIENT, 5000))))
        self.clock.advance(1)
        answers.append(self.successResultOf(admission.check((CLIENT, 5000))))
        self.assertEqual(answers, [False] * 5)
        self.assertEqual(self.target.entries, [f"FAIL: svc address from={CLIENT}"] * 3)

    def test_sendersForgotten(self) -> None:
        """
        Senders whose quiet minute is over are forgotten as new refusals
        come: the remembered senders do not grow with every sender ever
        refused.
        """
        admission = DatagramChecks(self.admission(" only_from = 10.0.0.1\n"))
        for port in range(100):
            self.successResultOf(admission.check((CLIENT, port)))
        self.clock.advance(DGRAM_FAIL_QUIET / 2)
        self.successResultOf(admission.check((OTHER, 1)))
        self.clock.advance(DGRAM_FAIL_QUIET / 2)
        self.successResultOf(admission.check((OTHER, 2)))
        self.assertEqual(list(admission.quietUntil), [(OTHER, 1), (OTHER, 2)])
        self.assertEqual(len(self.target.entries), 102)

    def test_sendersBounded(self) -> None:
        """
        At most L{txinetd.serve.datagrams.DGRAM_FAIL_SENDERS} senders are remembered; the
        oldest goes first.
        """
        self.patch(txinetd.serve.datagrams, "DGRAM_FAIL_SENDERS", 3)
        admission = DatagramChecks(self.admission(" only_from = 10.0.0.1\n"))
        answers = [self.successResultOf(admission.check((CLIENT, p))) for p in range(5)]
        self.assertEqual(list(admission.quietUntil), [(CLIENT, 2), (CLIENT, 3), (CLIENT, 4)])
        self.successResultOf(admission.check((CLIENT, 4)))
        self.successResultOf(admission.check((CLIENT, 0)))
        self.assertEqual(list(admission.quietUntil), [(CLIENT, 3), (CLIENT, 4), (CLIENT, 0)])
        self.assertEqual((answers, len(self.target.entries)), ([False] * 5, 6))

    def test_limit(self) -> None:
        admission = DatagramChecks(self.admission(" access_times = 8:00-9:00\n"))
        self.assertFalse(self.successResultOf(admission.check((CLIENT, 5000))))
        self.assertEqual(self.target.entries, [f"FAIL: svc time from={CLIENT}"])

    def test_waitingBounded(self) -> None:
        """
        At most L{txinetd.serve.datagrams.DGRAM_WAITING} datagrams wait for their name
        lookup; past that one is refused with C{service_limit} (quietly per
        sender) until one has been checked.
        """
        self.patch(txinetd.serve.datagrams, "DGRAM_WAITING", 2)
        senders = [f"192.0.2.{number}" for number in range(1, 6)]
        for sender in senders:
            self.names[sender] = Deferred()
        admission = DatagramChecks(self.admission(" only_from = .example.com\n"))
        checks = [admission.check((sender, 5000)) for sender in senders[:4]]
        self.assertEqual(admission.waiting, 2)
        self.assertEqual([self.successResultOf(d) for d in checks[2:]], [False, False])
        self.assertEqual(len(self.asked), 2)
        self.names[senders[0]].callback("a.example.com")
        self.assertTrue(self.successResultOf(checks[0]))
        waiting = admission.check((senders[4], 5000))
        self.assertNoResult(waiting)
        self.assertEqual(
            self.target.entries,
            [f"FAIL: svc service_limit from={sender}" for sender in senders[2:4]],
        )

    def test_ownPortRefused(self) -> None:
        """
        A datagram from a port the daemon's datagram services listen on
        (a service's own, or another's) is refused for its address, from
        any address, quietly and before the limits count it: answering
        would start a loop.
        """
        self.shared.datagramPorts[7007] += 1
        admission = DatagramChecks(self.admission(" cps = 1 10\n"))
        answers = [
            self.successResultOf(admission.check((host, 7007)))
            for host in ("127.0.0.1", "127.0.0.1", CLIENT)
        ]
        self.assertEqual(answers, [False, False, False])
        self.assertTrue(self.successResultOf(admission.check((CLIENT, 7008))))
        self.assertEqual(
            self.target.entries,
            ["FAIL: svc address from=127.0.0.1", f"FAIL: svc address from={CLIENT}"],
        )


class ExplanationTests(AdmissionTestCase):
    """
    With C{-d} (L{Shared.debug}), each refusal is explained in a DEBUG
    program message naming the rule that refused.
    """

    def setUp(self) -> None:
        super().setUp()
        self.change(debug=True)

    def explained(self, admission: Admission, host: str = CLIENT) -> str:
        """
        Connect from C{host}, which must be refused, and return the
        explanation.
        """
        before = len(self.messages)
        connection, _ = self.connect(admission, host)
        self.assertTrue(connection.closed)
        debug = [text for level, text in self.messages[before:] if level is Level.DEBUG]
        self.assertEqual(len(debug), 1, self.messages[before:])
        return debug[0]

    def test_limits(self) -> None:
        self.assertEqual(
            self.explained(self.admission(" instances = 0\n")),
            f"svc: {CLIENT} refused (service_limit): instances = 0: 0 running",
        )
        perSource = self.admission(" per_source = 1\n")
        self.connect(perSource)
        self.assertEqual(
            self.explained(perSource),
            f"svc: {CLIENT} refused (per_source_limit): per_source = 1: 1 running for {CLIENT}",
        )
        self.localTime = (14, 5)
        self.assertEqual(
            self.explained(self.admission(" access_times = 8:00-12:00 13:00-14:00\n")),
            f"svc: {CLIENT} refused (time): 14:05 is outside access_times = 8:00-12:00 13:00-14:00",
        )
        self.loadAverage = 3.5
        self.assertEqual(
            self.explained(self.admission(" max_load = 2.5\n")),
            f"svc: {CLIENT} refused (load): the load average 3.50 is at max_load = 2.5 or above",
        )
        self.loadAverage = 0.0
        cps = self.admission(" cps = 1 3\n")
        self.connect(cps, port=40001)
        self.connect(cps, port=40002)
        self.assertIn(
            f"svc: {CLIENT} refused (connections per second): more than cps = 1 connections "
            "per second",
            [text for level, text in self.messages if level is Level.DEBUG],
        )
        self.change(processes=ProcessLimit(0))
        self.assertEqual(
            self.explained(self.admission(serviceId="other")),
            f"other: {CLIENT} refused (process_limit): -limit 0: 0 servers running",
        )

    def test_addresses(self) -> None:
        self.assertEqual(
            self.explained(self.admission(" no_access = 192.0.2.0/24 10.0.0.0/8\n")),
            f"svc: {CLIENT} refused (address): no_access entry 192.0.2.0/24 matches {CLIENT}",
        )
        self.assertEqual(
            self.explained(
                self.admission(" only_from = 192.0.2.0/24\n no_access = 192.0.2.0/25\n")
            ),
            f"svc: {CLIENT} refused (address): no_access entry 192.0.2.0/25 is at least as "
            "specific as only_from entry 192.0.2.0/24",
        )
        entries = " ".join(f"10.0.{n}.0/24" for n in range(7))
        self.assertEqual(
            self.explained(self.admission(f" only_from = {entries} ::1\n")),
            f"svc: {CLIENT} refused (address): no only_from entry matches {CLIENT}: "
            "10.0.0.0/24 10.0.1.0/24 10.0.2.0/24 10.0.3.0/24 10.0.4.0/24 and 3 more",
        )
        self.assertEqual(
            self.explained(self.admission(" only_from =\n")),
            f"svc: {CLIENT} refused (address): only_from is empty",
        )

    def test_names(self) -> None:
        self.names[CLIENT] = succeed("host.example.com")
        self.addresses["host.example.com"] = [CLIENT]
        self.assertEqual(
            self.explained(self.admission(" no_access = .example.com\n")),
            f"svc: {CLIENT} refused (address): no_access entry .example.com matches {CLIENT}",
        )
        self.names[CLIENT] = succeed("host.example.com")
        self.assertEqual(
            self.explained(self.admission(" only_from = .example.org\n")),
            f"svc: {CLIENT} refused (address): no only_from entry matches {CLIENT} (named "
            "host.example.com): .example.org",
        )

    def test_sensor(self) -> None:
        trap = self.admission(" flags = SENSOR\n deny_time = 5\n", serviceId="trap")
        self.assertEqual(
            self.explained(trap), f"trap: {CLIENT} refused (address): it touched a SENSOR service"
        )
        self.assertEqual(
            self.explained(self.admission()),
            f"svc: {CLIENT} refused (address): {CLIENT} is on the SENSOR list",
        )

    def test_libwrap(self) -> None:
        self.change(
            hosts=FixedHosts(
                HostsAccess(
                    parseHostsTable("/etc/hosts.allow", f"echo: {OTHER}\n", True),
                    parseHostsTable(
                        "/etc/hosts.deny", "# none\n\necho : 192.0.2.0/255.255.255.0\n", False
                    ),
                )
            )
        )
        self.assertEqual(
            self.explained(self.admission()),
            f"svc: {CLIENT} refused (libwrap): /etc/hosts.deny:3: echo : 192.0.2.0/255.255.255.0",
        )

    def test_quietWithoutDebug(self) -> None:
        """
        Without C{-d} nothing is explained (nor worked out).
        """
        self.change(debug=False)
        self.connect(self.admission(" instances = 0\n"))
        self.connect(self.admission(" no_access = 192.0.2.0/24\n"))
        self.assertEqual([level for level, _ in self.messages if level is Level.DEBUG], [])


class StopBeforeStartTests(AdmissionTestCase):
    """
    A session admitted but waiting before its service starts can be
    stopped: the wait is cancelled, the connection closed and the slot
    released, without START, EXIT, FAIL or a logged error.
    """

    def waiting(self, admission: Admission, connection: FakeConnection) -> tuple[Session, Starts]:
        """
        Connect C{connection}, which must then wait, and give its session.
        """
        starts = Starts()
        admission.admit(connection.pendingConnection, starts)
        (session,) = admission.running.counted()
        assert isinstance(session, Session)
        self.assertFalse(connection.closed)
        return session, starts

    def assertStopped(
        self, admission: Admission, connection: FakeConnection, starts: Starts
    ) -> None:
        """
        The connection is closed and uncounted, its service never started
        and nothing was logged.
        """
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual((self.target.entries, self.messages), ([], []))
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_lookUp(self) -> None:
        """
        Stopped while its name is looked up; the late answer is ignored.
        """
        self.names[CLIENT] = Deferred()
        admission = self.admission(" only_from = .example.com\n")
        connection = FakeConnection()
        session, starts = self.waiting(admission, connection)
        session.stop()
        self.assertStopped(admission, connection, starts)
        self.names[CLIENT].callback("a.example.com")
        self.assertStopped(admission, connection, starts)

    def test_greeting(self) -> None:
        """
        Stopped while its banners are sent; their late completion is
        ignored.
        """
        admission = self.admission(self.bannerFiles())
        connection = FakeConnection()
        connection.manual = True
        session, starts = self.waiting(admission, connection)
        session.stop(force=True)
        self.assertStopped(admission, connection, starts)
        connection.pending[0].callback(None)
        self.assertStopped(admission, connection, starts)

    def test_handshake(self) -> None:
        """
        Stopped during its TLS handshake: the handshake's L{Deferred} is
        cancelled, with no C{FAIL tls} line and no warning.
        """
        cancelled: list[Deferred[Any]] = []
        handshake: Deferred[Any] = Deferred(cancelled.append)
        admission = self.admission()
        connection = FakeConnection()
        connection.whenSecured = lambda: handshake
        session, starts = self.waiting(admission, connection)
        session.stop()
        self.assertEqual(cancelled, [handshake])
        self.assertStopped(admission, connection, starts)

    def test_handshakeFails(self) -> None:
        """
        A handshake that fails (not cancelled) is refused with C{FAIL tls}
        and a warning.
        """
        handshake: Deferred[Any] = Deferred()
        admission = self.admission()
        connection = FakeConnection()
        connection.whenSecured = lambda: handshake
        _, starts = self.waiting(admission, connection)
        handshake.errback(TLSError("handshake timed out"))
        self.assertTrue(connection.closed)
        self.assertEqual((starts.sessions, admission.running.running), ([], 0))
        self.assertEqual(self.target.entries, [f"FAIL: svc tls from={CLIENT}"])
        self.assertEqual(
            self.messages,
            [
                (
                    Level.WARNING,
                    f"TLS handshake for service svc from {CLIENT} failed: handshake timed out",
                )
            ],
        )

    def test_idonly(self) -> None:
        """
        Stopped while IDONLY waits for ident: the query is cancelled, its
        connection attempt and timer with it; no NOID line.
        """
        self.change(ident=replace(self.shared.ident, port=1113))
        admission = self.admission(" log_on_success = PID HOST USERID\n flags = IDONLY\n")
        connection = FakeConnection()
        session, starts = self.waiting(admission, connection)
        (connector,) = self.clock.connectors
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        session.stop()
        self.assertStopped(admission, connection, starts)
        self.assertTrue(connector.stoppedConnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(self.shared.ident.timeout)
        self.assertStopped(admission, connection, starts)

    def test_runnerReplaces(self) -> None:
        """
        Once the service starts, stopping the session is its runner's
        business.
        """
        stops: list[bool] = []

        class Runner:
            def run(self, connection: PendingConnection, session: Session) -> None:
                session.begin(0)
                session.stopWith(stops.append)

        admission = self.admission()
        connection = FakeConnection()
        admission.admit(connection.pendingConnection, Runner())
        (session,) = admission.running.counted()
        assert isinstance(session, Session)
        session.stop(force=True)
        self.assertEqual(stops, [True])
        self.assertFalse(connection.closed)

    def test_startedWithoutStopper(self) -> None:
        """
        A service that has started without a stopper of its own yet (a
        server being spawned) is not stopped by the admission's.
        """
        admission = self.admission()
        connection, starts = self.connect(admission)
        (session,) = starts.sessions
        session.stop()
        self.assertFalse(connection.closed)
        self.assertEqual(admission.running.running, 1)
        self.assertEqual(self.flushLoggedErrors(), [])


class RecheckTests(AdmissionTestCase):
    """
    L{Admission.recheck} applies an admission's time and address rules to a running
    session.
    """

    def test_recheck(self) -> None:
        admission = self.admission(" access_times = 8:00-9:00\n only_from = 10.0.0.1\n")
        session = Session(admission, CLIENT, NOW)
        self.assertEqual(self.successResultOf(admission.recheck(session)), FailReason.TIME)
        self.localTime = (8, 0)
        self.assertEqual(self.successResultOf(admission.recheck(session)), FailReason.ADDRESS)
        self.assertIsNone(self.successResultOf(admission.recheck(Session(admission, None, NOW))))
