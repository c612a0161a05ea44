# -*- test-case-name: tests.integration.test_logging -*-
"""
Logging and ident end to end, through the real C{twistd -n xinetd}: the
FILE service log and the C{-filelog} program log read back line by line,
syslog datagrams caught on a test socket, fail2ban's C{xinetd-fail} filter
run on a real log, and RFC 1413 lookups against a real ident server.

Every run uses its own directory, free ports in 20000-30000 on 127.0.0.1
and empty hosts.allow / hosts.deny files of its own.

Debian packages: fail2ban (C{fail2ban-regex} and its
C{/etc/fail2ban/filter.d/xinetd-fail.conf}) and oidentd; the tests that need
one are skipped without it.  The ident tests run the client as C{nobody}
when run as root, with the system's C{/usr/bin/python3} (package python3).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError
from twisted.internet.protocol import (
    DatagramProtocol,
    Factory,
    ProcessProtocol,
    Protocol,
    connectionDone,
)
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from txinetd import __version__

from .support import (
    TIMEOUT,
    CollectingProcess,
    freePorts,
    pollUntil,
    reactor,
    tcpExchange,
    tcpExchangeFrom,
    udpExchange,
    withTimeout,
)
from .test_twistd import ROOT, TWISTD, Daemon

HOST = "127.0.0.1"

#: A FILE log timestamp: YY/M/D@HH:MM:SS, month and day not padded.
TIMESTAMP = (
    r"(?P<year>\d\d)/(?P<month>[1-9]|1[0-2])/(?P<day>[1-9]|[12]\d|3[01])"
    r"@(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d):(?P<second>[0-5]\d)"
)

#: A syslog(3) timestamp: Mmm dd HH:MM:SS, the day padded with a space.
SYSLOG_TIMESTAMP = r"[A-Z][a-z]{2} (?: [1-9]|[12]\d|3[01]) [0-2]\d:[0-5]\d:[0-5]\d"

DAYTIME = re.compile(rb"^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\r\n$")

FAIL2BAN_FILTER = "/etc/fail2ban/filter.d/xinetd-fail.conf"

#: The C{datepattern} a fail2ban jail on a FILE log needs: fail2ban's own
#: date detectors do not know xinetd's timestamp (without it, a jail takes
#: the time a line is read, and warns once).
FILE_DATEPATTERN = "^%y/%m/%d@%H:%M:%S"

#: The C{duration=} field of an EXIT line.
DURATION = re.compile(r"duration=(\d+)\(sec\)")

#: The ident client: connect, send, read one line, print it, then hold the
#: connection until standard input closes.
IDENT_CLIENT = """
import socket, sys
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])))
connection.sendall(sys.argv[3].encode())
if sys.argv[4:] == ["halfclose"]:
    connection.shutdown(socket.SHUT_WR)
received = b""
while not received.endswith(b"\\n"):
    data = connection.recv(1024)
    if not data:
        break
    received += data
sys.stdout.buffer.write(received + b"\\n")
sys.stdout.flush()
sys.stdin.read()
connection.close()
"""


def serviceEntry(
    name: str, serviceId: str, socketType: str, port: int, *lines: str, bind: str | None = HOST
) -> str:
    """
    An INTERNAL UNLISTED service with more attribute lines.

    @param bind: its address; L{None} for the default (every address, IPv6
        and IPv4).
    """
    wait = "yes" if socketType == "dgram" else "no"
    body = "".join(f"\t{line}\n" for line in lines)
    if bind is not None:
        body += f"\tbind = {bind}\n"
    return (
        f"service {name}\n{{\n\ttype = INTERNAL UNLISTED\n\tid = {serviceId}\n"
        f"\tsocket_type = {socketType}\n\twait = {wait}\n\tport = {port}\n{body}}}\n"
    )


def fileLogDefaults(path: str) -> str:
    """
    A defaults section that logs every service to the FILE C{path}.
    """
    return (
        f"defaults\n{{\n\tlog_type = FILE {path}\n"
        "\tlog_on_success = PID HOST EXIT DURATION\n\tlog_on_failure = HOST\n}\n"
    )


def parseStamp(match: re.Match[str]) -> float:
    """
    The POSIX time of a matched L{TIMESTAMP} (local time).
    """
    year, month, day, hour, minute, second = (
        int(match[name]) for name in ("year", "month", "day", "hour", "minute", "second")
    )
    return time.mktime((2000 + year, month, day, hour, minute, second, 0, 0, -1))


def needCommand(command: str, package: str) -> str:
    """
    The path of C{command}; skip the test if it is missing.
    """
    path = shutil.which(command)
    if path is None:
        raise SkipTest(f"{command} is not installed (Debian package {package})")
    return path


class TxinetdRun:
    """
    One C{twistd -n xinetd} process for one test, with a directory of its
    own (mode 0755, so that an ident server that dropped its privileges can
    read its files there).  It is stopped when the test ends.

    @ivar directory: the run's directory.
    @ivar serviceLog: the path of the FILE service log, inside it.
    @ivar daemon: the twistd process's protocol, once started.
    @ivar env: the environment twistd is started with (by L{start}; this
        process's unless a test says otherwise).
    """

    def __init__(self, testCase: TestCase) -> None:
        self.testCase = testCase
        self.directory = tempfile.mkdtemp(prefix="txinetd-log-")
        os.chmod(self.directory, 0o755)
        testCase.addCleanup(shutil.rmtree, self.directory, True)
        self.serviceLog = self.path("service.log")
        self.daemon = Daemon()
        self.process: Any = None
        self.started = 0.0
        self.env: Mapping[str, str] = os.environ

    def path(self, name: str) -> str:
        """
        A path in the run's directory.
        """
        return os.path.join(self.directory, name)

    @property
    def pid(self) -> int:
        """
        The twistd process's id: the pid of program-log lines.
        """
        return int(self.process.pid)

    def start(self, config: str, *options: str) -> Deferred[None]:
        """
        Write C{config} and start twistd on it with C{options}, in the
        environment C{env} says.

        @return: fires once it has started working.
        """
        path = self.path("xinetd.conf")
        with open(path, "w") as f:
            f.write(config)
        arguments = [TWISTD, "-n", "--pidfile=", "xinetd", "-f", path]
        arguments += ["--hosts-allow", self.path("hosts.allow")]
        arguments += ["--hosts-deny", self.path("hosts.deny"), *options]
        self.started = time.time()
        self.process = reactor.spawnProcess(
            self.daemon, TWISTD, arguments, env=dict(self.env), path=ROOT
        )
        self.testCase.addCleanup(self.stop)
        return withTimeout(self.daemon.ready, 30)

    def stop(self) -> Deferred[BaseException]:
        """
        SIGTERM, and wait for the process to end.
        """
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGTERM)
        return withTimeout(self.daemon.ended, 30)

    def lines(self, name: str = "service.log") -> list[str]:
        """
        The lines written so far to a file of the run's directory.
        """
        try:
            with open(self.path(name), encoding="utf-8") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def waitForLine(self, text: str, name: str = "service.log") -> Deferred[list[str]]:
        """
        Fire with the lines of a log file once one of them ends with C{text}.
        """

        def check() -> list[str] | None:
            lines = self.lines(name)
            return lines if any(line.endswith(text) for line in lines) else None

        return pollUntil(
            check, lambda: f"a line ending with {text!r} in {name}, which has {self.lines(name)}"
        )

    def messages(self) -> list[str]:
        """
        The service log's messages, each line checked to be
        C{<timestamp>: <message>} with a timestamp of this run (whole
        seconds, from the second the run started to now).  A duration is
        checked to be at most the run's whole seconds so far, then shown as
        C{duration=N(sec)}: a session that crosses a second boundary may
        last C{1(sec)} on a busy machine (L{waitForExit} checks it closer).
        """
        messages = []
        for line in self.lines():
            match = re.fullmatch(TIMESTAMP + r": (?P<message>.*)", line)
            self.testCase.assertIsNotNone(match, line)
            assert match is not None
            stamp = parseStamp(match)
            now = time.time()
            self.testCase.assertTrue(self.started - 1 < stamp <= now, line)
            for duration in DURATION.findall(match["message"]):
                self.testCase.assertLessEqual(int(duration), now - self.started, line)
            messages.append(DURATION.sub("duration=N(sec)", match["message"]))
        return messages

    @inlineCallbacks
    def waitForExit(self, text: str, since: float) -> Generator[Deferred[Any], Any, int]:
        """
        Wait for the service log's line ending with C{text} and a duration
        (C{<text> duration=<N>(sec)}), of a session that began after
        C{since} (a C{time.time()} the test took before it connected).

        @return: the duration, once checked to be at most the whole seconds
            from C{since} to the moment the line was read: C{0} when the
            session took less than a second from the client's connect to
            the line being read.
        """
        pattern = re.compile(re.escape(text) + r" duration=(\d+)\(sec\)$")

        def check() -> int | None:
            for line in self.lines():
                match = pattern.search(line)
                if match is not None:
                    return int(match[1])
            return None

        duration: int = yield pollUntil(check, lambda: f"{text!r} in {self.lines()}")
        self.testCase.assertLessEqual(duration, int(time.time() - since))
        return duration


def writeCalls(pid: int) -> int:
    """
    How many write calls process C{pid} has made (C{syscw} of its
    C{/proc/<pid>/io}; sends on sockets are not among them).
    """
    with open(f"/proc/{pid}/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["syscw"])


def readAll(client: socket.socket) -> bytes:
    """
    What a blocking client socket receives until the server closes.
    """
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def connectAndHold(port: int) -> Deferred[Protocol]:
    """
    Connect to a stream service and keep the connection open; the caller
    closes it through the returned protocol's transport.
    """
    return withTimeout(connectProtocol(TCP4ClientEndpoint(reactor, HOST, port), Protocol()))


class FileLogTests(TestCase):
    """
    The FILE service log and the C{-filelog} program log of a real run.
    """

    @inlineCallbacks
    def setUp(self) -> Generator[Deferred[Any], Any, None]:  # type: ignore[override]
        self.streamPort, self.dgramPort = freePorts(2)
        self.txinetd = TxinetdRun(self)
        config = (
            fileLogDefaults(self.txinetd.serviceLog)
            + serviceEntry(
                "daytime", "daytime-stream", "stream", self.streamPort, "only_from = 127.0.0.1"
            )
            + serviceEntry("daytime", "daytime-dgram", "dgram", self.dgramPort)
        )
        yield self.txinetd.start(config, "-filelog", self.txinetd.path("program.log"))

    @inlineCallbacks
    def test_serviceLog(self) -> Generator[Deferred[Any], Any, None]:
        """
        A stream built-in logs START and EXIT with every success field, a
        dgram one START with pid=0, a refused client FAIL with its address;
        each line is C{YY/M/D@HH:MM:SS: } and the message, byte for byte.
        """
        before = time.time()
        answer = yield tcpExchange(HOST, self.streamPort)
        self.assertRegex(answer, DAYTIME)
        yield self.txinetd.waitForExit(": EXIT: daytime-stream status=0 pid=0", before)
        answer = yield udpExchange(HOST, self.dgramPort, b"?")
        self.assertRegex(answer, DAYTIME)
        yield self.txinetd.waitForLine(": START: daytime-dgram pid=0 from=127.0.0.1")
        refused = yield tcpExchangeFrom("127.0.0.2", HOST, self.streamPort)
        self.assertEqual(refused, b"")
        yield self.txinetd.waitForLine(": FAIL: daytime-stream address from=127.0.0.2")
        self.assertEqual(
            self.txinetd.messages(),
            [
                "START: daytime-stream pid=0 from=127.0.0.1",
                "EXIT: daytime-stream status=0 pid=0 duration=N(sec)",
                "START: daytime-dgram pid=0 from=127.0.0.1",
                "FAIL: daytime-stream address from=127.0.0.2",
            ],
        )

    @inlineCallbacks
    def test_wakeupWrittenTogether(self) -> Generator[Deferred[Any], Any, None]:
        """
        The lines of the connections one wake-up of the reactor accepts are
        written together: ten connections queued while the daemon is
        stopped get their answers and twenty lines, in order, with fewer
        write calls than lines (each line written at once takes twenty).
        """
        count = 10
        pid = self.txinetd.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(os.kill, pid, signal.SIGCONT)
        clients = []
        for _ in range(count):
            client = socket.create_connection((HOST, self.streamPort), timeout=TIMEOUT)
            self.addCleanup(client.close)
            clients.append(client)
        before = writeCalls(pid)
        os.kill(pid, signal.SIGCONT)
        for client in clients:
            self.assertRegex(readAll(client), DAYTIME)

        def logged() -> list[str] | None:
            lines = self.txinetd.lines()
            return lines if len(lines) == 2 * count else None

        yield pollUntil(logged, lambda: f"{2 * count} lines in {self.txinetd.lines()}")
        writes = writeCalls(pid) - before
        self.assertEqual(
            self.txinetd.messages(),
            [
                "START: daytime-stream pid=0 from=127.0.0.1",
                "EXIT: daytime-stream status=0 pid=0 duration=N(sec)",
            ]
            * count,
        )
        self.assertLess(writes, count, f"{writes} write calls for {2 * count} lines")

    @inlineCallbacks
    def test_programLog(self) -> Generator[Deferred[Any], Any, None]:
        """
        C{-filelog} writes txinetd's own messages as
        C{<timestamp> xinetd[<pid>]: <LEVEL>: <message>}, starting with the
        version line and C{Started working}.
        """
        lines = yield self.txinetd.waitForLine(
            "Started working: 2 available services", "program.log"
        )
        prefix = TIMESTAMP + rf" xinetd\[{self.txinetd.pid}\]: "
        for line in lines:
            self.assertRegex(line, rf"^{prefix}(CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG): \S")
        self.assertRegex(
            lines[0],
            rf"^{prefix}NOTICE: txinetd {re.escape(__version__)} started with libwrap "
            r"loadavg options compiled in\.$",
        )
        self.assertRegex(lines[-1], rf"^{prefix}NOTICE: Started working: 2 available services$")


class _SyslogReceiver(DatagramProtocol):
    """
    Collects the datagrams sent to a test-owned syslog socket.
    """

    def __init__(self) -> None:
        self.datagrams: list[str] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.datagrams.append(datagram.decode("utf-8"))

    def waitFor(self, text: str) -> Deferred[str]:
        """
        Fire with the first datagram that ends with C{text}.
        """

        def check() -> str | None:
            return next((d for d in self.datagrams if d.endswith(text)), None)

        return pollUntil(check, lambda: f"a datagram ending with {text!r} among {self.datagrams}")


class SyslogTests(TestCase):
    """
    C{log_type = SYSLOG local3 notice} and C{-syslog daemon}, sent to a
    datagram socket the test owns, given as C{--syslog-socket}.
    """

    @inlineCallbacks
    def test_datagrams(self) -> Generator[Deferred[Any], Any, None]:
        """
        Each datagram is C{<PRI>Mmm dd HH:MM:SS xinetd[<pid>]: <text>} with
        PRI = facility * 8 + level: local3.notice (157) for the service log,
        daemon (3) and the message's level for the program log
        (C{Started working} is NOTICE: 29), which has no level word.
        """
        (port,) = freePorts(1)
        run = TxinetdRun(self)
        receiver = _SyslogReceiver()
        listening = reactor.listenUNIXDatagram(run.path("syslog"), receiver)
        self.addCleanup(listening.stopListening)
        config = serviceEntry(
            "daytime",
            "daytime-stream",
            "stream",
            port,
            "log_type = SYSLOG local3 notice",
            "log_on_success = PID HOST EXIT",
        )
        yield run.start(config, "-syslog", "daemon", "--syslog-socket", run.path("syslog"))
        started = yield receiver.waitFor("Started working: 1 available service")
        answer = yield tcpExchange(HOST, port)
        self.assertRegex(answer, DAYTIME)
        exited = yield receiver.waitFor("EXIT: daytime-stream status=0 pid=0")
        prefix = rf"{SYSLOG_TIMESTAMP} xinetd\[{run.pid}\]: "
        self.assertRegex(started, rf"^<29>{prefix}Started working: 1 available service$")
        self.assertRegex(exited, rf"^<157>{prefix}EXIT: daytime-stream status=0 pid=0$")
        priorities = [int(re.sub(r"^<(\d+)>.*", r"\1", d, flags=re.S)) for d in receiver.datagrams]
        service = [d for d, p in zip(receiver.datagrams, priorities, strict=True) if p == 157]
        self.assertEqual(len(service), 2, receiver.datagrams)
        self.assertRegex(
            service[0], rf"^<157>{prefix}START: daytime-stream pid=0 from=127\.0\.0\.1$"
        )
        # Everything else is a program message: facility daemon (3).
        self.assertEqual({p // 8 for p in priorities if p != 157}, {3}, receiver.datagrams)
        for datagram in receiver.datagrams:
            self.assertRegex(datagram, rf"^<\d+>{prefix}\S")


class Fail2banTests(TestCase):
    """
    fail2ban's C{xinetd-fail} filter reads txinetd's FAIL lines.  It is
    written for two reasons, C{address} and C{libwrap}; FAIL lines for
    limits are meant to be missed, as they are in xinetd's logs.
    """

    @inlineCallbacks
    def test_xinetdFailFilter(self) -> Generator[Deferred[Any], Any, None]:
        """
        A real log with START, EXIT and FAIL lines for address, libwrap,
        service_limit and per_source_limit refusals: C{fail2ban-regex}
        matches exactly the address and libwrap FAIL lines and finds their
        hosts; with L{FILE_DATEPATTERN} it dates every line.
        """
        fail2banRegex = needCommand("fail2ban-regex", "fail2ban")
        if not os.path.exists(FAIL2BAN_FILTER):
            raise SkipTest(f"{FAIL2BAN_FILTER} is missing (Debian package fail2ban)")
        yield self.writeLog()
        matched = [
            line for line in self.txinetd.lines() if re.search(r"FAIL: \S+ (address|libwrap)", line)
        ]
        self.assertEqual(len(matched), 3)
        self.assertEqual(sum(" FAIL: " in line for line in self.txinetd.lines()), 5)
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(
                fail2banRegex,
                [
                    "-r",
                    "--usedns=no",
                    "--print-all-matched",
                    "--print-no-missed",
                    "--datepattern",
                    FILE_DATEPATTERN,
                    self.txinetd.serviceLog,
                    FAIL2BAN_FILTER,
                ],
                env=dict(os.environ),
            ),
            60,
        )
        self.assertEqual(code, 0, err)
        text = out.decode()
        total = len(self.txinetd.lines())
        self.assertIn(f"Lines: {total} lines, 0 ignored, 3 matched, {total - 3} missed", text)
        self.assertIn(f"[{total}] ^Year2/Month/Day@24hour:Minute:Second", text)
        shown = re.findall(r"^\|  (.*)$", text.split("Matched line(s):", 1)[1], re.MULTILINE)
        self.assertEqual(shown, matched)
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(
                fail2banRegex,
                ["-r", "--usedns=no", "-o", "ip", self.txinetd.serviceLog, FAIL2BAN_FILTER],
                env=dict(os.environ),
            ),
            60,
        )
        self.assertEqual(out.decode().split(), ["127.0.0.2", "127.0.0.3", "127.0.0.4"])

    @inlineCallbacks
    def writeLog(self) -> Generator[Deferred[Any], Any, None]:
        """
        Run txinetd and make it log one success and four kinds of FAIL.
        """
        daytime, timePort, discard, echo = freePorts(4)
        self.txinetd = run = TxinetdRun(self)
        with open(run.path("hosts.deny"), "w") as f:
            f.write("echo: 127.0.0.4\n")
        config = (
            fileLogDefaults(run.serviceLog)
            + serviceEntry("daytime", "daytime-stream", "stream", daytime, "only_from = 127.0.0.1")
            + serviceEntry("time", "time-stream", "stream", timePort, "instances = 0")
            + serviceEntry("discard", "discard-stream", "stream", discard, "per_source = 1")
            + serviceEntry("echo", "echo-stream", "stream", echo)
        )
        yield run.start(config)
        before = time.time()
        yield tcpExchange(HOST, daytime)
        yield run.waitForExit(": EXIT: daytime-stream status=0 pid=0", before)
        for source in ("127.0.0.2", "127.0.0.3"):
            yield tcpExchangeFrom(source, HOST, daytime)
            yield run.waitForLine(f": FAIL: daytime-stream address from={source}")
        yield tcpExchange(HOST, timePort)
        yield run.waitForLine(": FAIL: time-stream service_limit from=127.0.0.1")
        before = time.time()
        held = yield connectAndHold(discard)
        yield run.waitForLine(": START: discard-stream pid=0 from=127.0.0.1")
        refused = yield tcpExchange(HOST, discard)
        self.assertEqual(refused, b"")
        yield run.waitForLine(": FAIL: discard-stream per_source_limit from=127.0.0.1")
        held.transport.loseConnection()
        yield run.waitForExit(": EXIT: discard-stream status=0 pid=0", before)
        yield tcpExchangeFrom("127.0.0.4", HOST, echo, b"hello\n")
        yield run.waitForLine(": FAIL: echo-stream libwrap from=127.0.0.4")


class _IdentClient(ProcessProtocol):
    """
    The L{IDENT_CLIENT} process: C{answered} fires with the line it read,
    C{ended} when it exits.
    """

    def __init__(self) -> None:
        self.output = b""
        self.answered: Deferred[bytes] = Deferred()
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if self.output.endswith(b"\n") and not self.answered.called:
            self.answered.callback(self.output[:-1])

    def processEnded(self, reason: Failure) -> None:
        if not self.answered.called:
            self.answered.errback(RuntimeError(f"client ended early: {reason.value}"))
        self.ended.callback(None)


def clientUser() -> tuple[pwd.struct_passwd, str]:
    """
    The user the ident client runs as (C{nobody} when run as root, so that
    the name is not the test's own), and a Python it can run.
    """
    if os.getuid() != 0:
        return pwd.getpwuid(os.getuid()), sys.executable
    if not os.access("/usr/bin/python3", os.X_OK):
        raise SkipTest("/usr/bin/python3 is missing (Debian package python3)")
    return pwd.getpwnam("nobody"), "/usr/bin/python3"


def runIdentClient(
    testCase: TestCase, port: int, send: bytes, halfClose: bool = False
) -> _IdentClient:
    """
    Start the ident client against a service on 127.0.0.1 as L{clientUser}.

    @param halfClose: shut its side down once it has sent C{send}.
    """
    user, python = clientUser()
    client = _IdentClient()
    process = reactor.spawnProcess(
        client,
        python,
        [python, "-c", IDENT_CLIENT, HOST, str(port), send.decode()]
        + (["halfclose"] if halfClose else []),
        env={},
        path="/",
        uid=user.pw_uid if os.getuid() == 0 else None,
        gid=user.pw_gid if os.getuid() == 0 else None,
    )

    def stop() -> Deferred[None]:
        if process.pid is not None:
            process.signalProcess(signal.SIGKILL)
        return withTimeout(client.ended)

    testCase.addCleanup(stop)
    return client


def waitForListening(port: int, alive: Callable[[], bool]) -> Deferred[None]:
    """
    Fire once something accepts connections on 127.0.0.1 C{port}; fail if
    C{alive} says the server died first, or after L{TIMEOUT}.
    """

    @inlineCallbacks
    def attempt() -> Generator[Deferred[Any], Any, None]:
        deadline = reactor.seconds() + TIMEOUT
        while reactor.seconds() < deadline and alive():
            try:
                probe = yield connectProtocol(TCP4ClientEndpoint(reactor, HOST, port), Protocol())
            except ConnectError:
                yield deferLater(reactor, 0.02, lambda: None)
                continue
            probe.transport.loseConnection()
            return
        raise RuntimeError(f"nothing listens on port {port}")

    return attempt()


class OidentdTests(TestCase):
    """
    USERID lines from a real ident server: oidentd on 127.0.0.1 and a free
    port, given to txinetd as C{--ident-port}.
    """

    @inlineCallbacks
    def setUp(self) -> Generator[Deferred[Any], Any, None]:  # type: ignore[override]
        oidentd = needCommand("oidentd", "oidentd")
        identPort, self.echoPort, self.daytimePort, self.timePort = freePorts(4)
        self.txinetd = TxinetdRun(self)
        config = self.txinetd.path("oidentd.conf")
        with open(config, "w") as f:
            f.write("default {\n\tdefault {\n\t\tdeny spoof\n\t}\n}\n")
        os.chmod(config, 0o644)
        self.oidentd = CollectingProcess()
        process = reactor.spawnProcess(
            self.oidentd,
            oidentd,
            [oidentd, "-i", "-S", "-a", HOST, "-p", str(identPort), "-C", config],
            env={},
            path="/",
        )

        def stop() -> Deferred[None]:
            if process.pid is not None:
                process.signalProcess(signal.SIGTERM)
            return withTimeout(self.oidentd.ended)

        self.addCleanup(stop)
        listening = waitForListening(identPort, lambda: process.pid is not None)
        yield listening.addErrback(
            lambda f: self.fail(f"{f.getErrorMessage()}; oidentd said {self.oidentd.output!r}")
        )
        self.user = clientUser()[0].pw_name
        services = (
            fileLogDefaults(self.txinetd.serviceLog)
            + serviceEntry(
                "echo",
                "echo-userid",
                "stream",
                self.echoPort,
                "log_on_success = PID HOST USERID",
                bind=None,
            )
            + serviceEntry(
                "time",
                "time-limited",
                "stream",
                self.timePort,
                "instances = 0",
                "log_on_failure += USERID",
            )
            + serviceEntry(
                "daytime",
                "daytime-idonly",
                "stream",
                self.daytimePort,
                "log_on_success = PID HOST USERID",
                "flags = IDONLY",
            )
        )
        yield self.txinetd.start(services, "--ident-port", str(identPort))

    @inlineCallbacks
    def test_useridNamesClientUser(self) -> Generator[Deferred[Any], Any, None]:
        """
        With USERID in log_on_success the service answers at once and the
        USERID line names the user who owns the client's socket, as
        oidentd words it (C{UNIX:<user>}).  The service listens on every
        address (the default), so the lookup starts from an IPv4-mapped
        local address.
        """
        client = runIdentClient(self, self.echoPort, b"ping\n")
        answer = yield withTimeout(client.answered)
        self.assertEqual(answer, b"ping\n")
        yield self.txinetd.waitForLine(f": USERID: echo-userid UNIX:{self.user}")
        client.transport.closeStdin()  # type: ignore[union-attr]
        yield withTimeout(client.ended)
        self.assertEqual(
            self.txinetd.messages(),
            ["START: echo-userid pid=0 from=127.0.0.1", f"USERID: echo-userid UNIX:{self.user}"],
        )

    @inlineCallbacks
    def test_useridAfterFail(self) -> Generator[Deferred[Any], Any, None]:
        """
        With USERID in log_on_failure, a connection refused by a limit is
        logged with FAIL and then USERID.
        """
        client = runIdentClient(self, self.timePort, b"")
        answer = yield withTimeout(client.answered)
        self.assertEqual(answer, b"")
        yield self.txinetd.waitForLine(f": USERID: time-limited UNIX:{self.user}")
        self.assertEqual(
            self.txinetd.messages(),
            [
                "FAIL: time-limited service_limit from=127.0.0.1",
                f"USERID: time-limited UNIX:{self.user}",
            ],
        )

    @inlineCallbacks
    def test_useridAfterFailOfAClientThatShutDown(self) -> Generator[Deferred[Any], Any, None]:
        """
        A refused client that has already shut its side down (as C{nc
        </dev/null}) is named too: the connection stays open until its
        ident server has answered, as xinetd's child holds it, so that the
        client's socket is still in the ident server's tables.
        """
        client = runIdentClient(self, self.timePort, b"", halfClose=True)
        answer = yield withTimeout(client.answered)
        self.assertEqual(answer, b"")
        yield self.txinetd.waitForLine(f": USERID: time-limited UNIX:{self.user}")
        self.assertEqual(
            self.txinetd.messages(),
            [
                "FAIL: time-limited service_limit from=127.0.0.1",
                f"USERID: time-limited UNIX:{self.user}",
            ],
        )

    @inlineCallbacks
    def test_idonlyWithIdentServer(self) -> Generator[Deferred[Any], Any, None]:
        """
        With IDONLY and an ident server that knows the user, the service
        runs and the USERID line is logged.
        """
        client = runIdentClient(self, self.daytimePort, b"")
        answer = yield withTimeout(client.answered)
        self.assertRegex(answer, DAYTIME)
        yield self.txinetd.waitForLine(": START: daytime-idonly pid=0 from=127.0.0.1")
        self.assertCountEqual(
            self.txinetd.messages(),
            [
                "START: daytime-idonly pid=0 from=127.0.0.1",
                f"USERID: daytime-idonly UNIX:{self.user}",
            ],
        )


def identServices(log: str, plainPort: int, useridPort: int, idonlyPort: int) -> str:
    """
    Three daytime services: without USERID, with USERID, with IDONLY.
    """
    return (
        fileLogDefaults(log)
        + serviceEntry("daytime", "daytime-plain", "stream", plainPort)
        + serviceEntry(
            "daytime",
            "daytime-userid",
            "stream",
            useridPort,
            "log_on_success += USERID",
        )
        + serviceEntry(
            "daytime",
            "daytime-idonly",
            "stream",
            idonlyPort,
            "log_on_success += USERID",
            "flags = IDONLY",
        )
    )


class NoIdentServerTests(TestCase):
    """
    No ident server: C{--ident-port} names a closed port.
    """

    @inlineCallbacks
    def setUp(self) -> Generator[Deferred[Any], Any, None]:  # type: ignore[override]
        identPort, self.plain, self.userid, self.idonly = freePorts(4)
        self.txinetd = TxinetdRun(self)
        config = identServices(self.txinetd.serviceLog, self.plain, self.userid, self.idonly)
        yield self.txinetd.start(config, "--ident-port", str(identPort))

    @inlineCallbacks
    def test_useridWithoutIdentServer(self) -> Generator[Deferred[Any], Any, None]:
        """
        With USERID logging and no ident server the daytime line arrives
        as without USERID, and nothing but START and EXIT is logged for it.
        (That the lookup does not hold the server back is shown by
        L{SilentIdentServerTests}, whose lookup is never answered.)
        """
        before = time.time()
        for port in (self.plain, self.userid):
            answer = yield tcpExchange(HOST, port)
            self.assertRegex(answer, DAYTIME)
        yield self.txinetd.waitForExit(": EXIT: daytime-userid status=0 pid=0", before)
        # The IDONLY lookup starts later and fails the same way: once its NOID
        # line is there, the USERID service's lookup has failed too.
        yield tcpExchange(HOST, self.idonly)
        yield self.txinetd.waitForLine(": NOID: daytime-idonly 127.0.0.1 no server")
        self.assertEqual(
            [m for m in self.txinetd.messages() if "daytime-userid" in m],
            [
                "START: daytime-userid pid=0 from=127.0.0.1",
                "EXIT: daytime-userid status=0 pid=0 duration=N(sec)",
            ],
        )

    @inlineCallbacks
    def test_idonlyRefused(self) -> Generator[Deferred[Any], Any, None]:
        """
        With IDONLY and no ident server the client gets nothing, and a NOID
        line with the reason C{no server} is the only line.
        """
        answer = yield tcpExchange(HOST, self.idonly)
        self.assertEqual(answer, b"")
        yield self.txinetd.waitForLine(": NOID: daytime-idonly 127.0.0.1 no server")
        self.assertEqual(self.txinetd.messages(), ["NOID: daytime-idonly 127.0.0.1 no server"])


class _SilentIdent(Protocol):
    """
    An ident server that reads a query and never answers.

    @ivar query: what it read.
    @ivar closed: fires when the connection is closed.
    """

    def __init__(self) -> None:
        self.query = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.query += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)


class SilentIdentServerTests(TestCase):
    """
    An ident server that accepts the lookup and never answers, as behind a
    firewall that drops its replies: xinetd's USERID logging held the
    server for 30 s there.
    """

    @inlineCallbacks
    def test_pendingLookupDoesNotDelay(self) -> Generator[Deferred[Any], Any, None]:
        """
        The daytime line arrives while the lookup, sent as C{<client
        port>,<server port>\\r\\n}, is still unanswered and open: the server
        did not wait for it (had it waited, the client would have waited
        for the lookup's end, which never comes while the test runs).
        """
        lookups: list[_SilentIdent] = []

        def accept() -> _SilentIdent:
            lookups.append(_SilentIdent())
            return lookups[-1]

        listening = reactor.listenTCP(0, Factory.forProtocol(accept), interface=HOST)
        self.addCleanup(listening.stopListening)
        # After txinetd has stopped, its lookups are closed.
        self.addCleanup(lambda: withTimeout(gatherResults([p.closed for p in lookups])))
        identPort = listening.getHost().port
        plain, userid, idonly = freePorts(3)
        run = TxinetdRun(self)
        yield run.start(
            identServices(run.serviceLog, plain, userid, idonly), "--ident-port", str(identPort)
        )
        before = time.time()
        answer = yield tcpExchange(HOST, userid)
        self.assertRegex(answer, DAYTIME)
        self.assertEqual([p.closed.called for p in lookups], [False] * len(lookups))
        query = yield pollUntil(
            lambda: b"".join(p.query for p in lookups) or None, lambda: "the ident query"
        )
        self.assertRegex(query, rb"^[1-9]\d*,%d\r\n$" % (userid,))
        self.assertEqual([p.closed.called for p in lookups], [False])
        yield run.waitForExit(": EXIT: daytime-userid status=0 pid=0", before)
        self.assertEqual(
            run.messages(),
            [
                "START: daytime-userid pid=0 from=127.0.0.1",
                "EXIT: daytime-userid status=0 pid=0 duration=N(sec)",
            ],
        )


class _ScriptedIdent(Protocol):
    """
    An ident server that answers each query with what C{reply} makes of
    its two ports, then closes.
    """

    def __init__(self, reply: Callable[[int, int], bytes]) -> None:
        self.reply = reply
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if b"\n" in self.buffer:
            clientPort, serverPort = self.buffer.split(b"\r\n", 1)[0].split(b",")
            assert self.transport is not None
            self.transport.write(self.reply(int(clientPort), int(serverPort)))
            self.transport.loseConnection()


class ScriptedIdentServerTests(TestCase):
    """
    Replies that must not reach a log as they are: forged line ends and
    escape sequences, answers for other ports.
    """

    @inlineCallbacks
    def startWithReply(
        self, reply: Callable[[int, int], bytes]
    ) -> Generator[Deferred[Any], Any, None]:
        """
        Start txinetd with an ident server that answers with C{reply}.
        """
        listening = reactor.listenTCP(
            0, Factory.forProtocol(lambda: _ScriptedIdent(reply)), interface=HOST
        )
        self.addCleanup(listening.stopListening)
        self.plain, self.userid, self.idonly = freePorts(3)
        self.txinetd = TxinetdRun(self)
        yield self.txinetd.start(
            identServices(self.txinetd.serviceLog, self.plain, self.userid, self.idonly),
            "--ident-port",
            str(listening.getHost().port),
            "-filelog",
            self.txinetd.path("program.log"),
        )

    @inlineCallbacks
    def test_controlCharactersReplaced(self) -> Generator[Deferred[Any], Any, None]:
        """
        A user text with an escape sequence and a carriage return is logged
        on one line with each control character shown as C{?}.
        """
        yield self.startWithReply(
            lambda client, server: (
                b"%d , %d : USERID : UNIX : eve\x1b[31m\rFAKE\r\n" % (client, server)
            )
        )
        before = time.time()
        answer = yield tcpExchange(HOST, self.userid)
        self.assertRegex(answer, DAYTIME)
        yield self.txinetd.waitForLine(": USERID: daytime-userid UNIX : eve?[31m?FAKE")
        yield self.txinetd.waitForExit(": EXIT: daytime-userid status=0 pid=0", before)
        self.assertEqual(
            sorted(self.txinetd.messages()),
            [
                "EXIT: daytime-userid status=0 pid=0 duration=N(sec)",
                "START: daytime-userid pid=0 from=127.0.0.1",
                "USERID: daytime-userid UNIX : eve?[31m?FAKE",
            ],
        )

    def wrongPorts(self) -> Deferred[None]:
        """
        Start txinetd with an ident server that answers for other ports.
        """
        return self.startWithReply(lambda client, server: b"1 , 1 : USERID : UNIX : mallory\r\n")

    @inlineCallbacks
    def test_idonlyWrongPorts(self) -> Generator[Deferred[Any], Any, None]:
        """
        With IDONLY, an answer for other ports refuses the connection with
        C{NOID ... bad response}.
        """
        yield self.wrongPorts()
        answer = yield tcpExchange(HOST, self.idonly)
        self.assertEqual(answer, b"")
        yield self.txinetd.waitForLine(": NOID: daytime-idonly 127.0.0.1 bad response")
        self.assertEqual(self.txinetd.messages(), ["NOID: daytime-idonly 127.0.0.1 bad response"])

    @inlineCallbacks
    def test_badLineInProgramLog(self) -> Generator[Deferred[Any], Any, None]:
        """
        An unusable answer is reported in the program log as an ERROR
        C{Bad line received from identity server at <addr>: <line>}.
        """
        yield self.wrongPorts()
        yield tcpExchange(HOST, self.idonly)
        yield self.txinetd.waitForLine(": NOID: daytime-idonly 127.0.0.1 bad response")
        self.assertIn(
            "ERROR: Bad line received from identity server at 127.0.0.1: "
            "1 , 1 : USERID : UNIX : mallory",
            "\n".join(self.txinetd.lines("program.log")),
        )
