# -*- test-case-name: tests.integration.test_spawn_safety -*-
"""
Starting servers safely, tried on a real C{twistd -n xinetd} as an attacker
would:

  - a hostile server running as C{nobody} tries, for several seconds, to
    stop and kill every process of the daemon's tree and every process of
    its own uid, while a load generator is served by a C{root} and a
    C{nobody} service: every attempt on a process of txinetd's is refused,
    no connection of the other services fails, START and EXIT match;
  - children killed in the middle of their start (before they execute
    their server) and servers killed under load, against an
    C{instances = 5} service: never more than 5 children at once (read
    from /proc, zombies included), every child has its START and EXIT, and
    none is left after the daemon's SIGTERM;
  - the daemon killed with SIGKILL while its children are stopped: once
    continued, every one of them is, or becomes at once, a server: txinetd
    has no helper process that could outlive it.

Each runs with the C extension and without it (the daemon then forks).  They
need root (to start servers as C{nobody}); CI runs them as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import Logger
from twisted.trial.unittest import SkipTest, TestCase

from .support import CollectingProcess, freePorts, pollUntil, reactor, tcpExchange, withTimeout
from .test_load import HELPERS, LOADCLIENT, ServiceLog, TwistdRun, kindPlan
from .test_spawn_real import interpreterForOthers

Generated = Generator[Deferred[Any], Any, None]

_log = Logger()

NOBODY = 65534
PAYLOAD = b"txinetd spawn safety\r\n"

#: How long the hostile server attacks (seconds).
ATTACK = 4.0

#: Connections of each load run, and how many are in flight.
CONNECTIONS = 1500
CONCURRENCY = 8

#: The limited service's instances.
INSTANCES = 5

SERVICE = """\
service {name}
{{
 type = UNLISTED
 socket_type = stream
 wait = no
 port = {port}
 server = {server}
{extra}}}
"""

DEFAULTS = """\
defaults
{{
 log_type = FILE {log}
 log_on_success = PID HOST EXIT
 log_on_failure = HOST
 cps = 0 0
 bind = 127.0.0.1
}}
"""


def parents() -> dict[int, int]:
    """
    Every process: pid -> parent pid.
    """
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            with (
                contextlib.suppress(OSError, IndexError, ValueError),
                open(f"/proc/{name}/stat", "rb") as f,
            ):
                found[int(name)] = int(f.read().rpartition(b")")[2].split()[1])
    return found


def childrenOf(pid: int) -> list[int]:
    return [child for child, parent in parents().items() if parent == pid]


def commandOf(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """
    Whether C{pid} runs (a zombie does not).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


#: Makes C{txinetd.spawn._launch} unimportable in a daemon that has the directory
#: holding it on its C{PYTHONPATH}, as if the extension had not been built.
WITHOUT_EXTENSION = "import sys\nsys.modules['txinetd.spawn._launch'] = None\n"


class SafetyTestCase(TestCase):
    """
    A daemon of the test's own: with the C extension, or (C{extension =
    False}) started as if it had not been built, so that it forks.
    """

    timeout = 180
    extension = True
    connections = CONNECTIONS

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("needs root to start servers as nobody")
        self.directory = tempfile.mkdtemp(prefix="txs", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.directory, True)
        os.chmod(self.directory, 0o755)
        self.logPath = os.path.join(self.directory, "service.log")

    def startDaemon(self, services: str) -> Deferred[None]:
        path = os.path.join(self.directory, "xinetd.conf")
        with open(path, "w") as f:
            f.write(DEFAULTS.format(log=self.logPath) + services)
        environ = dict(os.environ)
        if not self.extension:
            with open(os.path.join(self.directory, "sitecustomize.py"), "w") as f:
                f.write(WITHOUT_EXTENSION)
            environ["PYTHONPATH"] = self.directory
        self.twistd = TwistdRun(self, path, environ)
        return self.twistd.start()

    @inlineCallbacks
    def load(self, kinds: list[dict[str, Any]], connections: int) -> Generator[Any, Any, Any]:
        """
        Run the load client; its report.
        """
        plan = {
            "connections": connections,
            "concurrency": CONCURRENCY,
            "timeout": 30,
            "kinds": kinds,
        }
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(
                sys.executable, [LOADCLIENT, json.dumps(plan)], env=dict(os.environ)
            ),
            120,
        )
        self.assertEqual((code, err), (0, b""))
        return json.loads(out)

    def serverPids(self) -> tuple[Counter[int], Counter[int]]:
        """
        The pids of the START and the EXIT lines of the service log.
        """
        log = ServiceLog(self.logPath)
        log.read()
        return log.pids["START"], log.pids["EXIT"]

    def balanced(self, count: int | None = None) -> Deferred[tuple[Counter[int], Counter[int]]]:
        """
        Wait until every START line of the service log has its EXIT line
        (and, with C{count}, there are that many).

        @return: fires with the pids of the START and the EXIT lines.
        """

        def check() -> tuple[Counter[int], Counter[int]] | None:
            starts, exits = self.serverPids()
            if starts != exits or (count is not None and sum(starts.values()) != count):
                return None
            return starts, exits

        return pollUntil(check, lambda: f"START and EXIT lines: {self.serverPids()}", 60)


class HostileServerTests(SafetyTestCase):
    @inlineCallbacks
    def test_hostileNobodyServer(self) -> Generated:
        """
        A hostile C{nobody} server attacks for L{ATTACK} seconds while a
        C{root} and a C{nobody} service are loaded: SIGSTOP and SIGKILL are
        refused (EPERM) on the daemon every time and on every process of
        its tree that is not a server; no process it could stop had a uid
        of txinetd's; it did kill its decoy (a process of its user that is
        no server); every connection of the loaded services got its reply,
        but those of the children of the C{nobody} service it killed as they
        took its uid; every START has its EXIT.
        """
        python = interpreterForOthers()
        if python is None:
            raise SkipTest("no Python interpreter that other users can run")
        hostile = os.path.join(self.directory, "hostile.py")
        shutil.copy(os.path.join(HELPERS, "hostile.py"), hostile)
        os.chmod(hostile, 0o644)
        decoy = reactor.spawnProcess(
            CollectingProcess(), "/bin/sleep", ["sleep", "600"], env={}, uid=NOBODY, gid=NOBODY
        )
        self.addCleanup(lambda: decoy.pid is None or decoy.signalProcess("KILL"))
        hostilePort, rootPort, nobodyPort = freePorts(3)
        arguments = f"-I -S {hostile} {ATTACK} {os.getpid()} {decoy.pid}"
        services = (
            SERVICE.format(
                name="hostile",
                port=hostilePort,
                server=python,
                extra=f" user = nobody\n server_args = {arguments}\n",
            )
            + SERVICE.format(
                name="rootcat", port=rootPort, server="/bin/cat", extra=" user = root\n"
            )
            + SERVICE.format(
                name="nobodycat",
                port=nobodyPort,
                server="/bin/cat",
                extra=" user = nobody\n groups = yes\n rlimit_files = 256\n rlimit_cpu = 3600\n",
            )
        )
        yield self.startDaemon(services)
        attack = tcpExchange("127.0.0.1", hostilePort)
        kinds = [
            kindPlan("root", "127.0.0.1", rootPort, PAYLOAD, PAYLOAD),
            kindPlan("nobody", "127.0.0.1", nobodyPort, PAYLOAD, PAYLOAD),
        ]
        loaded, reported = yield gatherResults([self.load(kinds, self.connections), attack])
        report = json.loads(reported)
        counts = report["counts"]
        _log.info(
            "hostile server: {counts}; load: {seconds} s", counts=counts, seconds=loaded["seconds"]
        )
        self.assertEqual(report["violations"], [], counts)
        self.assertGreater(counts.get("daemon: SIGSTOP refused", 0), 0, counts)
        for what in ("daemon", "tree"):
            self.assertEqual(
                counts.get(f"{what}: SIGSTOP refused", 0),
                counts.get(f"{what}: SIGKILL refused", 0)
                + counts.get(f"{what}: ended before SIGKILL", 0)
                + counts.get(f"{what}: killed a child that had just become a server", 0)
                + counts.get(f"{what}: killed, reaped unseen", 0),
                counts,
            )
        self.assertEqual(counts.get("decoy killed"), 1, counts)
        half = self.connections // 2
        outcomes = loaded["outcomes"]
        self.assertEqual(outcomes["root"], {"ok": half}, loaded["samples"])
        # A child that takes the attacker's uid between the refused SIGSTOP
        # and the SIGKILL dies by its own user's hand, as any server of that
        # user may: its client fails, and no other.
        killed = counts.get("tree: killed a child that had just become a server", 0)
        killed += counts.get("tree: killed, reaped unseen", 0)
        failed = half - outcomes["nobody"].get("ok", 0)
        self.assertLessEqual(failed, killed, (outcomes, counts, loaded["samples"]))
        starts, exits = yield self.balanced(self.connections + 1)
        self.assertEqual(starts, exits)


class KilledMidSpawnTests(SafetyTestCase):
    @inlineCallbacks
    def test_killedWhileStarting(self) -> Generated:
        """
        Under load against an C{instances = 5} service, the test kills the
        daemon's children that are still becoming servers (every other one
        seen running the daemon's program) and every seventh server (the
        first, the eighth...): the daemon never has
        more than 5 children (zombies included, sampled every few
        milliseconds), every child it had has its START and EXIT, and
        after its SIGTERM none is left.
        """
        (port,) = freePorts(1)
        yield self.startDaemon(
            SERVICE.format(
                name="limited",
                port=port,
                server="/bin/cat",
                extra=f" user = nobody\n instances = {INSTANCES}\n",
            )
        )
        daemon = self.twistd.pid
        daemonCommand = commandOf(daemon)
        seen: set[int] = set()
        startingSeen: set[int] = set()
        serversSeen: set[int] = set()
        killed = {"starting": 0, "servers": 0}
        most = [0]

        def kill(pid: int, kind: str) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed[kind] += 1

        def sample() -> None:
            children = childrenOf(daemon)
            most[0] = max(most[0], len(children))
            for pid in children:
                seen.add(pid)
                if commandOf(pid) == daemonCommand:
                    # Spared starting children become servers to kill too.
                    if pid not in startingSeen:
                        startingSeen.add(pid)
                        if len(startingSeen) % 2:
                            kill(pid, "starting")
                elif pid not in serversSeen:
                    serversSeen.add(pid)
                    if len(serversSeen) % 7 == 1:
                        kill(pid, "servers")

        sampler = LoopingCall(sample)
        sampler.clock = reactor
        sampler.start(0.003)
        try:
            kinds = [kindPlan("limited", "127.0.0.1", port, PAYLOAD, PAYLOAD)]
            yield self.load(kinds, self.connections)
        finally:
            sampler.stop()
        _log.info("children at most {most}; killed {killed}", most=most[0], killed=killed)
        self.assertLessEqual(most[0], INSTANCES)
        self.assertGreater(killed["servers"], 0)
        starts, exits = yield self.balanced()
        self.assertEqual(set(starts) & seen, seen)
        self.assertEqual(set(exits) & seen, seen)
        yield self.twistd.stop()
        self.assertEqual([pid for pid in seen if alive(pid)], [])


class DaemonKilledTests(SafetyTestCase):
    @inlineCallbacks
    def test_nothingOutlivesTheDaemon(self) -> Generated:
        """
        With servers running and starting, the test stops every child of
        the daemon (SIGSTOP), kills the daemon (SIGKILL) and continues
        them: within a second each of them runs its server's program (or
        has ended): nothing that runs txinetd's code, no helper, outlives
        it; the servers go on serving their clients, as xinetd's do.
        """
        (port,) = freePorts(1)
        yield self.startDaemon(
            SERVICE.format(name="cat", port=port, server="/bin/cat", extra=" user = nobody\n")
        )
        daemon = self.twistd.pid
        daemonCommand = commandOf(daemon)
        held = [heldConnection(port) for _ in range(4)]
        for client in held:
            self.addCleanup(client.close)
        # Children on their way to their server when the daemon dies.
        starting = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        for client in starting:
            self.addCleanup(client.close)
        children = yield pollUntil(
            lambda: found if len(found := childrenOf(daemon)) == 8 else None,
            lambda: f"8 children: {childrenOf(daemon)}",
        )
        for pid in children:
            os.kill(pid, signal.SIGSTOP)
        self.addCleanup(killAll, children)
        self.twistd.process.signalProcess(signal.SIGKILL)
        # Its exit, not its pipes' end: a child stopped before it closed
        # the daemon's descriptors still holds them.
        yield withTimeout(self.twistd.daemon.exited)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        yield pollUntil(
            lambda: all(commandOf(pid) in (None, b"cat\0") for pid in children) or None,
            lambda: f"every child a server: {[commandOf(pid) for pid in children]}",
            1.0,
        )
        self.assertNotIn(daemonCommand, [commandOf(pid) for pid in children])
        for client in held:
            client.sendall(PAYLOAD)
            self.assertEqual(client.recv(1024), PAYLOAD)


def heldConnection(port: int) -> socket.socket:
    """
    A connection to C{port} whose server runs: it echoed a line.
    """
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"up\n")
    received = b""
    while not received.endswith(b"\n"):
        chunk = client.recv(16)
        assert chunk, "closed"
        received += chunk
    return client


def killAll(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class WithoutExtensionMixin:
    """
    The daemon forks for every server, as without the C extension (fewer
    connections: the fork path is several times slower).
    """

    extension = False
    connections = 300


class HostileServerWithoutExtensionTests(WithoutExtensionMixin, HostileServerTests):
    pass


class KilledMidSpawnWithoutExtensionTests(WithoutExtensionMixin, KilledMidSpawnTests):
    pass


class DaemonKilledWithoutExtensionTests(WithoutExtensionMixin, DaemonKilledTests):
    pass
