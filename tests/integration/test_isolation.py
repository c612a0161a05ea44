# -*- test-case-name: tests.integration.test_isolation -*-
"""
Privilege and isolation against a real C{twistd -n xinetd -f conf}.

The daemon runs as root with supplementary groups of its own (L{DAEMON_GROUPS})
and a marker variable in its environment (L{ENVIRON}).  Its servers are
C{tests/helpers/statusprobe.py}, which reports what the kernel says about
its process: every uid and gid (real, effective, saved, filesystem), its
groups, its capabilities, its descriptors and its environment.  They show
that a server started as C{nobody} has none of root's ids, groups or
capabilities, whatever C{group} and C{groups} say; that no descriptor of the
daemon reaches a server while the daemon holds many (listening sockets, log
files, connections to other services, servers' pidfds); and that a
server's environment is exactly what C{passenv} and C{env} say, plus
REMOTE_HOST and REMOTE_PORT.

Floods from 127.0.0.2 test C{per_source} (the flood's connections held open:
exactly C{per_source} are served) and C{cps} (the service closes and
reopens; what it serves stays within the rate C{cps} allows), while a
client from 127.0.0.1 goes on being served, one exchange after the other,
each answered as expected, the first ones before the flood ends.  The
introspection services (C{servers}, C{services}, C{xadmin}) refuse
addresses outside their C{only_from}.

Servers run as C{nobody} with C{/usr/bin/python3}: the tests need root and
are skipped otherwise (CI runs as root).
"""

from __future__ import annotations

import grp
import json
import math
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredSemaphore, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectError
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.trial.unittest import SkipTest, TestCase

from .support import TIMEOUT, freePorts, pollUntil, reactor, tcpExchange, withTimeout
from .test_access_limits import Client
from .test_external import NOBODY, PYTHON, readableByOthers, requireRoot
from .test_load import HELPERS, DaemonState, ServiceLog, TwistdRun

Generated = Generator[Deferred[Any], Any, None]

_log = Logger()

STATUS_PROBE = os.path.join(HELPERS, "statusprobe.py")

#: The daemon's start-up environment.
ENVIRON: Mapping[str, str] = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TXINETD_MARKER": "only-in-the-daemon",
}

#: The daemon's supplementary groups: root's, and more that no server may
#: keep.
DAEMON_GROUPS = (0, 4, 27, 4242)

#: Runs its arguments, a Python script (twistd) and its arguments, with
#: L{DAEMON_GROUPS} as supplementary groups.  The script is run by this
#: interpreter: in a deep checkout pip's scripts start with a shell
#: trampoline, and the shell would add C{PWD} to the daemon's environment.
LAUNCHER = (
    sys.executable,
    "-c",
    f"import os, sys; os.setgroups({list(DAEMON_GROUPS)}); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
)

#: Connections of a flood, and how many are under way at once.
FLOOD = 500
FLOOD_CONCURRENCY = 50

#: The banners of the flood services (of equal length).
WELCOME = b"welcome\r\n"
REFUSED = b"refused\r\n"

PAYLOAD = b"from 127.0.0.1\r\n"

#: Connections of the cps flood started at once.
BURST = 10

#: C{per_source} of the flood services.
PER_SOURCE = 3

#: C{cps} of the rate-limited service.
CPS_MAX = 5
CPS_WAIT = 2

#: The program message of a service coming back after a cps trip.
REACTIVATED = "Activating service echo"

#: Every capability set a server as nobody must have empty.
CAPABILITIES = ("CapInh", "CapPrm", "CapEff", "CapAmb")


def nobodyGroups() -> list[int]:
    """
    The groups C{initgroups} gives C{nobody}.
    """
    return sorted(set(os.getgrouplist("nobody", NOBODY)))


def daemonGid() -> int:
    try:
        return grp.getgrnam("daemon").gr_gid
    except KeyError:
        raise SkipTest("no group daemon here") from None


def readableCopy(case: TestCase, path: str) -> str:
    """
    C{path}, or a copy in a new directory of mode 755 if user C{nobody}
    cannot read it.
    """
    if readableByOthers(path):
        return path
    directory = tempfile.mkdtemp(prefix="txinetd-probe-")
    case.addCleanup(shutil.rmtree, directory)
    os.chmod(directory, 0o755)
    copy = os.path.join(directory, os.path.basename(path))
    shutil.copyfile(path, copy)
    os.chmod(copy, 0o644)
    return copy


def nobody(gid: int = NOBODY, groups: Sequence[int] = ()) -> dict[str, Any]:
    """
    The privilege fields of C{/proc/self/status} that a server started as
    C{nobody} should have: every uid nobody's, every gid C{gid}, the
    supplementary C{groups}, no capability.
    """
    return {
        "Uid": [NOBODY] * 4,
        "Gid": [gid] * 4,
        "Groups": sorted(groups),
        **dict.fromkeys(CAPABILITIES, 0),
    }


def processGroups(pid: int) -> list[int]:
    """
    The supplementary groups of a process.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Groups:"):
                return sorted(int(number) for number in line.split()[1:])
    raise AssertionError(f"no groups for {pid}")


class Configuration:
    """
    A configuration written to a temporary directory: its services on
    free ports of 127.0.0.1, each logging to a file of its own.
    """

    def __init__(self, case: TestCase, count: int) -> None:
        self.directory = os.path.abspath(case.mktemp())
        os.makedirs(self.directory)
        self.free = freePorts(count)
        self.ports: dict[str, int] = {}
        self.text = "defaults\n{\n bind = 127.0.0.1\n log_on_success = PID HOST EXIT\n}\n"

    def file(self, name: str, content: bytes) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def logPath(self, serviceId: str) -> str:
        return os.path.join(self.directory, f"{serviceId}.log")

    def add(self, name: str, serviceId: str, lines: str, socketType: str = "stream") -> None:
        """
        Add service C{name} with id C{serviceId} and the attribute C{lines}.
        """
        port = self.free.pop()
        self.ports[serviceId] = port
        wait = "yes" if socketType == "dgram" else "no"
        self.text += (
            f"service {name}\n{{\n id = {serviceId}\n socket_type = {socketType}\n"
            f" wait = {wait}\n port = {port}\n log_type = FILE {self.logPath(serviceId)}\n"
            f" log_on_failure = HOST\n{lines}}}\n"
        )

    def internal(
        self, name: str, serviceId: str, lines: str = "", socketType: str = "stream"
    ) -> None:
        self.add(name, serviceId, " type = INTERNAL UNLISTED\n" + lines, socketType)

    def external(self, serviceId: str, server: str, args: str, lines: str) -> None:
        body = f" type = UNLISTED\n server = {server}\n"
        if args:
            body += f" server_args = {args}\n"
        self.add(serviceId, serviceId, body + lines)

    def write(self) -> str:
        return self.file("xinetd.conf", self.text.encode())


@inlineCallbacks
def connect(
    port: int, source: str = "127.0.0.1", send: bytes = b"", halfClose: bool = True
) -> Generator[Deferred[Any], Any, Client]:
    """
    Connect from C{source} to a port of 127.0.0.1.
    """
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, bindAddress=(source, 0))
    client = Client(send, halfClose)
    yield withTimeout(endpoint.connect(Factory.forProtocol(lambda: client)))
    return client


@inlineCallbacks
def exchange(port: int, source: str = "127.0.0.1") -> Generator[Deferred[Any], Any, Any]:
    """
    Connect, half-close, and read until the server closes.

    @return: what was received and the client's port.
    """
    client = yield connect(port, source)
    received = yield client.whenEnded()
    return received, client.localPort


class PrivilegedTestCase(TestCase):
    """
    Tests against a daemon started as root with L{DAEMON_GROUPS} and
    L{ENVIRON}.
    """

    def startDaemon(self, config: Configuration) -> Deferred[None]:
        self.twistd = TwistdRun(self, config.write(), ENVIRON, LAUNCHER)
        return self.twistd.start()


class IsolationTests(PrivilegedTestCase):
    """
    What servers started by a busy daemon get: ids, groups, capabilities,
    descriptors, environment.
    """

    #: Services that run the probe: id -> attribute lines.
    PROBES: Mapping[str, str] = {
        "nobody": " user = nobody\n",
        "nobody-groups": " user = nobody\n groups = yes\n",
        "nobody-group": " user = nobody\n group = daemon\n",
        "nobody-group-groups": " user = nobody\n group = daemon\n groups = yes\n",
        "nobody-forked": " user = nobody\n rlimit_files = 12\n",
        "nobody-nice": " user = nobody\n nice = 3\n rlimit_cpu = 100\n",
        "root": " user = root\n",
        "passenv": " user = nobody\n passenv = PATH\n env = ONLY=this\n",
        "marker": " user = nobody\n passenv = TXINETD_MARKER\n",
    }

    #: Built-in services that keep the daemon busy: discard (stream) and
    #: echo (dgram) in turn.
    FILLERS = 40

    #: Connections held open to the stream ones.
    HELD = 20

    @inlineCallbacks
    def setUp(self) -> Generated:  # type: ignore[override]
        requireRoot()
        probe = readableCopy(self, STATUS_PROBE)
        config = Configuration(self, len(self.PROBES) + self.FILLERS)
        for serviceId, lines in self.PROBES.items():
            config.external(serviceId, PYTHON, probe, lines)
        for index in range(self.FILLERS):
            name, socketType = (("discard", "stream"), ("echo", "dgram"))[index % 2]
            config.internal(name, f"filler-{index}", socketType=socketType)
        self.config = config
        yield self.startDaemon(config)

    @inlineCallbacks
    def report(self, serviceId: str) -> Generator[Deferred[Any], Any, dict[str, Any]]:
        """
        The probe's report to one client of C{serviceId}; the probe saw
        that client on fd 0, and REMOTE_HOST and REMOTE_PORT name it.
        """
        received, clientPort = yield exchange(self.config.ports[serviceId])
        report: dict[str, Any] = json.loads(received)
        self.assertEqual(report["peer"], ["127.0.0.1", clientPort])
        env = dict(report["env"])
        self.assertEqual(
            (env.get("REMOTE_HOST"), env.get("REMOTE_PORT")), ("127.0.0.1", str(clientPort))
        )
        return report

    @inlineCallbacks
    def busy(self) -> Generator[Deferred[Any], Any, DaemonState]:
        """
        Make the daemon hold connections to L{HELD} of its fillers (the
        stream ones) and start a server of every probe service; check that it
        then holds dozens of descriptors.

        @return: the daemon's state then.
        """
        for index in range(0, 2 * self.HELD, 2):
            client = yield connect(self.config.ports[f"filler-{index}"], halfClose=False)
            self.addCleanup(client.close)
        for serviceId in self.PROBES:
            yield self.report(serviceId)
        state = DaemonState.of(self.twistd.pid)
        self.assertGreater(state.descriptors, 100, state.describe())
        return state

    @inlineCallbacks
    def test_credentials(self) -> Generated:
        """
        A server started as C{nobody} has nobody's uid as its real,
        effective, saved and filesystem uid, the gid of C{group} (or
        nobody's), nobody's groups with C{groups = yes} and none otherwise,
        and no capability; none of the daemon's groups, though the daemon
        was made busy first.
        """
        yield self.busy()
        other = daemonGid()
        expected = {
            "nobody": nobody(),
            "nobody-groups": nobody(groups=nobodyGroups()),
            "nobody-group": nobody(gid=other),
            "nobody-group-groups": nobody(gid=other, groups=nobodyGroups()),
            "nobody-forked": nobody(),
            "nobody-nice": nobody(),
        }
        actual = {}
        for serviceId in expected:
            status = (yield self.report(serviceId))["status"]
            actual[serviceId] = {name: status[name] for name in nobody()}
            actual[serviceId]["Groups"].sort()
        self.assertEqual(actual, expected)
        self.assertEqual(processGroups(self.twistd.pid), sorted(DAEMON_GROUPS))

    @inlineCallbacks
    def test_noDescriptorLeaks(self) -> Generated:
        """
        While the daemon holds dozens of descriptors (listening sockets,
        log files, connections to other services, the pidfds of running
        servers), every server has exactly fds 0, 1 and 2 open, all three
        its client's socket.
        """
        yield self.busy()
        leaks = {}
        for serviceId in self.PROBES:
            fds = (yield self.report(serviceId))["fds"]
            links = set(fds.values())
            if (
                sorted(fds) != ["0", "1", "2"]
                or len(links) != 1
                or not all(link.startswith("socket:") for link in links)
            ):
                leaks[serviceId] = fds
        self.assertEqual(leaks, {})

    @inlineCallbacks
    def test_environment(self) -> Generated:
        """
        A server's environment is the daemon's start-up environment, or
        what C{passenv} keeps of it, plus C{env}, plus REMOTE_HOST and
        REMOTE_PORT: nothing that twistd or Python have.
        """
        yield self.busy()
        names = {}
        for serviceId in ("nobody", "nobody-forked", "root", "passenv", "marker"):
            env = (yield self.report(serviceId))["env"]
            self.assertEqual(len(env), len({name for name, _ in env}), env)
            names[serviceId] = {
                name: value for name, value in env if name not in ("REMOTE_HOST", "REMOTE_PORT")
            }
        self.assertEqual(
            names,
            {
                "nobody": dict(ENVIRON),
                "nobody-forked": dict(ENVIRON),
                "root": dict(ENVIRON),
                "passenv": {"PATH": ENVIRON["PATH"], "ONLY": "this"},
                "marker": {"TXINETD_MARKER": ENVIRON["TXINETD_MARKER"]},
            },
        )


class IntrospectionTests(PrivilegedTestCase):
    """
    C{servers}, C{services} and C{xadmin} with C{only_from = 127.0.0.1}.
    """

    NAMES = ("servers", "services", "xadmin")

    @inlineCallbacks
    def test_refusedOutsideOnlyFrom(self) -> Generated:
        """
        From 127.0.0.2 each closes without a byte and logs one FAIL line;
        from 127.0.0.1 each answers: C{servers} lists its own session,
        C{services} the three services, C{xadmin} prompts.
        """
        config = Configuration(self, len(self.NAMES))
        for name in self.NAMES:
            config.internal(name, name, " only_from = 127.0.0.1\n")
        yield self.startDaemon(config)
        refused = {}
        served = {}
        for name in self.NAMES:
            refused[name], _ = yield exchange(config.ports[name], "127.0.0.2")
            served[name], _ = yield exchange(config.ports[name])
        self.assertEqual(refused, dict.fromkeys(self.NAMES, b""))
        self.assertEqual(served["xadmin"], b"> ")
        self.assertEqual(
            served["services"],
            b"".join(f"{name} tcp {config.ports[name]}\n".encode() for name in self.NAMES),
        )
        self.assertTrue(served["servers"].startswith(b"servers server\npid = 0\n"))
        self.assertIn(b"\tremote_address = 127.0.0.1\n", served["servers"])
        for name in self.NAMES:
            yield expectLog(
                config.logPath(name),
                {
                    f"FAIL: {name} address from=127.0.0.2": 1,
                    f"START: {name} pid=0 from=127.0.0.1": 1,
                    f"EXIT: {name} status=0 pid=0": 1,
                },
            )


@dataclass
class Latencies:
    """
    Exchanges made from 127.0.0.1 while a flood runs.

    @ivar seconds: how long each took (reported, not asserted: it depends
        on the machine).
    @ivar wrong: the replies that were not the expected one.
    @ivar duringFlood: how many ended before the flood did.
    """

    seconds: list[float]
    wrong: list[bytes]
    duringFlood: int = 0


class FloodTests(PrivilegedTestCase):
    """
    C{per_source} and C{cps} against 500 connections from 127.0.0.2.
    """

    @inlineCallbacks
    def setUp(self) -> Generated:  # type: ignore[override]
        requireRoot()
        config = Configuration(self, 3)
        welcome = config.file("welcome", WELCOME)
        refused = config.file("refused", REFUSED)
        banners = f" banner_success = {welcome}\n banner_fail = {refused}\n"
        limit = f" per_source = {PER_SOURCE}\n cps = 0 0\n"
        config.internal("echo", "ps-echo", limit + banners)
        config.external("ps-cat", "/bin/cat", "", " user = nobody\n" + limit + banners)
        config.internal("echo", "rate", f" cps = {CPS_MAX} {CPS_WAIT}\n" + banners)
        self.config = config
        yield self.startDaemon(config)

    @inlineCallbacks
    def meanwhile(
        self, port: int, flood: Deferred[Any]
    ) -> Generator[Deferred[Any], Any, Latencies]:
        """
        Exchange L{PAYLOAD} with C{port} from 127.0.0.1, one connection
        after the other, until C{flood} has fired.
        """
        done: list[bool] = []

        def finished(result: object) -> object:
            done.append(True)
            return result

        flood.addBoth(finished)
        latencies = Latencies([], [])
        while not done:
            started = reactor.seconds()
            received = yield tcpExchange("127.0.0.1", port, PAYLOAD)
            latencies.seconds.append(reactor.seconds() - started)
            latencies.duringFlood += not done
            if received != WELCOME + PAYLOAD:
                latencies.wrong.append(received)
        return latencies

    def assertServed(self, latencies: Latencies) -> None:
        """
        Every exchange from 127.0.0.1 was answered as expected, and some
        ended while the flood still ran: the flood did not starve it.
        """
        self.assertEqual(latencies.wrong, [])
        self.assertGreater(latencies.duringFlood, 0, latencies)

    @inlineCallbacks
    def heldFlood(
        self, port: int
    ) -> Generator[Deferred[Any], Any, tuple[list[Client], Counter[str]]]:
        """
        L{FLOOD} connections from 127.0.0.2, L{FLOOD_CONCURRENCY} at a time;
        those that are served are kept open.

        @return: the served clients, and the outcomes by kind.
        """
        semaphore = DeferredSemaphore(FLOOD_CONCURRENCY)
        served: list[Client] = []

        @inlineCallbacks
        def attempt() -> Generator[Deferred[Any], Any, str]:
            client = yield connect(port, "127.0.0.2", halfClose=False)
            greeting = yield client.receivedAtLeast(len(WELCOME))
            if greeting == WELCOME and not client.ended:
                served.append(client)
                self.addCleanup(client.close)
                return "served"
            received = yield client.whenEnded()
            return "refused" if received == REFUSED else f"unexpected {received!r}"

        outcomes = yield gatherResults([semaphore.run(attempt) for _ in range(FLOOD)])
        return served, Counter(outcomes)

    @inlineCallbacks
    def checkPerSource(self, serviceId: str, pid: str) -> Generated:
        """
        Flood C{serviceId} with connections held open from 127.0.0.2 while
        127.0.0.1 is served: exactly L{PER_SOURCE} flood connections are
        served, every other one is refused with one FAIL line.  C{pid} is
        what its START and EXIT lines show.  One exchange comes before the
        flood.
        """
        port = self.config.ports[serviceId]
        warmUp = yield tcpExchange("127.0.0.1", port, PAYLOAD)
        self.assertEqual(warmUp, WELCOME + PAYLOAD)
        flood = self.heldFlood(port)
        latencies = yield self.meanwhile(port, flood)
        served, outcomes = yield flood
        _log.info(
            "{serviceId}: flood {outcomes}; {count} exchanges from 127.0.0.1, "
            "the slowest {slowest:.3f} s",
            serviceId=serviceId,
            outcomes=dict(outcomes),
            count=len(latencies.seconds),
            slowest=max(latencies.seconds, default=0),
        )
        self.assertEqual(outcomes, Counter(served=PER_SOURCE, refused=FLOOD - PER_SOURCE))
        self.assertServed(latencies)
        for client in served:
            yield client.close()
        exchanges = len(latencies.seconds) + 1
        yield expectLog(
            self.config.logPath(serviceId),
            {
                f"START: {serviceId} pid={pid} from=127.0.0.2": PER_SOURCE,
                f"FAIL: {serviceId} per_source_limit from=127.0.0.2": FLOOD - PER_SOURCE,
                f"START: {serviceId} pid={pid} from=127.0.0.1": exchanges,
                f"EXIT: {serviceId} status=0 pid={pid}": exchanges + PER_SOURCE,
            },
        )

    def test_perSourceBuiltin(self) -> Deferred[None]:
        return self.checkPerSource("ps-echo", "0")

    def test_perSourceExternal(self) -> Deferred[None]:
        return self.checkPerSource("ps-cat", "N")

    @inlineCallbacks
    def test_cps(self) -> Generated:
        """
        A flood from 127.0.0.2 in bursts, 100 connections a second, trips
        C{cps}: the service closes for L{CPS_WAIT} seconds and reopens,
        again and again; each trip is one refusal with banner_fail, one
        FAIL line and one program message; the flood is served no faster
        than C{cps} allows.  Meanwhile another service serves 127.0.0.1,
        and once the flood ends the limited service serves it again.
        """
        port = self.config.ports["rate"]
        started = reactor.seconds()
        flood = self.pacedFlood(port)
        latencies = yield self.meanwhile(self.config.ports["ps-echo"], flood)
        outcomes = yield flood
        seconds = reactor.seconds() - started
        self.assertServed(latencies)
        afterwards = yield self.servedAgain(port)
        tripped = outcomes["refused"] + afterwards["refused"]
        _log.info(
            "cps: flood {outcomes} in {seconds:.1f} s (bound {bound}), then {afterwards}; "
            "{count} exchanges from 127.0.0.1 meanwhile, the slowest {slowest:.3f} s",
            outcomes=dict(outcomes),
            seconds=seconds,
            bound=cpsBound(CPS_MAX, seconds),
            afterwards=dict(afterwards),
            count=len(latencies.seconds),
            slowest=max(latencies.seconds, default=0),
        )
        self.assertEqual(
            set(outcomes) - {"served", "refused", "closed by the kernel"}, set(), outcomes
        )
        self.assertEqual(sum(outcomes.values()), FLOOD)
        self.assertGreaterEqual(outcomes["refused"], 2, outcomes)
        self.assertGreater(outcomes["closed by the kernel"], 0, outcomes)
        self.assertLessEqual(outcomes["served"], cpsBound(CPS_MAX, seconds), outcomes)
        deactivating = (
            "Deactivating service echo due to excessive incoming connections.  "
            f"Restarting in {CPS_WAIT} seconds."
        )
        messages = yield pollUntil(
            lambda: self.programMessages(deactivating, tripped),
            lambda: f"{tripped} trips in the program log:\n{self.twistd.output}",
        )
        self.assertEqual(messages, (tripped, tripped))
        yield expectLog(
            self.config.logPath("rate"),
            {
                "START: rate pid=0 from=127.0.0.2": outcomes["served"],
                "FAIL: rate connections per second from=127.0.0.2": outcomes["refused"],
                "FAIL: rate connections per second from=127.0.0.1": afterwards["refused"],
                "START: rate pid=0 from=127.0.0.1": 1,
                "EXIT: rate status=0 pid=0": outcomes["served"] + 1,
            },
        )

    def programMessages(self, deactivating: str, tripped: int) -> tuple[int, int] | None:
        """
        How many times the program log says C{deactivating} and that the
        service is activated again, once it says each at least C{tripped}
        times.
        """
        counts = (self.twistd.output.count(deactivating), self.twistd.output.count(REACTIVATED))
        return counts if min(counts) >= tripped else None

    @inlineCallbacks
    def pacedFlood(self, port: int) -> Generator[Deferred[Any], Any, Counter[str]]:
        """
        L{FLOOD} connections from 127.0.0.2 in bursts of L{BURST} every
        100 ms, each half-closed at once and read until it ends.

        @return: the outcomes by kind.
        """
        attempts = []
        for index in range(FLOOD):
            attempts.append(outcomeOf(port, "127.0.0.2"))
            if index % BURST == BURST - 1:
                yield deferLater(reactor, 0.1, lambda: None)
        outcomes = yield gatherResults(attempts)
        return Counter(outcomes)

    @inlineCallbacks
    def servedAgain(self, port: int) -> Generator[Deferred[Any], Any, Counter[str]]:
        """
        Connect from 127.0.0.1 every 100 ms until served, within twice
        L{CPS_WAIT} and L{TIMEOUT} (the first attempts may trip the limiter
        once more; the rest is a generous bound for a busy machine).

        @return: the outcomes until then.
        """
        outcomes: Counter[str] = Counter()
        deadline = reactor.seconds() + 2 * CPS_WAIT + TIMEOUT
        while reactor.seconds() < deadline:
            outcome = yield outcomeOf(port, "127.0.0.1")
            outcomes[outcome] += 1
            if outcome == "served":
                return outcomes
            yield deferLater(reactor, 0.1, lambda: None)
        raise AssertionError(f"not served again: {outcomes}")


def expectLog(path: str, entries: Mapping[str, int]) -> Deferred[Counter[str]]:
    """
    Wait until the service log at C{path} has exactly C{entries} (a FAIL
    line per refused connection, a START and an EXIT per served one).
    """
    log = ServiceLog(path)
    expected = Counter(entries)
    return pollUntil(
        lambda: log.entries if log.read() == expected else None,
        lambda: f"{path}: {dict(log.entries)}, expected {dict(expected)}",
    )


@inlineCallbacks
def outcomeOf(port: int, source: str) -> Generator[Deferred[Any], Any, str]:
    """
    Connect from C{source}, half-close, read until the end, and say what
    happened: C{served}, C{refused} (banner_fail), C{closed by the kernel}
    (refused or reset before a byte), or what was unexpected.
    """
    try:
        received, _ = yield exchange(port, source)
    except ConnectError:
        return "closed by the kernel"
    kinds: dict[bytes, str] = {WELCOME: "served", REFUSED: "refused", b"": "closed by the kernel"}
    return kinds.get(received, f"unexpected {received!r}")


def cpsBound(maximum: int, seconds: float) -> int:
    """
    The most connections C{cps = maximum N} admits in C{seconds}.

    In a window (which starts with a request and lasts C{maximum} whole
    seconds), the request counted K-th, E whole seconds after the window
    started, is admitted only if K // max(E, 1) <= C{maximum}: at most
    (C{maximum} + 1) * max(E, 1) per window.  Windows do not overlap, and
    the sum of their E is at most the run's whole seconds.
    """
    whole = math.ceil(seconds) + 1
    windows = whole // maximum + 1
    return (maximum + 1) * (whole + windows)
