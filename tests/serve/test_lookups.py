# -*- test-case-name: tests.serve.test_lookups -*-
"""
Tests for L{txinetd.serve.lookups}: a client's name, found off the
reactor's thread and checked to map back; the bounds on ident look-ups;
hosts rules that never change.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.libwrap import HostsAccess, parseHostsTable
from txinetd.serve.lookups import (
    NO_NAME,
    FixedHosts,
    HostName,
    IdentLookups,
    resolveHostName,
    threadedReverseLookup,
)

CLIENT = "192.0.2.1"
OTHER = "198.51.100.7"


class SynchronousThreadPool:
    """
    Runs work at once, in the calling thread.
    """

    def callInThreadWithCallback(
        self, onResult: Callable[[bool, object], None], f: Callable[..., object], *a: object
    ) -> None:
        onResult(True, f(*a))


class SynchronousReactor:
    """
    Just enough reactor for C{deferToThreadPool}.
    """

    def __init__(self) -> None:
        self.pool = SynchronousThreadPool()

    def getThreadPool(self) -> SynchronousThreadPool:
        return self.pool

    def callFromThread(self, f: Callable[..., object], *a: object) -> None:
        f(*a)


def etcHostsFirstName(address: str) -> str | None:
    with open("/etc/hosts") as hosts:
        for line in hosts:
            fields = line.partition("#")[0].split()
            if len(fields) > 1 and fields[0] == address:
                return fields[1]
    return None


class FakeResolver:
    """
    Stands in for C{getnameinfo} and C{getaddrinfo}: reverse names from
    C{names}, forward addresses from C{addresses}; it records what it is
    asked.

    @ivar forwardError: raised by C{getaddrinfo} if set.
    """

    def __init__(self, names: dict[str, str], addresses: dict[str, list[str]]) -> None:
        self.names = names
        self.addresses = addresses
        self.forwardError: Exception | None = None
        self.asked: list[str] = []

    def getnameinfo(self, sockaddr: tuple[str, int], flags: int) -> tuple[str, str]:
        self.asked.append(sockaddr[0])
        if flags != socket.NI_NAMEREQD or sockaddr[0] not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.names[sockaddr[0]], "0"

    def getaddrinfo(
        self, host: str, port: None, family: int, type: int
    ) -> Sequence[tuple[Any, ...]]:
        self.asked.append(host)
        if self.forwardError is not None:
            raise self.forwardError
        if host not in self.addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(family, type, 6, "", (address, 0)) for address in self.addresses[host]]


class ResolveHostNameTests(SynchronousTestCase):
    """
    L{resolveHostName}: the reverse name and, when asked, its forward check.
    """

    def setUp(self) -> None:
        self.resolver = FakeResolver(
            {CLIENT: "host.example.com", "2001:db8::5": "six.example.com"},
            {
                "host.example.com": [OTHER, CLIENT],
                "six.example.com": ["fe80::1%eth0", "2001:db8:0::5"],
            },
        )

    def resolve(self, address: str, verify: bool = True) -> HostName:
        return resolveHostName(
            address, verify, self.resolver.getnameinfo, self.resolver.getaddrinfo
        )

    def test_verified(self) -> None:
        """
        A name whose addresses include the client's maps back, whatever
        the address's spelling (scoped, IPv4-mapped, zeros shortened).
        """
        self.assertEqual(self.resolve(CLIENT), HostName("host.example.com"))
        self.assertEqual(self.resolve("2001:db8::5"), HostName("six.example.com"))
        self.resolver.names["::ffff:" + CLIENT] = "host.example.com"
        self.assertEqual(self.resolve("::ffff:" + CLIENT), HostName("host.example.com"))

    def test_mismatch(self) -> None:
        """
        A name whose addresses do not include the client's is paranoid.
        """
        self.resolver.addresses["host.example.com"] = [OTHER]
        self.assertEqual(self.resolve(CLIENT), HostName("host.example.com", paranoid=True))

    def test_forwardFails(self) -> None:
        """
        A name that cannot be looked up is paranoid, whatever the error.
        """
        del self.resolver.addresses["host.example.com"]
        self.assertEqual(self.resolve(CLIENT), HostName("host.example.com", paranoid=True))
        for error in (UnicodeError("label too long"), OSError("no resolver")):
            self.resolver.addresses["host.example.com"] = [CLIENT]
            self.resolver.forwardError = error
            self.assertEqual(self.resolve(CLIENT), HostName("host.example.com", paranoid=True))

    def test_noName(self) -> None:
        """
        An address without a name has no name and is not paranoid; nothing
        is looked up forward.
        """
        self.assertEqual(self.resolve(OTHER), NO_NAME)
        self.assertEqual(self.resolver.asked, [OTHER])

    def test_unverified(self) -> None:
        """
        Without C{verify}, the reverse name only.
        """
        self.resolver.addresses.clear()
        self.assertEqual(self.resolve(CLIENT, verify=False), HostName("host.example.com"))
        self.assertEqual(self.resolver.asked, [CLIENT])


class ReverseLookupTests(SynchronousTestCase):
    """
    L{threadedReverseLookup}.
    """

    def test_resolvers(self) -> None:
        """
        Both lookups run in one call in the thread pool, with the resolver
        functions given.
        """
        resolver = FakeResolver({CLIENT: "host.example.com"}, {"host.example.com": [OTHER]})
        lookup = threadedReverseLookup(
            SynchronousReactor(), resolver.getnameinfo, resolver.getaddrinfo
        )
        self.assertEqual(
            self.successResultOf(lookup(CLIENT, True)), HostName("host.example.com", True)
        )
        self.assertEqual(resolver.asked, [CLIENT, "host.example.com"])

    def test_name(self) -> None:
        if etcHostsFirstName("127.0.0.1") != "localhost":
            self.skipTest("/etc/hosts does not name 127.0.0.1 localhost first")
        lookup = threadedReverseLookup(SynchronousReactor())
        self.assertEqual(self.successResultOf(lookup("127.0.0.1", False)), HostName("localhost"))

    def test_notAnAddress(self) -> None:
        """
        An error of the resolver is no name (C{AI_NUMERICHOST}: this asks
        no name server).
        """
        lookup = threadedReverseLookup(SynchronousReactor())
        self.assertEqual(self.successResultOf(lookup("not an address", True)), NO_NAME)


class IdentLookupsTests(SynchronousTestCase):
    """
    L{IdentLookups} bounds the look-ups running at once, with its parent's
    bound too.
    """

    def test_bounded(self) -> None:
        full: list[int] = []
        cap = IdentLookups(2, onFull=full.append)
        bound = IdentLookups(1, parent=cap)
        first: Deferred[None] = Deferred()
        self.assertIsNotNone(bound.run(lambda: first))
        self.assertIsNone(bound.run(Deferred))
        self.assertEqual((bound.running, cap.running, full), (1, 1, []))
        second: Deferred[None] = Deferred()
        self.assertIsNotNone(cap.run(lambda: second))
        self.assertIsNone(cap.run(Deferred))
        self.assertIsNone(cap.run(Deferred))
        self.assertEqual(full, [2])
        first.callback(None)
        self.assertEqual((bound.running, cap.running), (0, 1))
        self.assertIsNotNone(cap.run(Deferred))


class FixedHostsTests(SynchronousTestCase):
    """
    L{FixedHosts}: rules known at once, and no rules at all.
    """

    def test_rules(self) -> None:
        access = HostsAccess(parseHostsTable("hosts.deny", "ALL: ALL\n", False))
        hosts = FixedHosts(access)
        self.assertEqual((hosts.apply, hosts.now()), (True, (True, access)))
        self.assertIs(self.successResultOf(hosts.current()), access)

    def test_none(self) -> None:
        hosts = FixedHosts()
        self.assertEqual((hosts.apply, hosts.now()), (False, (True, None)))
        self.assertIsNone(self.successResultOf(hosts.current()))
