# -*- test-case-name: tests.integration.test_access_limits -*-
"""
Access control, limits and banners end to end: the service tree on the real
reactor, real clients on loopback, and the exact lines of a FILE service log.

Clients use two source addresses, 127.0.0.1 and 127.0.0.2 (Linux routes the
whole of 127.0.0.0/8 to the loopback interface), so that one address can be
refused while another is served.  The stream scenarios run against one
L{StreamTarget}; C{ScenarioTestCase.target} chooses it, so that the same
scenarios can run against an external server as well as a built-in one.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol, ServerFactory
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from txinetd.core.config import Config
from txinetd.core.limits import LoadAverage, ProcessLimit
from txinetd.daemon.machine import Collaborators
from txinetd.daemon.service import ListeningService
from txinetd.daemon.tree import XinetdService
from txinetd.serve.hostsfiles import readHostsAccess
from txinetd.serve.lookups import HostName

from .support import (
    captureLog,
    collaborators,
    hasIPv6,
    loadText,
    reactor,
    udpExchange,
    withTimeout,
)

#: Polling a condition: this many rounds of this many seconds at most.
POLL_ROUNDS = 300
POLL_INTERVAL = 0.01

#: A FILE service-log line: the timestamp, then the entry.
LOG_LINE = re.compile(r"\d\d/\d{1,2}/\d{1,2}@\d\d:\d\d:\d\d: (.*)")

#: Banner contents: binary, with bare CR, bare LF, NUL and high bytes, so
#: that any translation would show.
BANNER = b"\x00banner\r\n\xff\n"
SUCCESS = b"welcome\r\x00\n"
FAILURE = b"\xfe\xffgo away\r\n\n"


@dataclass(frozen=True)
class StreamTarget:
    """
    The kind of stream service the scenarios run against: one that echoes
    what it reads until the client half-closes, and stays open as long as
    the client does.

    @ivar name: the service name (also its libwrap daemon name and the name
        in cps messages).
    @ivar body: the attribute lines that make it that service.
    @ivar pid: a regular expression for the pid its START and EXIT show.

    An external server would be
    C{StreamTarget("cat", " type = UNLISTED\\n server = /bin/cat\\n", r"[1-9]\\d*")}
    (its libwrap daemon name is also C{cat}).
    """

    name: str
    body: str
    pid: str

    def entry(self, serviceId: str, extra: str = "", port: int = 0) -> str:
        """
        The text of a service entry with id C{serviceId}, plus C{extra}
        attribute lines.
        """
        return (
            f"service {self.name}\n{{\n id = {serviceId}\n{self.body}"
            f" socket_type = stream\n wait = no\n port = {port}\n{extra}}}\n"
        )


INTERNAL_ECHO = StreamTarget("echo", " type = INTERNAL UNLISTED\n", "0")


def etcHostsNames(address: str) -> list[str]:
    """
    The names /etc/hosts gives C{address}, first line first.
    """
    names: list[str] = []
    try:
        with open("/etc/hosts", encoding="utf-8", errors="replace") as hosts:
            for line in hosts:
                fields = line.partition("#")[0].split()
                if fields and fields[0] == address:
                    names.extend(fields[1:])
    except OSError:
        pass
    return names


def freePort() -> int:
    """
    A TCP port below 32768 that nothing listens on, on any address.
    """
    start = random.randrange(20000, 32000)
    for port in range(start, start + 200):
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            try:
                probe.bind(("::", port))
            except OSError:
                continue
            return port
    raise SkipTest("no free port found")


def fixedLocalTime(hour: int, minute: int) -> time.struct_time:
    """
    A local time on some day at C{hour:minute}.
    """
    return time.struct_time((2024, 1, 1, hour, minute, 0, 0, 1, 0))


@inlineCallbacks
def waitUntil(
    condition: Callable[[], bool], what: str, rounds: int = POLL_ROUNDS
) -> Generator[Deferred[Any], Any, None]:
    """
    Poll C{condition} until it holds, at most C{rounds} times.

    @raise AssertionError: if it never held.
    """
    for _ in range(rounds):
        if condition():
            return
        yield deferLater(reactor, POLL_INTERVAL, lambda: None)
    raise AssertionError(f"timed out waiting until {what}")


class SteppedReactor:
    """
    The real reactor, except that its clock moves only when the test moves
    it: the daemon's view of time (cps windows, SENSOR expiry, log
    timestamps) is then exact.  Delayed calls still run on the real clock.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.now = float(int(real.seconds()))

    def seconds(self) -> float:
        return self.now

    def advance(self, amount: float) -> None:
        self.now += amount

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Client(Protocol):
    """
    A TCP client that sends some bytes, optionally half-closes, and
    collects what it receives.
    """

    def __init__(self, send: bytes, halfClose: bool) -> None:
        self.send = send
        self.halfClose = halfClose
        self.received = bytearray()
        self.ended = False
        self.localPort = 0
        self._waiting: list[tuple[int, Deferred[bytes]]] = []

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.localPort = self.transport.getHost().port  # type: ignore[attr-defined]
        if self.send:
            self.transport.write(self.send)
        if self.halfClose:
            self.transport.loseWriteConnection()  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self._wake()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for count, d in waiting:
            if self.ended or len(self.received) >= count:
                d.callback(bytes(self.received))
            else:
                self._waiting.append((count, d))

    def receivedAtLeast(self, count: int) -> Deferred[bytes]:
        """
        Fire with what was received once there are C{count} bytes, or once
        the connection has ended, whichever comes first.
        """
        d: Deferred[bytes] = Deferred()
        self._waiting.append((count, d))
        self._wake()
        return withTimeout(d)

    def whenEnded(self) -> Deferred[bytes]:
        """
        Fire with everything received once the connection has ended.
        """
        return self.receivedAtLeast(2**62)

    def close(self) -> Deferred[bytes]:
        """
        Close the connection and wait for it to end.
        """
        if not self.ended and self.transport is not None:
            self.transport.loseConnection()
        return self.whenEnded()


class IdentServer(Protocol):
    """
    A one-shot RFC 1413 server: reads the query line, records it, answers
    with what its factory's C{answer} makes of the two ports, and closes.
    """

    def __init__(self, factory: IdentFactory) -> None:
        self.factory = factory
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if b"\n" not in self.buffer:
            return
        query = self.buffer.split(b"\n", 1)[0] + b"\n"
        self.factory.queries.append(query)
        clientPort, serverPort = (int(part) for part in query.strip().split(b","))
        assert self.transport is not None
        self.transport.write(self.factory.answer(clientPort, serverPort))
        self.transport.loseConnection()

    def connectionMade(self) -> None:
        self.factory.open += 1

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.factory.open -= 1


class IdentFactory(ServerFactory):
    """
    Makes L{IdentServer}s that answer with C{answer(clientPort, serverPort)}.

    @ivar queries: every query line received.
    @ivar open: the number of connections open now.
    """

    noisy = False

    def __init__(self, answer: Callable[[int, int], bytes]) -> None:
        self.answer = answer
        self.queries: list[bytes] = []
        self.open = 0

    def buildProtocol(self, addr: object) -> IdentServer:
        return IdentServer(self)


class Scenario:
    """
    One test's world: a temporary directory with banners and the service
    log, what the tree is built with, the service tree, clients, and the
    program messages.

    @ivar messages: the text of every log event emitted since it was made.
    """

    def __init__(self, case: TestCase, target: StreamTarget, made: Collaborators | None) -> None:
        self.case = case
        self.target = target
        self.made = made if made is not None else collaborators()
        self.shared = self.made.shared
        self.directory = os.path.abspath(case.mktemp())
        os.makedirs(self.directory)
        self.logPath = os.path.join(self.directory, "service.log")
        self.messages = captureLog(case)
        self.clients: list[Client] = []
        self.tree: XinetdService | None = None

    # --- configuration --------------------------------------------------

    def file(self, name: str, content: bytes) -> str:
        """
        Write a file in the temporary directory.

        @return: its path.
        """
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def logging(self, success: str = "PID HOST EXIT", failure: str = "HOST") -> str:
        """
        Attribute lines for a FILE service log in the temporary directory.
        """
        return (
            f" log_type = FILE {self.logPath}\n"
            f" log_on_success = {success}\n log_on_failure = {failure}\n"
        )

    def banners(self, banner: bool = True, success: bool = True, failure: bool = True) -> str:
        """
        Attribute lines for the three banners, with L{BANNER}, L{SUCCESS}
        and L{FAILURE} as their contents.
        """
        lines = ""
        for wanted, attribute, content in (
            (banner, "banner", BANNER),
            (success, "banner_success", SUCCESS),
            (failure, "banner_fail", FAILURE),
        ):
            if wanted:
                lines += f" {attribute} = {self.file(attribute, content)}\n"
        return lines

    def entry(self, serviceId: str, extra: str = "", port: int = 0) -> str:
        """
        A stream service of the target kind, logging to the service log.
        """
        return self.target.entry(serviceId, self.logging() + extra, port)

    def load(self, text: str) -> Config:
        config = loadText(text)
        self.case.assertEqual(config.errors, ())
        return config

    def start(self, config: Config | str) -> XinetdService:
        """
        Start the tree of a configuration; stop it and close every client
        after the test.
        """
        if isinstance(config, str):
            config = self.load(config)
        tree = XinetdService(config, self.made)
        tree.privilegedStartService()
        tree.startService()
        self.tree = tree
        self.case.addCleanup(tree.stopService)
        self.case.addCleanup(self.closeClients)
        return tree

    def service(self, serviceId: str) -> ListeningService:
        assert self.tree is not None
        child = self.tree.getServiceNamed(serviceId)
        assert isinstance(child, ListeningService)
        return child

    def port(self, serviceId: str) -> int:
        address = self.service(serviceId).address
        assert address is not None, f"{serviceId} is not listening"
        return address[1]

    # --- clients ----------------------------------------------------------

    def connect(
        self,
        serviceId: str,
        source: str = "127.0.0.1",
        send: bytes = b"",
        halfClose: bool = False,
        port: int | None = None,
    ) -> Deferred[Client]:
        """
        Connect to a service from C{source} (its family chooses the
        service's address: 127.0.0.1 or ::1).
        """
        host = "::1" if ":" in source else "127.0.0.1"
        endpointType = TCP6ClientEndpoint if ":" in source else TCP4ClientEndpoint
        endpoint = endpointType(
            reactor,
            host,
            self.port(serviceId) if port is None else port,
            bindAddress=(source, 0),
        )
        client = Client(send, halfClose)
        connecting = endpoint.connect(Factory.forProtocol(lambda: client))

        def connected(_: object) -> Client:
            self.clients.append(client)
            return client

        return withTimeout(connecting.addCallback(connected))

    @inlineCallbacks
    def exchange(
        self, serviceId: str, send: bytes = b"", source: str = "127.0.0.1"
    ) -> Generator[Deferred[Any], Any, bytes]:
        """
        Connect, send C{send}, half-close, collect everything until the
        server closes, and wait until the services count as many
        connections as before.

        A refused client should send nothing: unread data would turn the
        server's close into a reset that can destroy the banners in flight.
        """
        before = self.running()
        client = yield self.connect(serviceId, source, send, halfClose=True)
        received: bytes = yield client.whenEnded()
        yield self.settled(before)
        return received

    @inlineCallbacks
    def hold(
        self, serviceId: str, source: str = "127.0.0.1"
    ) -> Generator[Deferred[Any], Any, Client]:
        """
        Open a connection that is served and stays open: it has received
        the greeting (L{BANNER} and L{SUCCESS}).
        """
        client: Client = yield self.connect(serviceId, source)
        greeting = yield client.receivedAtLeast(len(BANNER + SUCCESS))
        self.case.assertEqual(greeting, BANNER + SUCCESS)
        self.case.assertFalse(client.ended)
        return client

    @inlineCallbacks
    def closeClients(self) -> Generator[Deferred[Any], Any, None]:
        for client in self.clients:
            yield client.close()
        yield self.settled()

    def running(self) -> int:
        """
        The connections the services count now.
        """
        assert self.tree is not None
        return sum(
            child.admission.running.running
            for child in self.tree
            if isinstance(child, ListeningService)
        )

    def settled(self, running: int = 0) -> Deferred[None]:
        """
        Wait until the services count C{running} connections.
        """
        return waitUntil(lambda: self.running() == running, f"{running} connections are counted")

    # --- the logs -------------------------------------------------------------

    def serviceLog(self) -> list[str]:
        """
        The entries of the service log, each line's timestamp checked.
        """
        if not os.path.exists(self.logPath):
            return []
        with open(self.logPath, encoding="utf-8") as f:
            lines = f.read().splitlines()
        entries = []
        for line in lines:
            match = LOG_LINE.fullmatch(line)
            if match is None:
                self.case.fail(f"not a service-log line: {line!r}")
            entries.append(match[1])
        return entries

    def assertServiceLog(self, expected: Sequence[str]) -> None:
        """
        Assert the entries of the service log; C{{pid}} in C{expected}
        stands for the target's pid.
        """
        entries = self.serviceLog()
        if len(entries) != len(expected) or not all(
            self.matches(template, entry) for template, entry in zip(expected, entries, strict=True)
        ):
            self.case.fail(f"service log:\n{entries}\nexpected:\n{list(expected)}")

    def matches(self, template: str, entry: str) -> bool:
        """
        Whether a log entry is C{template}, where C{{pid}} stands for the
        target's pid.
        """
        pattern = re.escape(template).replace(re.escape("{pid}"), self.target.pid)
        return re.fullmatch(pattern, entry) is not None

    def waitForEntry(self, prefix: str) -> Deferred[None]:
        """
        Wait until the service log has an entry starting with C{prefix}.
        """
        return waitUntil(
            lambda: any(entry.startswith(prefix) for entry in self.serviceLog()),
            f"the service log has {prefix!r}",
        )


class ScenarioTestCase(TestCase):
    """
    Scenarios against L{target}.
    """

    target = INTERNAL_ECHO

    def scenario(self, clock: Any = None, **changes: Any) -> Scenario:
        """
        A L{Scenario} whose tree runs on C{clock} (the real reactor by
        default), built with L{collaborators}C{(**changes)}.
        """
        return Scenario(self, self.target, collaborators(clock, **changes))


def todo(reason: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """
    Mark a test as an expected failure (trial's C{todo}).
    """

    def mark(test: Callable[..., Any]) -> Callable[..., Any]:
        test.todo = reason  # type: ignore[attr-defined]
        return test

    return mark


class AddressTests(ScenarioTestCase):
    """
    C{only_from} and C{no_access}: what a served and a refused client see,
    and the lines they leave.
    """

    @inlineCallbacks
    def checkAllowedAndRefused(
        self, s: Scenario, allowed: str, refused: str, serviceId: str = "acl"
    ) -> Generator[Deferred[Any], Any, None]:
        """
        A client from C{allowed} is served with the banners and its echo; a
        client from C{refused} gets the banner and banner_fail, then the
        connection closes; only the served one has START and EXIT.
        """
        served = yield s.exchange(serviceId, b"payload\r\n", source=allowed)
        self.assertEqual(served, BANNER + SUCCESS + b"payload\r\n")
        denied = yield s.exchange(serviceId, source=refused)
        self.assertEqual(denied, BANNER + FAILURE)
        s.assertServiceLog(
            [
                f"START: {serviceId} pid={{pid}} from={allowed}",
                f"EXIT: {serviceId} status=0 pid={{pid}}",
                f"FAIL: {serviceId} address from={refused}",
            ]
        )

    def test_onlyFrom(self) -> Deferred[None]:
        s = self.scenario()
        s.start(s.entry("acl", " only_from = 127.0.0.1\n" + s.banners()))
        return self.checkAllowedAndRefused(s, "127.0.0.1", "127.0.0.2")

    def test_noAccess(self) -> Deferred[None]:
        s = self.scenario()
        s.start(s.entry("acl", " no_access = 127.0.0.2\n" + s.banners()))
        return self.checkAllowedAndRefused(s, "127.0.0.1", "127.0.0.2")

    def test_moreSpecificOnlyFromWins(self) -> Deferred[None]:
        """
        C{only_from = 127.0.0.2} beats C{no_access = 127.0.0.0/8} for
        127.0.0.2; 127.0.0.1 matches C{no_access} alone and is refused.
        """
        s = self.scenario()
        s.start(s.entry("acl", " only_from = 127.0.0.2\n no_access = 127.0.0.0/8\n" + s.banners()))
        return self.checkAllowedAndRefused(s, "127.0.0.2", "127.0.0.1")

    def test_moreSpecificNoAccessWins(self) -> Deferred[None]:
        """
        A host in C{no_access} beats its network in C{only_from}.
        """
        s = self.scenario()
        s.start(s.entry("acl", " only_from = 127.0.0.0\n no_access = 127.0.0.2\n" + s.banners()))
        return self.checkAllowedAndRefused(s, "127.0.0.1", "127.0.0.2")

    @inlineCallbacks
    def test_equalSpecificityDenies(self) -> Any:
        """
        Entries of equal specificity in both lists refuse, with the program
        message.
        """
        s = self.scenario()
        s.start(
            s.entry("acl", " only_from = 127.0.0.0/8\n no_access = 127.0.0.0/8\n" + s.banners())
        )
        denied = yield s.exchange("acl", source="127.0.0.2")
        self.assertEqual(denied, BANNER + FAILURE)
        s.assertServiceLog(["FAIL: acl address from=127.0.0.2"])
        self.assertIn(
            "Service=acl: only_from list and no_access list match equally the address 127.0.0.2",
            s.messages,
        )

    @inlineCallbacks
    def test_emptyOnlyFromDeniesEveryone(self) -> Any:
        s = self.scenario()
        s.start(s.entry("acl", " only_from =\n" + s.banners()))
        for source in ("127.0.0.1", "127.0.0.2"):
            denied = yield s.exchange("acl", source=source)
            self.assertEqual(denied, BANNER + FAILURE)
        s.assertServiceLog(["FAIL: acl address from=127.0.0.1", "FAIL: acl address from=127.0.0.2"])

    def localhostScenario(self) -> Scenario:
        """
        A scenario that resolves names like the machine, when the machine's
        /etc/hosts names 127.0.0.1 C{localhost} first (so that no lookup
        leaves the machine).
        """
        if etcHostsNames("127.0.0.1")[:1] != ["localhost"]:
            raise SkipTest("/etc/hosts does not name 127.0.0.1 localhost first")
        return self.scenario()

    @inlineCallbacks
    def test_hostNameAllows(self) -> Any:
        """
        C{only_from = localhost} is resolved at load and matches the reverse
        name of 127.0.0.1, looked up without blocking the reactor.
        """
        s = self.localhostScenario()
        s.start(s.entry("acl", " only_from = localhost\n" + s.banners()))
        served = yield s.exchange("acl", b"by name", source="127.0.0.1")
        self.assertEqual(served, BANNER + SUCCESS + b"by name")
        s.assertServiceLog(["START: acl pid={pid} from=127.0.0.1", "EXIT: acl status=0 pid={pid}"])

    @inlineCallbacks
    def test_hostNameRefuses(self) -> Any:
        s = self.localhostScenario()
        s.start(s.entry("acl", " no_access = localhost\n" + s.banners()))
        denied = yield s.exchange("acl", source="127.0.0.1")
        self.assertEqual(denied, BANNER + FAILURE)
        s.assertServiceLog(["FAIL: acl address from=127.0.0.1"])

    def test_domain(self) -> Deferred[None]:
        """
        A C{.domain} entry matches the reverse name's suffix; the lookup is
        asked for the plain IPv4 address of a dual-stack client.
        """
        names = {"127.0.0.1": "host.example.test", "127.0.0.2": "example.test.invalid"}
        asked: list[str] = []

        def lookup(address: str, verify: bool) -> Deferred[HostName]:
            asked.append(address)
            return deferLater(reactor, 0, lambda: HostName(names.get(address)))

        s = self.scenario(names=lookup)
        s.start(s.entry("acl", " only_from = .example.test\n" + s.banners()))
        checked = self.checkAllowedAndRefused(s, "127.0.0.1", "127.0.0.2")
        checked.addCallback(lambda _: self.assertEqual(asked, ["127.0.0.1", "127.0.0.2"]))
        return checked

    def test_ipv6Prefix128(self) -> Deferred[None]:
        """
        C{::1/128} matches ::1 (xinetd's C{/128} bug is not reproduced).
        """
        if not hasIPv6():
            raise SkipTest("no IPv6 loopback")
        s = self.scenario()
        s.start(s.entry("acl", " only_from = ::1/128\n" + s.banners()))
        return self.checkAllowedAndRefused(s, "::1", "127.0.0.1")

    @inlineCallbacks
    def test_dualStackIPv4Client(self) -> Any:
        """
        An IPv4 client of a dual-stack service is matched and logged as
        127.0.0.1, not ::ffff:127.0.0.1.
        """
        s = self.scenario()
        s.start(s.entry("acl", " only_from = 127.0.0.1\n" + s.banners()))
        listeners = s.service("acl").port
        assert listeners is not None
        families = [reader.socket.family for reader in listeners.readers]
        self.assertEqual(families, [socket.AF_INET6, socket.AF_INET])
        yield self.checkAllowedAndRefused(s, "127.0.0.1", "127.0.0.2")


class BannerTests(ScenarioTestCase):
    """
    C{banner}, C{banner_success} and C{banner_fail}: byte for byte, in
    order, read for every connection.
    """

    @inlineCallbacks
    def test_grantedOrder(self) -> Any:
        s = self.scenario()
        s.start(s.entry("b", s.banners()))
        served = yield s.exchange("b", b"\r\npayload\n")
        self.assertEqual(served, BANNER + SUCCESS + b"\r\npayload\n")

    @inlineCallbacks
    def test_limitRefusal(self) -> Any:
        """
        A client refused by a limit sees banner and banner_fail; nothing is
        counted and there is no START or EXIT.
        """
        s = self.scenario()
        s.start(s.entry("b", " instances = 0\n" + s.banners()))
        denied = yield s.exchange("b")
        self.assertEqual(denied, BANNER + FAILURE)
        s.assertServiceLog(["FAIL: b service_limit from=127.0.0.1"])

    @inlineCallbacks
    def test_failOnly(self) -> Any:
        """
        With banner_fail alone, a served client sees only the service and a
        refused one only banner_fail.
        """
        s = self.scenario()
        s.start(s.entry("b", " only_from = 127.0.0.1\n" + s.banners(banner=False, success=False)))
        served = yield s.exchange("b", b"plain")
        self.assertEqual(served, b"plain")
        denied = yield s.exchange("b", source="127.0.0.2")
        self.assertEqual(denied, FAILURE)

    @inlineCallbacks
    def test_rereadForEachConnection(self) -> Any:
        s = self.scenario()
        s.start(s.entry("b", s.banners()))
        first = yield s.exchange("b", b"1")
        s.file("banner", b"changed\n")
        second = yield s.exchange("b", b"2")
        self.assertEqual((first, second), (BANNER + SUCCESS + b"1", b"changed\n" + SUCCESS + b"2"))

    @inlineCallbacks
    def test_missingBanner(self) -> Any:
        """
        A banner that cannot be read is logged and the connection goes on.
        """
        s = self.scenario()
        missing = os.path.join(s.directory, "missing")
        s.start(s.entry("b", f" banner = {missing}\n" + s.banners(banner=False)))
        served = yield s.exchange("b", b"still served")
        self.assertEqual(served, SUCCESS + b"still served")
        self.assertIn(f"service = b, open of banner {missing} failed", s.messages)
        s.assertServiceLog(["START: b pid={pid} from=127.0.0.1", "EXIT: b status=0 pid={pid}"])


class LimitTests(ScenarioTestCase):
    """
    C{instances}, C{per_source}, the C{-limit} process limit,
    C{access_times} and C{max_load}.
    """

    @inlineCallbacks
    def test_instances(self) -> Any:
        """
        With C{instances = 2}, a third connection from any address is
        refused while two are held; once one ends, a new one is served.
        """
        s = self.scenario()
        s.start(s.entry("inst", " instances = 2\n" + s.banners()))
        first = yield s.hold("inst", "127.0.0.1")
        yield s.hold("inst", "127.0.0.2")
        denied = yield s.exchange("inst", source="127.0.0.2")
        self.assertEqual(denied, BANNER + FAILURE)
        yield first.close()
        yield s.settled(1)
        yield s.hold("inst", "127.0.0.2")
        s.assertServiceLog(
            [
                "START: inst pid={pid} from=127.0.0.1",
                "START: inst pid={pid} from=127.0.0.2",
                "FAIL: inst service_limit from=127.0.0.2",
                "EXIT: inst status=0 pid={pid}",
                "START: inst pid={pid} from=127.0.0.2",
            ]
        )

    @inlineCallbacks
    def test_perSource(self) -> Any:
        """
        With C{per_source = 2}, a third connection from 127.0.0.1 is refused
        while 127.0.0.2 is still served; once one ends, 127.0.0.1 is served
        again.
        """
        s = self.scenario()
        s.start(s.entry("ps", " per_source = 2\n" + s.banners()))
        first = yield s.hold("ps")
        yield s.hold("ps")
        denied = yield s.exchange("ps")
        self.assertEqual(denied, BANNER + FAILURE)
        yield s.hold("ps", "127.0.0.2")
        yield first.close()
        yield s.settled(2)
        self.assertEqual(s.service("ps").admission.running.runningFrom("127.0.0.1"), 1)
        yield s.hold("ps")
        s.assertServiceLog(
            [
                "START: ps pid={pid} from=127.0.0.1",
                "START: ps pid={pid} from=127.0.0.1",
                "FAIL: ps per_source_limit from=127.0.0.1",
                "START: ps pid={pid} from=127.0.0.2",
                "EXIT: ps status=0 pid={pid}",
                "START: ps pid={pid} from=127.0.0.1",
            ]
        )

    @inlineCallbacks
    def flood(
        self, limit: str, sources: Sequence[str], served: int, reason: str
    ) -> Generator[Deferred[Any], Any, Scenario]:
        """
        Open 50 connections at once from C{sources} (in turn) to a service
        with the C{limit} attribute line: exactly C{served} are served and
        held, the others are refused with banner_fail.  Then close them all:
        the counts return to zero.
        """
        s = self.scenario()
        s.start(s.entry("flood", limit + " cps = 0 0\n" + s.banners()))
        connecting = [s.connect("flood", sources[i % len(sources)]) for i in range(50)]
        results = yield DeferredList(connecting, fireOnOneErrback=True, consumeErrors=True)
        clients: list[Client] = [client for _, client in results]
        outcomes = yield DeferredList(
            [client.receivedAtLeast(len(BANNER + SUCCESS)) for client in clients],
            fireOnOneErrback=True,
            consumeErrors=True,
        )
        greeted = [
            client
            for client, (_, got) in zip(clients, outcomes, strict=True)
            if got == BANNER + SUCCESS
        ]
        self.assertEqual(len(greeted), served)
        refused = [client for client in clients if client not in greeted]
        ends = yield DeferredList([client.whenEnded() for client in refused], fireOnOneErrback=True)
        self.assertEqual({received for _, received in ends}, {BANNER + FAILURE})
        self.assertFalse(any(client.ended for client in greeted))
        yield s.settled(served)
        fails = [entry for entry in s.serviceLog() if entry.startswith("FAIL:")]
        self.assertEqual(len(fails), 50 - served)
        self.assertEqual({entry.rsplit(" from=")[0] for entry in fails}, {f"FAIL: flood {reason}"})
        yield s.closeClients()
        running = s.service("flood").admission.running
        self.assertEqual([running.runningFrom(source) for source in sources], [0] * len(sources))
        return s

    @inlineCallbacks
    def test_perSourceFlood(self) -> Any:
        """
        C{per_source = 2} holds under 50 simultaneous connections from one
        address, while another address is still served.
        """
        s = yield self.flood(" per_source = 2\n", ["127.0.0.1"], 2, "per_source_limit")
        other = yield s.hold("flood", "127.0.0.2")
        yield other.close()

    @inlineCallbacks
    def test_instancesFlood(self) -> Any:
        yield self.flood(" instances = 3\n", ["127.0.0.1", "127.0.0.2"], 3, "service_limit")

    @inlineCallbacks
    def test_processLimit(self) -> Any:
        """
        C{-limit 1} counts the servers of every service.
        """
        processes = ProcessLimit(1)
        s = self.scenario(processes=processes)
        s.start(s.entry("first", s.banners()) + s.entry("second", s.banners()))
        held = yield s.hold("first")
        denied = yield s.exchange("second")
        self.assertEqual(denied, BANNER + FAILURE)
        yield held.close()
        yield s.settled()
        self.assertEqual(processes.running, 0)
        served = yield s.exchange("second", b"now")
        self.assertEqual(served, BANNER + SUCCESS + b"now")
        s.assertServiceLog(
            [
                "START: first pid={pid} from=127.0.0.1",
                "FAIL: second process_limit from=127.0.0.1",
                "EXIT: first status=0 pid={pid}",
                "START: second pid={pid} from=127.0.0.1",
                "EXIT: second status=0 pid={pid}",
            ]
        )

    @inlineCallbacks
    def test_accessTimes(self) -> Any:
        """
        C{access_times} is checked against the daemon's local time, bounds
        included.
        """
        clock = [8, 0]
        s = self.scenario(localTime=lambda now: fixedLocalTime(*clock))
        s.start(s.entry("at", " access_times = 8:00-9:00\n" + s.banners()))
        outcomes = []
        for hour, minute in ((7, 59), (8, 0), (9, 0), (9, 1)):
            clock[:] = [hour, minute]
            received = yield s.exchange("at", b"t")
            outcomes.append(received)
        self.assertEqual(
            outcomes,
            [BANNER + FAILURE, BANNER + SUCCESS + b"t", BANNER + SUCCESS + b"t", BANNER + FAILURE],
        )
        s.assertServiceLog(
            [
                "FAIL: at time from=127.0.0.1",
                "START: at pid={pid} from=127.0.0.1",
                "EXIT: at status=0 pid={pid}",
                "START: at pid={pid} from=127.0.0.1",
                "EXIT: at status=0 pid={pid}",
                "FAIL: at time from=127.0.0.1",
            ]
        )

    @inlineCallbacks
    def test_maxLoad(self) -> Any:
        """
        A load at or above C{max_load} refuses, with the program message.
        """
        load = [5.0]
        s = self.scenario(load=LoadAverage(read=lambda: load[0]))
        s.start(s.entry("ld", " max_load = 2.5\n" + s.banners()))
        outcomes = []
        for value in (5.0, 2.5, 1.0):
            load[0] = value
            received = yield s.exchange("ld", b"l")
            outcomes.append(received)
        self.assertEqual(outcomes, [BANNER + FAILURE, BANNER + FAILURE, BANNER + SUCCESS + b"l"])
        self.assertEqual(
            s.messages.count("refused connect from 127.0.0.1 due to excessive load"), 2
        )
        s.assertServiceLog(
            [
                "FAIL: ld load from=127.0.0.1",
                "FAIL: ld load from=127.0.0.1",
                "START: ld pid={pid} from=127.0.0.1",
                "EXIT: ld status=0 pid={pid}",
            ]
        )


class CpsTests(ScenarioTestCase):
    """
    C{cps}: the trip, the closed socket, the reactivation.
    """

    @inlineCallbacks
    def test_tripAndReactivate(self) -> Any:
        """
        With C{cps = 2 3}, the third connection in the same second is
        refused and closes the listening socket; connections are refused by
        the kernel until the service reactivates, then served again.
        """
        clock = SteppedReactor(reactor)
        s = self.scenario(clock)
        port = freePort()
        s.start(s.entry("rate", " cps = 2 3\n" + s.banners(), port))
        service = s.service("rate")
        for payload in (b"one", b"two"):
            served = yield s.exchange("rate", payload)
            self.assertEqual(served, BANNER + SUCCESS + payload)
        denied = yield s.exchange("rate")
        self.assertEqual(denied, BANNER + FAILURE)
        self.assertIn(
            "Deactivating service echo due to excessive incoming connections.  "
            "Restarting in 3 seconds.",
            s.messages,
        )
        self.assertIsNone(service.address)
        yield self.assertFailure(s.connect("rate", port=port), ConnectionRefusedError)
        reactivation = service.reactivation
        self.assertIsNotNone(reactivation)
        self.assertIn(reactivation, reactor.getDelayedCalls())
        self.assertTrue(2.0 < reactivation.getTime() - reactor.seconds() <= 3.0)
        self.assertNotIn("Activating service echo", s.messages)
        clock.advance(3)
        reactivation.reset(0)
        yield waitUntil(lambda: service.address is not None, "the service listens again")
        self.assertEqual(service.address, ("::", port))
        self.assertIn("Activating service echo", s.messages)
        served = yield s.exchange("rate", b"three")
        self.assertEqual(served, BANNER + SUCCESS + b"three")
        s.assertServiceLog(
            [
                "START: rate pid={pid} from=127.0.0.1",
                "EXIT: rate status=0 pid={pid}",
                "START: rate pid={pid} from=127.0.0.1",
                "EXIT: rate status=0 pid={pid}",
                "FAIL: rate connections per second from=127.0.0.1",
                "START: rate pid={pid} from=127.0.0.1",
                "EXIT: rate status=0 pid={pid}",
            ]
        )


SENSOR_TRAP = (
    "service trap\n{{\n type = INTERNAL UNLISTED\n flags = SENSOR\n socket_type = stream\n"
    " wait = no\n port = 0\n deny_time = 1\n{extra}}}\n"
)


class SensorTests(ScenarioTestCase):
    """
    A C{flags = SENSOR} service lists its clients on the global deny list,
    which every service consults, for C{deny_time} minutes.
    """

    @inlineCallbacks
    def checkSensor(
        self, s: Scenario, clock: SteppedReactor
    ) -> Generator[Deferred[Any], Any, None]:
        """
        Touching C{trap} from 127.0.0.1 lists it: C{guarded} refuses it but
        serves 127.0.0.2, until the minute has passed.
        """
        touched = yield s.exchange("trap", source="127.0.0.1")
        self.assertEqual(touched, BANNER + FAILURE)
        self.assertIn("Adding 127.0.0.1 to the global_no_access list for 1 minutes", s.messages)
        denied = yield s.exchange("guarded", source="127.0.0.1")
        self.assertEqual(denied, BANNER + FAILURE)
        served = yield s.exchange("guarded", b"2", source="127.0.0.2")
        self.assertEqual(served, BANNER + SUCCESS + b"2")
        clock.advance(59)
        denied = yield s.exchange("guarded", source="127.0.0.1")
        self.assertEqual(denied, BANNER + FAILURE)
        clock.advance(1)
        served = yield s.exchange("guarded", b"1", source="127.0.0.1")
        self.assertEqual(served, BANNER + SUCCESS + b"1")
        s.assertServiceLog(
            [
                "FAIL: trap address from=127.0.0.1",
                "FAIL: guarded address from=127.0.0.1",
                "START: guarded pid={pid} from=127.0.0.2",
                "EXIT: guarded status=0 pid={pid}",
                "FAIL: guarded address from=127.0.0.1",
                "START: guarded pid={pid} from=127.0.0.1",
                "EXIT: guarded status=0 pid={pid}",
            ]
        )

    def test_sensor(self) -> Deferred[None]:
        clock = SteppedReactor(reactor)
        s = self.scenario(clock)
        trap = SENSOR_TRAP.format(extra=s.logging() + s.banners())
        s.start(trap + s.entry("guarded", s.banners()))
        return self.checkSensor(s, clock)

    def test_expiryScanned(self) -> None:
        """
        The list is scanned for expired entries every minute, with xinetd's
        INFO messages.
        """
        clock = MemoryReactorClock()
        clock.advance(1_700_000_000)
        s = self.scenario(clock)
        s.start(s.entry("guarded"))
        s.shared.sensor.add("127.0.0.1", clock.seconds(), 1)
        for _ in range(3):
            clock.advance(60)
        self.assertEqual(len(s.shared.sensor), 0)
        self.assertIn("At least 1 DENY_TIME has expired, global_no_access list updated", s.messages)
        self.assertIn("global_no_access list is empty.", s.messages)


class LibwrapTests(ScenarioTestCase):
    """
    hosts.allow and hosts.deny, by the service's libwrap daemon name.
    """

    def wrapped(self, allow: str, deny: str, names: Mapping[str, str] | None = None) -> Scenario:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        paths = []
        for name, text in (("hosts.allow", allow), ("hosts.deny", deny)):
            paths.append(os.path.join(directory, name))
            with open(paths[-1], "w") as f:
                f.write(text)
        lookup = None
        if names is not None:
            table = names

            def lookup(address: str, verify: bool) -> Deferred[HostName]:
                return succeed(HostName(table.get(address)))

        return self.scenario(hostsAccess=readHostsAccess(*paths), names=lookup)

    @inlineCallbacks
    def test_allowAndDeny(self) -> Any:
        s = self.wrapped(f"{self.target.name}: 127.0.0.1\n", "ALL: ALL\n")
        s.start(s.entry("lw", s.banners()))
        served = yield s.exchange("lw", b"ok", source="127.0.0.1")
        self.assertEqual(served, BANNER + SUCCESS + b"ok")
        denied = yield s.exchange("lw", source="127.0.0.2")
        self.assertEqual(denied, BANNER + FAILURE)
        self.assertIn(
            f"libwrap refused connection to lw (libwrap={self.target.name}) from 127.0.0.2",
            s.messages,
        )
        s.assertServiceLog(
            [
                "START: lw pid={pid} from=127.0.0.1",
                "EXIT: lw status=0 pid={pid}",
                "FAIL: lw libwrap from=127.0.0.2",
            ]
        )

    @inlineCallbacks
    def test_nolibwrap(self) -> Any:
        s = self.wrapped("", "ALL: ALL\n")
        s.start(s.entry("lw", " flags = NOLIBWRAP\n" + s.banners()))
        served = yield s.exchange("lw", b"ok", source="127.0.0.2")
        self.assertEqual(served, BANNER + SUCCESS + b"ok")
        self.assertFalse([text for text in s.messages if text.startswith("libwrap refused")])

    @inlineCallbacks
    def test_libwrapAttribute(self) -> Any:
        """
        C{libwrap = name} is the daemon name the files are searched for.
        """
        s = self.wrapped(f"{self.target.name}: ALL\n", "ALL: ALL\n")
        s.start(s.entry("lw", " libwrap = other\n" + s.banners()))
        denied = yield s.exchange("lw", source="127.0.0.1")
        self.assertEqual(denied, BANNER + FAILURE)
        self.assertIn("libwrap refused connection to lw (libwrap=other) from 127.0.0.1", s.messages)

    @inlineCallbacks
    def test_domainPattern(self) -> Any:
        """
        A C{.domain} pattern matches the client's reverse name.
        """
        names = {"127.0.0.1": "host.example.test", "127.0.0.2": "host.elsewhere.test"}
        s = self.wrapped(f"{self.target.name}: .example.test\n", "ALL: ALL\n", names)
        s.start(s.entry("lw", s.banners()))
        served = yield s.exchange("lw", b"ok", source="127.0.0.1")
        self.assertEqual(served, BANNER + SUCCESS + b"ok")
        denied = yield s.exchange("lw", source="127.0.0.2")
        self.assertEqual(denied, BANNER + FAILURE)


class DatagramTests(TestCase):
    """
    Access control in front of a built-in dgram service.
    """

    def datagramSocket(self, source: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind((source, 0))
        sock.setblocking(False)
        return sock

    @inlineCallbacks
    def test_refusedDatagrams(self) -> Any:
        """
        A refused datagram gets no reply and one FAIL line; a second one
        from the same address and port within a minute logs nothing more;
        another port logs again; an allowed datagram is answered and logs
        START with pid 0.
        """
        s = Scenario(self, INTERNAL_ECHO, None)
        text = (
            f"service echo\n{{\n type = INTERNAL UNLISTED\n id = udp\n socket_type = dgram\n"
            f" wait = yes\n port = 0\n only_from = 127.0.0.1\n{s.logging('PID HOST')}}}\n"
        )
        s.start(text)
        port = s.port("udp")
        refused = self.datagramSocket("127.0.0.2")
        refused.sendto(b"first", ("127.0.0.1", port))
        refused.sendto(b"second", ("127.0.0.1", port))
        reply = yield udpExchange("127.0.0.1", port, b"allowed")
        self.assertEqual(reply, b"allowed")
        self.assertRaises(BlockingIOError, refused.recv, 100)
        other = self.datagramSocket("127.0.0.2")
        other.sendto(b"third", ("127.0.0.1", port))
        reply = yield udpExchange("127.0.0.1", port, b"again")
        self.assertEqual(reply, b"again")
        self.assertRaises(BlockingIOError, other.recv, 100)
        s.assertServiceLog(
            [
                "FAIL: udp address from=127.0.0.2",
                "START: udp pid=0 from=127.0.0.1",
                "FAIL: udp address from=127.0.0.2",
                "START: udp pid=0 from=127.0.0.1",
            ]
        )


def useridAnswer(clientPort: int, serverPort: int) -> bytes:
    return b"%d , %d : USERID : UNIX : alice\r\n" % (clientPort, serverPort)


def errorAnswer(clientPort: int, serverPort: int) -> bytes:
    return b"%d , %d : ERROR : NO-USER\r\n" % (clientPort, serverPort)


class IdentTests(ScenarioTestCase):
    """
    USERID and IDONLY with a real ident server on 127.0.0.1.
    """

    def identScenario(self, answer: Callable[[int, int], bytes]) -> tuple[Scenario, IdentFactory]:
        factory = IdentFactory(answer)
        listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(
            lambda: listening.stopListening().addCallback(
                lambda _: waitUntil(lambda: factory.open == 0, "ident connections are closed")
            )
        )
        return self.scenario(identPort=listening.getHost().port), factory

    def closedPort(self) -> int:
        """
        A port of 127.0.0.1 that refuses connections (bound, not listening).
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

    @inlineCallbacks
    def test_userid(self) -> Any:
        """
        C{log_on_success = USERID}: the server starts at once, USERID
        follows START; the query names the client's and the service's ports.
        """
        s, ident = self.identScenario(useridAnswer)
        s.start(s.target.entry("uid", s.logging("PID HOST EXIT USERID") + s.banners()))
        client = yield s.connect("uid", send=b"hello", halfClose=True)
        received = yield client.whenEnded()
        self.assertEqual(received, BANNER + SUCCESS + b"hello")
        yield s.settled()
        yield s.waitForEntry("USERID:")
        entries = s.serviceLog()
        self.assertEqual(len(entries), 3, entries)
        self.assertTrue(s.matches("START: uid pid={pid} from=127.0.0.1", entries[0]), entries)
        userid = entries.index("USERID: uid UNIX : alice")
        self.assertTrue(s.matches("EXIT: uid status=0 pid={pid}", entries[3 - userid]), entries)
        self.assertEqual(ident.queries, [b"%d,%d\r\n" % (client.localPort, s.port("uid"))])

    @inlineCallbacks
    def test_idonlyGranted(self) -> Any:
        """
        With IDONLY the server starts after the ident reply.
        """
        s, _ = self.identScenario(useridAnswer)
        extra = s.logging("PID HOST EXIT USERID") + " flags = IDONLY\n" + s.banners()
        s.start(s.target.entry("ido", extra))
        served = yield s.exchange("ido", b"who")
        self.assertEqual(served, BANNER + SUCCESS + b"who")
        s.assertServiceLog(
            [
                "USERID: ido UNIX : alice",
                "START: ido pid={pid} from=127.0.0.1",
                "EXIT: ido status=0 pid={pid}",
            ]
        )

    @inlineCallbacks
    def test_idonlyBadResponse(self) -> Any:
        """
        With IDONLY, an ident error closes the connection unserved, with
        NOID.
        """
        s, _ = self.identScenario(errorAnswer)
        extra = s.logging("PID HOST EXIT USERID") + " flags = IDONLY\n" + s.banners()
        s.start(s.target.entry("ido", extra))
        received = yield s.exchange("ido")
        self.assertEqual(received, BANNER + SUCCESS)
        s.assertServiceLog(["NOID: ido 127.0.0.1 bad response"])

    @inlineCallbacks
    def test_idonlyNoServer(self) -> Any:
        s = self.scenario(identPort=self.closedPort())
        extra = s.logging("PID HOST EXIT USERID") + " flags = IDONLY\n" + s.banners()
        s.start(s.target.entry("ido", extra))
        received = yield s.exchange("ido")
        self.assertEqual(received, BANNER + SUCCESS)
        s.assertServiceLog(["NOID: ido 127.0.0.1 no server"])

    @inlineCallbacks
    def test_useridOnFailure(self) -> Any:
        """
        USERID in C{log_on_failure}: a limit refusal logs FAIL, then USERID.
        """
        s, _ = self.identScenario(useridAnswer)
        extra = s.logging("PID HOST", "HOST USERID") + " instances = 0\n" + s.banners()
        s.start(s.target.entry("uf", extra))
        denied = yield s.exchange("uf")
        self.assertEqual(denied, BANNER + FAILURE)
        yield s.waitForEntry("USERID:")
        s.assertServiceLog(["FAIL: uf service_limit from=127.0.0.1", "USERID: uf UNIX : alice"])

    @inlineCallbacks
    def test_useridNotOnAddressFailure(self) -> Any:
        """
        An address refusal never queries ident.
        """
        s, ident = self.identScenario(useridAnswer)
        extra = s.logging("PID HOST", "HOST USERID") + " only_from = 127.0.0.2\n" + s.banners()
        s.start(s.target.entry("uf", extra))
        denied = yield s.exchange("uf")
        self.assertEqual(denied, BANNER + FAILURE)
        s.assertServiceLog(["FAIL: uf address from=127.0.0.1"])
        self.assertEqual(ident.queries, [])

    @inlineCallbacks
    def test_badLineLogged(self) -> Any:
        """
        A bad ident reply is reported in the program log; without IDONLY the
        service still runs.
        """
        s, ident = self.identScenario(errorAnswer)
        s.start(s.target.entry("uid", s.logging("PID HOST EXIT USERID") + s.banners()))
        client = yield s.connect("uid", send=b"on", halfClose=True)
        received = yield client.whenEnded()
        self.assertEqual(received, BANNER + SUCCESS + b"on")
        yield waitUntil(lambda: ident.queries != [] and ident.open == 0, "ident answered")
        line = errorAnswer(client.localPort, s.port("uid")).strip().decode()
        yield waitUntil(
            lambda: f"Bad line received from identity server at 127.0.0.1: {line}" in s.messages,
            "the bad line is reported",
        )


class ExternalServerTests(AddressTests, BannerTests, LimitTests):
    """
    The address, banner and limit scenarios against an external server,
    C{/bin/cat}: it echoes until the client half-closes, START and EXIT
    show its pid, and a refused connection logs FAIL alone.  A connection
    is held once its server has started (START is logged when the pid is
    known, after the banners were sent).
    """

    target = StreamTarget(
        "cat", " type = UNLISTED\n server = /bin/cat\n user = root\n", r"[1-9]\d*"
    )
    skip = None if os.geteuid() == 0 else "the services run as user root"

    class StartedScenario(Scenario):
        @inlineCallbacks
        def hold(
            self, serviceId: str, source: str = "127.0.0.1"
        ) -> Generator[Deferred[Any], Any, Client]:
            def starts() -> int:
                return sum(entry.startswith("START:") for entry in self.serviceLog())

            before = starts()
            client: Client = yield super().hold(serviceId, source)
            yield waitUntil(lambda: starts() > before, "the server has started")
            return client

    def scenario(self, clock: Any = None, **changes: Any) -> Scenario:
        return self.StartedScenario(self, self.target, collaborators(clock, **changes))
