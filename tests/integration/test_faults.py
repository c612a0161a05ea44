# -*- test-case-name: tests.integration.test_faults -*-
"""
Faults injected into a running txinetd: the real C{twistd -n xinetd}
(under C{prlimit} or in a private mount namespace where the fault needs it),
or an in-process tree on the real reactor where that is more precise.  For
every fault the daemon is shown to survive (it keeps serving another
service and, once the fault ends, the faulty one), and its program log says
what xinetd says.  A reconfiguration (SIGHUP) is sent in the middle of each.

Faults: servers that cannot be executed (missing, not executable, a
directory); C{RLIMIT_NPROC} reached by the service's user; descriptor
exhaustion under a low C{RLIMIT_NOFILE}; servers that hang, crash (SIGSEGV,
abort) or ignore SIGTERM when the daemon stops; servers that fork, whose
children end with them (daemon stopped, client refused by a hard
reconfiguration); clients that reset mid-stream or never read; a full disk
under the FILE logs (C{/dev/full} and a tiny tmpfs); a syslog socket that
disappears and comes back.

With C{TXINETD_SOAK=1} every fault is injected L{ROUNDS} times and
L{CLIENTS} misbehaving clients are used per round.

Needs root and util-linux (C{prlimit}, C{unshare}, C{mount}: Debian package
util-linux, mount); the tests that need them are skipped without.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import os
import pwd
import random
import re
import resource
import shutil
import signal
import socket
import struct
import sys
import termios
from collections.abc import Callable, Generator, Sequence
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError, ConnectionRefusedError, ProcessTerminated
from twisted.internet.protocol import DatagramProtocol, Protocol
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessValue
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from txinetd.core.config import Config
from txinetd.daemon.tree import XinetdService

from .support import (
    TIMEOUT,
    CollectingProcess,
    captureLog,
    collaborators,
    freePorts,
    internalService,
    loadText,
    pollUntil,
    reactor,
    tcpExchange,
    withTimeout,
)
from .test_logging import DAYTIME, HOST, TIMESTAMP, TxinetdRun, serviceEntry
from .test_operating import Client, builtin, connectClient, defaults, served
from .test_twistd import ROOT, TWISTD

Generated = Generator[Deferred[Any], Any, None]

SOAK = os.environ.get("TXINETD_SOAK") == "1"
#: How many times each fault is injected.
ROUNDS = 20 if SOAK else 1
#: How many misbehaving clients each round has.
CLIENTS = 200 if SOAK else 10
#: How many connect at once: less than a listen queue holds (64).
BATCH = 32

MISBEHAVE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers", "misbehave.py"
)
#: The seconds a service deactivated for want of descriptors waits.
DESCRIPTOR_WAIT = 3
#: An upper bound on the connections a test makes to reach a state.
ATTEMPTS = 1000
#: A process is idle when it uses at most a clock tick in this many seconds.
IDLE = 0.5
#: How much (KiB) a daemon's resident memory may grow while clients do not
#: read, besides what it buffers for each of them (chargen: one block of
#: 56 KiB at most).
MEMORY_SLACK = 4096
BUFFERED = 128


def needRoot() -> None:
    """
    Skip the test unless it runs as root.
    """
    if os.geteuid() != 0:
        raise SkipTest("needs root")


def needCommand(name: str) -> str:
    """
    The path of a util-linux command; skip the test if it is missing.
    """
    path = shutil.which(name)
    if path is None:
        raise SkipTest(f"{name} is not installed (Debian package util-linux)")
    return path


def external(serviceId: str, port: int, server: str, args: str = "", *lines: str) -> str:
    """
    An UNLISTED stream service on 127.0.0.1 whose server is C{server}, run
    as the test's user unless C{lines} name another.
    """
    if not any(line.startswith("user ") for line in lines):
        lines += (f"user = {pwd.getpwuid(os.geteuid()).pw_name}",)
    body = "".join(f"\t{line}\n" for line in lines)
    if args:
        body += f"\tserver_args = {args}\n"
    return (
        f"service {serviceId}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n"
        f"\tprotocol = tcp\n\twait = no\n\tport = {port}\n\tbind = {HOST}\n"
        f"\tserver = {server}\n{body}}}\n"
    )


def misbehaving(serviceId: str, port: int, how: str, marker: str) -> str:
    """
    A service whose server is L{MISBEHAVE} doing C{how}; C{marker} is in its
    command line.
    """
    return external(serviceId, port, sys.executable, f"-I -S {MISBEHAVE} {how} {marker}")


# --- the process table ------------------------------------------------------


def status(pid: int) -> dict[str, str]:
    """
    The fields of C{/proc/<pid>/status}; empty if the process is gone.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except (FileNotFoundError, ProcessLookupError):
        return {}


def alive(pid: int) -> bool:
    """
    Whether C{pid} exists and is not a zombie.
    """
    state = status(pid).get("State", "Z")
    return not state.startswith(("Z", "X"))


def residentKiB(pid: int) -> int:
    """
    A process's resident memory, in KiB.
    """
    return int(status(pid)["VmRSS"].split()[0])


def cpuTicks(pid: int) -> int:
    """
    The user and system time a process has used, in clock ticks.
    """
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@inlineCallbacks
def idle(pid: int) -> Generated:
    """
    Fire once a process has been idle for L{IDLE} seconds (within
    L{TIMEOUT} seconds).
    """
    deadline = reactor.seconds() + TIMEOUT
    while reactor.seconds() < deadline:
        ticks = cpuTicks(pid)
        yield deferLater(reactor, IDLE, lambda: None)
        if cpuTicks(pid) - ticks <= 1:
            return
    raise AssertionError(f"process {pid} is never idle")


def processes() -> list[int]:
    """
    The pids of every process.
    """
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def commandLine(pid: int) -> bytes:
    """
    A process's NUL-separated argv; empty if it is gone.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def marked(marker: str) -> list[int]:
    """
    The live processes whose command line contains C{marker}.
    """
    return [pid for pid in processes() if marker.encode() in commandLine(pid) and alive(pid)]


def killIfAlive(pid: int) -> None:
    """
    Kill a process a test started, if it still runs.
    """
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """
    The pids of a process's children.
    """
    return [child for child in processes() if status(child).get("PPid") == str(pid)]


def tasksOf(uid: int) -> int:
    """
    How many tasks (threads) run with real uid C{uid}: what C{RLIMIT_NPROC}
    counts.
    """
    return tasksByUid().get(uid, 0)


def tasksByUid() -> dict[int, int]:
    """
    How many tasks (threads) run with each real uid.
    """
    counts: dict[int, int] = {}
    for pid in processes():
        fields = status(pid)
        uid = fields.get("Uid", "").split("\t")[0]
        if uid.isdigit():
            counts[int(uid)] = counts.get(int(uid), 0) + int(fields.get("Threads", "1"))
    return counts


def unusedId(first: int = 61000, last: int = 64999) -> int:
    """
    A number that is the uid of no account, the gid of no group, and the
    real uid of no task: what C{RLIMIT_NPROC} counts for it is a test's
    own, whatever else runs on the machine (C{nobody} is shared).  It is
    drawn at random, so that two test runs at once take different ones.
    """
    taken = {entry.pw_uid for entry in pwd.getpwall()} | {entry.gr_gid for entry in grp.getgrall()}
    taken |= tasksByUid().keys()
    free = [number for number in range(first, last + 1) if number not in taken]
    if not free:
        raise SkipTest(f"no unused id between {first} and {last}")
    return random.choice(free)


def tcpSockets(pid: int) -> int:
    """
    How many TCP sockets a process has open.
    """
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            inodes.update(line.split()[9] for line in list(f)[1:])
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            count += target.startswith("socket:[") and target[8:-1] in inodes
    return count


def intoDirectory(path: str) -> None:
    """
    Replace the file C{path} by an empty directory.
    """
    os.remove(path)
    os.mkdir(path)


def waitFor(texts: list[str], text: str, count: int) -> Deferred[bool]:
    """
    Fire once C{texts} holds C{text} C{count} times.
    """
    return pollUntil(lambda: texts.count(text) >= count or None, lambda: f"{text!r} in {texts}")


# --- clients ------------------------------------------------------------------


def resetNow(transport: Any) -> None:
    """
    Close a connection with a reset (C{SO_LINGER} 0), discarding what is
    unsent.
    """
    transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abortConnection()


class Resetter(Protocol):
    """
    Sends C{payload}; at the first bytes received resets the connection.
    """

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.reset = False
        self.gone: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.payload)

    def dataReceived(self, data: bytes) -> None:
        self.reset = True
        resetNow(self.transport)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.gone.callback(None)


class Burst(Protocol):
    """
    Sends C{payload}, half-closes and collects the reply; C{reply} fires
    with it when the connection ends (by a reset too).
    """

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.received = bytearray()
        self.reply: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.payload)
        self.transport.loseWriteConnection()  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.reply.callback(bytes(self.received))


def echoedOrClosed(client: Client) -> Deferred[bool]:
    """
    Fire once a client has received a whole line, or its connection ended.
    """
    return pollUntil(
        lambda: client.closed.called or client.received.endswith(b"\n") or None,
        lambda: f"a line or the end; received {bytes(client.received)!r}",
    )


@inlineCallbacks
def servesAgain(port: int, send: bytes, expected: Callable[[bytes], bool]) -> Generated:
    """
    Fire once a service's answer to C{send} is as C{expected}, trying again
    while it is not (a deactivated service refuses for a while).
    """
    answers = []
    for _ in range(ATTEMPTS):
        try:
            answer = yield tcpExchange(HOST, port, send)
        except ConnectError as e:
            answer = repr(e).encode()
        if expected(answer):
            return
        answers.append(answer)
        yield deferLater(reactor, 0.1, lambda: None)
    raise AssertionError(f"port {port} answered {answers}")


def connect(port: int, protocol: Protocol) -> Deferred[Any]:
    """
    Connect C{protocol} to a port of 127.0.0.1.
    """
    return withTimeout(connectProtocol(TCP4ClientEndpoint(reactor, HOST, port), protocol))


def nonReader(port: int) -> socket.socket:
    """
    A connection whose receive window is as small as the kernel allows and
    that is never read.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    sock.settimeout(5)
    sock.connect((HOST, port))
    return sock


def unread(sock: socket.socket) -> int:
    """
    How many received bytes wait in a socket.
    """
    data = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", data)[0])


def resetSocket(sock: socket.socket) -> None:
    """
    Close a plain socket with a reset.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@inlineCallbacks
def refused(port: int) -> Generator[Deferred[Any], Any, bool]:
    """
    Whether a connection to C{port} is refused.
    """
    try:
        protocol = yield connect(port, Protocol())
    except ConnectionRefusedError:
        return True
    resetNow(protocol.transport)
    return False


# --- the daemon ---------------------------------------------------------------


class FaultRun(TxinetdRun):
    """
    A real C{twistd -n xinetd} for one test, possibly under a wrapper
    command (C{prlimit}, C{unshare}) that ends by executing twistd, so that
    the process's pid is twistd's.
    """

    def __init__(self, testCase: TestCase) -> None:
        super().__init__(testCase)
        self.programLog = self.path("program.log")
        self.marker = self.directory

    def start(self, config: str, *options: str, wrapper: Sequence[str] = ()) -> Deferred[None]:
        path = self.path("xinetd.conf")
        with open(path, "w") as f:
            f.write(config)
        command = [*wrapper, TWISTD, "-n", "--pidfile=", "xinetd", "-f", path]
        command += ["--hosts-allow", self.path("hosts.allow")]
        command += ["--hosts-deny", self.path("hosts.deny"), *options]
        self.process = reactor.spawnProcess(
            self.daemon, command[0], command, env=dict(os.environ), path=ROOT
        )
        self.testCase.addCleanup(self.stop)
        return withTimeout(self.daemon.ready, 30)

    def stop(self) -> Deferred[BaseException]:
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGCONT)
        return super().stop()

    @property
    def output(self) -> str:
        """
        What twistd wrote: its own log, with every program message.
        """
        return self.daemon.output.decode("utf-8", "replace")

    def said(self, fragment: str) -> int:
        """
        How many lines of twistd's output contain C{fragment}.
        """
        return sum(fragment in line for line in self.output.splitlines())

    def waitSaid(self, fragment: str, count: int = 1) -> Deferred[int]:
        """
        Fire once C{count} lines of twistd's output contain C{fragment}.
        """
        return pollUntil(
            lambda: self.said(fragment) >= count or None,
            lambda: f"{count} lines with {fragment!r} in {self.output}",
        )

    def logged(self, fragment: str, name: str = "program.log") -> int:
        """
        How many lines of a log file of the run contain C{fragment}.
        """
        return sum(fragment in line for line in self.lines(name))

    def waitLogged(self, fragment: str, count: int = 1, name: str = "program.log") -> Deferred[int]:
        """
        Fire once C{count} lines of a log file of the run contain
        C{fragment}.
        """
        return pollUntil(
            lambda: self.logged(fragment, name) >= count or None,
            lambda: f"{count} lines with {fragment!r} in {name}: {self.lines(name)}",
        )

    def hangUp(self, outcome: str = "Reconfigured: ") -> Deferred[int]:
        """
        Send SIGHUP; fire once the reconfiguration has ended with a message
        containing C{outcome}.
        """
        count = self.said(outcome)
        self.process.signalProcess(signal.SIGHUP)
        return self.waitSaid(outcome, count + 1)

    def signal(self, number: int) -> None:
        """
        Send a signal to twistd.
        """
        os.kill(self.pid, number)

    def assertNoTraceback(self) -> None:
        """
        twistd logged no traceback and no unhandled error.
        """
        self.testCase.assertNotIn("Traceback", self.output)
        self.testCase.assertNotIn("Unhandled", self.output)


def limited(**limits: int) -> list[str]:
    """
    The C{prlimit} command that runs a program with soft = hard = the
    given limits (C{nofile=64}).
    """
    return [
        needCommand("prlimit"),
        *(f"--{name}={value}:{value}" for name, value in limits.items()),
        "--",
    ]


# --- the tests ----------------------------------------------------------------


class FaultTestCase(TestCase):
    """
    A test case whose tests may run for long in soak mode.
    """

    timeout = 900 if SOAK else 120


class ExecFailureTests(FaultTestCase):
    """
    Servers that cannot be executed: the client's connection is closed,
    the program log has xinetd's C{execv( <server> ) failed: <strerror>
    (errno = <n>)}, other services are served, and once the server is back
    it is run.  A SIGHUP while a server is missing is refused whole
    (xinetd's own check of C{server} fails) and the running configuration
    stays.
    """

    @inlineCallbacks
    def test_unexecutableServers(self) -> Generated:
        run = FaultRun(self)
        daytimePort, *ports = freePorts(4)
        paths = [run.path(name) for name in ("gone", "noexec", "directory")]
        for path in paths:
            shutil.copy2("/bin/echo", path)
        config = defaults(run) + builtin("daytime", daytimePort)
        for path, port in zip(paths, ports, strict=True):
            config += external(os.path.basename(path), port, path, "served")
        yield run.start(config, "-filelog", run.programLog)
        yield served(daytimePort)
        gone, noexec, directory = paths
        spoil: list[tuple[str, Callable[[], None], int]] = [
            (gone, lambda: os.remove(gone), errno.ENOENT),
            (noexec, lambda: os.chmod(noexec, 0o644), errno.EACCES),
            (directory, lambda: intoDirectory(directory), errno.EACCES),
        ]
        for round in range(ROUNDS):
            for _, damage, _ in spoil:
                damage()
            for (path, _, number), port in zip(spoil, ports, strict=True):
                answer = yield tcpExchange(HOST, port)
                self.assertEqual(answer, b"")
                message = f"ERROR: execv( {path} ) failed: {os.strerror(number)} (errno = {number})"
                yield run.waitLogged(message, round + 1)
            yield served(daytimePort)
            yield run.hangUp("reconfiguration failed")
            self.assertEqual(run.logged(f"Unable to stat: {gone}."), round + 1)
            self.assertEqual(run.logged(f"Server {noexec} is not executable"), round + 1)
            os.rmdir(directory)
            for path in paths:
                shutil.copy2("/bin/echo", path)
            for port in ports:
                answer = yield tcpExchange(HOST, port)
                self.assertEqual(answer, b"served\n")
            yield run.hangUp()
        for path in paths:
            name = os.path.basename(path)
            self.assertEqual(run.logged(f": START: {name} pid=", "service.log"), ROUNDS)
            self.assertEqual(run.logged(f": EXIT: {name} status=0 pid=", "service.log"), ROUNDS)
        run.assertNoTraceback()


class ProcessLimitTests(FaultTestCase):
    """
    C{RLIMIT_NPROC} reached by a service's user (a numeric id that no
    account and no other process has, so that only the test's processes
    count): the daemon (root, so not limited itself) cannot start that
    user's server; the client is closed and the program log has xinetd's
    C{execv( <server> ) failed: Resource temporarily unavailable (errno =
    11)}; the daemon goes on, and serves that user again once its
    processes have ended.
    """

    def setUp(self) -> None:
        needRoot()
        self.sleepers: list[Any] = []
        self.user = unusedId()

    def sleeper(self) -> Any:
        """
        Start a process as the service's user that sleeps until it is
        killed.
        """
        ending = CollectingProcess()
        # setpriv takes an id that no account has (Twisted's uid switch
        # looks the account up).
        setpriv = needCommand("setpriv")
        ids = (f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups")
        process = reactor.spawnProcess(
            ending, setpriv, [setpriv, *ids, "/bin/sleep", "600"], env={}
        )
        self.addCleanup(lambda: process.pid is None or process.signalProcess("KILL"))
        self.sleepers.append((process, ending))
        return process

    def killSleepers(self) -> Deferred[Any]:
        """
        Kill the sleeping processes; fire once they have ended.
        """
        sleepers, self.sleepers = self.sleepers, []
        for process, _ in sleepers:
            process.signalProcess("KILL")
        return withTimeout(gatherResults([ending.ended for _, ending in sleepers]))

    @inlineCallbacks
    def test_nprocReached(self) -> Generated:
        run = FaultRun(self)
        user = self.user
        others = tasksOf(user)
        self.assertEqual(others, 0)
        limit = 2
        daytimePort, nobodyPort, rootPort = freePorts(3)
        config = (
            defaults(run)
            + builtin("daytime", daytimePort)
            + external("nob", nobodyPort, "/bin/echo", "served", f"user = {user}")
            + external("own", rootPort, "/bin/echo", "served")
        )
        yield run.start(config, "-filelog", run.programLog, wrapper=limited(nproc=limit))
        answer = yield tcpExchange(HOST, nobodyPort)
        self.assertEqual(answer, b"served\n")
        message = "ERROR: execv( /bin/echo ) failed: Resource temporarily unavailable (errno = 11)"
        for round in range(ROUNDS):
            # The last server may still be ending.
            yield pollUntil(lambda: tasksOf(user) <= others or None, lambda: "servers gone")
            # The limit is reached when the user has more tasks than it.
            for _ in range(limit + 1 - others):
                self.sleeper()
            yield pollUntil(
                lambda: tasksOf(user) > limit or None, lambda: f"more than {limit} tasks"
            )
            answer = yield tcpExchange(HOST, nobodyPort)
            self.assertEqual(answer, b"")
            yield run.waitLogged(message, 2 * round + 1)
            answer = yield tcpExchange(HOST, rootPort)
            self.assertEqual(answer, b"served\n")
            yield served(daytimePort)
            yield run.hangUp()
            answer = yield tcpExchange(HOST, nobodyPort)
            self.assertEqual(answer, b"")
            yield run.waitLogged(message, 2 * round + 2)
            yield self.killSleepers()
            answer = yield tcpExchange(HOST, nobodyPort)
            self.assertEqual(answer, b"served\n")
        self.assertEqual(run.logged(message), 2 * ROUNDS)
        # START is written once the daemon has seen the exec, which may be
        # after the server has answered (docs/differences.md).
        yield run.waitLogged(": START: nob pid=", ROUNDS + 1, "service.log")
        self.assertEqual(run.logged(": START: nob pid=", "service.log"), ROUNDS + 1)
        run.assertNoTraceback()


def descriptorDefaults(run: TxinetdRun) -> str:
    """
    L{defaults}, with cps set only for its wait: how long a service
    deactivated for want of descriptors waits.
    """
    return defaults(run).replace("cps = 0 0", f"cps = 100000 {DESCRIPTOR_WAIT}")


def deactivated(name: str, wait: int = DESCRIPTOR_WAIT) -> str:
    """
    xinetd's line for a service deactivated for want of descriptors.
    """
    return (
        f"Deactivating service {name} due to no available descriptors.  "
        f"Restarting in {wait} seconds."
    )


class DescriptorExhaustionTests(FaultTestCase):
    """
    A daemon with a low C{RLIMIT_NOFILE} (C{ulimit -n}): when accept()
    fails for want of descriptors the service is deactivated with xinetd's
    line, clients are refused for the wait, other services are served, and
    after the wait it is activated again (C{Activating service <name>}) and
    serves.
    """

    @inlineCallbacks
    def test_burst(self) -> Generated:
        """
        A burst of connections to an external service, more than there are
        free descriptors, reaches the daemon at once (it is stopped while
        they connect): the daemon holds each one until its server runs, so
        accept() fails part-way.  The connections accepted are served, the
        others reset when the service closes its socket.
        """
        run = FaultRun(self)
        daytimePort, catPort = freePorts(2)
        config = (
            descriptorDefaults(run)
            + builtin("daytime", daytimePort)
            + external("cat", catPort, "/bin/cat")
        )
        yield run.start(config, "-filelog", run.programLog, wrapper=limited(nofile=40))
        answer = yield tcpExchange(HOST, catPort, b"warm")
        self.assertEqual(answer, b"warm")
        for round in range(ROUNDS):
            yield self.burst(run, catPort, round)
            self.assertTrue((yield refused(catPort)))
            yield served(daytimePort)
            yield run.hangUp()
            self.assertEqual(run.logged("ERROR: Activating service cat"), round)
            yield run.waitLogged("ERROR: Activating service cat", round + 1)
            answer = yield tcpExchange(HOST, catPort, b"again")
            self.assertEqual(answer, b"again")
        self.assertEqual(run.logged(deactivated("cat")), ROUNDS)
        run.assertNoTraceback()

    @inlineCallbacks
    def burst(self, run: FaultRun, port: int, round: int) -> Generated:
        """
        Connect 56 clients while twistd is stopped, then let it go on: some
        are served, the others reset, and the service is deactivated.
        """
        run.signal(signal.SIGSTOP)
        try:
            clients = [Burst(b"%d" % n) for n in range(56)]
            yield gatherResults([connect(port, client) for client in clients])
        finally:
            run.signal(signal.SIGCONT)
        replies = yield withTimeout(gatherResults([client.reply for client in clients]))
        answered = [reply for reply in replies if reply]
        for reply, client in zip(replies, clients, strict=True):
            self.assertIn(reply, (b"", client.payload))
        self.assertTrue(0 < len(answered) < len(clients), replies)
        yield run.waitLogged(f"ERROR: {deactivated('cat')}", round + 1)

    @inlineCallbacks
    def test_heldSessions(self) -> Generated:
        """
        Sessions of an internal service held open until the daemon has no
        descriptor left: the daemon reconfigures meanwhile, and serves every
        service again once the sessions have ended; the service is
        deactivated with xinetd's line.
        """
        run = FaultRun(self)
        daytimePort, echoPort, catPort = freePorts(3)
        config = (
            descriptorDefaults(run)
            + builtin("daytime", daytimePort)
            + builtin("echo", echoPort)
            + external("cat", catPort, "/bin/cat")
        )
        yield run.start(config, "-filelog", run.programLog, wrapper=limited(nofile=40))
        answer = yield tcpExchange(HOST, catPort, b"warm")
        self.assertEqual(answer, b"warm")
        for _ in range(ROUNDS):
            held = yield self.holdUntilRefused(echoPort)
            yield run.hangUp()
            for client in held:
                client.abort()
            yield servesAgain(echoPort, b"echo", b"echo".__eq__)
            yield servesAgain(catPort, b"cat", b"cat".__eq__)
            yield servesAgain(daytimePort, b"", lambda answer: bool(DAYTIME.match(answer)))
        run.assertNoTraceback()
        self.assertEqual(run.logged(f"ERROR: {deactivated('echo')}"), ROUNDS)

    @inlineCallbacks
    def holdUntilRefused(self, port: int) -> Generator[Deferred[Any], Any, list[Client]]:
        """
        Open echo sessions until one is not echoed.

        @return: the sessions that were.
        """
        held: list[Client] = []
        for n in range(ATTEMPTS):
            client = yield connectClient(port)
            self.addCleanup(client.abort)
            assert client.transport is not None
            client.transport.write(b"%d\n" % n)
            yield echoedOrClosed(client)
            if client.closed.called:
                return held
            held.append(client)
        raise AssertionError(f"{ATTEMPTS} sessions and no refusal")


class DescriptorHog:
    """
    Holds copies of C{/dev/null} until this process has no descriptor left
    (under a soft C{RLIMIT_NOFILE} lowered for the test).
    """

    def __init__(self, testCase: TestCase) -> None:
        limits = resource.getrlimit(resource.RLIMIT_NOFILE)
        highest = max(int(name) for name in os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 64, limits[1]))
        testCase.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, limits)
        self.null = os.open("/dev/null", os.O_RDONLY)
        testCase.addCleanup(os.close, self.null)
        testCase.addCleanup(self.release)
        self.held: list[int] = []

    def fill(self) -> None:
        """
        Take every free descriptor.
        """
        for _ in range(ATTEMPTS):
            try:
                self.held.append(os.dup(self.null))
            except OSError as e:
                if e.errno != errno.EMFILE:
                    raise
                return
        raise AssertionError("descriptors without end")

    def release(self, count: int | None = None) -> None:
        """
        Give back C{count} descriptors (all by default).
        """
        for _ in range(len(self.held) if count is None else count):
            os.close(self.held.pop())


class InProcessDescriptorTests(FaultTestCase):
    """
    Descriptor exhaustion with an in-process tree, where the test controls
    every descriptor: accept() fails, the service is deactivated; it cannot
    be activated again while descriptors are still missing, and is tried
    again after another wait until it can.  The tree is reconfigured (what
    SIGHUP does) while it has no descriptor left: the service takes the new
    configuration and the deactivation runs its course.
    """

    @inlineCallbacks
    def test_reactivationWaitsForDescriptors(self) -> Generated:
        log = captureLog(self)
        (port,) = freePorts(1)
        wait = 1

        def daytime(instances: int) -> Config:
            limits = f" bind = {HOST}\n cps = 100000 {wait}\n instances = {instances}\n"
            return loadText(internalService("daytime", "stream", port, limits))

        # Loaded beforehand: reading a file needs a descriptor.
        configs = [daytime(10 + round) for round in range(ROUNDS + 1)]
        loaded: list[Config] = []
        tree = XinetdService(configs[0], collaborators(), loader=lambda: configs[len(loaded)])
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        yield served(port)
        hog = DescriptorHog(self)
        expected = [
            deactivated("daytime", wait),
            "bind failed (Too many open files (errno = 24)). service = daytime-stream on "
            f"{HOST} port {port}/tcp",
            "Error activating service daytime",
            "Activating service daytime",
        ]
        for round in range(ROUNDS):
            hog.fill()
            hog.release(1)
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex((HOST, port))
            yield waitFor(log, expected[0], round + 1)
            client.close()
            hog.fill()
            loaded.append(configs[round + 1])
            yield tree.reconfigure(hard=True)
            self.assertEqual(log.count("Reconfigured: new=0 old=1 dropped=0 (services)"), round + 1)
            self.assertEqual(tree.getServiceNamed("daytime-stream").config.instances, 11 + round)
            yield waitFor(log, expected[2], round + 1)
            hog.release()
            yield waitFor(log, expected[3], round + 1)
            yield served(port)
        self.assertEqual(
            [text for text in log if "ctivat" in text or "bind" in text], expected * ROUNDS
        )


def readyPid(data: bytes) -> int:
    """
    The pid in a L{MISBEHAVE} server's C{ready} line.
    """
    match = re.fullmatch(rb"ready (\d+)\n", data)
    if match is None:
        raise AssertionError(f"not a ready line: {data!r}")
    return int(match[1])


class ServerFaultTests(FaultTestCase):
    """
    Servers that crash (SIGSEGV, abort), hang, or ignore SIGTERM.  Crashes
    are logged with their signal and the service serves the next client;
    on SIGTERM the daemon ends every server, kills those still running
    after its grace period (C{Sending signal 9 to <id> server <pid>}), and
    leaves no process behind.
    """

    @inlineCallbacks
    def hold(self, port: int) -> Generator[Deferred[Any], Any, tuple[Client, int]]:
        """
        Connect to a misbehaving server that keeps the connection.

        @return: the client and the server's pid.
        """
        client = yield connectClient(port)
        self.addCleanup(client.abort)
        yield pollUntil(lambda: client.received.endswith(b"\n") or None, lambda: "ready")
        pid = readyPid(bytes(client.received))
        self.addCleanup(killIfAlive, pid)
        return client, pid

    @inlineCallbacks
    def crash(self, run: FaultRun, port: int, name: str, number: int) -> Generated:
        """
        Connect to a crashing server; fire once its EXIT line, with the
        signal C{number}, is in the service log.
        """
        answer = yield tcpExchange(HOST, port)
        pid = readyPid(answer)
        yield run.waitForLine(f": EXIT: {name} signal={number} pid={pid}")

    @inlineCallbacks
    def test_crashHangAndStop(self) -> Generated:
        run = FaultRun(self)
        daytimePort, segvPort, abortPort, hangPort, stubbornPort = freePorts(5)
        config = (
            defaults(run)
            + builtin("daytime", daytimePort)
            + misbehaving("segv", segvPort, "segv", run.marker)
            + misbehaving("abort", abortPort, "abort", run.marker)
            + misbehaving("hang", hangPort, "hang", run.marker)
            + misbehaving("stubborn", stubbornPort, "stubborn", run.marker)
        )
        yield run.start(config, "-filelog", run.programLog)
        yield served(daytimePort)
        for _ in range(ROUNDS):
            yield self.crash(run, segvPort, "segv", signal.SIGSEGV)
            yield self.crash(run, abortPort, "abort", signal.SIGABRT)
        hanging = []
        for port in (hangPort, hangPort, stubbornPort, stubbornPort):
            hanging.append((yield self.hold(port)))
        pids = [pid for _, pid in hanging]
        yield run.hangUp()
        self.assertTrue(all(map(alive, pids)))
        yield served(daytimePort)
        yield self.crash(run, segvPort, "segv", signal.SIGSEGV)
        spawners = children(run.pid)
        self.assertTrue(spawners)
        run.process.signalProcess(signal.SIGTERM)
        ended = yield withTimeout(run.daemon.ended, 30)
        self.assertIsInstance(ended, ProcessTerminated)
        yield gatherResults([withTimeout(client.closed) for client, _ in hanging])
        for pid in pids[:2]:
            self.assertEqual(run.logged(f": EXIT: hang signal=15 pid={pid}", "service.log"), 1)
            self.assertEqual(run.logged(f"Sending signal 9 to hang server {pid}"), 0)
        for pid in pids[2:]:
            self.assertEqual(run.logged(f": EXIT: stubborn signal=9 pid={pid}", "service.log"), 1)
            self.assertEqual(run.logged(f"WARNING: Sending signal 9 to stubborn server {pid}"), 1)
        self.assertEqual(marked(run.marker), [])
        self.assertEqual([pid for pid in spawners if alive(pid)], [])
        run.assertNoTraceback()


#: A server that forks: a background C{sleep}, and a worker in the
#: foreground (a shell that executes C{cat}) serving the client while the
#: server waits for it.  It writes its own pid and its children's.
FORKING_SERVER = """#!/bin/sh
sleep 300 &
echo "wrapper $$ $!"
/bin/sh -c 'echo "worker $$"; exec /bin/cat'
echo "wrapper done"
"""


class ForkingServerTests(FaultTestCase):
    """
    A server that forks: when the daemon ends it (SIGTERM to the daemon, a
    hard reconfiguration that refuses its client), its children end with
    it, as they are in its process group; none is left serving the client.
    """

    @inlineCallbacks
    def start(self, run: FaultRun) -> Generator[Deferred[Any], Any, tuple[str, int, int]]:
        """
        Start the daemon with the C{wrap} service, whose server is
        L{FORKING_SERVER}.

        @return: the configuration, and the wrap and daytime ports.
        """
        script = run.path("wrap.sh")
        with open(script, "w") as f:
            f.write(FORKING_SERVER)
        os.chmod(script, 0o755)
        daytimePort, wrapPort = freePorts(2)
        config = defaults(run) + builtin("daytime", daytimePort)
        yield run.start(config + external("wrap", wrapPort, script), "-filelog", run.programLog)
        yield served(daytimePort)
        return config, wrapPort, daytimePort

    @inlineCallbacks
    def hold(self, port: int) -> Generator[Deferred[Any], Any, tuple[Client, int, list[int]]]:
        """
        Connect to the forking server, and check that its worker serves.

        @return: the client, the server's pid and its children's.
        """
        client = yield connectClient(port)
        self.addCleanup(client.abort)
        yield pollUntil(
            lambda: re.fullmatch(rb"wrapper \d+ \d+\nworker \d+\n", client.received),
            lambda: f"the pids; received {bytes(client.received)!r}",
        )
        pid, *others = (int(word) for word in client.received.split() if word.isdigit())
        for each in (pid, *others):
            self.addCleanup(killIfAlive, each)
        del client.received[:]
        client.transport.write(b"served\n")
        yield pollUntil(lambda: client.received == b"served\n" or None, lambda: "the echo")
        self.assertTrue(all(map(alive, others)))
        return client, pid, others

    @inlineCallbacks
    def assertEnded(self, run: FaultRun, client: Client, pid: int, others: list[int]) -> Generated:
        """
        The server was ended by SIGTERM, and its children with it.
        """
        yield pollUntil(
            lambda: not any(map(alive, others)) or None,
            lambda: f"the end of {[each for each in others if alive(each)]}",
        )
        yield withTimeout(client.closed)
        yield run.waitForLine(f": EXIT: wrap signal={signal.SIGTERM.value} pid={pid}")

    @inlineCallbacks
    def test_stop(self) -> Generated:
        run = FaultRun(self)
        _, wrapPort, _ = yield self.start(run)
        client, pid, others = yield self.hold(wrapPort)
        run.process.signalProcess(signal.SIGTERM)
        yield withTimeout(run.daemon.ended, 30)
        yield self.assertEnded(run, client, pid, others)

    @inlineCallbacks
    def test_hardReloadRefuses(self) -> Generated:
        run = FaultRun(self)
        config, wrapPort, daytimePort = yield self.start(run)
        client, pid, others = yield self.hold(wrapPort)
        script = run.path("wrap.sh")
        with open(run.path("xinetd.conf"), "w") as f:
            f.write(config + external("wrap", wrapPort, script, "", f"no_access = {HOST}"))
        yield run.hangUp()
        yield self.assertEnded(run, client, pid, others)
        yield served(daytimePort)
        run.assertNoTraceback()


class ClientFaultTests(FaultTestCase):
    """
    Clients that reset mid-stream (built-in and external services) and
    clients that never read (chargen into a closed receive window): the
    daemon's memory stays flat and it does not spin, other services
    answer, every session ends and is logged, and no descriptor is left.
    """

    @inlineCallbacks
    def test_resetsAndNonReaders(self) -> Generated:
        run = FaultRun(self)
        daytimePort, echoPort, chargenPort, catPort = freePorts(4)
        config = (
            defaults(run)
            + builtin("daytime", daytimePort)
            + builtin("echo", echoPort)
            + builtin("chargen", chargenPort)
            + external("cat", catPort, "/bin/cat")
        )
        yield run.start(config, "-filelog", run.programLog)
        yield served(daytimePort)
        listening = tcpSockets(run.pid)
        self.assertEqual(listening, 4)
        payload = b"x" * 65536
        for _ in range(ROUNDS):
            for port in (echoPort, chargenPort, catPort):
                yield self.resets(port, payload)
            yield self.nonReaders(run, chargenPort, daytimePort, echoPort)
        yield pollUntil(
            lambda: tcpSockets(run.pid) == listening or None,
            lambda: f"{listening} TCP sockets, not {tcpSockets(run.pid)}",
        )
        for serviceId in ("echo-stream", "chargen-stream", "cat"):
            yield sessionsEnded(run, serviceId)
        self.assertEqual(run.logged(": START: cat pid=", "service.log"), ROUNDS * CLIENTS)
        run.assertNoTraceback()

    @inlineCallbacks
    def resets(self, port: int, payload: bytes) -> Generated:
        """
        L{CLIENTS} clients that each reset their connection at the first
        bytes the service sends, at most L{BATCH} at once (more would
        overflow the listen queue: the kernel, not txinetd, would refuse
        some).
        """
        for first in range(0, CLIENTS, BATCH):
            resetters = [Resetter(payload) for _ in range(min(BATCH, CLIENTS - first))]
            yield gatherResults([connect(port, client) for client in resetters])
            yield withTimeout(gatherResults([client.gone for client in resetters]))
            self.assertTrue(all(client.reset for client in resetters))

    @inlineCallbacks
    def nonReaders(
        self, run: FaultRun, chargenPort: int, daytimePort: int, echoPort: int
    ) -> Generated:
        """
        Chargen clients that never read, held while other services are used
        and the daemon reconfigures: its resident memory and CPU time stay
        flat.
        """
        bound = residentKiB(run.pid) + MEMORY_SLACK + CLIENTS * BUFFERED
        sockets = [nonReader(chargenPort) for _ in range(CLIENTS)]
        for sock in sockets:
            self.addCleanup(sock.close)
        yield pollUntil(
            lambda: all(unread(sock) for sock in sockets) or None, lambda: "chargen's lines"
        )
        # Once the kernel's buffers are full, the daemon idles: no busy loop.
        yield idle(run.pid)
        self.assertLess(residentKiB(run.pid), bound)
        yield run.hangUp()
        for _ in range(CLIENTS):
            yield served(daytimePort)
            echoed = yield tcpExchange(HOST, echoPort, b"still")
            self.assertEqual(echoed, b"still")
        self.assertLess(residentKiB(run.pid), bound)
        for sock in sockets:
            resetSocket(sock)


def sessionsEnded(run: FaultRun, serviceId: str) -> Deferred[bool]:
    """
    Fire once the service log has an EXIT line for every START line of
    C{serviceId}.
    """

    def check() -> bool | None:
        starts = run.logged(f": START: {serviceId} pid=", "service.log")
        return starts == run.logged(f": EXIT: {serviceId} ", "service.log") or None

    return pollUntil(check, lambda: f"an EXIT for every START of {serviceId}: {run.lines()}")


#: A whole program-log line of a FILE target.
PROGRAM_LINE = re.compile(TIMESTAMP + r" xinetd\[\d+\]: [A-Z]+: \S.*")
#: A whole service-log line of a FILE target.
SERVICE_LINE = re.compile(TIMESTAMP + r": (START|EXIT): \S.*")


class FullDiskTests(FaultTestCase):
    """
    A FILE log on a full disk: the daemon keeps serving and logging
    elsewhere, and reports the failure once per run of failures (again
    after each reopen), never a traceback.  On a real file system a full
    disk may cut a line short: the next line written once there is room
    again starts on a line of its own.
    """

    def assertWhole(self, path: str, fragment: str, pattern: re.Pattern[str]) -> None:
        """
        The last line of a log containing C{fragment} is a whole line of
        C{pattern}, and no line holds more than one timestamp.
        """
        lines = readLines(path)
        line = [line for line in lines if fragment in line][-1]
        self.assertIsNotNone(pattern.fullmatch(line), line)
        self.assertEqual([line for line in lines if len(re.findall(TIMESTAMP, line)) > 1], [])

    @inlineCallbacks
    def test_devFull(self) -> Generated:
        run = FaultRun(self)
        fullPort, echoPort = freePorts(2)
        config = (
            defaults(run)
            + serviceEntry("daytime", "full", "stream", fullPort, "log_type = FILE /dev/full")
            + builtin("echo", echoPort)
        )
        yield run.start(config, "-filelog", run.programLog)
        report = "ERROR: Error in full log: No space left on device"
        for round in range(ROUNDS):
            for _ in range(CLIENTS):
                yield served(fullPort)
            yield run.waitLogged(report, round + 1)
            echoed = yield tcpExchange(HOST, echoPort, b"logged")
            self.assertEqual(echoed, b"logged")
            yield run.waitLogged(": EXIT: echo-stream status=0 pid=0", round + 1, "service.log")
            # Reopened: the next failure is reported again.
            yield run.hangUp()
        yield served(fullPort)
        yield run.waitLogged(report, ROUNDS + 1)
        self.assertEqual(run.logged(report), ROUNDS + 1)
        # twistd's output comes through a pipe, after the client's answer
        # (a built-in that answers at once writes its START line after).
        said = "Error in full log: No space left on device"
        yield run.waitSaid(said, ROUNDS + 1)
        self.assertEqual(run.said(said), ROUNDS + 1)
        run.assertNoTraceback()

    @inlineCallbacks
    def test_tinyFileSystem(self) -> Generated:
        """
        Both logs on a 16 KiB tmpfs (mounted in a mount namespace of the
        daemon's own) that a file fills; removing the file makes room.
        """
        needRoot()
        unshare = needCommand("unshare")
        run = FaultRun(self)
        disk = run.path("disk")
        os.mkdir(disk)
        # Room for a few pages of logs per round.
        mount = f'mount -t tmpfs -o size={16 * ROUNDS}k txinetd-faults "$0" && exec "$@"'
        namespace = [unshare, "--mount", "--propagation", "private", "--"]
        wrapper = [*namespace, "/bin/sh", "-c", mount, disk]
        code = yield getProcessValue(wrapper[0], [*wrapper[1:], "/bin/true"])
        if code != 0:
            raise SkipTest("cannot mount a tmpfs in a new mount namespace here")
        daytimePort, echoPort = freePorts(2)
        config = defaults(run).replace(run.serviceLog, f"{disk}/service.log")
        config += builtin("daytime", daytimePort) + builtin("echo", echoPort)
        yield run.start(config, "-filelog", f"{disk}/program.log", wrapper=wrapper)
        inside = f"/proc/{run.pid}/root{disk}"
        for _ in range(ROUNDS):
            # Each log has a page of its own that the disk full cuts short.
            yield served(daytimePort)
            serviceReport = "Error in daytime-stream log: "
            programReport = f"Error in {disk}/program.log log: "
            reports = run.said(serviceReport), run.said(programReport)
            fillUp(f"{inside}/filler")
            yield untilSaid(run, serviceReport, reports[0], lambda: served(daytimePort))
            for _ in range(CLIENTS):
                yield served(daytimePort)
            yield untilSaid(run, programReport, reports[1], run.hangUp)
            os.remove(f"{inside}/filler")
            echoed = yield tcpExchange(HOST, echoPort, b"room")
            self.assertEqual(echoed, b"room")
            yield run.hangUp()
            self.assertWhole(f"{inside}/service.log", ": START: echo-stream pid=0 ", SERVICE_LINE)
            self.assertWhole(f"{inside}/program.log", ": Reconfigured: ", PROGRAM_LINE)
        full = "log: No space left on device"
        self.assertTrue(ROUNDS <= run.said(full) <= 4 * ROUNDS, run.output)
        run.assertNoTraceback()


def untilSaid(
    run: FaultRun, fragment: str, said: int, action: Callable[[], Deferred[Any]]
) -> Deferred[None]:
    """
    Repeat C{action} until twistd's output has more than C{said} lines
    with C{fragment}.
    """

    @inlineCallbacks
    def repeat() -> Generated:
        for _ in range(ATTEMPTS):
            if run.said(fragment) > said:
                return
            yield action()
        raise AssertionError(f"no more {fragment!r} after {ATTEMPTS} tries: {run.output}")

    return repeat()


def fillUp(path: str) -> None:
    """
    Append to C{path} until its file system is full.
    """
    with open(path, "ab", buffering=0) as f:
        for _ in range(ATTEMPTS):
            try:
                f.write(bytes(4096))
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                return
    raise AssertionError(f"{path} does not fill up")


def readLines(path: str) -> list[str]:
    """
    The lines of a text file.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


class SyslogReceiver(DatagramProtocol):
    """
    A syslog socket: collects the datagrams it receives.
    """

    def __init__(self) -> None:
        self.datagrams: list[str] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.datagrams.append(datagram.decode("utf-8", "replace"))

    def received(self, fragment: str, since: int) -> Deferred[bool]:
        """
        Fire once a datagram from number C{since} on contains C{fragment}.
        """
        return pollUntil(
            lambda: any(fragment in text for text in self.datagrams[since:]) or None,
            lambda: f"{fragment!r} in {self.datagrams[since:]}",
        )


class SyslogFaultTests(FaultTestCase):
    """
    The syslog socket disappears while txinetd runs (service log and
    program log both on syslog): nothing crashes, the loss is reported once
    per target, services are served; once a socket is back, lines of both
    logs arrive again.
    """

    @inlineCallbacks
    def test_socketDisappears(self) -> Generated:
        run = FaultRun(self)
        path = run.path("log.sock")
        receiver = SyslogReceiver()
        self.listening = reactor.listenUNIXDatagram(path, receiver)
        self.addCleanup(lambda: self.listening.stopListening())
        (daytimePort,) = freePorts(1)
        config = defaults(run).replace(f"FILE {run.serviceLog}", "SYSLOG daemon info")
        config += builtin("daytime", daytimePort)
        yield run.start(config, "-syslog", "daemon", "--syslog-socket", path)
        yield served(daytimePort)
        yield receiver.received(": START: daytime-stream pid=0 from=127.0.0.1", 0)
        lost = f"Cannot send to syslog at {path}: "
        for round in range(ROUNDS):
            yield self.listening.stopListening()
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            for _ in range(CLIENTS):
                yield served(daytimePort)
            yield run.hangUp()
            # One report from each target: the service log's, the program log's.
            yield run.waitSaid(lost, 2 * (round + 1))
            since = len(receiver.datagrams)
            self.listening = reactor.listenUNIXDatagram(path, receiver)
            yield served(daytimePort)
            yield receiver.received(": START: daytime-stream pid=0 from=127.0.0.1", since)
            yield run.hangUp()
            yield receiver.received(": Reconfigured: new=0 old=1 dropped=0 (services)", since)
        self.assertEqual(run.said(lost), 2 * ROUNDS)
        run.assertNoTraceback()
