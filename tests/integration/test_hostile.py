# -*- test-case-name: tests.integration.test_hostile -*-
"""
Attacks on a real C{twistd -n xinetd}, made as a hostile client, server or
local user would make them, and what txinetd does about them: every session
ends in bounded time, every loop and queue is bounded, nothing on the
reactor thread blocks on a file, and files are opened safely.

Each run has its own directory, ports in 20000-30000 on 127.0.0.1, its own
empty hosts.allow / hosts.deny, and its program log in C{program.log}.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import signal
import socket
import struct
import tempfile
import termios
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.trial.unittest import SkipTest, TestCase

from txinetd.daemon.loading import loadConfig
from txinetd.daemon.tree import XinetdService
from txinetd.serve.datagrams import DGRAM_WAITING
from txinetd.serve.lookups import HostName

from .support import (
    DatagramPeer,
    collaborators,
    freeListedPort,
    freePorts,
    pollUntil,
    reactor,
    tcpExchange,
    udpExchange,
)
from .test_logging import HOST, TxinetdRun, serviceEntry
from .test_redirect import Backend, Echo, handle, queued
from .test_twistd import twistd

Generated = Generator[Deferred[Any], Any, None]

PROGRAM_LOG = "program.log"


def defaults(run: TxinetdRun, success: str = "PID HOST EXIT") -> str:
    """
    A defaults section: the run's FILE service log, no cps limit.
    """
    return (
        f"defaults\n{{\n\tlog_type = FILE {run.serviceLog}\n"
        f"\tlog_on_success = {success}\n\tlog_on_failure = HOST\n\tcps = 0 0\n}}\n"
    )


def descriptors(pid: int) -> int:
    """
    How many descriptors a process has open.
    """
    return len(os.listdir(f"/proc/{pid}/fd"))


def writable(sock: socket.socket) -> bool:
    return bool(select.select([], [sock], [], 0)[1])


def nonReading(testCase: TestCase, port: int) -> socket.socket:
    """
    A client connected to a port of 127.0.0.1 that will not read: a small
    receive buffer, non-blocking sends; closed when the test ends.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    testCase.addCleanup(sock.close)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((HOST, port))
    sock.setblocking(False)
    return sock


def reset(sock: socket.socket) -> None:
    """
    Close a socket with a reset (SO_LINGER 0), as a client that gives up.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Attack:
    """
    One twistd run under attack, and what the test reads of it.
    """

    def __init__(self, testCase: TestCase) -> None:
        self.testCase = testCase
        self.run = TxinetdRun(testCase)

    def start(self, config: str, *options: str) -> Deferred[None]:
        return self.run.start(config, "-filelog", self.run.path(PROGRAM_LOG), *options)

    def count(self, fragment: str, name: str = "service.log") -> int:
        return sum(fragment in line for line in self.run.lines(name))

    def waitForCount(self, fragment: str, count: int, name: str = "service.log") -> Deferred[int]:
        """
        Fire once C{count} lines of a log contain C{fragment}.
        """
        return pollUntil(
            lambda: self.count(fragment, name) >= count or None,
            lambda: f"{count} lines with {fragment!r} in {name}: {self.run.lines(name)[-20:]}",
        )

    def descriptorsBack(self, expected: int) -> Deferred[int]:
        """
        Fire once the daemon has C{expected} descriptors open again.
        """
        return pollUntil(
            lambda: descriptors(self.run.pid) == expected or None,
            lambda: f"{expected} descriptors, not {descriptors(self.run.pid)}",
        )


class RedirectTests(TestCase):
    """
    Redirect sessions end once their client has gone.
    """

    @inlineCallbacks
    def test_floodingClientsReset(self) -> Generated:
        """
        Two clients flood a redirect to an echo target without reading
        until everything stalls, then reset: the target side of both
        sessions is aborted, their EXIT and TRAFFIC lines are logged, and
        the service (C{instances = 2}) serves the next client; the daemon
        is back to its descriptors.  (Before, both sessions waited for
        ever for a target stuck writing to txinetd, and the service refused
        everyone.)
        """
        backend = Backend(Echo)
        listening = reactor.listenTCP(0, backend, interface=HOST)
        self.addCleanup(listening.stopListening)
        (port,) = freePorts(1)
        attack = Attack(self)
        user = pwd.getpwuid(os.geteuid()).pw_name
        yield attack.start(
            defaults(attack.run, "PID HOST EXIT TRAFFIC")
            + f"service redir\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n\twait = no\n"
            f"\tport = {port}\n\tbind = {HOST}\n\tuser = {user}\n\tinstances = 2\n"
            f"\tredirect = {HOST} {listening.getHost().port}\n}}\n"
        )
        before = descriptors(attack.run.pid)
        floods = [nonReading(self, port) for _ in range(2)]
        chunk = b"x" * 65536

        def stalled() -> bool | None:
            for sock in floods:
                try:
                    while True:
                        sock.send(chunk)
                except BlockingIOError:
                    pass
            echoes = [protocol for protocol in backend.protocols if protocol.transport]
            if len(echoes) < 2:
                return None
            return (
                not any(writable(sock) for sock in floods)
                and not any(writable(handle(echo)) for echo in echoes)
            ) or None

        yield pollUntil(stalled, lambda: "the floods and the echoes to stall")
        for sock in floods:
            reset(sock)
        yield attack.waitForCount("EXIT: redir", 2)
        self.assertEqual(attack.count("TRAFFIC: redir"), 2)
        answer = yield tcpExchange(HOST, port, b"still served\n")
        self.assertEqual(answer, b"still served\n")
        yield attack.waitForCount("EXIT: redir", 3)
        self.assertEqual(attack.count("TRAFFIC: redir"), 3)
        self.assertEqual(attack.count("FAIL: redir"), 0)
        yield attack.descriptorsBack(before)


def spoof(source: tuple[str, int], destination: tuple[str, int], payload: bytes) -> None:
    """
    Send a UDP datagram with a forged source address and port, through a
    raw socket (root only).
    """
    length = 8 + len(payload)
    udp = struct.pack("!HHHH", source[1], destination[1], length, 0) + payload
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + length,
        0,
        0,
        64,
        socket.IPPROTO_UDP,
        0,
        socket.inet_aton(source[0]),
        socket.inet_aton(destination[0]),
    )
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError:
        raise SkipTest("forging a source address needs a raw socket (root)") from None
    with raw:
        raw.sendto(header + udp, (destination[0], 0))


class DatagramTests(TestCase):
    """
    Datagram services never answer the daemon's own datagram ports.
    """

    @inlineCallbacks
    def test_forgedOwnSource(self) -> Generated:
        """
        A datagram forged from echo's own address and port, and one forged
        from echo's port to time's: neither is answered (no loop of echo
        with itself, none between time and echo), each is one FAIL line,
        and echo still answers a real client.  (Before, the first looped
        for ever, one START line per round.)
        """
        echoPort, timePort = freePorts(2)
        attack = Attack(self)
        yield attack.start(
            defaults(attack.run)
            + serviceEntry("echo", "echo-dgram", "dgram", echoPort)
            + serviceEntry("time", "time-dgram", "dgram", timePort)
        )
        spoof((HOST, echoPort), (HOST, echoPort), b"loop")
        spoof((HOST, echoPort), (HOST, timePort), b"")
        answer = yield udpExchange(HOST, echoPort, b"real client")
        self.assertEqual(answer, b"real client")
        yield attack.waitForCount("FAIL: ", 2)
        self.assertEqual(
            sorted(line.split(": ", 1)[1] for line in attack.run.lines() if "FAIL" in line),
            [f"FAIL: echo-dgram address from={HOST}", f"FAIL: time-dgram address from={HOST}"],
        )
        self.assertEqual(attack.count("START: echo-dgram"), 1)
        self.assertEqual(attack.count("START: time-dgram"), 0)


class Mute(Protocol):
    """
    An ident server that accepts and never answers.
    """

    def connectionMade(self) -> None:
        assert isinstance(self.factory, MuteIdent)
        self.factory.connections.append(self)


class MuteIdent(ServerFactory):
    protocol = Mute

    def __init__(self) -> None:
        self.connections: list[Mute] = []


class IdentTests(TestCase):
    """
    Ident lookups are bounded.
    """

    @inlineCallbacks
    def test_muteIdentServer(self) -> Generated:
        """
        Short connections to a USERID service with C{instances = 5}, from a
        client whose ident server accepts and never answers: each session
        keeps its slot while its lookup runs, so five are served, the others
        refused, and at most five lookups (sockets) are held; once the
        lookups end, the service serves again.  (Before, every connection
        was served and left a lookup of up to 30 s behind, counted by
        nothing: 900 connections held 498 sockets.)
        """
        ident = MuteIdent()
        listening = reactor.listenTCP(0, ident, interface=HOST)
        self.addCleanup(listening.stopListening)
        (port,) = freePorts(1)
        attack = Attack(self)
        yield attack.start(
            defaults(attack.run, "PID HOST EXIT USERID")
            + serviceEntry("daytime", "daytime-stream", "stream", port, "instances = 5"),
            "--ident-port",
            str(listening.getHost().port),
        )
        before = descriptors(attack.run.pid)
        for _ in range(30):
            yield tcpExchange(HOST, port)
        yield attack.waitForCount("FAIL: daytime-stream service_limit", 25)
        self.assertEqual(attack.count("START: daytime-stream"), 5)
        self.assertEqual(len(ident.connections), 5)
        self.assertEqual(descriptors(attack.run.pid), before + 5)
        for connection in ident.connections:
            assert connection.transport is not None
            connection.transport.loseConnection()
        yield attack.descriptorsBack(before)
        answer = yield tcpExchange(HOST, port)
        self.assertTrue(answer.endswith(b"\r\n"))
        # START is written once the answer is sent (docs/differences.md).
        yield attack.waitForCount("START: daytime-stream", 6)
        self.assertEqual(attack.count("START: daytime-stream"), 6)


def holds(pid: int, path: str) -> bool | None:
    """
    Whether a process has C{path} open.
    """
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == path:
                return True
        except OSError:
            continue
    return None


class ReloadTests(TestCase):
    """
    A reload asked for during a reload is not lost.
    """

    @inlineCallbacks
    def test_hangupDuringReload(self) -> Generated:
        """
        A SIGHUP that comes while a reload reads the files (held up here by
        an included pipe) is remembered: once that reload is done, another
        reads the configuration as it is now, and the service added between
        the two signals listens.  (Before, the second signal was dropped
        with "reconfiguration already in progress" and the edit never
        applied.)
        """
        first, second = freePorts(2)
        attack = Attack(self)
        pipe = attack.run.path("slow")
        os.mkfifo(pipe)
        start = defaults(attack.run) + f"include {pipe}\n"
        yield attack.start(start + serviceEntry("daytime", "first", "stream", first))
        writers = [os.open(pipe, os.O_RDWR)]

        def release() -> None:
            while writers:
                os.close(writers.pop())

        self.addCleanup(release)
        attack.run.process.signalProcess("HUP")
        yield pollUntil(lambda: holds(attack.run.pid, pipe), lambda: "the reload reads the pipe")
        with open(attack.run.path("xinetd.conf"), "w") as f:
            f.write(
                start
                + serviceEntry("daytime", "first", "stream", first)
                + serviceEntry("daytime", "second", "stream", second)
            )
        attack.run.process.signalProcess("HUP")
        yield attack.waitForCount("reconfiguration already in progress", 1, PROGRAM_LOG)
        os.write(writers[0], b"# the end of the pipe\n")
        release()
        yield attack.waitForCount("Reconfigured:", 2, PROGRAM_LOG)
        answer = yield tcpExchange(HOST, second)
        self.assertTrue(answer.endswith(b"\r\n"))
        self.assertEqual(attack.count("Starting reconfiguration", PROGRAM_LOG), 2)


def residentSize(pid: int) -> int:
    """
    A process's resident memory, in bytes.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


#: How much the daemon's memory may grow while four xadmin clients send
#: commands without reading.
XADMIN_GROWTH = 8 << 20


class XadminTests(TestCase):
    """
    xadmin holds a bounded amount per session.
    """

    @inlineCallbacks
    def test_pipelinedWithoutReading(self) -> Generated:
        """
        Four clients send C{show avail} (a 20-service answer) as fast as
        they can and never read: the daemon stops answering and reading
        each once a buffer of answers waits, and its memory grows by less
        than L{XADMIN_GROWTH}.  (Before, every command of a 64 KiB read was
        answered at once, about 5 MB a read here; the issue saw RSS go from
        50 to 177 MiB with eight clients.)
        """
        ports = freePorts(21)
        attack = Attack(self)
        services = "".join(
            serviceEntry("daytime", f"daytime-{port}", "stream", port) for port in ports[1:]
        )
        yield attack.start(
            defaults(attack.run)
            + serviceEntry("xadmin", "xadmin", "stream", ports[0], f"only_from = {HOST}")
            + services
        )
        warm = yield tcpExchange(HOST, ports[0], b"show avail\nbye\n")
        self.assertIn(b"daytime-", warm)
        before = residentSize(attack.run.pid)
        clients = [nonReading(self, ports[0]) for _ in range(4)]
        commands = b"show avail\n" * 6000
        idle = [0] * len(clients)

        def stalled() -> bool | None:
            for index, sock in enumerate(clients):
                try:
                    sock.send(commands)
                    idle[index] = 0
                except BlockingIOError:
                    idle[index] += 1
            return min(idle) >= 10 or None

        yield pollUntil(stalled, lambda: f"the clients to stall ({idle})")
        # Answered once the daemon has done with what it read.
        answer = yield tcpExchange(HOST, ports[0], b"help\nbye\n")
        self.assertTrue(answer.endswith(b"bye bye\n"))
        self.assertLess(residentSize(attack.run.pid) - before, XADMIN_GROWTH)


class SlowResolver:
    """
    A reverse resolver whose answers the test gives.

    @ivar pending: the lookups not answered yet.
    """

    def __init__(self) -> None:
        self.pending: list[Deferred[HostName]] = []

    def __call__(self, address: str, verify: bool) -> Deferred[HostName]:
        d: Deferred[HostName] = Deferred()
        self.pending.append(d)
        return d

    def answer(self, name: str) -> None:
        pending, self.pending = self.pending, []
        for d in pending:
            d.callback(HostName(name))


class DatagramLookupTests(TestCase):
    """
    The datagrams of a service waiting for a name lookup are bounded.
    """

    @inlineCallbacks
    def test_slowLookups(self) -> Generated:
        """
        500 datagrams to an echo whose C{only_from} names a domain, while
        name lookups hang: at most L{DGRAM_WAITING} wait (each keeps its
        datagram), the others are refused with one FAIL line, and once the
        lookups come the waiting ones and later clients are answered.
        (Before, every datagram waited: +293 MiB in 15 s.)
        """
        (port,) = freePorts(1)
        directory = tempfile.mkdtemp(dir="/tmp")
        self.addCleanup(shutil.rmtree, directory)
        logPath = os.path.join(directory, "service.log")
        resolver = SlowResolver()
        made = collaborators(names=resolver)
        text = serviceEntry(
            "echo",
            "echo-dgram",
            "dgram",
            port,
            "only_from = .example.org",
            "cps = 0 0",
            f"log_type = FILE {logPath}",
            "log_on_failure = HOST",
        )
        path = os.path.join(directory, "xinetd.conf")
        with open(path, "w") as f:
            f.write(text)
        tree = XinetdService(loadConfig(path), made)
        tree.privilegedStartService()
        tree.startService()
        self.addCleanup(tree.stopService)
        child = tree.getServiceNamed("echo-dgram")
        listening = child.port.socket
        peer = DatagramPeer.start(self)
        for number in range(500):
            peer.send(b"%d" % number, port)
        yield pollUntil(
            lambda: queued(listening, termios.FIONREAD) == 0 or None,
            lambda: "the daemon to read every datagram",
        )
        self.assertEqual(len(resolver.pending), DGRAM_WAITING)
        with open(logPath) as f:
            self.assertEqual(
                [line.split(": ", 1)[1] for line in f.read().splitlines()],
                [f"FAIL: echo-dgram service_limit from={HOST}"],
            )
        resolver.answer("client.example.org")
        replies = []
        for _ in range(DGRAM_WAITING):
            reply = yield peer.reply()
            replies.append(reply)
        self.assertEqual(replies, [b"%d" % number for number in range(DGRAM_WAITING)])
        later = DatagramPeer.start(self)
        later.send(b"later", port)
        yield pollUntil(lambda: resolver.pending or None, lambda: "a lookup for the later client")
        resolver.answer("client.example.org")
        reply = yield later.reply()
        self.assertEqual(reply, b"later")


def unblockFifo(path: str) -> None:
    """
    Give a reader waiting to open a FIFO the writer it waits for.
    """
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


class BannerTests(TestCase):
    """
    Banner files never block the daemon.
    """

    @inlineCallbacks
    def test_fifo(self) -> Generated:
        """
        A banner that is a FIFO is refused at load, with its file and line;
        one that becomes a FIFO later is not opened: its service answers
        without it (the error logged) and the others are served at once.
        (Before, opening the FIFO stopped every service until someone wrote
        to it.)
        """
        first, second, third = freePorts(3)
        attack = Attack(self)
        fifo = attack.run.path("fifo")
        os.mkfifo(fifo)
        banner = attack.run.path("banner")
        with open(banner, "wb") as f:
            f.write(b"welcome\r\n")
        config = (
            defaults(attack.run)
            + serviceEntry("daytime", "bannered", "stream", first, f"banner_success = {banner}")
            + serviceEntry("daytime", "plain", "stream", second)
            + serviceEntry("daytime", "piped", "stream", third, f"banner_success = {fifo}")
        )
        yield attack.start(config)
        self.addCleanup(unblockFifo, banner)
        greeted = yield tcpExchange(HOST, first)
        self.assertTrue(greeted.startswith(b"welcome\r\n"))
        os.unlink(banner)
        os.mkfifo(banner)
        bare = tcpExchange(HOST, first)
        plain = yield tcpExchange(HOST, second)
        self.assertTrue(plain.endswith(b"\r\n"))
        answer = yield bare
        self.assertNotIn(b"welcome", answer)
        self.assertTrue(answer.endswith(b"\r\n"))
        yield attack.waitForCount(
            f"ERROR: service = bannered, open of banner {banner} failed", 1, PROGRAM_LOG
        )
        line = config[
            : config.index("service daytime\n{\n\ttype = INTERNAL UNLISTED\n\tid = piped")
        ]
        yield attack.waitForCount(
            f"ERROR: Service daytime: banner_success {fifo}: not a regular file "
            f"[file={attack.run.path('xinetd.conf')}] [line={line.count(chr(10)) + 1}]",
            1,
            PROGRAM_LOG,
        )


NOBODY = 65534


class PlantedLinkTests(TestCase):
    """
    Files txinetd writes are not followed through a link that another user
    planted in a directory others can write.
    """

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("planting files as another user needs root")
        self.shared = tempfile.mkdtemp(dir="/tmp")
        self.addCleanup(shutil.rmtree, self.shared, True)
        os.chmod(self.shared, 0o1777)
        private = tempfile.mkdtemp(dir="/tmp")
        self.addCleanup(shutil.rmtree, private, True)
        self.private = private
        self.secret = os.path.join(private, "secret")
        with open(self.secret, "wb") as f:
            f.write(b"secret\n")
        os.chmod(self.secret, 0o600)

    def plant(self, name: str, target: str) -> str:
        """
        A symbolic link in the shared directory, as user nobody makes it.
        """
        path = os.path.join(self.shared, name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.symlink(target, path)
        os.lchown(path, NOBODY, NOBODY)
        return path

    def assertUntouched(self) -> None:
        with open(self.secret, "rb") as f:
            self.assertEqual(f.read(), b"secret\n")
        self.assertEqual(os.listdir(self.private), ["secret"])

    @inlineCallbacks
    def test_logsDumpAndPidFile(self) -> Generated:
        """
        A service log, the dump file and the pid file whose paths go
        through a link nobody planted in a sticky world-writable directory
        are not written, each with a clear error, also when the link comes
        after the start and the log is reopened by a reload.  (Before, root
        appended to the 0600 file the link named.)
        """
        first, second = freePorts(2)
        planted = self.plant("first.log", self.secret)
        dump = self.plant("dump", self.secret)
        pidFile = os.path.join(self.plant("dir", self.private), "txinetd.pid")
        later = os.path.join(self.shared, "second.log")
        attack = Attack(self)
        yield attack.start(
            defaults(attack.run)
            + serviceEntry("daytime", "first", "stream", first, f"log_type = FILE {planted}")
            + serviceEntry("daytime", "second", "stream", second, f"log_type = FILE {later}"),
            "--dump-file",
            dump,
            "-pidfile",
            pidFile,
        )
        reason = "is a symbolic link in a directory writable by everyone; not followed"
        # Service logs are opened before the program log is: twistd's log has it.
        self.assertIn(
            f"Cannot open first log {planted}: first.log {reason}".encode(),
            attack.run.daemon.output,
        )
        yield attack.waitForCount(
            f"ERROR: Cannot write the pid file {pidFile}: dir {reason}", 1, PROGRAM_LOG
        )
        for port in (first, second):
            yield tcpExchange(HOST, port)
        attack.run.process.signalProcess(signal.SIGABRT)
        yield attack.waitForCount(
            f"ERROR: Cannot write the state dump to {dump}: dump {reason}", 1, PROGRAM_LOG
        )
        self.plant("second.log", self.secret)
        attack.run.process.signalProcess("HUP")
        yield attack.waitForCount(
            f"ERROR: Cannot open second log {later}: second.log {reason}", 1, PROGRAM_LOG
        )
        yield tcpExchange(HOST, second)
        self.assertUntouched()

    @inlineCallbacks
    def test_programLog(self) -> Generated:
        """
        A C{-filelog} path through a planted link stops the start with a
        clear message and exit status 1, without a traceback.
        """
        (port,) = freePorts(1)
        planted = self.plant("program.log", self.secret)
        path = os.path.join(self.shared, "xinetd.conf")
        with open(path, "w") as f:
            f.write(serviceEntry("daytime", "daytime", "stream", port))
        out, err, code = yield twistd(
            "-n",
            "--pidfile=",
            "xinetd",
            "-f",
            path,
            "-filelog",
            planted,
            "--hosts-allow",
            os.path.join(self.shared, "allow"),
            "--hosts-deny",
            os.path.join(self.shared, "deny"),
        )
        output = (out + err).decode()
        self.assertEqual(code, 1, output)
        self.assertIn(
            f"msg_init failed: can't open log file {planted}: program.log is a symbolic link in "
            "a directory "
            "writable by everyone; not followed",
            output,
        )
        self.assertNotIn("Traceback", output)
        self.assertUntouched()


def refusesConnections(port: int) -> bool:
    """
    Whether nothing listens on a port of 127.0.0.1.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0


class DroppedFileTests(TestCase):
    """
    A configuration file that another user dropped in an C{includedir} is
    not read.
    """

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("dropping files as another user needs root")

    @inlineCallbacks
    def test_droppedInIncludeDirectory(self) -> Generated:
        """
        In a sticky world-writable C{includedir}, root's file is read and a
        file that nobody dropped (a service that runs a command as root) is
        refused with the C{includedir}'s file and line, at the start and at
        a reload; its command never runs.  A world-writable C{includedir}
        without the sticky bit is not read at all: the reload that meets
        one is rejected and the running configuration stays.  (Before, the
        dropped file ran its command as root after the next SIGHUP.)
        """
        good, evil, later = freePorts(3)
        attack = Attack(self)
        directory = attack.run.path("xinetd.d")
        os.mkdir(directory)
        os.chmod(directory, 0o1777)
        marker = attack.run.path("marker")

        def drop(name: str, port: int) -> None:
            path = os.path.join(directory, name)
            with open(path, "w") as f:
                f.write(
                    f"service {name}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n"
                    f"\twait = no\n\tport = {port}\n\tbind = {HOST}\n\tuser = root\n"
                    f"\tserver = /usr/bin/touch\n\tserver_args = {marker}\n}}\n"
                )
            os.chown(path, NOBODY, NOBODY)

        with open(os.path.join(directory, "good"), "w") as f:
            f.write(serviceEntry("daytime", "good", "stream", good))
        drop("evil", evil)
        config = defaults(attack.run) + f"includedir {directory}\n"
        line = config.count("\n")
        yield attack.start(config)
        refusal = (
            "ERROR: Unable to open included configuration file: {} (owned by uid 65534) "
            f"[file={attack.run.path('xinetd.conf')}] [line={line}]"
        )
        yield attack.waitForCount(refusal.format(os.path.join(directory, "evil")), 1, PROGRAM_LOG)
        answer = yield tcpExchange(HOST, good)
        self.assertTrue(answer.endswith(b"\r\n"))
        self.assertTrue(refusesConnections(evil))
        drop("later", later)
        attack.run.process.signalProcess("HUP")
        yield attack.waitForCount(refusal.format(os.path.join(directory, "later")), 1, PROGRAM_LOG)
        yield attack.waitForCount("reconfiguration failed", 1, PROGRAM_LOG)
        self.assertTrue(refusesConnections(later))
        os.chmod(directory, 0o777)
        os.unlink(os.path.join(directory, "evil"))
        os.unlink(os.path.join(directory, "later"))
        attack.run.process.signalProcess("HUP")
        yield attack.waitForCount(
            f"Unable to read included directory: {directory} (writable by everyone)",
            1,
            PROGRAM_LOG,
        )
        yield attack.waitForCount("reconfiguration failed", 2, PROGRAM_LOG)
        answer = yield tcpExchange(HOST, good)
        self.assertTrue(answer.endswith(b"\r\n"))
        self.assertFalse(os.path.exists(marker))

    @inlineCallbacks
    def test_inetdConfOfAnother(self) -> Generated:
        """
        The inetd.conf of C{-inetd_compat} is held to strict modes too: one
        that nobody owns is refused at the start (its service does not
        listen, the others do); root's is read at a reload; once nobody has
        rewritten it (to run a command as root), the reload is rejected and
        the service it had goes on as it was.  (Before, the rewritten line
        ran its command as root after the next SIGHUP.)
        """
        (daytime,) = freePorts(1)
        name, port = freeListedPort(daytime)
        attack = Attack(self)
        inetdConf = attack.run.path("inetd.conf")
        marker = attack.run.path("marker")

        def write(command: str, owner: int) -> None:
            with open(inetdConf, "w") as f:
                f.write(f"{HOST}:{name} stream tcp nowait root {command}\n")
            os.chown(inetdConf, owner, owner)

        write(f"/usr/bin/touch touch {marker}", NOBODY)
        config = defaults(attack.run) + serviceEntry("daytime", "daytime", "stream", daytime)
        yield attack.start(config, "-inetd_compat", "--inetd-conf", inetdConf)
        refusal = f"ERROR: Unable to read {inetdConf} (owned by uid {NOBODY})"
        yield attack.waitForCount(refusal, 1, PROGRAM_LOG)
        yield attack.waitForCount("Started working: 1 available service", 1, PROGRAM_LOG)
        self.assertTrue(refusesConnections(port))
        write("/bin/echo echo compat", 0)
        attack.run.process.signalProcess("HUP")
        yield attack.waitForCount("Reconfigured: new=1 old=1 dropped=0", 1, PROGRAM_LOG)
        answer = yield tcpExchange(HOST, port)
        self.assertEqual(answer, b"compat\n")
        write(f"/usr/bin/touch touch {marker}", NOBODY)
        attack.run.process.signalProcess("HUP")
        yield attack.waitForCount(refusal, 2, PROGRAM_LOG)
        yield attack.waitForCount("reconfiguration failed", 1, PROGRAM_LOG)
        answer = yield tcpExchange(HOST, port)
        self.assertEqual(answer, b"compat\n")
        self.assertFalse(os.path.exists(marker))
