# -*- test-case-name: tests.daemon.test_metrics -*-
"""
Tests for L{txinetd.daemon.metrics} (the tally of the session events),
L{txinetd.daemon.status} (the C{/status} document) and the collector of
L{txinetd.daemon.monitor}, on a fake service tree, with the text
C{prometheus_client} makes of them parsed back by C{prometheus_client}'s
own parser.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, fakeShared
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.dump import ServiceState
from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    NoIdReason,
    NotIdentified,
    ProgramMessage,
    Reloaded,
    ReloadResult,
    Started,
    Traffic,
)
from txinetd.daemon.metrics import SessionTally, exitLabel
from txinetd.daemon.monitor import TreeCollector, checkEndpoint
from txinetd.daemon.status import statusDocument
from txinetd.serve.session import Session
from txinetd.serve.shared import Shared

NOW = 1_700_000_000.0

CONFIG = """\
service daytime
{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= 10013
	instances	= 5
	per_source	= 2
}
service relay
{
	type		= UNLISTED
	socket_type	= stream
	wait		= no
	port		= 10014
	redirect	= 127.0.0.1 10013
	user		= nobody
}
service echo
{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= 10007
	disable		= yes
}
"""


@dataclass
class FakeAdmission:
    serviceId: str


def session(
    config: ServiceConfig,
    host: str,
    started: float,
    port: int,
    relayed: Callable[[], tuple[int, int]] | None = None,
) -> Session:
    """
    A running session of a service, as its admission makes it.
    """
    made = Session(cast(Any, FakeAdmission(config.id)), host, started, port)
    made.relayed = relayed
    return made


@dataclass
class FakeTree:
    """
    A L{txinetd.daemon.status.DaemonTree}.
    """

    config: Config
    shared: Shared
    states: list[ServiceState] = field(default_factory=list)
    running: list[Session] = field(default_factory=list)

    def serviceStates(self) -> list[ServiceState]:
        return self.states

    def sessions(self) -> list[Session]:
        return self.running


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """
    Every sample of the Prometheus text of C{registry}, parsed back.
    """
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class TallyTests(SynchronousTestCase):
    """
    L{SessionTally} counts each event of each service.
    """

    def test_counts(self) -> None:
        tally = SessionTally()
        tally(Started("cat", 40, "192.0.2.1", NOW + 0.002, 5000, NOW))
        tally(Started("daytime", 0, "192.0.2.1", NOW, 5001, NOW))
        tally(Exited("cat", 40, "192.0.2.1", 3, None, 2.5, NOW, 5000))
        tally(Exited("cat", 41, "192.0.2.1", None, signal.SIGTERM, 0.01, NOW, 5002))
        tally(Failed("cat", FailReason.PER_SOURCE_LIMIT, "192.0.2.1", NOW))
        tally(Failed("cat", FailReason.PER_SOURCE_LIMIT, "192.0.2.9", NOW))
        tally(Failed("cat", FailReason.ADDRESS, "192.0.2.1", NOW))
        tally(NotIdentified("cat", "192.0.2.1", NoIdReason.TIMEOUT, NOW))
        tally(Traffic("relay", 10, 200, NOW))
        tally(Traffic("relay", 1, 2, NOW))
        tally(Reloaded(ReloadResult.REJECTED, NOW))
        tally(ProgramMessage(Level.INFO, "ignored"))
        cat = tally.services["cat"]
        self.assertEqual(cat.connections, 1)
        self.assertEqual(dict(cat.refused), {"per_source_limit": 2, "address": 1})
        self.assertEqual(dict(cat.exits), {"3": 1, "SIGTERM": 1})
        self.assertEqual(dict(cat.unidentified), {"timeout": 1})
        self.assertEqual((cat.spawns.count, round(cat.spawns.total, 6)), (1, 0.002))
        self.assertEqual((cat.durations.count, cat.durations.total), (2, 2.51))
        # An in-process service spawns nothing.
        self.assertEqual(tally.services["daytime"].spawns.count, 0)
        relay = tally.services["relay"]
        self.assertEqual((relay.bytesIn, relay.bytesOut), (11, 202))
        self.assertEqual(dict(tally.reloads), {ReloadResult.REJECTED: 1})

    def test_histogram(self) -> None:
        """
        Each observation is counted in the first bucket whose bound is at
        least its value; the cumulative counts end with C{+Inf}.
        """
        tally = SessionTally()
        for duration in (0.001, 0.0011, 4000.0):
            tally(Exited("cat", 1, None, 0, None, duration, NOW))
        cumulative = dict(tally.services["cat"].durations.cumulative())
        self.assertEqual((cumulative[0.001], cumulative[0.005], cumulative[3600.0]), (1, 2, 2))
        self.assertEqual(cumulative[float("inf")], 3)

    def test_exitLabel(self) -> None:
        self.assertEqual(exitLabel(0, None), "0")
        self.assertEqual(exitLabel(None, signal.SIGKILL), "SIGKILL")
        self.assertEqual(exitLabel(None, 99), "SIG99")


class CollectorAndStatusTests(SynchronousTestCase):
    """
    The metrics and the status document of a tree.
    """

    def setUp(self) -> None:
        files = ConfigFiles(self)
        files.write("xinetd.conf", CONFIG)
        self.config = files.load()
        self.assertEqual(self.config.errors, ())
        self.reactor = MemoryReactorClock()
        self.reactor.advance(NOW)
        daytime, relay = self.config.services
        self.tree = FakeTree(
            self.config,
            fakeShared(self.reactor),
            [
                ServiceState(daytime, "Active", 1, ("127.0.0.1", 10013), (("127.0.0.1", 10013),)),
                ServiceState(relay, "Suspended", 1, None),
            ],
            [
                session(daytime, "192.0.2.1", NOW - 2, 5000),
                session(relay, "192.0.2.2", NOW - 1, 5001, lambda: (12, 34)),
            ],
        )

    def test_metrics(self) -> None:
        tally = SessionTally()
        tally(Started("daytime", 0, "192.0.2.1", NOW, 5000, NOW))
        tally(Failed("daytime", FailReason.TIME, "192.0.2.1", NOW))
        tally(Traffic("relay", 5, 6, NOW))
        tally(Reloaded(ReloadResult.APPLIED, NOW))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(TreeCollector(tally, self.tree))
        found = samples(registry)
        expected = {
            ("txinetd_connections_total", (("service", "daytime"),)): 1.0,
            ("txinetd_connections_total", (("service", "relay"),)): 0.0,
            ("txinetd_refused_total", (("reason", "time"), ("service", "daytime"))): 1.0,
            ("txinetd_traffic_bytes_total", (("direction", "in"), ("service", "relay"))): 5.0,
            ("txinetd_traffic_bytes_total", (("direction", "out"), ("service", "relay"))): 6.0,
            ("txinetd_sessions", (("service", "daytime"),)): 1.0,
            ("txinetd_sessions", (("service", "relay"),)): 1.0,
            ("txinetd_service_state", (("service", "daytime"), ("state", "active"))): 1.0,
            ("txinetd_service_state", (("service", "relay"), ("state", "suspended"))): 1.0,
            ("txinetd_service_state", (("service", "relay"), ("state", "active"))): 0.0,
            ("txinetd_service_state", (("service", "echo"), ("state", "disabled"))): 1.0,
            ("txinetd_reloads_total", (("result", "applied"),)): 1.0,
            ("txinetd_reloads_total", (("result", "rejected"),)): 0.0,
            ("txinetd_processes", ()): 0.0,
        }
        for key, value in expected.items():
            self.assertEqual(found.get(key), value, key)
        # No label value from a client.
        labels = {value for (_, pairs) in found for (_, value) in pairs}
        self.assertNotIn("192.0.2.1", labels)

    def test_status(self) -> None:
        document = statusDocument(self.tree, NOW, NOW - 60)
        self.assertEqual(document["time"], "2023-11-14T22:13:20.000Z")
        self.assertEqual(document["started"], "2023-11-14T22:12:20.000Z")
        services = {s["id"]: s for s in document["services"]}
        self.assertEqual(sorted(services), ["daytime", "echo", "relay"])
        daytime = services["daytime"]
        self.assertEqual(
            (daytime["kind"], daytime["state"], daytime["running"]), ("internal", "active", 1)
        )
        self.assertEqual(daytime["sockets"], [{"address": "127.0.0.1", "port": 10013}])
        self.assertEqual((daytime["limits"]["instances"], daytime["limits"]["per_source"]), (5, 2))
        self.assertEqual(
            (services["relay"]["state"], services["echo"]["state"]), ("suspended", "disabled")
        )
        self.assertEqual(
            document["sessions"],
            [
                {
                    "service": "daytime",
                    "address": "192.0.2.1",
                    "port": 5000,
                    "pid": 0,
                    "started": "2023-11-14T22:13:18.000Z",
                    "bytes_in": None,
                    "bytes_out": None,
                },
                {
                    "service": "relay",
                    "address": "192.0.2.2",
                    "port": 5001,
                    "pid": 0,
                    "started": "2023-11-14T22:13:19.000Z",
                    "bytes_in": 12,
                    "bytes_out": 34,
                },
            ],
        )

    def test_checkEndpoint(self) -> None:
        self.assertIsNone(checkEndpoint("tcp:9101:interface=127.0.0.1"))
        self.assertIsNone(checkEndpoint("unix:/run/txinetd/metrics:mode=600"))
        self.assertIsNotNone(checkEndpoint("bogus:1"))
        self.assertIsNotNone(checkEndpoint("tcp:notaport"))
