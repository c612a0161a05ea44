# -*- test-case-name: tests.core.test_verdicts -*-
"""
Tests for L{txinetd.core.verdicts}: the limit and address verdicts, as
tables of situations and what each verdict says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, addresses, intervals
from txinetd.core.addresslists import AddressList
from txinetd.core.events import FailReason, Level, ProgramMessage
from txinetd.core.libwrap import HostsAccess, parseHostsTable
from txinetd.core.limits import CpsLimiter, LimitRules, LoadAverage, ProcessLimit, RunningServers
from txinetd.core.sensor import SensorList
from txinetd.core.verdicts import (
    ADMITTED,
    AdmissionRules,
    Verdict,
    addressVerdict,
    limitVerdict,
)

NOW = 1_700_000_000.0
CLIENT = "192.0.2.1"
OTHER = "198.51.100.7"


def at(hour: int, minute: int) -> time.struct_time:
    return time.struct_time((2024, 1, 1, hour, minute, 0, 0, 1, 0))


@dataclass
class Situation:
    """
    What the limits meet: the load, the time, who runs, the daemon's count.
    """

    load: float = 0.0
    localTime: time.struct_time = field(default_factory=lambda: at(12, 0))
    runningFrom: tuple[str, ...] = ()
    processLimit: int | None = None
    earlierRequests: int = 0
    cps: int = 0


def limitsOf(rules: LimitRules, situation: Situation, explain: bool) -> Verdict:
    processes = ProcessLimit(situation.processLimit)
    servers = RunningServers(processes)
    for number, host in enumerate(situation.runningFrom):
        servers.started(number, host)
    cps = CpsLimiter(situation.cps)
    for _ in range(situation.earlierRequests):
        cps.request(NOW)
    return limitVerdict(
        AdmissionRules("svc", rules),
        CLIENT,
        NOW,
        situation.localTime,
        cps,
        servers,
        LoadAverage(lambda: situation.load),
        processes,
        explain,
    )


LOAD = ProgramMessage(Level.ERROR, f"refused connect from {CLIENT} due to excessive load")

#: (limits, situation, reason, messages, explanation)
LIMIT_TABLE: list[
    tuple[LimitRules, Situation, FailReason | None, tuple[ProgramMessage, ...], str | None]
] = [
    (LimitRules(), Situation(load=99.0, runningFrom=(CLIENT,) * 9), None, (), None),
    (
        LimitRules(instances=0),
        Situation(),
        FailReason.SERVICE_LIMIT,
        (),
        "instances = 0: 0 running",
    ),
    (LimitRules(instances=2), Situation(runningFrom=(OTHER,)), None, (), None),
    (
        LimitRules(perSource=1),
        Situation(runningFrom=(CLIENT,)),
        FailReason.PER_SOURCE_LIMIT,
        (),
        f"per_source = 1: 1 running for {CLIENT}",
    ),
    (LimitRules(perSource=1), Situation(runningFrom=(OTHER,)), None, (), None),
    (
        LimitRules(maxLoad=2.0),
        Situation(load=3.0),
        FailReason.LOAD,
        (LOAD,),
        "the load average 3.00 is at max_load = 2.0 or above",
    ),
    (
        LimitRules(accessTimes=intervals((8 * 60, 9 * 60))),
        Situation(localTime=at(10, 0)),
        FailReason.TIME,
        (),
        "10:00 is outside access_times = 8:00-9:00",
    ),
    (
        LimitRules(accessTimes=intervals((8 * 60, 9 * 60))),
        Situation(localTime=at(8, 30)),
        None,
        (),
        None,
    ),
    (
        LimitRules(),
        Situation(processLimit=0),
        FailReason.PROCESS_LIMIT,
        (),
        "-limit 0: 0 servers running",
    ),
    (
        LimitRules(),
        Situation(cps=1, earlierRequests=2),
        FailReason.CPS,
        (),
        "more than cps = 1 connections per second",
    ),
    # xinetd's order: cps, load, time, instances, per_source, -limit.
    (
        LimitRules(maxLoad=2.0, accessTimes=intervals((0, 1)), instances=0),
        Situation(load=3.0, cps=1, earlierRequests=2),
        FailReason.CPS,
        (),
        "more than cps = 1 connections per second",
    ),
    (
        LimitRules(maxLoad=2.0, accessTimes=intervals((0, 1)), instances=0),
        Situation(load=3.0),
        FailReason.LOAD,
        (LOAD,),
        "the load average 3.00 is at max_load = 2.0 or above",
    ),
    (
        LimitRules(accessTimes=intervals((0, 1)), instances=0),
        Situation(processLimit=0),
        FailReason.TIME,
        (),
        "12:00 is outside access_times = 0:00-0:01",
    ),
    (
        LimitRules(instances=0, perSource=0),
        Situation(processLimit=0),
        FailReason.SERVICE_LIMIT,
        (),
        "instances = 0: 0 running",
    ),
]


class LimitVerdictTests(SynchronousTestCase):
    """
    L{limitVerdict}.
    """

    def test_table(self) -> None:
        for rules, situation, reason, messages, explanation in LIMIT_TABLE:
            with self.subTest(rules=rules, situation=situation):
                self.assertEqual(
                    limitsOf(rules, situation, explain=True),
                    Verdict(reason, messages, explanation),
                )
                self.assertEqual(
                    limitsOf(rules, situation, explain=False), Verdict(reason, messages)
                )

    def test_admittedIsShared(self) -> None:
        """
        An admitted client gets the one L{ADMITTED} verdict: nothing is
        made for it.
        """
        self.assertIs(limitsOf(LimitRules(), Situation(), explain=True), ADMITTED)

    def test_cpsCounts(self) -> None:
        """
        The cps limiter counts every request the verdict is asked for, even
        one a later limit refuses.
        """
        cps = CpsLimiter(1)
        rules = AdmissionRules("svc", LimitRules(instances=0))
        servers, load, processes = RunningServers(), LoadAverage(lambda: 0.0), ProcessLimit(None)
        reasons = [
            limitVerdict(rules, CLIENT, NOW, at(12, 0), cps, servers, load, processes).reason
            for _ in range(3)
        ]
        self.assertEqual(reasons, [FailReason.SERVICE_LIMIT, FailReason.CPS, FailReason.CPS])


def hosts(allow: str, deny: str) -> HostsAccess:
    return HostsAccess(
        parseHostsTable("/etc/hosts.allow", allow, True),
        parseHostsTable("/etc/hosts.deny", deny, False),
    )


RULES = AdmissionRules("svc", LimitRules())
LISTED = SensorList()
LISTED.add(CLIENT, NOW, 10)
EMPTY = SensorList()
DENY_ECHO = hosts(f"echo: {OTHER}\n", "# none\necho: ALL\n")
WARY = hosts("echo: ALL EXCEPT PARANOID\n", "ALL: ALL\n")
LIBWRAP_REFUSED = ProgramMessage(
    Level.INFO, f"libwrap refused connection to svc (libwrap=echo) from {CLIENT}"
)
EQUAL = ProgramMessage(
    Level.ERROR,
    f"Service=svc: only_from list and no_access list match equally the address {CLIENT}",
)

#: (rules, name, paranoid, hosts, sensor list, reason, messages, explanation)
ADDRESS_TABLE: list[
    tuple[
        AdmissionRules,
        str | None,
        bool,
        HostsAccess | None,
        SensorList,
        FailReason | None,
        tuple[ProgramMessage, ...],
        str | None,
    ]
] = [
    (RULES, None, False, None, EMPTY, None, (), None),
    (
        replace(RULES, sensor=True),
        None,
        False,
        None,
        EMPTY,
        FailReason.ADDRESS,
        (),
        "it touched a SENSOR service",
    ),
    (
        RULES,
        None,
        False,
        None,
        LISTED,
        FailReason.ADDRESS,
        (),
        f"{CLIENT} is on the SENSOR list",
    ),
    (
        replace(RULES, onlyFrom=AddressList(addresses("192.0.2.0/24"))),
        None,
        False,
        None,
        EMPTY,
        None,
        (),
        None,
    ),
    (
        replace(RULES, onlyFrom=AddressList(addresses("10.0.0.0/8"))),
        None,
        False,
        None,
        EMPTY,
        FailReason.ADDRESS,
        (),
        f"no only_from entry matches {CLIENT}: 10.0.0.0/8",
    ),
    (
        replace(RULES, noAccess=AddressList(addresses(".example.com"))),
        "host.example.com",
        False,
        None,
        EMPTY,
        FailReason.ADDRESS,
        (),
        f"no_access entry .example.com matches {CLIENT}",
    ),
    (
        replace(
            RULES,
            onlyFrom=AddressList(addresses("192.0.2.0/24")),
            noAccess=AddressList(addresses("192.0.2.0/24")),
        ),
        None,
        False,
        None,
        EMPTY,
        FailReason.ADDRESS,
        (EQUAL,),
        "no_access entry 192.0.2.0/24 is at least as specific as only_from entry 192.0.2.0/24",
    ),
    (
        replace(RULES, libwrapName="echo"),
        None,
        False,
        DENY_ECHO,
        EMPTY,
        FailReason.LIBWRAP,
        (LIBWRAP_REFUSED,),
        "/etc/hosts.deny:2: echo: ALL",
    ),
    (replace(RULES, libwrapName="other"), None, False, DENY_ECHO, EMPTY, None, (), None),
    (replace(RULES, libwrapName="echo"), None, False, None, EMPTY, None, (), None),
    (replace(RULES, libwrapName="echo"), "a.example.com", False, WARY, EMPTY, None, (), None),
    (
        replace(RULES, libwrapName="echo"),
        "liar.example.com",
        True,
        WARY,
        EMPTY,
        FailReason.LIBWRAP,
        (LIBWRAP_REFUSED,),
        "/etc/hosts.deny:1: ALL: ALL",
    ),
    # The lists come before hosts.allow and hosts.deny.
    (
        replace(RULES, libwrapName="echo", noAccess=AddressList(addresses(CLIENT))),
        None,
        False,
        DENY_ECHO,
        EMPTY,
        FailReason.ADDRESS,
        (),
        f"no_access entry {CLIENT} matches {CLIENT}",
    ),
]


class AddressVerdictTests(SynchronousTestCase):
    """
    L{addressVerdict}.
    """

    def test_table(self) -> None:
        for rules, name, paranoid, access, sensor, reason, messages, why in ADDRESS_TABLE:
            with self.subTest(rules=rules, name=name, hosts=access):
                verdict = addressVerdict(rules, CLIENT, name, paranoid, access, sensor, NOW, True)
                self.assertEqual((verdict.reason, verdict.messages), (reason, messages))
                if why is None:
                    self.assertIsNone(verdict.explanation)
                else:
                    self.assertIn(why, verdict.explanation or "")
                quiet = addressVerdict(rules, CLIENT, name, paranoid, access, sensor, NOW)
                self.assertEqual(quiet, Verdict(reason, messages))

    def test_sensorExpires(self) -> None:
        """
        A SENSOR listing refuses until it expires.
        """
        later = NOW + 10 * 60
        self.assertEqual(
            addressVerdict(RULES, CLIENT, None, False, None, LISTED, later - 1).reason,
            FailReason.ADDRESS,
        )
        self.assertIs(addressVerdict(RULES, CLIENT, None, False, None, LISTED, later), ADMITTED)


class AdmissionRulesTests(SynchronousTestCase):
    """
    L{AdmissionRules.of} compiles a service's configuration.
    """

    def rules(self, attributes: str, hostsApply: bool = True) -> AdmissionRules:
        files = ConfigFiles(self)
        path = files.write(
            "svc.conf",
            "service echo\n{\n type = INTERNAL UNLISTED\n id = svc\n socket_type = stream\n"
            f" wait = no\n port = 7\n{attributes}}}\n",
        )
        config = files.load(path, internal={("echo", "stream"), ("sensor", "stream")})
        self.assertEqual(config.errors, ())
        (service,) = config.services
        return AdmissionRules.of(service, hostsApply)

    def test_unrestricted(self) -> None:
        rules = self.rules("", hostsApply=False)
        self.assertEqual(
            (rules.serviceId, rules.unrestricted, rules.listsNeedName, rules.libwrapName),
            ("svc", True, False, None),
        )

    def test_libwrap(self) -> None:
        self.assertEqual(self.rules("").libwrapName, "echo")
        self.assertEqual(self.rules(" libwrap = other\n").libwrapName, "other")
        self.assertIsNone(self.rules(" flags = NOLIBWRAP\n").libwrapName)
        self.assertFalse(self.rules("").unrestricted)

    def test_lists(self) -> None:
        rules = self.rules(" only_from = .example.com\n no_access = 10.0.0.1\n", False)
        self.assertEqual((rules.unrestricted, rules.listsNeedName), (False, True))
        self.assertIsNotNone(rules.noAccess)
        numeric = self.rules(" only_from = 192.0.2.0/24\n", False)
        self.assertEqual((numeric.unrestricted, numeric.listsNeedName), (False, False))

    def test_limits(self) -> None:
        rules = self.rules(
            " instances = 3\n per_source = 2\n max_load = 1.5\n access_times = 8:00-9:00\n"
        )
        self.assertEqual(
            rules.limits,
            LimitRules(instances=3, perSource=2, maxLoad=1.5, accessTimes=intervals((480, 540))),
        )

    def test_sensor(self) -> None:
        rules = self.rules(" flags = SENSOR\n deny_time = 5\n", hostsApply=False)
        self.assertEqual((rules.sensor, rules.denyTime, rules.unrestricted), (True, 5, False))
