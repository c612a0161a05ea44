# -*- test-case-name: tests.core.test_access -*-
"""
Tests for L{txinetd.core.access}: the address decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.trial.unittest import SynchronousTestCase

from tests.core.test_addressentries import (
    addressList,
)
from txinetd.core.access import AccessDecision, decide
from txinetd.core.events import Level, ProgramMessage
from txinetd.core.sensor import SensorList


class DecideTests(SynchronousTestCase):
    """
    L{decide} applies txinetd's rules: the more specific list wins.
    """

    def decide(
        self,
        onlyFrom: Sequence[str] | None,
        noAccess: Sequence[str] | None,
        client: str | None,
        name: str | None = None,
        sensor: SensorList | None = None,
    ) -> AccessDecision:
        return decide(
            "svc",
            client,
            name,
            None if onlyFrom is None else addressList(*onlyFrom),
            None if noAccess is None else addressList(*noAccess),
            sensor,
            1000.0,
        )

    def assertAllowed(self, decision: AccessDecision) -> None:
        self.assertEqual(decision, AccessDecision(True))

    def assertDenied(self, decision: AccessDecision) -> None:
        self.assertEqual(decision, AccessDecision(False))

    def test_noLists(self) -> None:
        """
        Without lists everyone is allowed.
        """
        self.assertAllowed(self.decide(None, None, "203.0.113.1"))

    def test_noAddress(self) -> None:
        """
        A connection without a peer address is allowed, even with lists.
        """
        self.assertAllowed(self.decide([], ["0.0.0.0"], None))

    def test_emptyOnlyFrom(self) -> None:
        """
        An empty C{only_from} denies everyone.
        """
        self.assertDenied(self.decide([], None, "127.0.0.1"))
        self.assertDenied(self.decide(["nosuch.example"], None, "127.0.0.1"))

    def test_onlyFrom(self) -> None:
        """
        With C{only_from} alone, matching clients are allowed, others not.
        """
        self.assertAllowed(self.decide(["127.0.0.0/8"], None, "127.0.0.5"))
        self.assertDenied(self.decide(["127.0.0.0/8"], None, "10.0.0.5"))

    def test_noAccess(self) -> None:
        """
        With C{no_access} alone, matching clients are denied, others allowed.
        """
        self.assertDenied(self.decide(None, ["127.0.0.5"], "127.0.0.5"))
        self.assertAllowed(self.decide(None, ["127.0.0.5"], "127.0.0.6"))
        self.assertAllowed(self.decide(None, [], "127.0.0.6"))

    def test_hostBeatsNetwork(self) -> None:
        """
        A host in C{only_from} inside a network in C{no_access} is allowed,
        the rest of the network is not.
        """
        self.assertAllowed(self.decide(["127.0.0.2"], ["127.0.0.0"], "127.0.0.2"))
        self.assertDenied(self.decide(["127.0.0.2"], ["127.0.0.0"], "127.0.0.3"))
        self.assertDenied(self.decide(["127.0.0.0/8"], ["::ffff:127.0.0.9"], "127.0.0.9"))

    def test_longerPrefixWins(self) -> None:
        """
        Between two networks, the longer prefix wins.
        """
        onlyFrom, noAccess = ["10.0.0.0/8"], ["10.1.0.0/16"]
        self.assertDenied(self.decide(onlyFrom, noAccess, "10.1.2.3"))
        self.assertAllowed(self.decide(onlyFrom, noAccess, "10.2.2.3"))
        self.assertAllowed(self.decide(["10.1.2.0/24"], noAccess, "10.1.2.3"))

    def test_networkBeatsDomain(self) -> None:
        """
        A network beats a domain, in either list.
        """
        self.assertAllowed(
            self.decide(["192.0.2.0/24"], [".example.com"], "192.0.2.1", "a.example.com")
        )
        self.assertDenied(
            self.decide([".example.com"], ["192.0.2.0/24"], "192.0.2.1", "a.example.com")
        )

    def test_hostNameBeatsNetwork(self) -> None:
        """
        A host name is a host: it beats a network.
        """
        self.assertAllowed(self.decide(["localhost"], ["127.0.0.0/8"], "127.0.0.1", "localhost"))
        self.assertDenied(self.decide(["127.0.0.0/8"], ["localhost"], "127.0.0.1", "LocalHost"))

    def test_longerDomainWins(self) -> None:
        """
        Between two domains, the longer one wins.
        """
        self.assertDenied(
            self.decide([".example.com"], [".lab.example.com"], "192.0.2.1", "x.lab.example.com")
        )
        self.assertAllowed(
            self.decide([".example.com"], [".lab.example.com"], "192.0.2.1", "x.www.example.com")
        )

    def test_equalDenies(self) -> None:
        """
        Equally specific matches deny and say so in the program log.
        """
        message = ProgramMessage(
            Level.ERROR,
            "Service=svc: only_from list and no_access list match equally the address 127.0.0.1",
        )
        self.assertEqual(
            self.decide(["127.0.0.0/8"], ["127.0.0.0"], "::ffff:127.0.0.1"),
            AccessDecision(False, message),
        )
        self.assertEqual(
            self.decide(["127.0.0.1"], ["localhost"], "127.0.0.1", "localhost"),
            AccessDecision(False, message),
        )
        self.assertEqual(
            self.decide(["0.0.0.0"], ["::/0"], "127.0.0.1"),
            AccessDecision(False, message),
        )

    def test_ipv6(self) -> None:
        """
        IPv6 clients are matched by IPv6 entries only.
        """
        self.assertAllowed(self.decide(["::1/128"], None, "::1"))
        self.assertDenied(self.decide(["0.0.0.0"], None, "::1"))
        self.assertDenied(self.decide(["::/0"], ["::1"], "::1"))
        self.assertAllowed(self.decide(["::/0"], ["::1"], "::2"))

    def test_sensorFirst(self) -> None:
        """
        A client on the SENSOR list is denied, even without lists or with an
        C{only_from} that allows it.
        """
        sensor = SensorList()
        sensor.add("127.0.0.9", 900.0, 10)
        self.assertDenied(self.decide(None, None, "127.0.0.9", sensor=sensor))
        self.assertDenied(self.decide(["127.0.0.9"], None, "::ffff:127.0.0.9", sensor=sensor))
        self.assertAllowed(self.decide(None, None, "127.0.0.8", sensor=sensor))
