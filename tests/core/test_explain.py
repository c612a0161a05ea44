# -*- test-case-name: tests.core.test_explain -*-
"""
Tests for L{txinetd.core.explain}: each kind of rule, with the line it is
written on, and the agreement of the explanation with the daemon's own
admission (L{txinetd.serve.admission.Admission}) over a grid of clients,
times and rules.
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import ConfigFiles, fakeShared
from txinetd.core.config import ServiceConfig
from txinetd.core.events import FailReason
from txinetd.core.explain import Explanation, Rule, explainClient, parseClock
from txinetd.core.libwrap import HostsAccess, parseHostsTable
from txinetd.core.sensor import SensorList
from txinetd.serve.admission import Admission
from txinetd.serve.lookups import FixedHosts, HostName

NOW = 1_700_000_000.0

SERVICE = """\
service daytime
{{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= 10013
{extra}}}
"""


def hosts(allow: str = "", deny: str = "") -> HostsAccess:
    return HostsAccess(
        parseHostsTable("/etc/hosts.allow", allow, True),
        parseHostsTable("/etc/hosts.deny", deny, False),
    )


class ExplainTests(SynchronousTestCase):
    """
    What L{explainClient} says of each kind of rule.
    """

    def service(self, extra: str, defaults: str = "") -> ServiceConfig:
        files = ConfigFiles(self)
        head = f"defaults\n{{\n{defaults}}}\n" if defaults else ""
        files.write("xinetd.conf", head + SERVICE.format(extra=extra))
        config = files.load()
        self.assertEqual(config.errors, ())
        (service,) = config.services
        return service

    def step(self, explanation: Explanation, rule: Rule) -> tuple[bool, str]:
        (found,) = [step for step in explanation.steps if step.rule is rule]
        return found.admits, found.text

    def test_noRules(self) -> None:
        """
        A service with no rule admits anyone at any time.
        """
        explanation = explainClient(self.service(""), "192.0.2.1", clock=(3, 0), now=NOW)
        self.assertTrue(explanation.admits)
        self.assertIsNone(explanation.reason)
        self.assertEqual([step.admits for step in explanation.steps], [True] * 4)

    def test_proxy(self) -> None:
        """
        Behind the PROXY protocol, a first line says what a connection from
        the address itself gets, with the C{proxy_from} line; it never
        decides: the other rules are asked of the address as the client a
        header names, as the daemon asks them.
        """
        config = self.service(
            "\tproxy_protocol\t= v1\n\tproxy_from\t= 127.0.0.1\n\tonly_from\t= 192.0.2.0/24\n"
        )
        balancer = explainClient(config, "127.0.0.1", now=NOW, clock=(0, 0))
        self.assertEqual(balancer.steps[0].rule, Rule.PROXY)
        admits, text = self.step(balancer, Rule.PROXY)
        self.assertTrue(admits)
        self.assertIn("127.0.0.1 may send a PROXY header (xinetd.conf:8)", text)
        self.assertEqual(balancer.reason, FailReason.ADDRESS)
        client = explainClient(config, "192.0.2.7", now=NOW, clock=(0, 0))
        admits, text = self.step(client, Rule.PROXY)
        self.assertFalse(admits)
        self.assertIn("192.0.2.7 itself is refused (FAIL proxy): not in proxy_from", text)
        self.assertIsNone(client.reason)
        self.assertIsNone(client.decided)
        self.assertNotIn(
            Rule.PROXY,
            [
                step.rule
                for step in explainClient(
                    self.service(""), "192.0.2.7", now=NOW, clock=(0, 0)
                ).steps
            ],
        )

    def test_accessTimes(self) -> None:
        """
        C{access_times} admits within its window, refuses (FAIL time)
        outside, and names its line.
        """
        config = self.service("\taccess_times\t= 08:00-17:00\n")
        inside = explainClient(config, "192.0.2.1", clock=(9, 30), now=NOW)
        outside = explainClient(config, "192.0.2.1", clock=(3, 0), now=NOW)
        self.assertEqual(inside.reason, None)
        self.assertEqual(outside.reason, FailReason.TIME)
        admits, text = self.step(outside, Rule.ACCESS_TIMES)
        self.assertFalse(admits)
        self.assertIn("03:00 is outside access_times = 8:00-17:00 (xinetd.conf:7)", text)

    def test_onlyFrom(self) -> None:
        """
        An C{only_from} entry that matches admits, named with its line; no
        matching entry refuses (FAIL address); an empty list refuses.
        """
        config = self.service("\tonly_from\t= 192.0.2.0/24\n\tonly_from\t+= 198.51.100.7\n")
        admitted = explainClient(config, "198.51.100.7", now=NOW, clock=(0, 0))
        self.assertEqual(
            self.step(admitted, Rule.ADDRESS_LISTS),
            (True, "only_from entry 198.51.100.7 (xinetd.conf:8)"),
        )
        refused = explainClient(config, "203.0.113.1", now=NOW, clock=(0, 0))
        self.assertEqual(refused.reason, FailReason.ADDRESS)
        self.assertIn("no only_from entry", self.step(refused, Rule.ADDRESS_LISTS)[1])
        empty = self.service("\tonly_from\t=\n")
        self.assertEqual(
            explainClient(empty, "192.0.2.1", now=NOW, clock=(0, 0)).reason, FailReason.ADDRESS
        )

    def test_noAccess(self) -> None:
        """
        A C{no_access} entry that matches refuses, named with its line.
        """
        config = self.service("\tno_access\t= 192.0.2.0/24\n")
        refused = explainClient(config, "192.0.2.9", now=NOW, clock=(0, 0))
        self.assertEqual(
            self.step(refused, Rule.ADDRESS_LISTS),
            (False, "no_access entry 192.0.2.0/24 (xinetd.conf:7)"),
        )
        self.assertTrue(explainClient(config, "198.51.100.1", now=NOW, clock=(0, 0)).admits)

    def test_mostSpecificWins(self) -> None:
        """
        When both lists match, the more specific entry wins, and the
        explanation names it and the one it beat, each with its line (one
        of them inherited from C{defaults}).
        """
        config = self.service(
            "\tonly_from\t+= 10.1.2.0/24\n\tno_access\t+= 10.1.2.7\n",
            defaults="\tonly_from\t= 10.0.0.0/8\n\tno_access\t= 10.1.0.0/16\n",
        )
        allowWins = explainClient(config, "10.1.2.3", now=NOW, clock=(0, 0))
        self.assertEqual(
            self.step(allowWins, Rule.ADDRESS_LISTS),
            (
                True,
                "only_from entry 10.1.2.0/24 (xinetd.conf:12) is more specific than no_access "
                "entry 10.1.0.0/16 (xinetd.conf:4), which it beats",
            ),
        )
        denyWins = explainClient(config, "10.1.9.9", now=NOW, clock=(0, 0))
        self.assertEqual(
            self.step(denyWins, Rule.ADDRESS_LISTS),
            (
                False,
                "no_access entry 10.1.0.0/16 (xinetd.conf:4) is more specific than only_from "
                "entry 10.0.0.0/8 (xinetd.conf:3), which it beats",
            ),
        )
        host = explainClient(config, "10.1.2.7", now=NOW, clock=(0, 0))
        self.assertEqual(host.reason, FailReason.ADDRESS)
        self.assertIn("no_access entry 10.1.2.7 (xinetd.conf:13)", host.lines()[3])

    def test_tie(self) -> None:
        """
        Entries of equal specificity in both lists refuse (as xinetd does),
        and the explanation says it was a tie.
        """
        config = self.service("\tonly_from\t= 192.0.2.0/24\n\tno_access\t= 192.0.2.0/24\n")
        tie = explainClient(config, "192.0.2.5", now=NOW, clock=(0, 0))
        self.assertEqual(tie.reason, FailReason.ADDRESS)
        self.assertEqual(
            self.step(tie, Rule.ADDRESS_LISTS),
            (
                False,
                "only_from entry 192.0.2.0/24 (xinetd.conf:7) and no_access entry "
                "192.0.2.0/24 (xinetd.conf:8) match 192.0.2.5 equally: a tie refuses",
            ),
        )

    def test_domainName(self) -> None:
        """
        Name and domain entries match through the name given with the
        address.
        """
        config = self.service("\tonly_from\t= .example.com\n")
        self.assertEqual(
            explainClient(config, "192.0.2.1", now=NOW, clock=(0, 0)).reason, FailReason.ADDRESS
        )
        named = explainClient(config, "192.0.2.1", "a.example.com", now=NOW, clock=(0, 0))
        self.assertEqual(
            self.step(named, Rule.ADDRESS_LISTS),
            (True, "only_from entry .example.com (xinetd.conf:7)"),
        )

    def test_libwrap(self) -> None:
        """
        The hosts.allow or hosts.deny line that decides is named with its
        file and line; C{flags = NOLIBWRAP} leaves them out.
        """
        rules = hosts(allow="ALL: 192.0.2.1\n", deny="# comment\ndaytime: ALL\n")
        config = self.service("")
        allowed = explainClient(config, "192.0.2.1", hosts=rules, now=NOW, clock=(0, 0))
        self.assertEqual(
            self.step(allowed, Rule.LIBWRAP),
            (True, "/etc/hosts.allow:1: ALL: 192.0.2.1 (allows, daemon daytime)"),
        )
        denied = explainClient(config, "192.0.2.2", hosts=rules, now=NOW, clock=(0, 0))
        self.assertEqual(denied.reason, FailReason.LIBWRAP)
        self.assertEqual(
            self.step(denied, Rule.LIBWRAP),
            (False, "/etc/hosts.deny:2: daytime: ALL (denies, daemon daytime)"),
        )
        unwrapped = self.service("\tflags\t\t= NOLIBWRAP\n")
        self.assertTrue(
            explainClient(unwrapped, "192.0.2.2", hosts=rules, now=NOW, clock=(0, 0)).admits
        )

    def test_sensor(self) -> None:
        """
        A SENSOR service refuses everyone; an address on the SENSOR list is
        refused by every service.
        """
        sensor = self.service("\tflags\t\t= SENSOR\n\tdeny_time\t= 10\n")
        refused = explainClient(sensor, "192.0.2.1", now=NOW, clock=(0, 0))
        self.assertEqual((refused.reason, refused.decided.rule), (FailReason.ADDRESS, Rule.SENSOR))  # type: ignore[union-attr]
        listed = SensorList()
        listed.add("192.0.2.1", NOW, 10)
        plain = self.service("")
        self.assertEqual(
            explainClient(plain, "192.0.2.1", sensor=listed, now=NOW, clock=(0, 0)).reason,
            FailReason.ADDRESS,
        )
        self.assertTrue(
            explainClient(plain, "192.0.2.2", sensor=listed, now=NOW, clock=(0, 0)).admits
        )

    def test_firstRefusalDecides(self) -> None:
        """
        As the daemon checks C{access_times} before the addresses, a client
        both rules refuse is refused for the time.
        """
        config = self.service("\taccess_times\t= 08:00-09:00\n\tno_access\t= 192.0.2.1\n")
        explanation = explainClient(config, "192.0.2.1", now=NOW, clock=(12, 0))
        self.assertEqual(explanation.reason, FailReason.TIME)
        self.assertEqual([s.admits for s in explanation.steps], [False, True, False, True])
        self.assertIn("<- decides", explanation.lines()[1])
        self.assertNotIn("<- decides", explanation.lines()[3])

    def test_limits(self) -> None:
        """
        A limit that refuses every client whatever runs (C{instances = 0})
        decides after C{access_times}, with its reason; those that depend
        on what runs do not refuse.
        """
        closed = explainClient(self.service("\tinstances\t= 0\n"), "192.0.2.1", now=NOW)
        self.assertEqual(closed.reason, FailReason.SERVICE_LIMIT)
        self.assertEqual(self.step(closed, Rule.LIMITS), (False, "instances = 0: 0 running"))
        self.assertIs(closed.decided.rule, Rule.LIMITS)  # type: ignore[union-attr]
        busy = self.service("\tinstances\t= 1\n\tper_source\t= 1\n\tcps\t\t= 1 5\n")
        self.assertTrue(explainClient(busy, "192.0.2.1", now=NOW).admits)

    def test_parseClock(self) -> None:
        self.assertEqual(parseClock("03:07"), (3, 7))
        self.assertEqual(parseClock("23:59"), (23, 59))
        for bad in ("24:00", "3", "03:7", "ab:cd", "-1:00", "12:60"):
            self.assertRaises(ValueError, parseClock, bad)


class AgreementTests(SynchronousTestCase):
    """
    The explanation and the daemon's admission checks give the same verdict
    (and FAIL reason) for every client, time and rule of a grid.
    """

    CONFIGS = (
        "",
        "\tonly_from\t= 10.0.0.0/8 192.0.2.7\n",
        "\tno_access\t= 10.1.0.0/16\n",
        "\tonly_from\t= 10.0.0.0/8 10.1.2.0/24\n\tno_access\t= 10.1.0.0/16 10.1.2.9\n",
        "\tonly_from\t= 10.1.0.0/16\n\tno_access\t= 10.1.0.0/16\n",
        "\tonly_from\t=\n",
        "\taccess_times\t= 08:00-12:00 14:00-15:00\n\tno_access\t= 192.0.2.7\n",
        "\tflags\t\t= SENSOR\n",
        "\tlibwrap\t\t= other\n",
        "\tflags\t\t= NOLIBWRAP\n\tonly_from\t= 10.1.2.3\n",
        "\tinstances\t= 0\n",
        "\tper_source\t= 0\n\tno_access\t= 10.1.2.3\n",
    )
    CLIENTS = ("10.1.2.3", "10.1.2.9", "10.1.9.9", "10.9.9.9", "192.0.2.7", "203.0.113.5", "::1")
    CLOCKS = ((7, 59), (8, 0), (11, 59), (12, 0), (14, 30))
    RULES = hosts(allow="daytime: 10.9.9.9\n", deny="ALL: 10.9.0.0/255.255.0.0 203.0.113.5\n")

    def setUp(self) -> None:
        self.sensor = SensorList()
        self.sensor.add("10.1.2.9", NOW, 10)

    def daemonVerdict(self, config: ServiceConfig, client: str, clock: tuple[int, int]) -> Any:
        """
        The FAIL reason the daemon's admission gives, or L{None}.
        """
        local = time.struct_time((2024, 1, 1, clock[0], clock[1], 0, 0, 1, 0))
        reactor = MemoryReactorClock()
        reactor.advance(NOW)
        shared = fakeShared(
            reactor,
            hosts=FixedHosts(self.RULES),
            localTime=lambda now: local,
            names=lambda address, verify: succeed(HostName(None)),
            sensor=self.sensor,
        )
        admission = Admission(config, shared)
        reason = admission.checkLimits(client)
        if reason is None:
            reason = self.successResultOf(admission.checkAddress(client))
        return reason

    def test_agree(self) -> None:
        files = ConfigFiles(self)
        checked = 0
        for index, extra in enumerate(self.CONFIGS):
            files.write(f"{index}.conf", SERVICE.format(extra=extra))
            (config,) = files.load(f"{index}.conf").services
            for client in self.CLIENTS:
                for clock in self.CLOCKS:
                    explained = explainClient(
                        config, client, None, clock, self.RULES, self.sensor, NOW
                    )
                    self.assertEqual(
                        explained.reason,
                        self.daemonVerdict(config, client, clock),
                        (extra, client, clock, explained.lines()),
                    )
                    checked += 1
        self.assertEqual(checked, len(self.CONFIGS) * len(self.CLIENTS) * len(self.CLOCKS))
