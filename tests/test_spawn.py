# -*- test-case-name: tests.test_spawn -*-
"""
Tests for L{txinetd.spawn} and the spawner process's logic in
L{txinetd._spawner}, without starting any process: the spawner side runs
in this process over a socketpair with a fake launcher, the daemon side
against a fake process reactor that plays the spawner.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import socket
from array import array
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txinetd import _spawner
from txinetd._spawner import (
    Credentials,
    Exited,
    Failed,
    Identity,
    LaunchError,
    ProtocolError,
    Request,
    Retire,
    Retiring,
    SignalRequest,
    SpawnerKey,
    SpawnerLoop,
    SpawnRequest,
    Started,
    Usage,
)
from txinetd.spawn import (
    ProcessExit,
    RunningProcess,
    Spawner,
    SpawnError,
    SpawnSpec,
    spawnerKey,
    spawnRequest,
)

NOFILE = resource.RLIMIT_NOFILE
AS = resource.RLIMIT_AS
CPU = resource.RLIMIT_CPU
INFINITY = resource.RLIM_INFINITY
#: A pid above Linux's PID_MAX_LIMIT: no process has it.
NO_SUCH_PID = 2**22 + 1


def request(**overrides: Any) -> SpawnRequest:
    fields: dict[str, Any] = {
        "requestId": 7,
        "executable": b"/bin/cat",
        "argv": (b"cat", b"-u"),
        "env": ((b"PATH", b"/bin"), (b"EMPTY", b"")),
        "uid": 65534,
        "gid": 65533,
        "groups": (1, 2),
        "umask": 0o27,
    }
    fields.update(overrides)
    return SpawnRequest(**fields)


def spec(**overrides: Any) -> SpawnSpec:
    fields: dict[str, Any] = {
        "executable": "/bin/cat",
        "argv": ("cat",),
        "env": (("REMOTE_HOST", "127.0.0.1"),),
        "rlimits": ((NOFILE, 1024),),
    }
    fields.update(overrides)
    return SpawnSpec(**fields)


def sendWithFds(sock: socket.socket, data: bytes, fds: list[int]) -> None:
    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", fds))] if fds else []
    sock.sendmsg([data], rights)


def receiveWithFds(sock: socket.socket) -> tuple[bytes, list[int]]:
    data, ancillary, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(64), socket.MSG_DONTWAIT)
    return data, _spawner.receivedDescriptors(ancillary)


def isOpen(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class RequestEncodingTests(SynchronousTestCase):
    """
    Messages between the daemon and a spawner survive encoding.
    """

    @given(
        st.builds(
            SpawnRequest,
            requestId=st.integers(0, 2**64 - 1),
            executable=st.binary(min_size=1).filter(lambda b: b"\0" not in b),
            argv=st.lists(st.binary().filter(lambda b: b"\0" not in b), min_size=1).map(tuple),
            env=st.lists(
                st.tuples(
                    st.binary(min_size=1).filter(lambda b: b"\0" not in b and b"=" not in b),
                    st.binary().filter(lambda b: b"\0" not in b),
                )
            ).map(tuple),
            uid=st.none() | st.integers(0, 2**32 - 2),
            gid=st.none() | st.integers(0, 2**32 - 2),
            groups=st.none() | st.lists(st.integers(0, 2**32 - 2)).map(tuple),
            umask=st.none() | st.integers(0, 0o777),
        )
    )
    def test_spawnRoundTrip(self, original: SpawnRequest) -> None:
        """
        Any spawn request decodes to itself.
        """
        self.assertEqual(_spawner.decodeRequest(_spawner.encodeSpawn(original)), original)

    def test_noGroupsIsNotEmptyGroups(self) -> None:
        """
        C{groups=None} and C{groups=()} stay distinct.
        """
        for groups in (None, ()):
            decoded = _spawner.decodeRequest(_spawner.encodeSpawn(request(groups=groups)))
            assert isinstance(decoded, SpawnRequest)
            self.assertIs(type(decoded.groups), type(groups))
            self.assertEqual(decoded.groups, groups)

    def test_otherRequests(self) -> None:
        """
        Signal and retire requests round-trip.
        """
        for message in (SignalRequest(1234, signal.SIGTERM), Retire()):
            encoded = _spawner.encodeRequest(message)
            self.assertEqual(_spawner.decodeRequest(encoded), message)

    def test_replies(self) -> None:
        """
        Every reply round-trips, a failure's text included.
        """
        replies: list[_spawner.Reply] = [
            Started(2**64 - 1, 4321, 123456789012),
            Failed(3, "setrlimit(RLIMIT_AS)", errno.EPERM, "Opération non permise"),
            Failed(4, "execve", 0, ""),
            Exited(4321, 0x0F00, 987654321),
            Retiring(),
        ]
        for reply in replies:
            self.assertEqual(_spawner.decodeReply(_spawner.encodeReply(reply)), reply)

    def test_malformed(self) -> None:
        """
        Unknown, truncated or inconsistent messages raise L{ProtocolError}.
        """
        spawn = _spawner.encodeSpawn(request())
        bad = [b"", b"\x63", spawn[:10], spawn + b"\0extra", b"\x03\x00"]
        for data in bad:
            self.assertRaises(ProtocolError, _spawner.decodeRequest, data)
        for data in [b"", b"\x01", _spawner.encodeReply(Started(1, 2, 3))[:-1]]:
            self.assertRaises(ProtocolError, _spawner.decodeReply, data)

    def test_requestIdOfTruncated(self) -> None:
        """
        The request id is found in a truncated spawn request, not in
        anything else.
        """
        spawn = _spawner.encodeSpawn(request(requestId=99))
        self.assertEqual(_spawner.requestIdOf(spawn[:9]), 99)
        self.assertIsNone(_spawner.requestIdOf(spawn[:8]))
        self.assertIsNone(_spawner.requestIdOf(_spawner.encodeRequest(Retire()) + b"\0" * 8))

    def test_failureRoundTrip(self) -> None:
        """
        What a forked child reports decodes to a L{LaunchError}.
        """
        decoded = _spawner.decodeFailure(_spawner.encodeFailure("setgid", 1, "nope"))
        self.assertEqual((decoded.operation, decoded.errno, decoded.reason), ("setgid", 1, "nope"))

    def test_keyRoundTrip(self) -> None:
        """
        A spawner key survives its command line.
        """
        keys = [
            SpawnerKey(),
            SpawnerKey(((AS, 8 << 20), (NOFILE, INFINITY)), -5, 65534),
            SpawnerKey((), 3, None),
        ]
        for key in keys:
            self.assertEqual(_spawner.decodeKey(_spawner.encodeKey(key)), key)
        self.assertRaises(ValueError, _spawner.decodeKey, ["bogus=1"])


class PureSpawnerTests(SynchronousTestCase):
    """
    The spawner's decisions.
    """

    root = Identity(0, 0, (0,), 0o22, True)
    user = Identity(1000, 1000, (1000, 27), 0o22, False)

    def test_credentialsPrivileged(self) -> None:
        """
        A privileged spawner gives the requested ids; no groups means none.
        """
        self.assertEqual(
            _spawner.credentialsFor(request(groups=None), self.root), Credentials(65534, 65533, ())
        )
        self.assertEqual(
            _spawner.credentialsFor(request(uid=None, groups=(5,)), self.root),
            Credentials(None, 65533, (5,)),
        )

    def test_credentialsUnchanged(self) -> None:
        """
        Without uid and gid nothing changes, the groups included.
        """
        self.assertIsNone(_spawner.credentialsFor(request(uid=None, gid=None), self.root))

    def test_credentialsUnprivileged(self) -> None:
        """
        An unprivileged spawner runs servers under its own ids only.
        """
        own = request(uid=1000, gid=1000, groups=None)
        self.assertIsNone(_spawner.credentialsFor(own, self.user))
        for other, operation in [(request(uid=0, gid=1000), "setuid"), (request(), "setgid")]:
            error = self.assertRaises(LaunchError, _spawner.credentialsFor, other, self.user)
            self.assertEqual((error.operation, error.errno), (operation, errno.EPERM))

    def test_holdable(self) -> None:
        """
        A spawner holds limits it can live under: memory above its own size
        plus a margin, enough descriptors, a CPU limit that leaves it a
        second before it retires, any RSS limit.
        """
        usage = Usage(vmSize=20 << 20, vmData=10 << 20, vmStack=200 << 10, cpu=0.5)
        margin = _spawner.MEMORY_MARGIN
        cases = [
            (AS, (20 << 20) + margin, True),
            (AS, (20 << 20) + margin - 1, False),
            (AS, INFINITY, True),
            (resource.RLIMIT_DATA, (10 << 20) + margin, True),
            (resource.RLIMIT_DATA, 8 << 20, False),
            (resource.RLIMIT_STACK, (200 << 10) + _spawner.STACK_MARGIN, True),
            (resource.RLIMIT_STACK, 64 << 10, False),
            (NOFILE, _spawner.MIN_HELD_NOFILE, True),
            (NOFILE, 10, False),
            (CPU, 3, True),
            (CPU, 2, False),
            (CPU, 0, False),
            (resource.RLIMIT_RSS, 1, True),
            (resource.RLIMIT_NPROC, 100, False),
        ]
        for res, value, expected in cases:
            self.assertEqual(_spawner.holdable(res, value, usage), expected, (res, value))

    def test_cpuBudget(self) -> None:
        """
        A spawner retires at half its smallest finite CPU limit.
        """
        self.assertEqual(_spawner.cpuBudget([(NOFILE, 10), (CPU, 9)]), 4.5)
        self.assertIsNone(_spawner.cpuBudget([(CPU, INFINITY), (AS, 1)]))
        self.assertIsNone(_spawner.cpuBudget([]))

    def test_fileActions(self) -> None:
        """
        The connection goes onto fds 0, 1 and 2; it may not already be one
        of them.
        """
        self.assertEqual(
            _spawner.fileActions(5),
            [(os.POSIX_SPAWN_DUP2, 5, 0), (os.POSIX_SPAWN_DUP2, 5, 1), (os.POSIX_SPAWN_DUP2, 5, 2)],
        )
        self.assertRaises(ValueError, _spawner.fileActions, 2)

    def assertSteps(self, steps: list[_spawner.Step], expected: list[tuple[str, Any]]) -> None:
        described = []
        for operation, step in steps:
            assert isinstance(step, partial)
            described.append((operation, (step.func, *step.args)))
        self.assertEqual(described, expected)

    def test_fastPathSteps(self) -> None:
        """
        For C{posix_spawn} the spawner sets only its real ids (the child's
        effective ids follow with C{POSIX_SPAWN_RESETIDS}).
        """
        credentials = Credentials(65534, 65533, (4, 5))
        steps = _spawner.groupSteps(credentials, 0o27, False) + _spawner.uidSteps(
            credentials, False
        )
        self.assertSteps(
            steps,
            [
                ("setgroups", (os.setgroups, (4, 5))),
                ("setgid", (os.setresgid, 65533, -1, -1)),
                ("umask", (os.umask, 0o27)),
                ("setuid", (os.setresuid, 65534, -1, -1)),
            ],
        )

    def test_restoreSteps(self) -> None:
        """
        After C{posix_spawn} the spawner takes back its real uid, then its
        groups, gid and umask; what was not changed is left alone.
        """
        self.assertSteps(
            _spawner.restoreSteps(self.root, Credentials(65534, 65533, ()), 0o77),
            [
                ("setuid", (os.setresuid, 0, -1, -1)),
                ("setgroups", (os.setgroups, (0,))),
                ("setgid", (os.setresgid, 0, -1, -1)),
                ("umask", (os.umask, 0o22)),
            ],
        )
        self.assertSteps(
            _spawner.restoreSteps(self.root, Credentials(None, 5, ()), None),
            [("setgroups", (os.setgroups, (0,))), ("setgid", (os.setresgid, 0, -1, -1))],
        )
        self.assertEqual(_spawner.restoreSteps(self.user, None, None), [])

    def test_childSteps(self) -> None:
        """
        A forked child sets every id, and its limits before its uid.
        """
        credentials = Credentials(65534, None, ())
        self.assertSteps(
            _spawner.groupSteps(credentials, None, True), [("setgroups", (os.setgroups, ()))]
        )
        self.assertSteps(
            _spawner.limitSteps([(AS, 4096)]),
            [("setrlimit(RLIMIT_AS)", (resource.setrlimit, AS, (4096, 4096)))],
        )
        self.assertSteps(
            _spawner.uidSteps(credentials, True), [("setuid", (os.setresuid, 65534, 65534, 65534))]
        )
        self.assertEqual(_spawner.groupSteps(None, None, True), [])
        self.assertEqual(_spawner.uidSteps(Credentials(None, 5, ()), True), [])

    def test_handledSignals(self) -> None:
        """
        The slow path resets the signals that are not at their default.
        """
        previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        self.addCleanup(signal.signal, signal.SIGUSR1, previous)
        self.assertIn(signal.SIGUSR1, _spawner.handledSignals())
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        self.assertNotIn(signal.SIGUSR1, _spawner.handledSignals())

    def test_runSteps(self) -> None:
        """
        Steps run in order; the first failure names its step and stops the
        rest.
        """
        ran: list[str] = []

        def failing() -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        steps: list[_spawner.Step] = [
            ("first", partial(ran.append, "first")),
            ("second", failing),
            ("third", partial(ran.append, "third")),
        ]
        error = self.assertRaises(LaunchError, _spawner.runSteps, steps)
        self.assertEqual(ran, ["first"])
        self.assertEqual(
            (error.operation, error.errno, error.reason),
            ("second", errno.EPERM, "Operation not permitted"),
        )

    def test_numbersTooLarge(self) -> None:
        """
        A limit too large for the system call is not held by the spawner and
        fails the set-up step that sets it in the child, naming it; the
        spawner does not die of it.
        """
        huge = 2**64
        usage = Usage(vmSize=20 << 20, vmData=10 << 20, vmStack=200 << 10, cpu=0.5)
        self.assertEqual(_spawner.holdLimits([(CPU, huge)], usage), ((), ((CPU, huge),)))
        error = self.assertRaises(
            LaunchError, _spawner.runSteps, _spawner.limitSteps([(CPU, huge)])
        )
        self.assertEqual((error.operation, error.errno), ("setrlimit(RLIMIT_CPU)", 0))
        self.assertIn("too large", error.reason)

    def test_niceClamped(self) -> None:
        """
        A C{nice} increment beyond what the kernel could apply is applied as
        the largest one that means the same.
        """
        increments: list[int] = []
        self.patch(os, "nice", increments.append)
        for increment in (2**40, -(2**40), 7):
            _spawner.applyNice(increment, None, self.user)
        self.assertEqual(increments, [40, -40, 7])

    def test_launchErrorFromValueError(self) -> None:
        """
        C{setrlimit} reports C{EPERM} as a C{ValueError}: no errno.
        """
        error = LaunchError.fromException("setrlimit(RLIMIT_AS)", ValueError("not allowed"))
        self.assertEqual((error.errno, error.reason), (0, "not allowed"))


@dataclass
class FakeLauncher:
    """
    Records launches; fails with C{error} when set.
    """

    pids: list[int] = field(default_factory=lambda: [100, 101, 102])
    error: LaunchError | None = None
    launched: list[tuple[SpawnRequest, int]] = field(default_factory=list)
    received: list[os.stat_result] = field(default_factory=list)

    def launch(self, request: SpawnRequest, fd: int) -> int:
        self.launched.append((request, fd))
        self.received.append(os.fstat(fd))
        if self.error is not None:
            raise self.error
        return self.pids.pop(0)


class SpawnerLoopTests(SynchronousTestCase):
    """
    L{SpawnerLoop} over a socketpair: this test is the daemon.
    """

    def setUp(self) -> None:
        self.daemon, spawnerEnd = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(self.daemon.close)
        self.addCleanup(spawnerEnd.close)
        self.launcher = FakeLauncher()
        self.waits: list[tuple[int, int]] = []
        self.killed: list[tuple[int, int]] = []
        self.cpu = 0.0
        self.loop = SpawnerLoop(
            spawnerEnd,
            self.launcher,
            cpuBudget=5.0,
            cpuTime=lambda: self.cpu,
            monotonic=lambda: 555,
            waitpid=self.fakeWaitpid,
            kill=lambda pid, number: self.killed.append((pid, number)),
            bufferSize=4096,
        )
        self.connection, self.client = socket.socketpair()
        self.addCleanup(self.connection.close)
        self.addCleanup(self.client.close)

    def fakeWaitpid(self, pid: int, options: int) -> tuple[int, int]:
        self.assertEqual((pid, options), (-1, os.WNOHANG))
        if not self.waits:
            raise ChildProcessError(errno.ECHILD, "No child processes")
        return self.waits.pop(0)

    def send(self, message: Request, fds: list[int]) -> None:
        sendWithFds(self.daemon, _spawner.encodeRequest(message), fds)

    def replies(self) -> list[_spawner.Reply]:
        found: list[_spawner.Reply] = []
        while True:
            try:
                data = self.daemon.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return found
            found.append(_spawner.decodeReply(data))

    def test_spawn(self) -> None:
        """
        A spawn request launches the server with the socket that came with
        it, answers with its pid and the start time, then closes the copy.
        """
        self.send(request(requestId=5), [self.connection.fileno()])
        self.assertTrue(self.loop.receive())
        [(launched, fd)] = self.launcher.launched
        self.assertEqual(launched, request(requestId=5))
        received, sent = self.launcher.received[0], os.fstat(self.connection.fileno())
        self.assertEqual((received.st_dev, received.st_ino), (sent.st_dev, sent.st_ino))
        self.assertFalse(isOpen(fd))
        self.assertEqual(self.replies(), [Started(5, 100, 555)])
        self.assertEqual(self.loop.children, {100})

    def test_launchFailure(self) -> None:
        """
        A server that cannot start is answered with the reason.
        """
        self.launcher.error = LaunchError("execve", errno.ENOENT, "No such file or directory")
        self.send(request(requestId=6), [self.connection.fileno()])
        self.loop.receive()
        self.assertEqual(
            self.replies(), [Failed(6, "execve", errno.ENOENT, "No such file or directory")]
        )
        self.assertEqual(self.loop.children, set())

    def test_spawnWithoutSocket(self) -> None:
        """
        A spawn request with no descriptor, or several, is refused and
        nothing is launched; every descriptor received is closed.
        """
        self.send(request(requestId=8), [])
        self.loop.receive()
        self.assertEqual(
            self.replies(), [Failed(8, "receive", errno.EBADF, os.strerror(errno.EBADF))]
        )
        self.send(request(requestId=9), [self.connection.fileno(), self.client.fileno()])
        self.loop.receive()
        self.assertEqual(
            self.replies(), [Failed(9, "receive", errno.EBADF, os.strerror(errno.EBADF))]
        )
        self.assertEqual(self.launcher.launched, [])

    def test_tooLarge(self) -> None:
        """
        A request larger than the spawner's buffer is refused.
        """
        big = request(requestId=10, env=((b"BIG", b"x" * 5000),))
        self.send(big, [self.connection.fileno()])
        self.loop.receive()
        self.assertEqual(
            self.replies(), [Failed(10, "receive", errno.EMSGSIZE, os.strerror(errno.EMSGSIZE))]
        )
        self.assertEqual(self.launcher.launched, [])

    def test_reap(self) -> None:
        """
        Reaped servers are reported with their status; other pids are not.
        """
        self.loop.children = {100, 101}
        self.waits = [(100, 0x0300), (999, 0), (0, 0)]
        self.loop.reap()
        self.assertEqual(self.replies(), [Exited(100, 0x0300, 555)])
        self.assertEqual(self.loop.children, {101})
        self.waits = [(101, signal.SIGKILL)]
        self.loop.reap()
        self.assertEqual(self.replies(), [Exited(101, signal.SIGKILL, 555)])

    def test_signal(self) -> None:
        """
        Only running children are signalled.
        """
        self.loop.children = {100}
        self.send(SignalRequest(100, signal.SIGTERM), [])
        self.send(SignalRequest(1, signal.SIGKILL), [])
        self.loop.receive()
        self.assertEqual(self.killed, [(100, signal.SIGTERM)])

    def test_retire(self) -> None:
        """
        After L{Retire} the loop is done once its last child is reaped.
        """
        self.loop.children = {100}
        self.send(Retire(), [])
        self.loop.receive()
        self.assertFalse(self.loop.done)
        self.waits = [(100, 0)]
        self.loop.reap()
        self.assertTrue(self.loop.done)

    def test_cpuBudget(self) -> None:
        """
        A spawner that has used its CPU budget asks, once, to be retired.
        """
        self.send(request(requestId=1), [self.connection.fileno()])
        self.loop.receive()
        self.assertEqual(self.replies(), [Started(1, 100, 555)])
        self.cpu = 5.0
        for requestId in (2, 3):
            self.send(request(requestId=requestId), [self.connection.fileno()])
        self.loop.receive()
        self.assertEqual(self.replies(), [Started(2, 101, 555), Retiring(), Started(3, 102, 555)])

    def test_endOfChannel(self) -> None:
        """
        The loop learns when the daemon has closed the channel.
        """
        self.assertTrue(self.loop.receive())
        self.daemon.close()
        self.assertFalse(self.loop.receive())


@dataclass
class FakeProcessTransport:
    signals: list[str] = field(default_factory=list)

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


@dataclass
class FakeSpawnerProcess:
    """
    A spawner process as L{ProcessReactor} started it; the test plays it
    through C{channel}.
    """

    protocol: Any
    executable: str
    args: list[str]
    env: dict[str, str]
    childFDs: dict[int, Any]
    channel: socket.socket
    transport: FakeProcessTransport

    def receive(self) -> tuple[Request, list[int]]:
        data, fds = receiveWithFds(self.channel)
        return _spawner.decodeRequest(data), fds

    def reply(self, reply: _spawner.Reply) -> None:
        self.channel.send(_spawner.encodeReply(reply))

    def end(self, reason: Failure | None = None) -> None:
        self.channel.close()
        self.protocol.processEnded(reason or Failure(ProcessDone(0)))


class ProcessReactor(MemoryReactorClock):
    """
    A memory reactor that records C{spawnProcess}.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[FakeSpawnerProcess] = []
        self.spawnError: Exception | None = None

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: str,
        args: list[str],
        env: dict[str, str],
        childFDs: dict[int, Any],
    ) -> FakeProcessTransport:
        if self.spawnError is not None:
            raise self.spawnError
        channel = socket.socket(fileno=os.dup(childFDs[0]))
        transport = FakeProcessTransport()
        self.spawned.append(
            FakeSpawnerProcess(processProtocol, executable, args, env, childFDs, channel, transport)
        )
        return transport

    def readAll(self) -> None:
        """
        Let every reader read.
        """
        for reader in list(self.getReaders()):
            reader.doRead()


class SpawnerTests(SynchronousTestCase):
    """
    L{Spawner}, the daemon's side.
    """

    def setUp(self) -> None:
        self.reactor = ProcessReactor()
        self.now = 10_000_000_000
        self.spawner = Spawner(
            self.reactor,
            python="/usr/bin/python3",
            requestTimeout=5.0,
            idleTimeout=60.0,
            poolSize=2,
            clock=lambda: self.now,
        )
        self.connection, self.client = socket.socketpair()
        for each in (self.connection, self.client):
            self.addCleanup(each.close)
        self.addCleanup(self.closeChannels)

    def closeChannels(self) -> None:
        for process in self.reactor.spawned:
            process.channel.close()

    def spawn(self, **overrides: Any) -> Deferred[RunningProcess]:
        return self.spawner.spawn(spec(**overrides), self.connection.fileno())

    def started(self, process: FakeSpawnerProcess, pid: int = 4242) -> RunningProcess:
        """
        Answer the next request of C{process} as started.
        """
        message, fds = process.receive()
        for fd in fds:
            os.close(fd)
        assert isinstance(message, SpawnRequest)
        process.reply(Started(message.requestId, pid, 9_000_000_000))
        self.reactor.readAll()
        return self.successResultOf(self.lastAnswer)

    def test_startsSpawnerProcess(self) -> None:
        """
        The first spawn starts a spawner process running L{_spawner} in
        isolated mode with the key on its command line, its channel on fd 0
        and its output read by the daemon.
        """
        self.spawn(rlimits=((NOFILE, 77), (AS, 1 << 30)), nice=4, uid=65534)
        [process] = self.reactor.spawned
        self.assertEqual(process.executable, "/usr/bin/python3")
        key = SpawnerKey(tuple(sorted([(AS, 1 << 30), (NOFILE, 77)])), 4, 65534)
        self.assertEqual(
            process.args,
            ["/usr/bin/python3", "-I", "-S", _spawner.__file__, *_spawner.encodeKey(key)],
        )
        self.assertEqual(process.env, {})
        self.assertEqual((process.childFDs[1], process.childFDs[2]), ("r", "r"))
        self.assertEqual(sorted(process.childFDs), [0, 1, 2])
        self.assertEqual(process.channel.type, socket.SOCK_SEQPACKET)

    def test_request(self) -> None:
        """
        The request carries the spec and a copy of the connection, which
        the caller may close at once.
        """
        self.spawn(uid=65534, gid=65534, groups=(7,), umask=0o27, argv=("cat", "-"))
        self.connection.close()
        [process] = self.reactor.spawned
        message, [fd] = process.receive()
        self.addCleanup(os.close, fd)
        self.assertEqual(
            message,
            SpawnRequest(
                requestId=1,
                executable=b"/bin/cat",
                argv=(b"cat", b"-"),
                env=((b"REMOTE_HOST", b"127.0.0.1"),),
                uid=65534,
                gid=65534,
                groups=(7,),
                umask=0o27,
            ),
        )
        peer = socket.socket(fileno=os.dup(fd))
        with peer:
            peer.sendall(b"through the copy")
        self.assertEqual(self.client.recv(100), b"through the copy")

    def test_clientEnvironment(self) -> None:
        """
        The client's variables follow the spec's environment; one the spec
        has already is sent again, and the spawner keeps it in its place
        with the client's value.  A variable that cannot be passed is
        refused before anything is sent.
        """
        base = (("REMOTE_HOST", "inherited"), ("PATH", "/bin"))
        client = (("REMOTE_HOST", "::1"), ("REMOTE_PORT", "7"))
        self.spawner.spawn(spec(env=base), self.connection.fileno(), client)
        [process] = self.reactor.spawned
        message, [fd] = process.receive()
        os.close(fd)
        assert isinstance(message, SpawnRequest)
        self.assertEqual(
            dict(message.env),
            {b"REMOTE_HOST": b"::1", b"PATH": b"/bin", b"REMOTE_PORT": b"7"},
        )
        self.assertEqual(list(dict(message.env)), [b"REMOTE_HOST", b"PATH", b"REMOTE_PORT"])
        for bad in ((("A=B", "1"),), (("A", "\0"),), (("A", "1"), ("A", "2")), (("", "1"),)):
            self.assertRaises(ValueError, self.spawner.spawn, spec(), self.connection.fileno(), bad)
        self.assertRaises(BlockingIOError, process.receive)

    def test_started(self) -> None:
        """
        A started answer fires the L{Deferred} with the server's pid and its
        start time.
        """
        self.lastAnswer = self.spawn()
        running = self.started(self.reactor.spawned[0], pid=4242)
        self.assertEqual((running.pid, running.startedAt), (4242, 9.0))
        self.assertIsNone(running.exit)

    def test_failed(self) -> None:
        """
        A failure answer fails the L{Deferred} with a L{SpawnError}.
        """
        answer = self.spawn(executable="/nonexistent")
        [process] = self.reactor.spawned
        message, fds = process.receive()
        for fd in fds:
            os.close(fd)
        assert isinstance(message, SpawnRequest)
        process.reply(
            Failed(message.requestId, "execve", errno.ENOENT, "No such file or directory")
        )
        self.reactor.readAll()
        error = self.failureResultOf(answer, SpawnError).value
        self.assertEqual(
            (error.executable, error.operation, error.errno, error.reason),
            ("/nonexistent", "execve", errno.ENOENT, "No such file or directory"),
        )
        self.assertEqual(str(error), "execve(/nonexistent) failed: No such file or directory")

    def test_exit(self) -> None:
        """
        An exit report ends the server: status or signal, and duration.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        first = self.started(process, pid=10)
        self.lastAnswer = self.spawn()
        second = self.started(process, pid=11)
        ended = first.whenExited()
        self.assertNoResult(ended)
        process.reply(Exited(10, 3 << 8, 11_500_000_000))
        process.reply(Exited(11, signal.SIGSEGV | 0x80, 9_250_000_000))
        self.reactor.readAll()
        self.assertEqual(self.successResultOf(ended), ProcessExit(3, None, 2.5))
        self.assertEqual(first.exit, ProcessExit(3, None, 2.5))
        self.assertEqual(self.successResultOf(second.whenExited()), ProcessExit(None, 11, 0.25))

    def test_signal(self) -> None:
        """
        Signalling a running server asks its spawner; an ended one is left
        alone.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        running = self.started(process, pid=12)
        running.signal(signal.SIGTERM)
        self.assertEqual(process.receive(), (SignalRequest(12, signal.SIGTERM), []))
        process.reply(Exited(12, 0, 9_000_000_000))
        self.reactor.readAll()
        running.signal(signal.SIGKILL)
        self.assertRaises(BlockingIOError, process.receive)

    def test_pool(self) -> None:
        """
        A busy spawner gets a companion for the same key, up to the pool
        size; another key gets its own; an idle one is reused.
        """
        answers = [self.spawn(), self.spawn(), self.spawn()]
        self.assertEqual(len(self.reactor.spawned), 2)
        self.spawn(nice=1)
        self.assertEqual(len(self.reactor.spawned), 3)
        first, second, _ = self.reactor.spawned
        for process in (first, second):
            while True:
                try:
                    message, fds = process.receive()
                except BlockingIOError:
                    break
                for fd in fds:
                    os.close(fd)
                assert isinstance(message, SpawnRequest)
                process.reply(Failed(message.requestId, "execve", errno.ENOENT, "gone"))
        self.reactor.readAll()
        for answer in answers:
            self.failureResultOf(answer, SpawnError)
        self.spawn()
        self.assertEqual(len(self.reactor.spawned), 3)

    def test_idleRetirement(self) -> None:
        """
        A spawner with nothing to do for C{idleTimeout} is retired; the next
        spawn starts a new one.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        running = self.started(process, pid=20)
        self.reactor.advance(120)
        process.reply(Exited(20, 0, 9_000_000_000))
        self.reactor.readAll()
        self.assertEqual(running.exit, ProcessExit(0, None, 0.0))
        self.reactor.advance(59)
        self.assertRaises(BlockingIOError, process.receive)
        self.reactor.advance(1)
        self.assertEqual(process.receive(), (Retire(), []))
        self.spawn()
        self.assertEqual(len(self.reactor.spawned), 2)
        process.end()
        [watchdog] = self.reactor.getDelayedCalls()
        self.assertEqual(watchdog.getTime(), self.reactor.seconds() + 5.0)

    def test_retiringSpawner(self) -> None:
        """
        A spawner asking to retire is sent L{Retire} and replaced.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        self.started(process)
        process.reply(Retiring())
        self.reactor.readAll()
        self.assertEqual(process.receive(), (Retire(), []))
        self.spawn()
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_watchdog(self) -> None:
        """
        A spawner that answers nothing for C{requestTimeout} is killed and
        its requests fail; one that keeps answering is left alone.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        self.reactor.advance(4)
        self.started(process)
        stuck = self.spawn()
        self.reactor.advance(1)
        self.assertEqual(process.transport.signals, [])
        self.assertNoResult(stuck)
        self.reactor.advance(5)
        self.assertEqual(process.transport.signals, ["KILL"])
        error = self.failureResultOf(stuck, SpawnError).value
        self.assertEqual(error.operation, "spawner")
        self.assertIn("did not answer within 5 seconds", error.reason)

    def test_spawnerDies(self) -> None:
        """
        When a spawner dies, its unanswered requests fail, the exit reports
        it sent first still count, and a server that is gone already is
        reported with an unknown status; the next spawn starts a new one.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        reported = self.started(process, pid=30)
        self.lastAnswer = self.spawn()
        orphan = self.started(process, pid=NO_SUCH_PID)
        pending = self.spawn()
        process.reply(Exited(30, 0, 9_500_000_000))
        self.now = 12_000_000_000
        process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        self.assertEqual(reported.exit, ProcessExit(0, None, 0.5))
        self.assertEqual(orphan.exit, ProcessExit(None, None, 3.0))
        error = self.failureResultOf(pending, SpawnError).value
        self.assertEqual(error.operation, "spawner")
        self.assertIn("the spawner process ended", error.reason)
        self.spawn()
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_serversAdoptedOnlyOnceReaped(self) -> None:
        """
        The channel ends before the spawner is reaped: its requests fail at
        once, its servers are watched only once it has been reaped (until
        then they may still be its children, or zombies of it).
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        orphan = self.started(process, pid=NO_SUCH_PID)
        pending = self.spawn()
        process.channel.close()
        self.reactor.readAll()
        self.failureResultOf(pending, SpawnError)
        self.assertIsNone(orphan.exit)
        self.assertEqual(self.reactor.getReaders(), [])
        process.protocol.processEnded(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        self.assertEqual(orphan.exit, ProcessExit(None, None, 1.0))

    def test_adoptedServerStillRunning(self) -> None:
        """
        A server adopted after its spawner died is watched until it ends;
        a wake-up meant for an earlier descriptor with the same number
        does not end it.
        """
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        stillRunning = self.started(process, pid=os.getpid())
        process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        [watcher] = self.reactor.getReaders()
        watcher.doRead()
        self.assertIsNone(stillRunning.exit)
        self.successResultOf(self.spawner.stopService())
        self.assertEqual(self.reactor.getReaders(), [])

    def test_serverThatCannotBeWatched(self) -> None:
        """
        A server whose pidfd cannot be had after its spawner died (no
        pidfd_open, a seccomp filter, no descriptor left) is ended with an
        unknown status, the error is logged and the spawner still counts as
        ended, so stopping does not wait for it.
        """
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

        def noPidfd(pid: int) -> int:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

        self.spawner.startService()
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        unwatched = self.started(process, pid=os.getpid())
        self.patch(os, "pidfd_open", noPidfd)
        self.now = 11_000_000_000
        process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        self.assertEqual(unwatched.exit, ProcessExit(None, None, 2.0))
        self.assertEqual(self.reactor.getReaders(), [])
        self.assertEqual([event.get("pid") for event in events if "pid" in event], [os.getpid()])
        self.successResultOf(self.spawner.stopService())

    def test_fullChannel(self) -> None:
        """
        Requests that do not fit in the channel wait, with copies of their
        connections, and go out in order when it drains.
        """
        self.spawner.poolSize = 1
        answers = []
        for _ in range(2000):
            answers.append(self.spawn())
            if self.reactor.getWriters():
                break
        self.assertTrue(self.reactor.getWriters())
        queued = len(answers)
        for _ in range(3):
            answers.append(self.spawn())
        self.connection.close()
        process = self.reactor.spawned[0]
        ids: list[int] = []
        while len(ids) < len(answers):
            try:
                message, fds = process.receive()
            except BlockingIOError:
                [writer] = self.reactor.getWriters()
                writer.doWrite()
                continue
            assert isinstance(message, SpawnRequest)
            self.assertEqual(len(fds), 1)
            self.assertTrue(isOpen(fds[0]))
            os.close(fds[0])
            ids.append(message.requestId)
        self.assertEqual(ids, list(range(1, len(answers) + 1)))
        self.assertGreater(len(answers), queued)
        self.assertEqual(self.reactor.getWriters(), [])

    def test_tooLarge(self) -> None:
        """
        A request too large for the channel fails at once.
        """
        answer = self.spawn(env=(("BIG", "x" * (8 << 20)),))
        error = self.failureResultOf(answer, SpawnError).value
        self.assertEqual((error.operation, error.errno), ("send", errno.EMSGSIZE))

    def test_cannotStartSpawner(self) -> None:
        """
        A spawner process that cannot be started fails the spawn.
        """
        self.reactor.spawnError = FileNotFoundError(
            errno.ENOENT, "No such file", "/usr/bin/python3"
        )
        error = self.failureResultOf(self.spawn(), SpawnError).value
        self.assertEqual((error.operation, error.errno), ("spawner", errno.ENOENT))
        self.assertEqual(self.reactor.getReaders(), [])

    def test_cannotGrowPool(self) -> None:
        """
        When all spawners are busy and another cannot be started, the
        request goes to a running one rather than failing.
        """
        first = self.spawn()
        self.reactor.spawnError = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        message, fds = process.receive()
        for fd in fds:
            os.close(fd)
        assert isinstance(message, SpawnRequest)
        process.reply(Started(message.requestId, 50, 9_000_000_000))
        self.assertEqual(self.started(process, pid=51).pid, 51)
        self.assertEqual(self.successResultOf(first).pid, 50)

    def test_stopService(self) -> None:
        """
        Stopping closes every channel and waits for the spawners to exit;
        spawning afterwards fails.
        """
        self.spawner.startService()
        self.lastAnswer = self.spawn()
        [process] = self.reactor.spawned
        self.started(process)
        stopped = self.spawner.stopService()
        self.assertNoResult(stopped)
        self.assertEqual(process.channel.recv(100), b"")
        self.assertEqual(self.reactor.getReaders(), [])
        process.end()
        self.successResultOf(stopped)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(process.transport.signals, [])
        error = self.failureResultOf(self.spawn(), SpawnError).value
        self.assertEqual(error.reason, "txinetd is stopping")

    def test_stopKillsStuckSpawners(self) -> None:
        """
        A spawner that has not exited C{requestTimeout} after being closed
        is killed.
        """
        answer = self.spawn()
        [process] = self.reactor.spawned
        stopped = self.spawner.stopService()
        self.failureResultOf(answer, SpawnError)
        self.reactor.advance(4.9)
        self.assertEqual(process.transport.signals, [])
        self.reactor.advance(0.1)
        self.assertEqual(process.transport.signals, ["KILL"])
        self.assertNoResult(stopped)
        process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        self.successResultOf(stopped)

    def test_spawnerOutputIsLogged(self) -> None:
        """
        Whatever a spawner process prints is logged, line by line.
        """
        self.spawn()
        [process] = self.reactor.spawned
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        process.protocol.childDataReceived(2, b"Traceback\n  boom\n")
        lines = [event.get("line") for event in events if "line" in event]
        self.assertEqual(lines, ["Traceback", "  boom"])


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
        A spec's strings are encoded once, for all of its servers.
        """
        made = spec()
        first = spawnRequest(1, made)
        second = spawnRequest(2, made, (("REMOTE_PORT", "9"),))
        self.assertIs(first.argv, second.argv)
        self.assertEqual(second.env, ((b"REMOTE_HOST", b"127.0.0.1"), (b"REMOTE_PORT", b"9")))

    def test_key(self) -> None:
        """
        A spec's spawner key holds its sorted limits and its nice increment
        with the user it applies as.
        """
        self.assertEqual(
            spawnerKey(spec(rlimits=((AS, 6), (NOFILE, 5)), uid=1, nice=None)),
            SpawnerKey(tuple(sorted([(AS, 6), (NOFILE, 5)])), None, None),
        )
        self.assertEqual(spawnerKey(spec(uid=1, nice=2)).niceUid, 1)

    def test_requestBytes(self) -> None:
        """
        Strings become bytes as the file system encodes them, undecodable
        bytes included.
        """
        made = spawnRequest(3, spec(argv=("x\udcff",), env=(("K", "é"),)))
        self.assertEqual(made.argv, (b"x\xff",))
        self.assertEqual(made.env, ((b"K", "é".encode()),))


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
        error = SpawnError("/bin/x", "spawner", None, "txinetd is stopping")
        self.assertEqual(error.describe(), "execv( /bin/x ) failed: txinetd is stopping")

    def test_setUpStep(self) -> None:
        """
        A step of the set-up is named, as in xinetd's C{setuid failed}.
        """
        error = SpawnError("/bin/x", "setuid", errno.EPERM, "Operation not permitted")
        self.assertEqual(error.describe(), "setuid failed: Operation not permitted (errno = 1)")
        error = SpawnError("/bin/x", "setrlimit(RLIMIT_NOFILE)", None, "too large")
        self.assertEqual(error.describe(), "setrlimit(RLIMIT_NOFILE) failed: too large")


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
