"""
The metrics endpoint, the status document and the JSON event log as an
administrator uses them: a real twistd with C{--metrics} and C{--json-log},
clients that are served and refused for several reasons, the real
Prometheus (Debian's C{prometheus}) scraping the endpoint every second and
answering through its HTTP API, C{promtool check metrics} on the endpoint's
output, C{curl} reading C{/status} while sessions run, and C{jq} reading
the JSON log, checked against the text lines of the same events.

Needs prometheus, promtool, curl and jq (scripts/setup-tests installs
them); skipped without them.  The endpoint's bounds, on a daemon of their
own (L{EndpointBoundsTests}), need curl only.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import LoopingCall, deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

import txinetd
from txinetd.daemon.monitor import MAX_CONNECTIONS

from .support import (
    CollectingProcess,
    freePorts,
    pollUntil,
    reactor,
    readText,
    tcpExchange,
    tcpExchangeFrom,
    withTimeout,
)

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
HOST = "127.0.0.1"

#: The daemon's environment: the txinetd under test comes first on its path.
ENVIRONMENT = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(txinetd.__file__))),
}

Generated = Generator[Deferred[Any], Any, Any]

#: Every field of a JSON event log line, in order, as docs/monitoring.md
#: documents them.
FIELDS = [
    "time",
    "event",
    "service",
    "pid",
    "address",
    "port",
    "reason",
    "status",
    "signal",
    "duration",
    "bytes_in",
    "bytes_out",
    "user",
    "level",
    "text",
    "result",
]

CONFIG = """\
defaults
{{
	log_type	= FILE {directory}/service.log
	log_on_success	= PID HOST EXIT DURATION TRAFFIC
	log_on_failure	= HOST
}}

service daytime
{{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= {daytime}
	bind		= 127.0.0.1
	only_from	= 127.0.0.1
}}

service echo
{{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= {echo}
	bind		= 127.0.0.1
}}

service daytime
{{
	id		= night
	type		= INTERNAL UNLISTED
	socket_type	= stream
	protocol	= tcp
	wait		= no
	port		= {night}
	bind		= 127.0.0.1
	access_times	= {closedHours}
}}

service cat
{{
	type		= UNLISTED
	socket_type	= stream
	wait		= no
	port		= {cat}
	bind		= 127.0.0.1
	server		= /bin/cat
	per_source	= 1
{user}}}

service relay
{{
	type		= UNLISTED
	socket_type	= stream
	wait		= no
	port		= {relay}
	bind		= 127.0.0.1
	redirect	= 127.0.0.1 {echo}
{user}}}
"""

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: txinetd
    static_configs:
      - targets: ["127.0.0.1:{metrics}"]
"""


def stopDaemon(pid: int) -> Deferred[bool]:
    """
    Stop a twistd started for a test, and fire once it is gone.
    """
    os.kill(pid, signal.SIGTERM)
    return pollUntil(
        lambda: not os.path.exists(f"/proc/{pid}") or None, lambda: f"twistd {pid} gone", 30
    )


def closedHours(now: time.struct_time) -> str:
    """
    An C{access_times} window an hour and more away from C{now}.
    """
    start = (now.tm_hour + 2) % 24
    if start > 21:
        start = 1
    return f"{start:02d}:00-{start + 1:02d}:00"


def serviceLogTime(line: str) -> float:
    """
    The POSIX time of a FILE service log line (C{26/12/7@05:22:30: ...}, in
    local time).
    """
    stamp = line.split(": ", 1)[0]
    return time.mktime(time.strptime(stamp, "%y/%m/%d@%H:%M:%S"))


class Held(Protocol):
    """
    A client connection the test keeps open: what it received, and its own
    port.
    """

    def __init__(self) -> None:
        self.received = b""
        self.port = 0
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.port = int(self.transport.getHost().port)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


class MonitoringTests(TestCase):
    """
    One daemon, several clients, Prometheus, curl and jq.
    """

    timeout = 120

    def setUp(self) -> None:
        for command in ("prometheus", "promtool", "curl", "jq"):
            if shutil.which(command) is None:
                raise SkipTest(f"{command} is not installed (see scripts/setup-tests)")
        self.directory = tempfile.mkdtemp(prefix="txinetd-mon-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.directory, True)
        names = ("daytime", "echo", "night", "cat", "relay", "metrics", "prometheus")
        self.ports = dict(zip(names, freePorts(len(names)), strict=True))

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @inlineCallbacks
    def runCommand(
        self, command: str, *arguments: str, env: dict[str, str] | None = None
    ) -> Generated:
        """
        Run a command; its output, which must come with status 0.
        """
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(shutil.which(command) or command, arguments, env or {}), 30
        )
        self.assertEqual((code, err), (0, b""), out)
        return out

    @inlineCallbacks
    def startDaemon(self) -> Generated:
        user = "\tuser\t\t= nobody\n" if os.geteuid() == 0 else ""
        with open(self.path("xinetd.conf"), "w") as f:
            f.write(
                CONFIG.format(
                    directory=self.directory,
                    closedHours=closedHours(time.localtime()),
                    user=user,
                    **self.ports,
                )
            )
        with open(self.path("deny"), "w") as f:
            f.write("echo: 127.0.0.3\n")
        open(self.path("allow"), "w").close()
        yield self.runCommand(
            TWISTD,
            f"--pidfile={self.path('twistd.pid')}",
            f"--logfile={self.path('twistd.log')}",
            "xinetd",
            "-f",
            self.path("xinetd.conf"),
            "-filelog",
            self.path("program.log"),
            "--hosts-allow",
            self.path("allow"),
            "--hosts-deny",
            self.path("deny"),
            f"--metrics=tcp:{self.ports['metrics']}:interface={HOST}",
            f"--json-log={self.path('events.json')}",
            env=ENVIRONMENT,
        )
        pid = int(readText(self.path("twistd.pid")))
        self.pid = pid
        self.addCleanup(stopDaemon, pid)
        yield pollUntil(
            lambda: "Started working" in readText(self.path("program.log")) or None,
            lambda: f"Started working in {readText(self.path('program.log'))}",
            30,
        )

    def startPrometheus(self) -> None:
        config = self.path("prometheus.yml")
        with open(config, "w") as f:
            f.write(PROMETHEUS_CONFIG.format(metrics=self.ports["metrics"]))
        process = CollectingProcess()
        self.prometheus = process
        transport = reactor.spawnProcess(
            process,
            shutil.which("prometheus"),
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={self.path('tsdb')}",
                f"--web.listen-address={HOST}:{self.ports['prometheus']}",
                "--log.level=warn",
            ],
            env={"PATH": "/usr/bin:/bin", "HOME": self.directory},
        )

        def stop() -> Deferred[None]:
            transport.signalProcess("TERM")
            return withTimeout(process.ended, 30)

        self.addCleanup(stop)

    def hold(self, port: int) -> Deferred[Held]:
        """
        Connect to a service and keep the connection.
        """
        protocol = Held()
        connecting = TCP4ClientEndpoint(reactor, HOST, port).connect(
            Factory.forProtocol(lambda: protocol)
        )
        return withTimeout(connecting)

    @inlineCallbacks
    def get(self, path: str) -> Generated:
        """
        GET a page of the endpoint with curl.
        """
        out = yield self.runCommand("curl", "-sf", f"http://{HOST}:{self.ports['metrics']}{path}")
        return out

    @inlineCallbacks
    def query(self, promql: str) -> Generated:
        """
        Ask Prometheus for an instant vector: label set to value.
        """
        quoted = urllib.parse.quote(promql)
        url = f"http://{HOST}:{self.ports['prometheus']}/api/v1/query?query={quoted}"
        out, _, code = yield getProcessOutputAndValue(shutil.which("curl"), ["-s", url])
        if code != 0:
            return {}
        answer = json.loads(out)
        return {
            tuple(
                sorted(
                    (k, v)
                    for k, v in r["metric"].items()
                    if k not in ("job", "instance", "__name__")
                )
            ): float(r["value"][1])
            for r in answer["data"]["result"]
        }

    @inlineCallbacks
    def jq(self, expression: str) -> Generated:
        """
        Each JSON value C{jq -c EXPRESSION} prints for the event log.
        """
        out = yield self.runCommand("jq", "-c", expression, self.path("events.json"))
        return [json.loads(line) for line in out.decode().splitlines()]

    def serviceLog(self, kind: str) -> list[str]:
        return [
            line
            for line in readText(self.path("service.log")).splitlines()
            if f": {kind}: " in line
        ]

    @inlineCallbacks
    def test_metricsStatusAndEventLog(self) -> Generated:
        self.startPrometheus()
        yield self.startDaemon()

        # Served: daytime, and echo through the relay (which /status shows
        # with its bytes while it runs); a cat session held open.
        answer = yield tcpExchange(HOST, self.ports["daytime"])
        self.assertTrue(answer.endswith(b"\r\n"), answer)
        relay = yield self.hold(self.ports["relay"])
        relay.transport.write(b"hello\n")
        yield pollUntil(lambda: relay.received == b"hello\n" or None, lambda: "the echo", 10)
        cat = yield self.hold(self.ports["cat"])
        cat.transport.write(b"ping\n")
        yield pollUntil(lambda: cat.received == b"ping\n" or None, lambda: "cat's echo", 10)

        # Refused: address (only_from), libwrap (hosts.deny), time
        # (access_times), per_source (a second cat from the same address).
        refusedAddress = yield tcpExchangeFrom("127.0.0.2", HOST, self.ports["daytime"])
        refusedLibwrap = yield tcpExchangeFrom("127.0.0.3", HOST, self.ports["echo"])
        refusedTime = yield tcpExchange(HOST, self.ports["night"])
        second = yield self.hold(self.ports["cat"])
        yield withTimeout(second.lost)
        self.assertEqual((refusedAddress, refusedLibwrap, refusedTime), (b"", b"", b""))

        # /status while the relay and cat sessions run.
        status = json.loads((yield self.get("/status")))
        sessions = {s["service"]: s for s in status["sessions"]}
        self.assertEqual(sorted(sessions), ["cat", "echo", "relay"])
        self.assertEqual((sessions["cat"]["address"], sessions["cat"]["port"]), (HOST, cat.port))
        self.assertGreater(sessions["cat"]["pid"], 0)
        self.assertEqual((sessions["cat"]["bytes_in"], sessions["cat"]["bytes_out"]), (None, None))
        self.assertEqual(sessions["relay"]["port"], relay.port)
        self.assertEqual((sessions["relay"]["bytes_in"], sessions["relay"]["bytes_out"]), (6, 6))
        started = datetime.datetime.fromisoformat(sessions["cat"]["started"].replace("Z", "+00:00"))
        self.assertLess(abs(started.timestamp() - time.time()), 30)
        services = {s["id"]: s for s in status["services"]}
        self.assertEqual(sorted(services), ["cat", "daytime", "echo", "night", "relay"])
        self.assertEqual(
            (services["cat"]["running"], services["cat"]["limits"]["per_source"]), (1, 1)
        )
        self.assertEqual(
            services["daytime"]["sockets"], [{"address": HOST, "port": self.ports["daytime"]}]
        )
        self.assertEqual({s["state"] for s in status["services"]}, {"active"})
        self.assertEqual(services["relay"]["kind"], "redirect")

        # promtool accepts the endpoint's text.
        metrics = yield self.get("/metrics")
        with open(self.path("metrics.txt"), "wb") as f:
            f.write(metrics)
        yield self.runCommand("sh", "-c", f"promtool check metrics < {self.path('metrics.txt')}")

        # Prometheus scraped the counts.
        expected = {
            (("reason", "address"), ("service", "daytime")): 1.0,
            (("reason", "libwrap"), ("service", "echo")): 1.0,
            (("reason", "time"), ("service", "night")): 1.0,
            (("reason", "per_source_limit"), ("service", "cat")): 1.0,
        }
        found = yield self.waitFor("txinetd_refused_total", expected)
        self.assertEqual(found, expected)
        running = yield self.waitFor(
            'txinetd_sessions{service=~"cat|relay|daytime"}',
            {
                (("service", "cat"),): 1.0,
                (("service", "relay"),): 1.0,
                (("service", "daytime"),): 0.0,
            },
        )
        self.assertEqual(len(running), 3)

        # The sessions end; a reconfiguration is counted.
        relay.transport.loseConnection()
        cat.transport.loseConnection()
        yield withTimeout(relay.lost)
        yield withTimeout(cat.lost)
        yield pollUntil(
            lambda: len(self.serviceLog("EXIT")) == 4 or None,
            lambda: f"4 EXIT lines in {self.serviceLog('EXIT')}",
            30,
        )
        os.kill(self.pid, signal.SIGHUP)
        connections = yield self.waitFor(
            "txinetd_connections_total",
            {
                (("service", name),): count
                for name, count in (
                    ("daytime", 1.0),
                    ("echo", 1.0),
                    ("night", 0.0),
                    ("cat", 1.0),
                    ("relay", 1.0),
                )
            },
        )
        self.assertEqual(len(connections), 5)
        yield self.waitFor(
            'txinetd_reloads_total{result="applied"}', {(("result", "applied"),): 1.0}
        )
        traffic = yield self.waitFor(
            'txinetd_traffic_bytes_total{service="relay"}',
            {
                (("direction", "in"), ("service", "relay")): 6.0,
                (("direction", "out"), ("service", "relay")): 6.0,
            },
        )
        self.assertEqual(len(traffic), 2)
        exits = yield self.query('txinetd_exits_total{service="cat"}')
        self.assertEqual(exits, {(("service", "cat"), ("status", "0")): 1.0})
        yield self.checkEventLog(cat.port, relay.port)

    @inlineCallbacks
    def waitFor(self, promql: str, expected: dict[Any, float]) -> Generated:
        """
        Poll Prometheus until C{promql} gives C{expected}.
        """
        seen: list[Any] = [None]

        @inlineCallbacks
        def ask() -> Generated:
            seen[0] = yield self.query(promql)
            return seen[0]

        deadline = reactor.seconds() + 40
        while reactor.seconds() < deadline:
            found = yield ask()
            if found == expected:
                return found
            yield deferLater(reactor, 0.5, lambda: None)
        self.fail(f"Prometheus gave {seen[0]} for {promql}, not {expected}")

    @inlineCallbacks
    def checkEventLog(self, catPort: int, relayPort: int) -> Generated:
        """
        Every field of the JSON event log, read with jq, against the text
        lines of the same events.
        """
        keys = yield self.jq("keys_unsorted")
        self.assertEqual({tuple(k) for k in keys}, {tuple(FIELDS)})
        times = yield self.jq(".time")
        for stamp in times:
            self.assertRegex(stamp, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        fails = yield self.jq('select(.event == "fail") | [.service, .reason, .address, .time]')
        textFails = self.serviceLog("FAIL")
        self.assertEqual(
            sorted(tuple(f[:3]) for f in fails),
            sorted(
                re.search(r"FAIL: (\S+) (\S+) from=(\S+)", line).groups()  # type: ignore[union-attr]
                for line in textFails
            ),
        )
        self.assertEqual(len(fails), 4)
        byText = sorted(textFails, key=lambda text: text.split("FAIL: ")[1])
        for fail, line in zip(sorted(fails), byText, strict=True):
            self.assertIn(" ".join(fail[:2]), line)
            self.assertTimeNear(fail[3], serviceLogTime(line))

        starts = yield self.jq(
            'select(.event == "start") | [.service, .pid, .address, .port, .time]'
        )
        textStarts = [
            re.search(r"START: (\S+) pid=(\d+) from=(\S+)", line).groups()  # type: ignore[union-attr]
            for line in self.serviceLog("START")
        ]
        self.assertEqual(
            sorted([s, str(p), a] for s, p, a, _, _ in starts),
            sorted([s, p, a] for s, p, a in textStarts),
        )
        ports = {s: port for s, _, _, port, _ in starts}
        self.assertEqual((ports["cat"], ports["relay"]), (catPort, relayPort))

        exits = yield self.jq(
            'select(.event == "exit") | [.service, .pid, .status, .signal, .duration, .port]'
        )
        textExits = [
            re.search(r"EXIT: (\S+) status=(\d+) pid=(\d+) duration=(\d+)\(sec\)", line).groups()  # type: ignore[union-attr]
            for line in self.serviceLog("EXIT")
        ]
        self.assertEqual(
            sorted([s, str(p), str(st), str(int(d))] for s, p, st, _, d, _ in exits),
            sorted([s, p, st, d] for s, st, p, d in textExits),
        )
        self.assertEqual({e[3] for e in exits}, {None})

        traffic = yield self.jq(
            'select(.event == "traffic") | [.service, .bytes_in, .bytes_out, .port]'
        )
        textTraffic = [
            re.search(r"TRAFFIC: (\S+) in=(\d+)\(bytes\) out=(\d+)\(bytes\)", line).groups()  # type: ignore[union-attr]
            for line in self.serviceLog("TRAFFIC")
        ]
        self.assertEqual(
            [[s, str(i), str(o)] for s, i, o, _ in traffic], [list(t) for t in textTraffic]
        )
        self.assertEqual([t[3] for t in traffic], [relayPort])

        messages = yield self.jq('select(.event == "message") | [.level, .text]')
        self.assertIn(["NOTICE", "Started working: 5 available services"], messages)
        reloads = yield self.jq('select(.event == "reload") | .result')
        self.assertEqual(reloads, ["applied"])

    def assertTimeNear(self, stamp: str, when: float) -> None:
        parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        self.assertLess(abs(parsed - when), 2.0, (stamp, when))


#: Runs twistd with the endpoint's request timeout set to its first argument.
LAUNCH = """\
import sys
from twisted.scripts.twistd import run
from txinetd.daemon import monitor
monitor.REQUEST_TIMEOUT = float(sys.argv.pop(1))
sys.argv[0] = "twistd"
run()
"""

BOUNDS_CONFIG = """\
service daytime
{{
	type		= INTERNAL UNLISTED
	socket_type	= stream
	wait		= no
	port		= {daytime}
	bind		= 127.0.0.1
}}
"""

#: A pipelined request for /status.
STATUS = b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n"


def tcpQueues(local: int, remote: int | None = None) -> tuple[int, int] | None:
    """
    The send and receive queues of the IPv4 TCP socket on 127.0.0.1 port
    C{local} connected to 127.0.0.1 port C{remote} (with no C{remote}: the
    listening socket, whose receive queue is the connections not yet
    accepted), from /proc/net/tcp; L{None} if there is none.
    """
    address = f"0100007F:{local:04X}"
    peer = "00000000:0000" if remote is None else f"0100007F:{remote:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == address and fields[2] == peer:
                sent, received = fields[4].split(":")
                return int(sent, 16), int(received, 16)
    return None


def residentMiB(pid: int) -> float:
    """
    The resident memory of a process, in MiB.
    """
    status = readText(f"/proc/{pid}/status")
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert found is not None, status
    return int(found.group(1)) / 1024


class Trickler(Protocol):
    """
    A client that sends a request line, then a header line every half
    second, never the end of its headers.
    """

    def __init__(self) -> None:
        self.received = b""
        self.lost: Deferred[None] = Deferred()
        self.sending = LoopingCall(self.header)

    def connectionMade(self) -> None:
        self.transport.write(b"GET /metrics HTTP/1.1\r\n")  # type: ignore[union-attr]
        self.sending.start(0.5, now=False)

    def header(self) -> None:
        self.transport.write(b"X: y\r\n")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self.sending.running:
            self.sending.stop()
        self.lost.callback(None)


class EndpointBoundsTests(TestCase):
    """
    The endpoint's bounds on a real twistd with C{--metrics} (its request
    timeout shortened): a client that pipelines requests and reads no
    answer is not read from, and the daemon's memory does not grow; clients
    that trickle their headers are closed after the request timeout and do
    not shut a scraper out meanwhile.

    Needs curl; skipped without it.
    """

    timeout = 60
    requestTimeout = 5.0

    def setUp(self) -> None:
        if shutil.which("curl") is None:
            raise SkipTest("curl is not installed (see scripts/setup-tests)")
        self.directory = tempfile.mkdtemp(prefix="txinetd-bounds-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.metrics, self.daytime = freePorts(2, low=49500, high=50000)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @inlineCallbacks
    def startDaemon(self) -> Generated:
        with open(self.path("xinetd.conf"), "w") as f:
            f.write(BOUNDS_CONFIG.format(daytime=self.daytime))
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(
                sys.executable,
                [
                    "-c",
                    LAUNCH,
                    str(self.requestTimeout),
                    f"--pidfile={self.path('twistd.pid')}",
                    f"--logfile={self.path('twistd.log')}",
                    "xinetd",
                    "-f",
                    self.path("xinetd.conf"),
                    "-filelog",
                    self.path("program.log"),
                    f"--metrics=tcp:{self.metrics}:interface={HOST}",
                ],
                ENVIRONMENT,
            ),
            30,
        )
        self.assertEqual((code, err), (0, b""), out)
        pid = int(readText(self.path("twistd.pid")))
        self.pid = pid
        self.addCleanup(stopDaemon, pid)
        yield pollUntil(
            lambda: "Serving /metrics" in readText(self.path("program.log")) or None,
            lambda: f"the endpoint in {readText(self.path('program.log'))}",
            30,
        )

    @inlineCallbacks
    def get(self, path: str) -> Generated:
        """
        GET a page of the endpoint with curl (in 5 s at most).
        """
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(
                shutil.which("curl") or "curl",
                ["-sS", "--max-time", "5", f"http://{HOST}:{self.metrics}{path}"],
            ),
            30,
        )
        self.assertEqual((code, err), (0, b""), out)
        return out

    def connect(self, client: Protocol) -> Deferred[Protocol]:
        """
        Connect C{client} to the endpoint.
        """
        connecting = TCP4ClientEndpoint(reactor, HOST, self.metrics).connect(
            Factory.forProtocol(lambda: client)
        )
        return withTimeout(connecting)

    def pipeliner(self) -> socket.socket:
        """
        A client connection with small buffers, that never reads.
        """
        client = socket.socket()
        self.addCleanup(client.close)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        client.connect((HOST, self.metrics))
        client.setblocking(False)
        return client

    @inlineCallbacks
    def test_pipelinedNotRead(self) -> Generated:
        """
        Two clients that send 40000 requests each and read none of the
        answers: the daemon stops reading them (their sends block while its
        receive queues hold requests, which it does not take while it
        answers another client), and its memory grows by less than 8 MiB
        (it grew by more than 40 MiB with no bound).
        """
        yield self.startDaemon()
        yield self.get("/status")
        before = residentMiB(self.pid)
        clients = [self.pipeliner() for _ in range(2)]
        payload = STATUS * 40000
        sent = [0, 0]

        def queued(client: socket.socket) -> int:
            queues = tcpQueues(self.metrics, client.getsockname()[1])
            assert queues is not None
            return queues[1]

        def push() -> list[int] | None:
            blocked = 0
            for i, client in enumerate(clients):
                try:
                    sent[i] += client.send(payload[sent[i] : sent[i] + 65536])
                except BlockingIOError:
                    blocked += 1
            if len(payload) in sent:
                self.fail(f"the daemon read every request of a client: {sent}")
            if blocked < len(clients):
                return None
            waiting = [queued(client) for client in clients]
            return waiting if all(waiting) else None

        waiting = yield pollUntil(push, lambda: f"blocked clients, having sent {sent}", 30)
        self.assertLess(max(sent), len(payload) // 2)
        # The daemon answers another client meanwhile, and has taken none
        # of the requests waiting for it.
        status = json.loads((yield self.get("/status")))
        self.assertEqual(status["pid"], self.pid)
        again = [queued(client) for client in clients]
        self.assertGreaterEqual(again, waiting)
        self.assertLess(residentMiB(self.pid) - before, 8)

    @inlineCallbacks
    def test_trickling(self) -> Generated:
        """
        L{MAX_CONNECTIONS} clients trickle header lines: a scrape is
        answered at once all the same (its connection closes the one that
        has waited longest), and the daemon closes the others the request
        timeout after their first bytes.
        """
        yield self.startDaemon()
        tricklers = [Trickler() for _ in range(MAX_CONNECTIONS)]
        started = reactor.seconds()
        for trickler in tricklers:
            yield self.connect(trickler)
        yield pollUntil(
            lambda: tcpQueues(self.metrics) == (0, 0) or None,
            lambda: f"the daemon to accept every client: {tcpQueues(self.metrics)}",
        )
        metrics = yield self.get("/metrics")
        self.assertIn(b"txinetd_build_info", metrics)
        yield pollUntil(
            lambda: any(t.lost.called for t in tricklers) or None,
            lambda: "the client the scrape's connection closed",
        )
        self.assertEqual(sum(t.lost.called for t in tricklers), 1)
        self.assertLess(reactor.seconds() - started, self.requestTimeout)
        yield pollUntil(
            lambda: all(t.lost.called for t in tricklers) or None,
            lambda: f"{sum(not t.lost.called for t in tricklers)} clients still open",
            self.requestTimeout + 5,
        )
        self.assertEqual({t.received for t in tricklers}, {b""})
