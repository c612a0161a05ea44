# -*- test-case-name: tests.spawn.test_spawner -*-
"""
Tests for L{txinetd.spawn.spawner} without starting any process: a fake launcher
plays the child (it keeps the status pipe's write end and writes or closes
it), fake system calls play its end, and a L{MemoryReactorClock} holds the
descriptors the spawner watches.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import process as twisted_process
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.spawn.test_childsignal import FakeSignals, twistedHandler
from txinetd.spawn.children import WALL
from txinetd.spawn.launcher import Launched
from txinetd.spawn.plan import Identity, Plan
from txinetd.spawn.report import LaunchError, encodeReport
from txinetd.spawn.spawner import (
    REAP_POLL,
    ProcessExit,
    ProcessSystem,
    RunningProcess,
    Spawner,
    SpawnError,
    SpawnSpec,
)

NOFILE = resource.RLIMIT_NOFILE
AS = resource.RLIMIT_AS
CPU = resource.RLIMIT_CPU
INFINITY = resource.RLIM_INFINITY
ROOT = Identity(0, 0, True)


def spec(**overrides: Any) -> SpawnSpec:
    fields: dict[str, Any] = {
        "executable": "/bin/cat",
        "argv": ("cat",),
        "env": (("REMOTE_HOST", "127.0.0.1"),),
        "rlimits": ((NOFILE, 1024),),
    }
    fields.update(overrides)
    return SpawnSpec(**fields)


def isOpen(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@dataclass
class FakeChild:
    """
    What the fake launcher started: the plan, and its end of the status
    pipe.
    """

    pid: int
    plan: Plan
    fd: int
    statusFd: int
    released: list[bool] = field(default_factory=list)

    def executes(self) -> None:
        """
        The child executes its server: the status pipe closes.
        """
        os.close(self.statusFd)

    def fails(self, step: str, number: int, res: int = 0) -> None:
        os.write(self.statusFd, encodeReport(step, number, res))
        os.close(self.statusFd)


class FakeLauncher:
    name = "fake"

    def __init__(self) -> None:
        self.children: list[FakeChild] = []
        self.signals: list[bool] = []
        self.error: LaunchError | None = None
        self.nextPid = 100

    def launch(self, plan: Plan, fd: int, statusFd: int, signalOnExit: bool = True) -> Launched:
        self.signals.append(signalOnExit)
        if self.error is not None:
            raise self.error
        self.nextPid += 1
        child = FakeChild(self.nextPid, plan, fd, os.dup(statusFd))
        self.children.append(child)
        return Launched(child.pid, lambda: child.released.append(True))


class FakeProcesses:
    """
    Fake C{waitpid}, C{pidfd_open}, C{kill} and C{killpg}: a pidfd is a
    pipe that the test makes readable when the child ends.

    @ivar killed: the signals sent: (C{"kill"} or C{"killpg"}, id, signal).
    @ivar groups: the process groups that exist (the children that have
        made their session): C{killpg} finds no other.
    @ivar gone: the pids C{kill} finds no process for.
    @ivar killpgError: what C{killpg} raises, if anything.
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        self.testCase = testCase
        self.ended: dict[int, int] = {}
        self.pidfds: dict[int, int] = {}
        self.killed: list[tuple[str, int, int]] = []
        self.groups: set[int] = set()
        self.gone: set[int] = set()
        self.killpgError: OSError | None = None
        self.openError: OSError | None = None

    def waitpid(self, pid: int, options: int) -> tuple[int, int]:
        self.testCase.assertEqual(options, os.WNOHANG | WALL)
        if pid in self.ended:
            return pid, self.ended.pop(pid)
        return 0, 0

    def pidfdOpen(self, pid: int) -> int:
        if self.openError is not None:
            raise self.openError
        readEnd, writeEnd = os.pipe()
        self.pidfds[pid] = writeEnd
        # The spawner closes the read end.
        self.testCase.addCleanup(closeQuietly, writeEnd)
        return readEnd

    def kill(self, pid: int, signum: int) -> None:
        if pid in self.gone:
            raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
        self.killed.append(("kill", pid, signum))

    def killpg(self, pgid: int, signum: int) -> None:
        if self.killpgError is not None:
            raise self.killpgError
        if pgid not in self.groups:
            raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
        self.killed.append(("killpg", pgid, signum))

    def end(self, pid: int, waitStatus: int) -> None:
        """
        The child ends: its pidfd becomes readable.
        """
        self.ended[pid] = waitStatus
        if pid in self.pidfds:
            os.write(self.pidfds[pid], b"x")

    def system(self) -> ProcessSystem:
        return ProcessSystem(self.waitpid, self.pidfdOpen, self.kill, self.killpg)


def closeQuietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class SpawnerTestCase(SynchronousTestCase):
    pidfds = True

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.launcher = FakeLauncher()
        self.processes = FakeProcesses(self)
        self.now = 5_000_000_000
        self.spawner = Spawner(
            self.reactor,
            launcher=self.launcher,
            pidfds=self.pidfds,
            clock=lambda: self.now,
            identity=ROOT,
            system=self.processes.system(),
        )
        self.addCleanup(self.spawner.stopService)
        self.addCleanup(self.closeChildren)

    def closeChildren(self) -> None:
        for child in self.launcher.children:
            closeQuietly(child.statusFd)

    def readAll(self) -> None:
        """
        Let the reactor read every descriptor the spawner watches.
        """
        for reader in list(self.reactor.getReaders()):
            reader.doRead()

    def launch(self, **overrides: Any) -> tuple[RunningProcess, FakeChild]:
        process = self.spawner.launch(spec(**overrides), 12, (("REMOTE_PORT", "7"),))
        return process, self.launcher.children[-1]


class LaunchTests(SpawnerTestCase):
    """
    L{Spawner.launch}: the plan a child gets, and the server's life.
    """

    def test_plan(self) -> None:
        """
        The child gets the spec's executable, argv, ids, umask, nice and
        limits, and its environment with the client's variables after the
        spec's; the descriptor it is given is the caller's.
        """
        self.launch(
            uid=65534, gid=65534, groups=(65534, 4), umask=0o27, nice=3, rlimits=((CPU, 9),)
        )
        child = self.launcher.children[0]
        self.assertEqual(
            child.plan,
            Plan(
                executable=b"/bin/cat",
                argv=(b"cat",),
                envp=(b"REMOTE_HOST=127.0.0.1", b"REMOTE_PORT=7"),
                uid=65534,
                gid=65534,
                groups=(65534, 4),
                umask=0o27,
                nice=3,
                rlimits=((CPU, 9),),
            ),
        )
        self.assertEqual(child.fd, 12)

    def test_clientVariableReplaces(self) -> None:
        """
        A client variable the spec has already keeps its place, with the
        client's value.
        """
        self.spawner.launch(spec(env=(("A", "1"), ("B", "2"))), 12, (("A", "3"),))
        self.assertEqual(self.launcher.children[0].plan.envp, (b"A=3", b"B=2"))

    def test_executedThenExited(self) -> None:
        """
        The server runs once the status pipe ends without a report: the
        region the child ran on is released; its end comes through its
        pidfd, with its status and its duration.
        """
        process, child = self.launch()
        executed = process.whenExecuted()
        exited = process.whenExited()
        self.assertNoResult(executed)
        child.executes()
        self.readAll()
        self.assertIs(self.successResultOf(executed), process)
        self.assertEqual(child.released, [True])
        self.assertNoResult(exited)
        self.now += 2_500_000_000
        self.processes.end(child.pid, 3 << 8)
        self.readAll()
        self.assertEqual(self.successResultOf(exited), ProcessExit(3, None, 2.5))
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertEqual(self.spawner.children, {})
        # Watched through its pidfd, it sends no SIGCHLD.
        self.assertEqual(self.launcher.signals, [False])

    def test_failure(self) -> None:
        """
        A report on the status pipe is the failure of a step: it is given
        once the child has been reaped (until then it still holds the
        client's socket), with the step and errno; no whenExited fires.
        """
        process, child = self.launch()
        executed = process.whenExecuted()
        exited = process.whenExited()
        child.fails("setrlimit", errno.EPERM, CPU)
        self.readAll()
        self.assertNoResult(executed)
        self.processes.end(child.pid, 127 << 8)
        self.readAll()
        error = self.failureResultOf(executed, SpawnError).value
        self.assertEqual(
            (error.executable, error.operation, error.errno, error.reason),
            ("/bin/cat", "setrlimit(RLIMIT_CPU)", errno.EPERM, os.strerror(errno.EPERM)),
        )
        self.assertNoResult(exited)
        self.failureResultOf(process.whenExecuted(), SpawnError)
        self.assertEqual(self.spawner.children, {})

    def test_reapedBeforeStatusRead(self) -> None:
        """
        A child reaped before its status pipe was read (it ended on its
        way to the exec): the pipe is read then, the server counts as run
        (START) before its end (EXIT).
        """
        process, child = self.launch()
        order: list[str] = []
        process.whenExecuted().addCallback(lambda _: order.append("executed"))
        process.whenExited().addCallback(lambda _: order.append("exited"))
        child.executes()
        self.processes.end(child.pid, signal.SIGKILL)
        self.spawner.children[child.pid].reap()
        self.assertEqual(order, ["executed", "exited"])
        self.assertEqual(process.exit, ProcessExit(None, signal.SIGKILL, 0.0))

    def test_statusHangUpWithoutRead(self) -> None:
        """
        The reactor reports a pipe closed with nothing in it through
        connectionLost alone: that ends the status too.
        """
        process, child = self.launch()
        child.executes()
        readers = self.reactor.getReaders()
        status = min(readers, key=lambda reader: reader.fileno())
        status.connectionLost(None)
        self.assertTrue(process.executed)

    def test_signal(self) -> None:
        """
        A server is signalled through its process group (its children get
        the signal too) until it is reaped; not after, when its pgid may
        name another group.
        """
        process, child = self.launch()
        self.processes.groups.add(child.pid)
        process.signal(signal.SIGTERM)
        child.executes()
        self.readAll()
        process.signal(signal.SIGKILL)
        self.processes.end(child.pid, 0)
        self.readAll()
        process.signal(signal.SIGTERM)
        self.assertEqual(
            self.processes.killed,
            [("killpg", child.pid, signal.SIGTERM), ("killpg", child.pid, signal.SIGKILL)],
        )

    def test_signalBeforeSession(self) -> None:
        """
        A child that has not made its session yet leads no group: it is
        signalled by pid, and gets the signal before its exec.
        """
        process, child = self.launch()
        process.signal(signal.SIGTERM)
        self.assertEqual(self.processes.killed, [("kill", child.pid, signal.SIGTERM)])

    def test_signalNoProcess(self) -> None:
        """
        Neither a group nor a process found (a server that ended and is
        about to be reaped) is no error.
        """
        process, child = self.launch()
        self.processes.gone.add(child.pid)
        process.signal(signal.SIGTERM)
        self.assertEqual(self.processes.killed, [])

    def test_signalRefused(self) -> None:
        """
        A group the daemon may not signal is an error for the caller, and
        the pid alone is not tried.
        """
        process, child = self.launch()
        self.processes.groups.add(child.pid)
        self.processes.killpgError = PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        error = self.assertRaises(PermissionError, process.signal, signal.SIGTERM)
        self.assertEqual(error.errno, errno.EPERM)
        self.assertEqual(self.processes.killed, [])

    def test_noChild(self) -> None:
        """
        A launcher that could not start a child (C{fork} failed) raises a
        L{SpawnError}; the status pipe is closed and nothing is watched.
        """
        before = sorted(os.listdir("/proc/self/fd"))
        self.launcher.error = LaunchError.fromErrno("fork", errno.EAGAIN)
        error = self.assertRaises(SpawnError, self.spawner.launch, spec(), 12)
        self.assertEqual((error.operation, error.errno), ("fork", errno.EAGAIN))
        self.assertEqual(
            error.describe(), "fork failed: Resource temporarily unavailable (errno = 11)"
        )
        self.assertEqual(sorted(os.listdir("/proc/self/fd")), before)
        self.assertEqual(self.reactor.getReaders(), [])

    def test_planRefused(self) -> None:
        """
        A daemon that is not root cannot start servers as another user:
        refused before any child, naming the step.
        """
        self.spawner.identity = Identity(1000, 1000, False)
        error = self.assertRaises(SpawnError, self.spawner.launch, spec(uid=0), 12)
        self.assertEqual((error.operation, error.errno), ("setuid", errno.EPERM))
        self.assertEqual(self.launcher.children, [])

    def test_limitTooLarge(self) -> None:
        """
        A limit no C{rlim_t} holds is refused before any child, naming it.
        """
        error = self.assertRaises(
            SpawnError, self.spawner.launch, spec(rlimits=((CPU, 2**64),)), 12
        )
        self.assertEqual(error.operation, "setrlimit(RLIMIT_CPU)")
        self.assertEqual(self.launcher.children, [])

    def test_badClientEnvironment(self) -> None:
        """
        Client variables that cannot be passed as given are refused.
        """
        self.assertRaises(ValueError, self.spawner.launch, spec(), 12, (("A=", "1"),))

    def test_spawn(self) -> None:
        """
        L{Spawner.spawn} fires once the server runs, or fails.
        """
        started = self.spawner.spawn(spec(), 12)
        child = self.launcher.children[0]
        self.assertNoResult(started)
        child.executes()
        self.readAll()
        self.assertEqual(self.successResultOf(started).pid, child.pid)
        self.launcher.error = LaunchError.fromErrno("fork", errno.ENOMEM)
        self.failureResultOf(self.spawner.spawn(spec(), 12), SpawnError)

    def test_stop(self) -> None:
        """
        Once stopped, nothing is watched (servers left running stay so) and
        nothing more is started.
        """
        self.launch()
        self.spawner.stopService()
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertEqual(self.spawner.children, {})
        error = self.assertRaises(SpawnError, self.spawner.launch, spec(), 12)
        self.assertEqual(error.reason, "txinetd is stopping")


class NoPidfdTests(SpawnerTestCase):
    """
    Without pidfds, children are watched through Twisted's C{SIGCHLD}
    reaper, and polled in case no C{SIGCHLD} handler runs.
    """

    pidfds = False

    def test_reaper(self) -> None:
        """
        A child is registered with Twisted's reaper until it is reaped.
        """
        process, child = self.launch()
        child.executes()
        self.readAll()
        self.assertIn(child.pid, twisted_process.reapProcessHandlers)
        self.processes.end(child.pid, 0)
        twisted_process.reapAllProcesses()
        self.assertEqual(process.exit, ProcessExit(0, None, 0.0))
        self.assertNotIn(child.pid, twisted_process.reapProcessHandlers)
        self.assertEqual(self.launcher.signals, [True])

    def test_poll(self) -> None:
        """
        Should no C{SIGCHLD} come, the poll reaps it; it stops with the last
        child.
        """
        process, child = self.launch()
        child.executes()
        self.readAll()
        self.processes.end(child.pid, 0)
        self.assertIsNone(process.exit)
        self.reactor.advance(REAP_POLL)
        self.assertIsNotNone(process.exit)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_noDescriptorForPidfd(self) -> None:
        """
        With pidfds but none to be had (out of descriptors), a child is
        watched the same way.
        """
        self.spawner.pidfds = True
        self.processes.openError = OSError(errno.EMFILE, "Too many open files")
        process, child = self.launch()
        self.assertIn(child.pid, twisted_process.reapProcessHandlers)
        child.executes()
        self.processes.end(child.pid, 0)
        self.reactor.advance(REAP_POLL)
        self.assertEqual(process.exit, ProcessExit(0, None, 0.0))
        self.assertTrue(process.executed)

    def test_stop(self) -> None:
        """
        Stopping unregisters every child.
        """
        _, child = self.launch()
        self.spawner.stopService()
        self.assertNotIn(child.pid, twisted_process.reapProcessHandlers)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class ChildSignalWiringTests(SpawnerTestCase):
    """
    The spawner turns C{SIGCHLD} off while pidfds watch every child, and
    back on when one is watched without a pidfd, when Twisted has a process
    of its own, and when it stops.
    """

    def setUp(self) -> None:
        super().setUp()
        self.signals = FakeSignals()
        self.spawner.childSignal = self.signals.childSignal()

    def test_quietWithPidfds(self) -> None:
        """
        A child watched through a pidfd turns C{SIGCHLD} off; a poll starts
        that looks for Twisted's processes.
        """
        self.launch()
        self.assertIs(self.signals.current, signal.SIG_DFL)
        self.assertTrue(self.spawner.quiet)
        self.signals.handlers[5] = object()
        self.reactor.advance(REAP_POLL)
        self.assertIs(self.signals.current, twistedHandler)
        self.assertEqual(self.signals.reaped, 1)
        self.assertFalse(self.spawner.quiet)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_withoutPidfd(self) -> None:
        """
        A child that gets no pidfd brings C{SIGCHLD}'s handler back.
        """
        self.launch()
        self.processes.openError = OSError(errno.EMFILE, "Too many open files")
        self.launch()
        self.assertIs(self.signals.current, twistedHandler)
        self.assertFalse(self.spawner.quiet)

    def test_stop(self) -> None:
        """
        A stopped spawner leaves C{SIGCHLD} as it found it.
        """
        self.launch()
        self.spawner.stopService()
        self.assertIs(self.signals.current, twistedHandler)

    def test_notByDefault(self) -> None:
        """
        Without a L{ChildSignal}, the spawner never touches C{SIGCHLD}.
        """
        before = signal.getsignal(signal.SIGCHLD)
        spawner = Spawner(
            self.reactor,
            launcher=self.launcher,
            pidfds=True,
            identity=ROOT,
            system=self.processes.system(),
        )
        self.addCleanup(spawner.stopService)
        spawner.launch(spec(), 12)
        self.assertIs(signal.getsignal(signal.SIGCHLD), before)
        self.assertFalse(spawner.quiet)


class SpawnSpecTests(SynchronousTestCase):
    """
    L{SpawnSpec} refuses what cannot be executed as given.
    """

    def test_valid(self) -> None:
        """
        A complete spec is accepted.
        """
        spec(uid=0, gid=0, groups=(0, 1), umask=0o777, nice=-20, rlimits=((AS, INFINITY), (CPU, 0)))

    def test_invalid(self) -> None:
        """
        Each inconsistent field is refused with a C{ValueError}.
        """
        cases: list[dict[str, Any]] = [
            {"executable": "bin/cat"},
            {"executable": "/bin/c\0at"},
            {"argv": ()},
            {"argv": ("",)},
            {"argv": ("cat", "a\0b")},
            {"env": (("A", "1"), ("A", "2"))},
            {"env": (("", "1"),)},
            {"env": (("A=B", "1"),)},
            {"env": (("A", "\0"),)},
            {"uid": -1},
            {"gid": 2**32 - 1},
            {"groups": (2**32,)},
            {"umask": 0o1000},
            {"rlimits": ((NOFILE, 1), (NOFILE, 2))},
            {"rlimits": ((resource.RLIMIT_NPROC, 1),)},
            {"rlimits": ((AS, -2),)},
        ]
        for overrides in cases:
            self.assertRaises(ValueError, spec, **overrides)

    def test_messagesOnlyOnFailure(self) -> None:
        """
        Checking a valid spec describes none of its values: the checks run
        for every connection.
        """

        class Unprintable(str):
            def __repr__(self) -> str:
                raise AssertionError("described")

        made = spec(executable=Unprintable("/bin/cat"), argv=(Unprintable("cat"),))
        self.assertEqual(made.argv, ("cat",))
        error = self.assertRaises(ValueError, spec, argv=("cat", "a\0b"))
        self.assertEqual(str(error), "an argument contains a NUL: 'a\\x00b'")
        error = self.assertRaises(ValueError, spec, env=(("A", "1"), ("B=", "2")))
        self.assertEqual(str(error), "invalid environment variable: 'B='")

    def test_encodedOnce(self) -> None:
        """
        A spec's strings are encoded once, for all of its servers, as the
        file system encodes them (undecodable bytes included).
        """
        made = spec(argv=("x\udcff",), env=(("K", "é"),))
        self.assertIs(made.encoded, made.encoded)
        self.assertEqual(made.encoded[1], (b"x\xff",))
        self.assertEqual(made.encoded[2], ((b"K", "é".encode()),))


class SpawnErrorTests(SynchronousTestCase):
    """
    L{SpawnError.describe}: the program-log text.
    """

    def test_exec(self) -> None:
        """
        A server that could not be executed is reported as xinetd reports
        it, with the errno when there is one.
        """
        error = SpawnError("/bin/x", "execve", errno.ENOENT, "No such file or directory")
        self.assertEqual(
            error.describe(), "execv( /bin/x ) failed: No such file or directory (errno = 2)"
        )

    def test_setUpStep(self) -> None:
        """
        A step of the set-up is named, as in xinetd's C{setuid failed}.
        """
        error = SpawnError("/bin/x", "setuid", errno.EPERM, "Operation not permitted")
        self.assertEqual(error.describe(), "setuid failed: Operation not permitted (errno = 1)")
        error = SpawnError("/bin/x", "fork", None, "txinetd is stopping")
        self.assertEqual(error.describe(), "fork failed: txinetd is stopping")


class ProcessExitTests(SynchronousTestCase):
    """
    L{ProcessExit.fromWaitStatus}.
    """

    def test_exited(self) -> None:
        self.assertEqual(ProcessExit.fromWaitStatus(0x2A00, 1.5), ProcessExit(42, None, 1.5))

    def test_signalled(self) -> None:
        self.assertEqual(
            ProcessExit.fromWaitStatus(signal.SIGTERM, 0.0), ProcessExit(None, 15, 0.0)
        )
        self.assertEqual(
            ProcessExit.fromWaitStatus(signal.SIGSEGV | 0x80, 0.0), ProcessExit(None, 11, 0.0)
        )
