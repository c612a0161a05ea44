# -*- test-case-name: tests.integration.test_spawn_real -*-
"""
L{txinetd.spawn.spawner} with real processes: servers started as children of this
process report, through C{tests/helpers/probe.py}, the process state they
were given.  Every test runs with each launcher (the C extension's
C{clone}, and the fork path used without it) and with each way of
watching an exit (pidfds, and C{SIGCHLD} where the kernel has no pidfd).

The tests that switch users need root (CI runs them as root); they are
skipped otherwise.  They run the probe with an interpreter that user
C{nobody} can execute (this one, or C{/usr/bin/python3}).
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import socket
import stat
import sys
import tempfile
from collections.abc import Generator
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from txinetd.spawn import launch
from txinetd.spawn.childsignal import ChildSignal
from txinetd.spawn.forklaunch import ForkLauncher
from txinetd.spawn.launch import chooseLauncher
from txinetd.spawn.launcher import Launcher
from txinetd.spawn.spawner import (
    ProcessExit,
    RunningProcess,
    Spawner,
    SpawnError,
    SpawnSpec,
    pidfdsAvailable,
)

reactor: Any = _reactor
PROBE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "helpers", "probe.py")
NOBODY = 65534
NO_CLONE = None if launch._launch is not None else "txinetd.spawn._launch is not built"
NO_PIDFD = None if pidfdsAvailable() else "this kernel has no pidfds"
AS = resource.RLIMIT_AS
NOFILE = resource.RLIMIT_NOFILE
CPU = resource.RLIMIT_CPU
DATA = resource.RLIMIT_DATA
STACK = resource.RLIMIT_STACK
RSS = resource.RLIMIT_RSS
LIMITS = (
    (NOFILE, 77),
    (AS, 1 << 30),
    (CPU, 100),
    (DATA, 768 << 20),
    (STACK, 4 << 20),
    (RSS, 64 << 20),
)
ENV = (("A", "1"), ("EMPTY", ""), ("PATH", "/usr/bin:/bin"), ("REMOTE_HOST", "127.0.0.1"))
IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = None if IS_ROOT else "needs root to switch users"

Generated = Generator[Deferred[Any], Any, None]


def executableByOthers(path: str) -> bool:
    """
    Whether a user other than the owner can execute C{path} (every
    directory on the way searchable by others).
    """
    real = os.path.realpath(path)
    parts = real.split("/")
    for end in range(2, len(parts)):
        if not os.stat("/".join(parts[:end]) or "/").st_mode & stat.S_IXOTH:
            return False
    return bool(os.path.exists(real) and os.stat(real).st_mode & stat.S_IXOTH)


def interpreterForOthers() -> str | None:
    """
    A Python interpreter that an unprivileged user can run.
    """
    for candidate in (sys.executable, "/usr/bin/python3"):
        if executableByOthers(candidate):
            return candidate
    return None


def tcpConnection() -> tuple[socket.socket, socket.socket]:
    """
    A loopback TCP connection: (the server's end, the client's end).
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return server, client


def readAll(sock: socket.socket) -> bytes:
    sock.settimeout(20)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def readLine(sock: socket.socket) -> bytes:
    sock.settimeout(20)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def openDescriptors() -> dict[int, str]:
    """
    This process's open descriptors and what they refer to.
    """
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue
    return found


def newDescriptors(before: dict[int, str]) -> dict[int, str]:
    """
    The descriptors open now that were not open, to the same file, in
    C{before}: a leak shows here even when it took the number of a
    descriptor that was closed meanwhile (say, one of an earlier test's
    connections that the reactor or the collector closed late).
    """
    return {fd: what for fd, what in openDescriptors().items() if before.get(fd) != what}


def descendantZombies() -> list[int]:
    """
    Zombie children and grandchildren of this process.
    """
    parents = {}
    states = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        states[int(entry)] = fields[0]
        parents[int(entry)] = int(fields[1])
    me = os.getpid()
    children = {pid for pid, parent in parents.items() if parent == me}
    family = children | {pid for pid, parent in parents.items() if parent in children}
    return sorted(pid for pid in family if states[pid] == "Z")


def signalMasks(pid: int) -> tuple[int, int]:
    """
    The blocked and the ignored signals of C{pid}.
    """
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["SigBlk"], 16), int(fields["SigIgn"], 16)


def ignoreSpawnError(failure: Failure) -> None:
    failure.trap(SpawnError)


def parentOf(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


class SpawnTestCase(TestCase):
    """
    A real L{Spawner} for each test, stopped after it: with the C
    extension's launcher and pidfds unless a subclass says otherwise.
    """

    timeout = 60
    skip = NO_CLONE or NO_PIDFD
    pidfds = True
    #: Whether C{SIGCHLD} is off while pidfds watch every child, as in the
    #: daemon.
    quietChildSignal = False

    def launcher(self) -> Launcher:
        return chooseLauncher()

    def setUp(self) -> None:
        self.spawner = Spawner(
            reactor,
            launcher=self.launcher(),
            pidfds=self.pidfds,
            childSignal=ChildSignal() if self.quietChildSignal else None,
        )
        self.addCleanup(self.spawner.stopService)

    def probeFor(self, others: bool) -> tuple[str, str]:
        """
        The interpreter and the probe's path, for this user or for others.
        """
        if not others:
            return sys.executable, PROBE
        python = interpreterForOthers()
        if python is None:
            self.skipTest("no Python interpreter that other users can run")
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        os.chmod(directory, 0o755)
        probe = os.path.join(directory, "probe.py")
        shutil.copy(PROBE, probe)
        os.chmod(probe, 0o644)
        return python, probe

    def probeSpec(self, *args: str, others: bool = False, **fields: Any) -> SpawnSpec:
        python, probe = self.probeFor(others)
        fields.setdefault("env", ENV)
        fields.setdefault("rlimits", LIMITS)
        return SpawnSpec(python, (python, "-I", "-S", probe, *args), **fields)

    @inlineCallbacks
    def runProbe(
        self, spec: SpawnSpec, *args: str
    ) -> Generator[Deferred[Any], Any, tuple[Any, ProcessExit, RunningProcess, socket.socket]]:
        """
        Start C{spec} on a TCP connection, collect its report and its exit.
        """
        server, client = tcpConnection()
        self.addCleanup(client.close)
        try:
            running = yield self.spawner.spawn(spec, server.fileno())
        finally:
            server.close()
        report = json.loads(readAll(client))
        ended = yield running.whenExited()
        return report, ended, running, client

    def assertProcessState(self, report: Any, spec: SpawnSpec, client: socket.socket) -> None:
        """
        The probe had the connection on fds 0-2 and nothing else, C{/}, its
        own session, exactly C{spec}'s environment, limits and umask.
        """
        fds = report["fds"]
        self.assertEqual(sorted(fds), ["0", "1", "2"])
        self.assertEqual(len(set(fds.values())), 1)
        self.assertTrue(fds["0"].startswith("socket:"))
        stdio = report["stdio"]["0"]
        self.assertEqual(stdio["peer"], list(client.getsockname()))
        self.assertEqual(stdio["local"], list(client.getpeername()))
        self.assertEqual(stdio["type"], socket.SOCK_STREAM)
        self.assertEqual(report["cwd"], "/")
        self.assertEqual(report["sid"], report["pid"])
        self.assertEqual(report["pgid"], report["pid"])
        self.assertEqual(report["env"], [list(pair) for pair in spec.env])
        self.assertEqual(report["argv"], list(spec.argv[3:]))
        names = {getattr(resource, name): name for name in report["rlimits"]}
        for res, value in spec.rlimits:
            self.assertEqual(report["rlimits"][names[res]], [value, value], names[res])
        if spec.umask is not None:
            self.assertEqual(report["umask"], spec.umask)


class ProcessStateTests(SpawnTestCase):
    """
    What a server starts with.
    """

    @inlineCallbacks
    def test_processState(self) -> Generated:
        """
        The connection on fds 0-2 only, C{/}, a new session, the exact
        environment, every limit, the umask and the niceness; the server is
        this process's own child; this process's limits are untouched.
        """
        before = {res: resource.getrlimit(res) for res, _ in LIMITS}
        spec = self.probeSpec("exit=0", umask=0o27, nice=3)
        report, ended, running, client = yield self.runProbe(spec)
        self.assertProcessState(report, spec, client)
        self.assertEqual(report["pid"], running.pid)
        self.assertEqual(report["ppid"], os.getpid())
        self.assertEqual(report["nice"], min(os.getpriority(os.PRIO_PROCESS, 0) + 3, 19))
        self.assertEqual(report["uid"], list(os.getresuid()))
        self.assertEqual(ended.status, 0)
        self.assertEqual({res: resource.getrlimit(res) for res, _ in LIMITS}, before)

    @inlineCallbacks
    def test_clientEnvironment(self) -> Generated:
        """
        The client's variables follow the spec's environment; one the spec
        has already keeps its place with the client's value.
        """
        spec = self.probeSpec()
        server, client = tcpConnection()
        self.addCleanup(client.close)
        with server:
            clientEnv = (("REMOTE_HOST", "::1"), ("REMOTE_PORT", "7"))
            running = yield self.spawner.spawn(spec, server.fileno(), clientEnv)
        report = json.loads(readAll(client))
        yield running.whenExited()
        expected = [list(pair) for pair in ENV]
        expected[-1][1] = "::1"
        self.assertEqual(report["env"], [*expected, ["REMOTE_PORT", "7"]])

    @inlineCallbacks
    def test_largeAndSmallPlans(self) -> Generated:
        """
        A server whose environment is larger than the child's usual region
        (a region of its own), between servers that reuse the usual ones,
        gets every byte of it, and so do they.
        """
        big = self.probeSpec(env=(*ENV, ("BIG", "x" * 100_000)))
        small = self.probeSpec()
        for spec in (small, big, small, big, small):
            report, ended, _, client = yield self.runProbe(spec)
            self.assertProcessState(report, spec, client)
            self.assertEqual(ended.status, 0)

    @inlineCallbacks
    def test_smallLimits(self) -> Generated:
        """
        Limits far below the daemon's own (ten descriptors) apply too.
        """
        limits = ((NOFILE, 10), (AS, 1 << 30), (CPU, 50))
        spec = self.probeSpec(umask=0o7, rlimits=limits)
        report, ended, _, client = yield self.runProbe(spec)
        self.assertProcessState(report, spec, client)
        self.assertEqual(ended, ProcessExit(0, None, ended.duration))

    @inlineCallbacks
    def test_tinyAddressSpace(self) -> Generated:
        """
        An address-space limit far below the daemon's own size still applies,
        soft and hard, before the server is executed.
        """
        spec = SpawnSpec(
            "/bin/sh",
            ("sh", "-c", "ulimit -H -v; ulimit -v; ulimit -n; umask"),
            (),
            umask=0o27,
            rlimits=((AS, 8 << 20), (NOFILE, 77)),
        )
        server, client = tcpConnection()
        self.addCleanup(client.close)
        running = yield self.spawner.spawn(spec, server.fileno())
        server.close()
        self.assertEqual(readAll(client).split(), [b"8192", b"8192", b"77", b"0027"])
        ended = yield running.whenExited()
        self.assertEqual(ended.status, 0)

    @inlineCallbacks
    def test_defaultSignals(self) -> Generated:
        """
        Servers start with every signal at its default disposition and none
        blocked, though the daemon ignores some (SIGPIPE) and blocks one;
        glibc's two internal signals (32, 33) are not left ignored as its
        C{posix_spawn} leaves them.
        """
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        self.addCleanup(signal.pthread_sigmask, signal.SIG_SETMASK, previous)
        for rlimits in (((NOFILE, 64),), ((NOFILE, 8),)):
            server, client = tcpConnection()
            spec = SpawnSpec("/bin/cat", ("cat",), (), rlimits=rlimits)
            running = yield self.spawner.spawn(spec, server.fileno())
            server.close()
            blocked, ignored = signalMasks(running.pid)
            self.assertEqual((blocked, ignored), (0, 0))
            client.close()
            ended = yield running.whenExited()
            self.assertIsNone(ended.signal)


class CredentialTests(SpawnTestCase):
    """
    Servers run as other users (as root only).
    """

    skip = NEEDS_ROOT or SpawnTestCase.skip

    @inlineCallbacks
    def test_nobody(self) -> Generated:
        """
        C{uid = gid = 65534}: real, effective and saved ids switched, no
        supplementary groups.
        """
        spec = self.probeSpec(others=True, uid=NOBODY, gid=NOBODY, umask=0o27)
        report, ended, _, client = yield self.runProbe(spec)
        self.assertProcessState(report, spec, client)
        self.assertEqual(report["uid"], [NOBODY] * 3)
        self.assertEqual(report["gid"], [NOBODY] * 3)
        self.assertEqual(report["groups"], [])
        self.assertEqual(ended.status, 0)

    @inlineCallbacks
    def test_groups(self) -> Generated:
        """
        Supplementary groups are set when given.
        """
        spec = self.probeSpec(others=True, uid=NOBODY, gid=NOBODY, groups=(NOBODY, 4242))
        report, _, _, _ = yield self.runProbe(spec)
        self.assertEqual(report["groups"], [4242, NOBODY])
        self.assertEqual(report["uid"], [NOBODY] * 3)

    @inlineCallbacks
    def test_groupOnly(self) -> Generated:
        """
        With a gid alone the uid stays root and the groups are cleared.
        """
        spec = self.probeSpec(others=True, gid=4242)
        report, _, _, _ = yield self.runProbe(spec)
        self.assertEqual(report["uid"], [0, 0, 0])
        self.assertEqual(report["gid"], [4242] * 3)
        self.assertEqual(report["groups"], [])

    @inlineCallbacks
    def test_nobodyWithSmallLimits(self) -> Generated:
        """
        Limits far below the daemon's own, with every id switched.
        """
        limits = ((NOFILE, 12), (CPU, 30))
        spec = self.probeSpec(others=True, uid=NOBODY, gid=NOBODY, groups=(5,), rlimits=limits)
        report, _, _, client = yield self.runProbe(spec)
        self.assertProcessState(report, spec, client)
        self.assertEqual((report["uid"], report["gid"]), ([NOBODY] * 3, [NOBODY] * 3))
        self.assertEqual(report["groups"], [5])

    @inlineCallbacks
    def test_niceAsTheUser(self) -> Generated:
        """
        The niceness is changed as the server's user would change it: a
        user without privileges cannot lower it.
        """
        own = os.getpriority(os.PRIO_PROCESS, 0)
        down = self.probeSpec(others=True, uid=NOBODY, gid=NOBODY, nice=-5)
        up = self.probeSpec(others=True, uid=NOBODY, gid=NOBODY, nice=2)
        lowered, _, _, _ = yield self.runProbe(down)
        raised, _, _, _ = yield self.runProbe(up)
        self.assertEqual(lowered["nice"], own)
        self.assertEqual(raised["nice"], min(own + 2, 19))


class LifecycleTests(SpawnTestCase):
    """
    Exits, signals, failures, and what is left behind.
    """

    @inlineCallbacks
    def test_exitStatus(self) -> Generated:
        """
        The exit status and the duration are reported.
        """
        _, ended, running, _ = yield self.runProbe(self.probeSpec("exit=3"))
        self.assertEqual((ended.status, ended.signal), (3, None))
        self.assertGreater(ended.duration, 0)
        self.assertLess(ended.duration, 30)
        self.assertEqual(running.exit, ended)

    @inlineCallbacks
    def test_killedBySignal(self) -> Generated:
        """
        A server killed by a signal reports the signal.
        """
        _, ended, _, _ = yield self.runProbe(self.probeSpec("signal=9"))
        self.assertEqual((ended.status, ended.signal), (None, signal.SIGKILL))

    @inlineCallbacks
    def test_signalRunning(self) -> Generated:
        """
        A running server can be terminated.
        """
        server, client = tcpConnection()
        self.addCleanup(client.close)
        running = yield self.spawner.spawn(self.probeSpec("wait"), server.fileno())
        server.close()
        self.assertIn(b'"argv"', readLine(client))
        running.signal(signal.SIGTERM)
        ended = yield running.whenExited()
        self.assertEqual(ended.signal, signal.SIGTERM)

    @inlineCallbacks
    def test_failures(self) -> Generated:
        """
        A missing executable and a file that is not executable fail with
        their reason; nothing is left behind.
        """
        directory = os.path.abspath(self.mktemp())
        os.mkdir(directory)
        text = os.path.join(directory, "text")
        with open(text, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(text, 0o644)
        cases = [("/nonexistent/server", errno.ENOENT), (text, errno.EACCES)]
        paths = (((NOFILE, 64),), ((NOFILE, 8),))
        for rlimits in paths:
            warmUp = yield self.spawnTrue("/bin/true", rlimits)
            yield warmUp.whenExited()
        before = openDescriptors()
        for executable, expected in cases:
            for rlimits in paths:
                answer = self.spawnTrue(executable, rlimits)
                error = yield self.assertFailure(answer, SpawnError)
                self.assertEqual((error.operation, error.errno), ("execve", expected))
                self.assertEqual(error.reason, os.strerror(expected))
        self.assertEqual(descendantZombies(), [])
        self.assertEqual(newDescriptors(before), {})

    @inlineCallbacks
    def test_numbersTooLarge(self) -> Generated:
        """
        A limit too large for the kernel fails each request that asks for
        it, naming the step, and the next spawns are served; a huge
        niceness is the lowest priority.
        """
        tooLarge = ((NOFILE, 64), (CPU, 2**64))
        for _ in range(2):
            server, client = tcpConnection()
            with server, client:
                answer = self.spawner.spawn(self.probeSpec(rlimits=tooLarge), server.fileno())
            error = yield self.assertFailure(answer, SpawnError)
            self.assertEqual(error.operation, "setrlimit(RLIMIT_CPU)")
        spec = self.probeSpec(rlimits=((NOFILE, 64),), nice=2**40)
        report, ended, _, _ = yield self.runProbe(spec)
        self.assertEqual((report["nice"], ended.status), (19, 0))

    @inlineCallbacks
    def test_noZombiesNoLeaks(self) -> Generated:
        """
        Two hundred servers, a few that fail among them, leave no zombie
        and no descriptor behind.
        """
        before: dict[int, str] = {}
        for batch in range(11):
            results = []
            for index in range(20):
                path = "/nonexistent" if index == 7 else "/bin/true"
                results.append(self.spawnTrue(path).addErrback(ignoreSpawnError))
            processes = yield gatherResults(results)
            yield gatherResults([p.whenExited() for p in processes if p is not None])
            if batch == 0:
                # The first batch opens what stays open (the reactor's own).
                before = openDescriptors()
        self.assertEqual(newDescriptors(before), {})
        self.assertEqual(descendantZombies(), [])

    def spawnTrue(
        self, path: str, rlimits: tuple[tuple[int, int], ...] = ()
    ) -> Deferred[RunningProcess]:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            spec = SpawnSpec(path, ("true",), (), rlimits=rlimits)
            return self.spawner.spawn(spec, theirs.fileno())

    @inlineCallbacks
    def test_killedBeforeItRuns(self) -> Generated:
        """
        A server killed by a signal at once (as a stop may kill one that is
        still being set up) has its end reported with the signal.
        """
        server, client = tcpConnection()
        self.addCleanup(client.close)
        with server:
            running = self.spawner.launch(self.probeSpec("wait"), server.fileno())
        running.signal(signal.SIGKILL)
        ended = yield running.whenExited()
        self.assertEqual((ended.status, ended.signal), (None, signal.SIGKILL))
        self.assertTrue(running.executed)
        self.assertEqual(descendantZombies(), [])


class WaitingServiceTests(SpawnTestCase):
    """
    C{wait = yes}: the server gets the listening or UDP socket itself.
    """

    @inlineCallbacks
    def test_listeningSocket(self) -> Generated:
        """
        A stream server accepts its connection from the listening socket on
        its fd 0.
        """
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        running = yield self.spawner.spawn(self.probeSpec("accept"), listener.fileno())
        client = socket.create_connection(listener.getsockname())
        with client:
            report = json.loads(readAll(client))
        stdio = report["stdio"]["0"]
        self.assertEqual((stdio["local"], stdio["peer"]), (list(listener.getsockname()), None))
        self.assertEqual(sorted(report["fds"]), ["0", "1", "2"])
        ended = yield running.whenExited()
        self.assertEqual(ended.status, 0)

    @inlineCallbacks
    def test_datagramSocket(self) -> Generated:
        """
        A datagram server reads from and answers on the UDP socket on its
        fd 0.
        """
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        udp.bind(("127.0.0.1", 0))
        running = yield self.spawner.spawn(self.probeSpec("datagram"), udp.fileno())
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with client:
            client.settimeout(20)
            client.sendto(b"hello", udp.getsockname())
            report = json.loads(client.recv(65536))
        self.assertEqual(report["stdio"]["0"]["type"], socket.SOCK_DGRAM)
        self.assertEqual(report["stdio"]["0"]["local"], list(udp.getsockname()))
        ended = yield running.whenExited()
        self.assertEqual(ended.status, 0)


class ForkLauncherMixin:
    """
    The launcher used when the C extension is not built.
    """

    skip = NO_PIDFD

    def launcher(self) -> Launcher:
        return ForkLauncher()


class NoPidfdMixin:
    """
    Exits watched through C{SIGCHLD}, as on a kernel without pidfds.
    """

    skip = NO_CLONE
    pidfds = False


class ForkProcessStateTests(ForkLauncherMixin, ProcessStateTests):
    pass


class ForkCredentialTests(ForkLauncherMixin, CredentialTests):
    skip = NEEDS_ROOT or NO_PIDFD


class ForkLifecycleTests(ForkLauncherMixin, LifecycleTests):
    pass


class ForkWaitingServiceTests(ForkLauncherMixin, WaitingServiceTests):
    pass


class QuietLifecycleTests(LifecycleTests):
    """
    L{LifecycleTests} with C{SIGCHLD} off while pidfds watch the children.
    """

    quietChildSignal = True

    @inlineCallbacks
    def test_childSignalOff(self) -> Generated:
        """
        While a server runs, C{SIGCHLD} is at its default disposition, and
        its end is reported all the same; a process Twisted starts
        meanwhile is reaped (its handler comes back); once the spawner
        stops, the handler it found is back.
        """
        # The running reactor has its SIGCHLD handler.
        yield deferLater(reactor, 0, lambda: None)
        handler = signal.getsignal(signal.SIGCHLD)
        self.assertTrue(callable(handler))
        ours, theirs = socket.socketpair()
        with ours, theirs:
            spec = SpawnSpec("/bin/cat", ("cat",), ())
            running = yield self.spawner.spawn(spec, theirs.fileno())
        self.assertIs(signal.getsignal(signal.SIGCHLD), signal.SIG_DFL)
        ended = yield running.whenExited()
        self.assertEqual(ended.status, 0)
        twistedEnded: Deferred[BaseException] = Deferred()

        class Ended(ProcessProtocol):
            def processEnded(self, reason: Failure) -> None:
                twistedEnded.callback(reason.value or Exception())

        # No pipes: only SIGCHLD tells Twisted that this one ended, once
        # its input ends.
        ours, theirs = socket.socketpair()
        with ours, theirs:
            reactor.spawnProcess(
                Ended(),
                "/bin/cat",
                ["cat"],
                env={},
                childFDs={0: theirs.fileno(), 1: theirs.fileno()},
            )
        self.assertIs(signal.getsignal(signal.SIGCHLD), signal.SIG_DFL)
        reason = yield twistedEnded
        self.assertEqual(getattr(reason, "exitCode", None), 0)
        self.assertIs(signal.getsignal(signal.SIGCHLD), handler)
        self.spawner.stopService()
        self.assertIs(signal.getsignal(signal.SIGCHLD), handler)


class NoPidfdProcessStateTests(NoPidfdMixin, ProcessStateTests):
    pass


class NoPidfdLifecycleTests(NoPidfdMixin, LifecycleTests):
    pass


class NoPidfdWaitingServiceTests(NoPidfdMixin, WaitingServiceTests):
    pass
