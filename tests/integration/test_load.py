# -*- test-case-name: tests.integration.test_load -*-
"""
Load: a real C{twistd -n xinetd -f conf} serves many mixed connections -- a
built-in service, an external server run as C{nobody}, a service whose
C{only_from} refuses the client, and one whose C{instances} are all held --
and ends as it started: the same descriptors, no zombie, no server left
running, its memory grown by less than L{RSS_BOUND} KiB, every connection
answered as it should be, and the service log has exactly one FAIL line per
refused connection and one START and one EXIT line per served one.

The connections come from C{tests/helpers/loadclient.py}: L{CONCURRENCY}
threads in a process of their own.  After a warm-up of L{WARMUP}
connections the test measures the daemon, makes L{NORMAL} connections
(L{SOAK} with C{TXINETD_SOAK=1} in the environment), and measures it again;
the figures are logged (C{_trial_temp/test.log} when run by trial).

The external server runs as C{nobody}: the test needs root (CI runs as
root) and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ProcessTerminated
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import Logger
from twisted.trial.unittest import SkipTest, TestCase

from .support import freePorts, hostsOptions, pollUntil, reactor, withTimeout
from .test_twistd import ROOT, TWISTD, Daemon

Generated = Generator[Deferred[Any], Any, None]

HELPERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers")
LOADCLIENT = os.path.join(HELPERS, "loadclient.py")

#: Whether the long mode was asked for.
SOAK_MODE = os.environ.get("TXINETD_SOAK") == "1"

#: Connections of the normal run, of the soak run, and of the warm-up.
NORMAL = 5_000
SOAK = 100_000
WARMUP = 2_000

#: Clients connected at once.
CONCURRENCY = 16

#: How much the daemon's resident set may grow over the run, in KiB.
RSS_BOUND = 8 * 1024

#: Connections held open to the limited service: its C{instances}.
HELD = 2

#: What the external and the built-in service echo, and what a refused
#: client receives.
PAYLOAD = b"txinetd load test\r\n"
FAILURE_BANNER = b"refused\r\n"

#: A line of a FILE service log.
LOG_LINE = re.compile(r"\d\d/\d{1,2}/\d{1,2}@\d\d:\d\d:\d\d: (.*)")

#: The pid of a START or EXIT entry of an external server.
SERVER_PID = re.compile(r"pid=([1-9]\d*)")

CONFIG = """\
defaults
{{
 log_type = FILE {log}
 log_on_success = PID HOST EXIT
 log_on_failure = HOST
 cps = 0 0
 bind = 127.0.0.1
}}

service echo
{{
 type = INTERNAL UNLISTED
 id = echo
 socket_type = stream
 wait = no
 port = {echo}
}}

service cat
{{
 type = UNLISTED
 socket_type = stream
 wait = no
 port = {cat}
 user = nobody
 server = /bin/cat
}}

service echo
{{
 type = INTERNAL UNLISTED
 id = guarded
 socket_type = stream
 wait = no
 port = {guarded}
 only_from = 127.0.0.1
 banner_fail = {banner}
}}

service discard
{{
 type = INTERNAL UNLISTED
 id = limited
 socket_type = stream
 wait = no
 port = {limited}
 instances = {held}
 banner_fail = {banner}
}}
"""

_log = Logger()


class TwistdRun:
    """
    A real C{twistd -n xinetd -f CONFIG} for the length of one test.

    @ivar daemon: its output, its readiness and its end.
    """

    def __init__(
        self,
        case: TestCase,
        config: str,
        environ: Mapping[str, str] | None = None,
        launcher: Sequence[str] = (),
    ) -> None:
        """
        @param config: the configuration file's path.
        @param environ: the daemon's environment (default: the tests').
        @param launcher: a command line that runs the rest of its
            arguments, put in front of twistd's.
        """
        self.case = case
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.launcher = list(launcher)
        self.daemon = Daemon()
        self.process: Any = None

    def start(self) -> Deferred[None]:
        """
        Start the daemon (and stop it when the test ends).

        @return: fires once it works.
        """
        argv = [*self.launcher, TWISTD, "-n", "--pidfile=", "xinetd", "-f", self.config]
        argv += hostsOptions(os.path.dirname(self.config))
        self.process = reactor.spawnProcess(self.daemon, argv[0], argv, env=self.environ, path=ROOT)
        self.case.addCleanup(self.stop)
        return withTimeout(self.daemon.ready, 30)

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert isinstance(pid, int), "the daemon is not running"
        return pid

    @property
    def output(self) -> str:
        return self.daemon.output.decode(errors="replace")

    @inlineCallbacks
    def stop(self) -> Generated:
        """
        Stop the daemon with SIGTERM: it shuts down cleanly, and never wrote
        a traceback.
        """
        running = self.process.pid is not None
        if running:
            self.process.signalProcess(signal.SIGTERM)
        ended = yield withTimeout(self.daemon.ended, 30)
        self.case.assertNotIn("Traceback", self.output)
        if running:
            self.case.assertIsInstance(ended, ProcessTerminated)
            self.case.assertEqual(ended.signal, signal.SIGTERM)


@dataclass(frozen=True)
class Process:
    """
    One process, as C{/proc} shows it.
    """

    pid: int
    parent: int
    state: str
    command: tuple[str, ...]


def processes() -> list[Process]:
    """
    Every process now.
    """
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                command = tuple(os.fsdecode(arg) for arg in f.read().split(b"\0")[:-1])
        except OSError:
            continue
        found.append(Process(int(name), int(fields[1]), fields[0], command))
    return found


def descriptorLinks(pid: int) -> dict[int, str]:
    """
    A process's open descriptors and what they refer to.
    """
    links: dict[int, str] = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return links
    for name in names:
        try:
            links[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
    return links


def descriptorKind(link: str) -> str:
    """
    What kind of descriptor a C{/proc/PID/fd} link is: C{socket}, C{pipe},
    or the link itself (files, event polls).
    """
    for kind in ("socket", "pipe"):
        if link.startswith(kind + ":"):
            return kind
    return link


def descriptorKinds(links: Mapping[int, str]) -> dict[str, int]:
    """
    How many descriptors of each kind the daemon has open.

    @param links: the daemon's descriptors.
    """
    return dict(Counter(descriptorKind(link) for link in links.values()))


def residentKiB(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass(frozen=True)
class DaemonState:
    """
    What the daemon holds at one moment.

    @ivar descriptors: how many descriptors it has open.
    @ivar kinds: its descriptors by kind (L{descriptorKinds}).
    @ivar servers: the pids of the servers running: its children (every
        server is one, and it has no other).
    @ivar zombies: the pids of the processes among those that have exited
        and have not been reaped.
    @ivar rss: its resident set, in KiB.
    """

    descriptors: int
    kinds: Mapping[str, int]
    servers: frozenset[int]
    zombies: frozenset[int]
    rss: int

    @classmethod
    def of(cls, pid: int) -> DaemonState:
        table = processes()
        children = [each for each in table if each.parent == pid]
        links = descriptorLinks(pid)
        return cls(
            descriptors=len(links),
            kinds=descriptorKinds(links),
            servers=frozenset(each.pid for each in children),
            zombies=frozenset(each.pid for each in children if each.state == "Z"),
            rss=residentKiB(pid),
        )

    def describe(self) -> str:
        return (
            f"{self.descriptors} descriptors ({dict(sorted(self.kinds.items()))}), "
            f"{len(self.servers)} servers, "
            f"{len(self.zombies)} zombies, VmRSS {self.rss} KiB"
        )


class ServiceLog:
    """
    A FILE service log, read as it grows.

    @ivar entries: every entry read so far, with the pids of external
        servers written C{pid=N}, and their counts.
    @ivar pids: for C{START} and C{EXIT}, the external servers' pids and
        how often each was seen.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.entries: Counter[str] = Counter()
        self.pids: dict[str, Counter[int]] = {"START": Counter(), "EXIT": Counter()}

    def read(self) -> Counter[str]:
        """
        Read the lines written since the last call.

        @return: L{entries}.
        """
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.entries
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            self.add(line)
        return self.entries

    def add(self, line: str) -> None:
        match = LOG_LINE.fullmatch(line)
        if match is None:
            self.entries[f"not a service-log line: {line!r}"] += 1
            return
        entry = match[1]
        found = SERVER_PID.search(entry)
        if found is not None:
            self.pids[entry.split(":", 1)[0]][int(found[1])] += 1
        self.entries[SERVER_PID.sub("pid=N", entry)] += 1


def kindPlan(name: str, source: str, port: int, send: bytes, expect: bytes) -> dict[str, Any]:
    """
    One kind of connection in a L{tests.helpers.loadclient} plan.
    """
    return {
        "name": name,
        "source": source,
        "host": "127.0.0.1",
        "port": port,
        "send": send.hex(),
        "expect": expect.hex(),
    }


def shares(total: int, kinds: Sequence[str]) -> dict[str, int]:
    """
    How many of C{total} connections, dealt out in turn, each kind gets.
    """
    count = len(kinds)
    return {kind: total // count + (index < total % count) for index, kind in enumerate(kinds)}


class MixedLoad:
    """
    The daemon of the load test, its four services, and the clients that
    load it.
    """

    def __init__(self, case: TestCase) -> None:
        self.case = case
        directory = os.path.abspath(case.mktemp())
        os.makedirs(directory)
        banner = os.path.join(directory, "banner_fail")
        with open(banner, "wb") as f:
            f.write(FAILURE_BANNER)
        ports = dict(zip(("echo", "cat", "guarded", "limited"), freePorts(4), strict=True))
        self.ports = ports
        path = os.path.join(directory, "xinetd.conf")
        logPath = os.path.join(directory, "service.log")
        with open(path, "w") as f:
            f.write(CONFIG.format(log=logPath, banner=banner, held=HELD, **ports))
        self.twistd = TwistdRun(case, path)
        self.log = ServiceLog(logPath)
        self.expected: Counter[str] = Counter()
        self.kinds = [
            kindPlan("echo", "127.0.0.1", ports["echo"], PAYLOAD, PAYLOAD),
            kindPlan("cat", "127.0.0.1", ports["cat"], PAYLOAD, PAYLOAD),
            kindPlan("guarded", "127.0.0.2", ports["guarded"], b"", FAILURE_BANNER),
            kindPlan("limited", "127.0.0.1", ports["limited"], b"", FAILURE_BANNER),
        ]

    @inlineCallbacks
    def start(self) -> Generated:
        """
        Start the daemon and take every instance of the limited service
        with connections held until the test ends.
        """
        yield self.twistd.start()
        for _ in range(HELD):
            held = socketTo(self.ports["limited"])
            self.case.addCleanup(held.close)
        self.expected["START: limited pid=0 from=127.0.0.1"] += HELD
        yield self.settled()

    @inlineCallbacks
    def load(self, connections: int) -> Generator[Deferred[Any], Any, float]:
        """
        Make C{connections} connections, dealt out in turn to the four
        kinds: every one must get what it expects.

        @return: how long they took, in seconds.
        """
        plan = {
            "connections": connections,
            "concurrency": CONCURRENCY,
            "timeout": 30,
            "kinds": self.kinds,
        }
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(
                sys.executable, [LOADCLIENT, json.dumps(plan)], env=dict(os.environ)
            ),
            3600,
        )
        self.case.assertEqual((code, err), (0, b""))
        report = json.loads(out)
        counts = shares(connections, [kind["name"] for kind in self.kinds])
        self.case.assertEqual(
            report["outcomes"],
            {name: {"ok": count} for name, count in counts.items()},
            report["samples"],
        )
        self.expect(counts)
        return float(report["seconds"])

    def expect(self, counts: Mapping[str, int]) -> None:
        """
        Add the service-log entries that connections of each kind leave.
        """
        self.expected.update(
            {
                "START: echo pid=0 from=127.0.0.1": counts["echo"],
                "EXIT: echo status=0 pid=0": counts["echo"],
                "START: cat pid=N from=127.0.0.1": counts["cat"],
                "EXIT: cat status=0 pid=N": counts["cat"],
                "FAIL: guarded address from=127.0.0.2": counts["guarded"],
                "FAIL: limited service_limit from=127.0.0.1": counts["limited"],
            }
        )

    def settled(self) -> Deferred[DaemonState]:
        """
        Wait until the service log has every entry expected so far (so
        every server has been reaped), then measure the daemon.
        """
        return pollUntil(
            lambda: DaemonState.of(self.twistd.pid) if self.log.read() == self.expected else None,
            lambda: (
                f"the service log: {self.expected - self.log.entries} missing, "
                f"{self.log.entries - self.expected} unexpected"
            ),
            60,
        )


def socketTo(port: int) -> socket.socket:
    """
    A connection from 127.0.0.1 to a port of 127.0.0.1, left open.
    """
    return socket.create_connection(("127.0.0.1", port), timeout=10)


class LoadTests(TestCase):
    """
    Many mixed connections leave the daemon as they found it.
    """

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("needs root to start servers as nobody")

    @inlineCallbacks
    def test_mixedConnections(self) -> Generated:
        """
        After the run the daemon has as many descriptors of each kind and
        in all as before, no child (no server, no zombie) and less than
        L{RSS_BOUND} KiB more memory; every external server's START has its
        EXIT.
        """
        connections = SOAK if SOAK_MODE else NORMAL
        world = MixedLoad(self)
        yield world.start()
        yield world.load(WARMUP)
        before = yield world.settled()
        seconds = yield world.load(connections)
        after = yield world.settled()
        _log.info(
            "{connections} connections in {seconds:.1f} s; before: {before}; after: {after}",
            connections=connections,
            seconds=seconds,
            before=before.describe(),
            after=after.describe(),
        )
        self.assertEqual(after.kinds, before.kinds)
        self.assertEqual(after.descriptors, before.descriptors)
        self.assertEqual((before.servers, after.servers), (frozenset(), frozenset()))
        self.assertEqual(after.zombies, frozenset())
        self.assertLess(after.rss - before.rss, RSS_BOUND)
        self.assertEqual(world.log.pids["START"], world.log.pids["EXIT"])

    test_mixedConnections.timeout = 3600 if SOAK_MODE else 120  # type: ignore[attr-defined]
