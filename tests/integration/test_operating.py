# -*- test-case-name: tests.integration.test_operating -*-
"""
Operating txinetd with a real C{twistd} process: reconfiguration by signal
while clients keep connecting, soft and hard reconfiguration of a running
server, SIGTERM, SIGQUIT, SIGABRT, C{-pidfile}, C{-limit},
C{-inetd_compat}, the C{etc/txinetd.tac} application file and sd_notify
through a test socket.

Servers are C{/bin/cat} and C{/bin/echo}; every run uses its own
directory, ports in 20000-30000 on 127.0.0.1, and its own empty
hosts.allow / hosts.deny.  Every server a test starts is killed when the
test ends if it is still running.  The C{-inetd_compat} test needs
/etc/services (Debian package netbase) and is skipped without it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from twisted.application.service import IServiceCollection
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError, ProcessDone, ProcessTerminated
from twisted.internet.protocol import Protocol
from twisted.persisted.sob import loadValueFromFile
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from tests.net.test_systemd import NotifyReceiver
from txinetd.daemon.tree import XinetdService
from txinetd.tap import Options, makeService

from .support import (
    freeListedPort,
    freePorts,
    hostsOptions,
    pollUntil,
    reactor,
    tcpExchange,
    withTimeout,
)
from .test_logging import DAYTIME, HOST, TxinetdRun, serviceEntry
from .test_twistd import ROOT, TWISTD, Daemon

Generated = Generator[Deferred[Any], Any, None]

TAC = os.path.join(ROOT, "etc", "txinetd.tac")
PROGRAM_LOG = "program.log"
#: Every connection logs START and EXIT with the server's pid.
SUCCESS = "PID HOST EXIT"


def defaults(run: TxinetdRun) -> str:
    """
    A defaults section: the run's FILE service log, and no cps limit (a
    tight client loop would trip the default of 50 per second).
    """
    return (
        f"defaults\n{{\n\tlog_type = FILE {run.serviceLog}\n\tlog_on_success = {SUCCESS}\n"
        "\tlog_on_failure = HOST\n\tcps = 0 0\n}\n"
    )


def serverEntry(serviceId: str, port: int, *lines: str) -> str:
    """
    An UNLISTED service on 127.0.0.1 whose server is C{/bin/cat}, run as
    the test's own user.
    """
    user = pwd.getpwuid(os.geteuid()).pw_name
    body = "".join(f"\t{line}\n" for line in lines)
    return (
        f"service {serviceId}\n{{\n\ttype = UNLISTED\n\tsocket_type = stream\n"
        f"\tprotocol = tcp\n\twait = no\n\tport = {port}\n\tbind = {HOST}\n\tuser = {user}\n"
        f"\tserver = /bin/cat\n{body}}}\n"
    )


def builtin(name: str, port: int, *lines: str) -> str:
    """
    An internal stream service on 127.0.0.1, with id C{<name>-stream}.
    """
    return serviceEntry(name, f"{name}-stream", "stream", port, *lines)


def lineNumber(text: str, fragment: str) -> int:
    """
    The 1-based number of the first line of C{text} containing C{fragment}.
    """
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def processState(pid: int) -> str | None:
    """
    The state letter of a process (C{R}, C{S}, C{Z}...), or L{None} if it
    does not exist.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def isRunning(pid: int) -> bool:
    """
    Whether C{pid} is a live (not zombie) C{/bin/cat} (argv[0] C{cat}).
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().split(b"\0")[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return command == b"cat" and processState(pid) not in (None, "Z", "X")


def killIfRunning(pid: int) -> None:
    """
    Kill a server a test started, if it still runs.
    """
    if isRunning(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """
    Set environment variables for what runs inside (the processes started
    there inherit them), then restore them.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


class Client(Protocol):
    """
    A client that keeps its connection open and collects what it receives.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.closed.callback(None)

    def abort(self) -> None:
        """
        Close the connection now, if it is open.
        """
        if self.transport is not None and not self.closed.called:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def echo(self, text: bytes) -> Deferred[bool]:
        """
        Send C{text} and fire once the server has sent it back.
        """
        assert self.transport is not None
        self.transport.write(text)
        return pollUntil(
            lambda: self.received.endswith(text) or None,
            lambda: f"{text!r} echoed; received {bytes(self.received)!r}",
        )


@inlineCallbacks
def served(port: int) -> Generated:
    """
    Fire once the daytime service on C{port} has answered: the reactor
    runs, so txinetd and twistd handle signals (they do not yet when
    C{Started working} is logged; see L{NotifyTests.blockedAtReady}).
    """
    answer = yield tcpExchange(HOST, port)
    if not DAYTIME.match(answer):
        raise AssertionError(f"not a daytime answer: {answer!r}")


def connectClient(port: int) -> Deferred[Client]:
    return withTimeout(connectProtocol(TCP4ClientEndpoint(reactor, HOST, port), Client()))


class Operated:
    """
    A L{TxinetdRun} with the program log in C{program.log}, and what a test
    does to it and waits for.
    """

    def __init__(self, testCase: TestCase) -> None:
        self.testCase = testCase
        self.run = TxinetdRun(testCase)
        self.configPath = self.run.path("xinetd.conf")

    def start(self, config: str, *options: str) -> Deferred[None]:
        return self.run.start(config, "-filelog", self.run.path(PROGRAM_LOG), *options)

    def rewrite(self, config: str) -> None:
        with open(self.configPath, "w") as f:
            f.write(config)

    def signal(self, number: int) -> None:
        self.run.process.signalProcess(number)

    def count(self, fragment: str, name: str = PROGRAM_LOG) -> int:
        """
        How many lines of a log contain C{fragment}.
        """
        return sum(fragment in line for line in self.run.lines(name))

    def waitForCount(self, fragment: str, count: int, name: str = PROGRAM_LOG) -> Deferred[int]:
        """
        Fire once C{count} lines of a log contain C{fragment}.
        """
        return pollUntil(
            lambda: self.count(fragment, name) >= count or None,
            lambda: f"{count} lines with {fragment!r} in {name}: {self.run.lines(name)}",
        )

    def waitForProgramLine(self, text: str) -> Deferred[list[str]]:
        return self.run.waitForLine(text, PROGRAM_LOG)

    @inlineCallbacks
    def hold(self, serviceId: str, port: int) -> Generator[Deferred[Any], Any, tuple[Client, int]]:
        """
        Connect to a C{/bin/cat} service and keep the session.

        @return: the client (its server has echoed a line) and the server's
            pid, taken from its START line; the server is killed when the
            test ends if it still runs.
        """
        before = set(self.serverPids(serviceId))
        client = yield connectClient(port)
        self.testCase.addCleanup(client.abort)
        yield client.echo(b"hello\n")
        started = yield pollUntil(
            lambda: set(self.serverPids(serviceId)) - before or None,
            lambda: f"a START line for {serviceId}: {self.run.lines()}",
        )
        (pid,) = started
        self.testCase.addCleanup(killIfRunning, pid)
        return client, pid

    def serverPids(self, serviceId: str, entry: str = "START") -> list[int]:
        """
        The pids of a service's START lines (or other C{entry} lines, such
        as C{EXIT: <id> status=0}) in the service log.
        """
        pattern = re.compile(rf": {entry}: {re.escape(serviceId)} (?:\S+ )?pid=(\d+)\b")
        return [int(m[1]) for m in map(pattern.search, self.run.lines()) if m]

    def exited(self, serviceId: str, pid: int) -> Deferred[list[str]]:
        """
        Fire once a server's EXIT line says SIGTERM ended it.
        """
        return self.run.waitForLine(f": EXIT: {serviceId} signal=15 pid={pid}")

    def ended(self) -> Deferred[BaseException]:
        return withTimeout(self.run.daemon.ended, 30)


@dataclass
class ConnectLoop:
    """
    Clients that connect to a daytime service one after another until
    told to stop, and count what happened.

    @ivar answers: every answer received.
    @ivar failures: every connection that failed.
    """

    port: int
    answers: list[bytes] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    stopping: bool = False

    #: An upper bound on connections per client, so that a loop ends even
    #: if the test never stops it.
    LIMIT = 20000

    @inlineCallbacks
    def loop(self) -> Generated:
        for _ in range(self.LIMIT):
            if self.stopping:
                return
            try:
                answer = yield tcpExchange(HOST, self.port)
            except Exception as e:
                self.failures.append(e)
            else:
                self.answers.append(answer)

    def start(self, testCase: TestCase, clients: int) -> None:
        """
        Start C{clients} concurrent loops, stopped when the test ends at the
        latest.
        """
        self.running = gatherResults([self.loop() for _ in range(clients)])
        testCase.addCleanup(self.stop)

    def stop(self) -> Deferred[Any]:
        """
        Stop the loops.

        @return: fires when all of them have stopped.
        """
        self.stopping = True
        return withTimeout(self.running)

    def moreAnswers(self, count: int) -> Deferred[bool]:
        """
        Fire once C{count} more answers have arrived.
        """
        target = len(self.answers) + count
        return pollUntil(
            lambda: len(self.answers) >= target or None,
            lambda: f"{target} answers; {len(self.answers)}, failures {self.failures}",
        )


class ReconfigurationTests(TestCase):
    """
    SIGHUP with real clients: a kept service never refuses a connection,
    a removed one stops listening, a changed port moves, a broken edit
    changes nothing.
    """

    @inlineCallbacks
    def setUp(self) -> Generated:  # type: ignore[override]
        self.daytime, self.echo, self.oldTime, self.newTime = freePorts(4)
        self.operated = Operated(self)
        self.first = self.config(builtin("echo", self.echo), builtin("time", self.oldTime))
        self.second = self.config(builtin("time", self.newTime, "instances = 7"))
        yield self.operated.start(self.first)
        yield served(self.daytime)

    def config(self, *entries: str) -> str:
        return defaults(self.operated.run) + builtin("daytime", self.daytime) + "".join(entries)

    @inlineCallbacks
    def test_noRefusalWhileReloading(self) -> Generated:
        """
        Two clients connect to the daytime service in a loop while the
        configuration is switched back and forth five times: every
        connection is answered.  Services that went away refuse; the time
        service answers on its new port only.
        """
        clients = ConnectLoop(self.daytime)
        clients.start(self, 2)
        yield clients.moreAnswers(20)
        for round in range(1, 6):
            self.operated.rewrite(self.second if round % 2 else self.first)
            self.operated.signal(signal.SIGHUP)
            yield self.operated.waitForCount("Reconfigured: ", round)
            yield clients.moreAnswers(20)
        yield clients.stop()
        self.assertEqual(clients.failures, [])
        for answer in clients.answers:
            self.assertRegex(answer, DAYTIME)
        lines = self.operated.run.lines(PROGRAM_LOG)
        self.assertEqual(
            [line.split(": ", 1)[1] for line in lines if "Reconfigured: " in line],
            [
                "NOTICE: Reconfigured: new=1 old=1 dropped=2 (services)",
                "NOTICE: Reconfigured: new=2 old=1 dropped=1 (services)",
            ]
            * 2
            + ["NOTICE: Reconfigured: new=1 old=1 dropped=2 (services)"],
        )
        self.assertEqual(self.operated.count("readjusting service daytime-stream"), 5)
        self.assertEqual(self.operated.count("service echo-stream deactivated"), 3)
        for port in (self.echo, self.oldTime):
            yield self.assertFailure(tcpExchange(HOST, port), ConnectionRefusedError)
        answer = yield tcpExchange(HOST, self.newTime)
        self.assertEqual(len(answer), 4)

    @inlineCallbacks
    def test_brokenEditChangesNothing(self) -> Generated:
        """
        A configuration with errors is rejected whole: each error is in the
        program log with its file and line, followed by C{reconfiguration
        failed}, and every service still answers where it did.
        """
        broken = self.config(builtin("echo", self.echo, "instances = lots"), builtin("time", 99999))
        self.operated.rewrite(broken)
        self.operated.signal(signal.SIGHUP)
        lines = yield self.operated.waitForProgramLine("; the running configuration stays")
        self.assertTrue(
            lines[-1].endswith(
                f" WARNING: reconfiguration failed: 4 errors in {self.operated.configPath}; "
                "the running configuration stays"
            ),
            lines[-1],
        )
        errors = {
            "Number of instances is invalid: lots": "instances = lots",
            "port number is invalid": "port = 99999",
        }
        for error, attribute in errors.items():
            where = f"[file={self.operated.configPath}] [line={lineNumber(broken, attribute)}]"
            logged = [line for line in lines if error in line]
            self.assertEqual(len(logged), 1, lines)
            self.assertTrue(logged[0].endswith(f" ERROR: {error} {where}"), logged[0])
        self.assertEqual(self.operated.count("Reconfigured: "), 0)
        answer = yield tcpExchange(HOST, self.daytime)
        self.assertRegex(answer, DAYTIME)
        echoed = yield tcpExchange(HOST, self.echo, b"still here\n")
        self.assertEqual(echoed, b"still here\n")
        answer = yield tcpExchange(HOST, self.oldTime)
        self.assertEqual(len(answer), 4)

    @inlineCallbacks
    def test_brokenDefaultsChangeNothing(self) -> Generated:
        """
        A bad value in the defaults at a reconfiguration is fatal to it, not
        to the daemon: the message says that the reconfiguration is refused
        (at start-up: that txinetd will exit), and the services answer.
        """
        broken = self.first.replace("cps = 0 0", "cps = 0 0\n\tinstances = lots")
        self.operated.rewrite(broken)
        self.operated.signal(signal.SIGHUP)
        lines = yield self.operated.waitForProgramLine("; the running configuration stays")
        where = f"[file={self.operated.configPath}] [line={lineNumber(broken, 'instances')}]"
        self.assertEqual(
            [line.split(": ", 1)[1] for line in lines if "fatal error" in line],
            [
                "ERROR: A fatal error was encountered while parsing the default section. "
                f"The reconfiguration is refused. {where}"
            ],
        )
        self.assertEqual(self.operated.count("will exit"), 0)
        answer = yield tcpExchange(HOST, self.daytime)
        self.assertRegex(answer, DAYTIME)


class RunningServerTests(TestCase):
    """
    A running C{/bin/cat} server whose client the new configuration no
    longer admits: soft reconfiguration leaves it alone, hard ends it.
    """

    @inlineCallbacks
    def setUp(self) -> Generated:  # type: ignore[override]
        (self.port,) = freePorts(1)
        self.operated = Operated(self)
        run = self.operated.run
        yield self.operated.start(defaults(run) + serverEntry("hold", self.port))
        self.client, self.pid = yield self.operated.hold("hold", self.port)
        self.operated.rewrite(
            defaults(run) + serverEntry("hold", self.port, "only_from = 127.0.0.2")
        )

    @inlineCallbacks
    def assertHardEnds(self, number: int, reconfigurations: int) -> Generated:
        """
        Signal C{number} ends the server with SIGTERM (EXIT line, client
        closed, process gone).
        """
        self.operated.signal(number)
        yield self.operated.waitForCount("Reconfigured: ", reconfigurations)
        yield self.operated.exited("hold", self.pid)
        yield withTimeout(self.client.closed)
        yield pollUntil(lambda: not isRunning(self.pid) or None, lambda: f"{self.pid} gone")

    @inlineCallbacks
    def test_softThenHard(self) -> Generated:
        """
        SIGUSR1 applies the new rules to new connections only: the running
        server still serves its client.  SIGUSR2 then ends it.
        """
        self.operated.signal(signal.SIGUSR1)
        yield self.operated.waitForCount("Reconfigured: new=0 old=1 dropped=0", 1)
        refused = yield tcpExchange(HOST, self.port)
        self.assertEqual(refused, b"")
        yield self.operated.run.waitForLine(": FAIL: hold address from=127.0.0.1")
        yield self.client.echo(b"after the soft reload\n")
        self.assertTrue(isRunning(self.pid))
        self.assertEqual(self.operated.count(": EXIT: hold", "service.log"), 0)
        yield self.assertHardEnds(signal.SIGUSR2, 2)

    def test_hangup(self) -> Deferred[None]:
        """
        SIGHUP is a hard reconfiguration too.
        """
        return self.assertHardEnds(signal.SIGHUP, 1)

    def removeService(self) -> None:
        (other,) = freePorts(1)
        self.operated.rewrite(defaults(self.operated.run) + builtin("daytime", other))

    @inlineCallbacks
    def test_removedHard(self) -> Generated:
        """
        A hard reconfiguration that removes the service ends its server.
        """
        self.removeService()
        yield self.assertHardEnds(signal.SIGHUP, 1)
        self.assertEqual(self.operated.count("service hold deactivated"), 1)
        yield self.assertFailure(tcpExchange(HOST, self.port), ConnectionRefusedError)

    @inlineCallbacks
    def test_removedSoft(self) -> Generated:
        """
        A soft reconfiguration that removes the service closes its port and
        leaves its server running.
        """
        self.removeService()
        self.operated.signal(signal.SIGUSR1)
        yield self.operated.waitForCount("Reconfigured: new=1 old=0 dropped=1", 1)
        yield self.assertFailure(tcpExchange(HOST, self.port), ConnectionRefusedError)
        yield self.client.echo(b"after the soft reload\n")
        self.assertTrue(isRunning(self.pid))


class StopTests(TestCase):
    """
    SIGTERM ends every server before txinetd exits; SIGQUIT leaves them.
    """

    @inlineCallbacks
    def setUp(self) -> Generated:  # type: ignore[override]
        (self.port,) = freePorts(1)
        self.operated = Operated(self)
        self.dumpFile = self.operated.run.path("xinetd.dump")
        self.pidFile = self.operated.run.path("xinetd.pid")
        yield self.operated.start(
            defaults(self.operated.run) + serverEntry("hold", self.port),
            "--dump-file",
            self.dumpFile,
            "-pidfile",
            self.pidFile,
        )

    @inlineCallbacks
    def test_terminate(self) -> Generated:
        """
        On SIGTERM txinetd logs C{Exiting...}, both running servers get
        SIGTERM and are logged as ended (by the daemon, so before it
        exited), their clients are closed, and twistd ends as twistd does on
        SIGTERM.
        """
        sessions = []
        for _ in range(2):
            sessions.append((yield self.operated.hold("hold", self.port)))
        self.operated.signal(signal.SIGTERM)
        ended = yield self.operated.ended()
        self.assertIsInstance(ended, ProcessTerminated)
        self.assertEqual(ended.signal, signal.SIGTERM)
        self.assertEqual(self.operated.count("WARNING: Exiting..."), 1)
        pids = [pid for _, pid in sessions]
        self.assertEqual(sorted(self.operated.serverPids("hold", "EXIT")), sorted(pids))
        for pid in pids:
            self.assertIn(f": EXIT: hold signal=15 pid={pid}", "\n".join(self.operated.run.lines()))
        yield gatherResults([withTimeout(client.closed) for client, _ in sessions])
        yield pollUntil(lambda: not any(map(isRunning, pids)) or None, lambda: f"{pids} gone")
        self.assertFalse(os.path.exists(self.pidFile))

    @inlineCallbacks
    def test_quit(self) -> Generated:
        """
        On SIGQUIT txinetd exits at once (status 0, C{Exiting...}); its
        server keeps serving the client.
        """
        client, pid = yield self.operated.hold("hold", self.port)
        self.operated.signal(signal.SIGQUIT)
        ended = yield self.operated.ended()
        self.assertIsInstance(ended, ProcessDone)
        self.assertEqual(self.operated.count("WARNING: Exiting..."), 1)
        self.assertFalse(os.path.exists(self.pidFile))
        self.assertTrue(isRunning(pid))
        yield client.echo(b"nobody watches\n")
        self.assertEqual(self.operated.count(": EXIT: hold", "service.log"), 0)

    @inlineCallbacks
    def test_dump(self) -> Generated:
        """
        SIGABRT checks the bookkeeping and appends the state dump, which
        lists the running server with its pid and client.
        """
        client, pid = yield self.operated.hold("hold", self.port)
        self.operated.signal(signal.SIGABRT)
        yield self.operated.waitForProgramLine(f"generated state dump in file {self.dumpFile}")
        self.assertEqual(self.operated.count("INFO: Consistency check passed"), 1)
        with open(self.dumpFile) as f:
            dump = f.read()
        table = dump.split("Server table dump:\n", 1)[1]
        self.assertIn(f"hold server\npid = {pid}\nstart_time = ", table)
        self.assertIn("\tservice = hold\n\tremote_address = 127.0.0.1\n", table)
        self.assertIn("\trunning servers = 1\n", dump)
        self.assertTrue(dump.endswith("END OF DUMP\n\n"))
        yield client.echo(b"still served\n")


class EnvironmentTests(TestCase):
    """
    The environment servers inherit is the one txinetd was started with.
    """

    @inlineCallbacks
    def serverEnvironment(self, **variables: str) -> Generator[Deferred[Any], Any, dict[str, str]]:
        """
        Start txinetd with only C{PATH}, C{PYTHONPATH} (when set) and
        C{variables} in its environment, connect to a C{/usr/bin/env}
        service, and return what the server printed.
        """
        (port,) = freePorts(1)
        run = TxinetdRun(self)
        env = {"PATH": "/usr/bin:/bin", **variables}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        entry = serverEntry("env", port).replace("/bin/cat", "/usr/bin/env")
        run.env = env
        yield run.start(defaults(run) + entry)
        printed = yield tcpExchange(HOST, port)
        lines = printed.decode("utf-8", "replace").splitlines()
        return dict(line.partition("=")[::2] for line in lines)

    @inlineCallbacks
    def test_noCoercedLocale(self) -> Generated:
        """
        Started with C{LANG=C} and no C{LC_ALL} or C{LC_CTYPE}, txinetd gives
        its servers no C{LC_CTYPE}, though Python's C locale coercion set
        one in its own environment (xinetd's servers get none either).
        """
        environ = yield self.serverEnvironment(LANG="C")
        self.assertEqual((environ.get("LANG"), environ.get("LC_CTYPE")), ("C", None))

    @inlineCallbacks
    def test_givenLocale(self) -> Generated:
        """
        An C{LC_CTYPE} txinetd was started with reaches its servers as it
        was given, though the coercion replaced it in txinetd's own
        environment.
        """
        environ = yield self.serverEnvironment(LANG="C", LC_CTYPE="C")
        self.assertEqual(environ.get("LC_CTYPE"), "C")


class OptionTests(TestCase):
    """
    xinetd's options on the real command line.
    """

    @inlineCallbacks
    def test_pidfile(self) -> Generated:
        """
        C{-pidfile} holds the daemon's pid while it runs and is removed at
        exit.
        """
        (port,) = freePorts(1)
        operated = Operated(self)
        pidFile = operated.run.path("xinetd.pid")
        yield operated.start(defaults(operated.run) + builtin("daytime", port), "-pidfile", pidFile)
        with open(pidFile) as f:
            self.assertEqual(f.read(), f"{operated.run.pid}\n")
        yield served(port)
        yield operated.run.stop()
        self.assertFalse(os.path.exists(pidFile))

    @inlineCallbacks
    def test_limit(self) -> Generated:
        """
        With C{-limit 1} a second server is refused: FAIL process_limit.
        """
        (port,) = freePorts(1)
        operated = Operated(self)
        yield operated.start(defaults(operated.run) + serverEntry("hold", port), "-limit", "1")
        yield operated.hold("hold", port)
        refused = yield tcpExchange(HOST, port, b"x\n")
        self.assertEqual(refused, b"")
        yield operated.run.waitForLine(": FAIL: hold process_limit from=127.0.0.1")
        self.assertEqual(len(operated.serverPids("hold")), 1)

    @inlineCallbacks
    def test_inetdCompat(self) -> Generated:
        """
        C{-inetd_compat} with C{--inetd-conf} serves the services of that
        inetd.conf too.
        """
        (daytime,) = freePorts(1)
        name, port = freeListedPort(daytime)
        operated = Operated(self)
        inetdConf = operated.run.path("inetd.conf")
        user = pwd.getpwuid(os.geteuid()).pw_name
        with open(inetdConf, "w") as f:
            f.write("# a test inetd.conf\n")
            f.write(f"{HOST}:{name} stream tcp nowait {user} /bin/echo echo compat\n")
        yield operated.start(
            defaults(operated.run) + builtin("daytime", daytime),
            "-inetd_compat",
            "--inetd-conf",
            inetdConf,
        )
        yield operated.waitForProgramLine("Started working: 2 available services")
        answer = yield tcpExchange(HOST, port)
        self.assertEqual(answer, b"compat\n")
        exited = yield pollUntil(
            lambda: operated.serverPids(name, "EXIT") or None,
            lambda: f"an EXIT line in {operated.run.lines()}",
        )
        self.assertEqual(exited, operated.serverPids(name))
        self.assertIn(f": EXIT: {name} status=0 pid={exited[0]}", "\n".join(operated.run.lines()))


class NotifyTests(TestCase):
    """
    sd_notify from a real twistd to a socket the test binds, as systemd
    does for C{Type=notify} (etc/txinetd.service).
    """

    @inlineCallbacks
    def test_lifecycle(self) -> Generated:
        """
        twistd sends READY=1 (with its status) once the service listens,
        RELOADING=1 (with the monotonic time) and READY=1 around a
        reconfiguration, and STOPPING=1 when it stops; all from its own
        pid, as C{NotifyAccess=main} requires.
        """
        receiver = NotifyReceiver(self)
        (port,) = freePorts(1)
        operated = Operated(self)
        with environment(NOTIFY_SOCKET=str(receiver.address)):
            starting = operated.start(defaults(operated.run) + builtin("daytime", port))
        yield pollUntil(lambda: receiver.receive() or None, lambda: "READY=1")
        with socket.create_connection((HOST, port), timeout=5):
            pass
        self.assertEqual(receiver.texts(), ["READY=1\nSTATUS=Started working: 1 available service"])
        yield starting
        yield served(port)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        operated.signal(signal.SIGHUP)
        yield pollUntil(lambda: len(receiver.receive()) >= 3 or None, lambda: f"{receiver.texts()}")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        reloading, ready = receiver.texts()[1:]
        self.assertEqual(
            ready,
            "READY=1\nSTATUS=Reconfigured: new=0 old=1 dropped=0 (services): 1 available service",
        )
        match = re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=(\d+)", reloading)
        assert match is not None, reloading
        self.assertTrue(before <= int(match[1]) <= after)
        # A failed reconfiguration says so in the status, and that the old
        # configuration still runs.
        operated.rewrite(defaults(operated.run) + builtin("daytime", port, "instances = lots"))
        operated.signal(signal.SIGHUP)
        yield pollUntil(lambda: len(receiver.receive()) >= 5 or None, lambda: f"{receiver.texts()}")
        self.assertEqual(
            receiver.texts()[4],
            f"READY=1\nSTATUS=Reconfiguration failed: 2 errors in {operated.configPath}; "
            "running the previous configuration, 1 available service",
        )
        yield served(port)
        pid = operated.run.pid
        yield operated.run.stop()
        self.assertEqual(receiver.texts()[5:], ["STOPPING=1"])
        self.assertEqual({n.pid for n in receiver.received}, {pid})

    @inlineCallbacks
    def blockedAtReady(self) -> Generator[Deferred[Any], Any, Operated]:
        """
        Start twistd (with C{-pidfile xinetd.pid} in its directory) with its
        notify socket's queue full, so that sending READY=1 blocks, and wait
        until it does: a signal sent then arrives right after txinetd has
        announced that it works.
        """
        self.receiver = NotifyReceiver(self)
        self.filled = fillQueue(self.receiver)
        (port,) = freePorts(1)
        operated = Operated(self)
        config = defaults(operated.run) + builtin("daytime", port)
        with environment(NOTIFY_SOCKET=str(self.receiver.address)):
            operated.start(config, "-pidfile", operated.run.path("xinetd.pid"))
        pid = operated.run.pid
        yield pollUntil(
            lambda: waitChannel(pid) == "unix_wait_for_peer" or None,
            lambda: f"twistd blocked sending to the notify socket ({waitChannel(pid)})",
        )
        self.assertIn(b"Started working: 1 available service", operated.run.daemon.output)
        return operated

    def notifications(self) -> list[str]:
        """
        What txinetd sent to the notify socket (without the test's filler).
        """
        return self.receiver.texts()[self.filled :]

    @inlineCallbacks
    def test_stopRightAfterReady(self) -> Generated:
        """
        A SIGTERM that arrives while txinetd sends READY=1 stops it cleanly:
        STOPPING=1, the pid file removed, twistd's shutdown.
        """
        operated = yield self.blockedAtReady()
        operated.signal(signal.SIGTERM)
        ended = operated.run.daemon.ended
        yield pollUntil(lambda: (self.receiver.receive() and ended.called) or None, lambda: "end")
        self.assertIn(b"Server Shut Down.", operated.run.daemon.output)
        self.assertFalse(os.path.exists(operated.run.path("xinetd.pid")))
        self.assertEqual(
            self.notifications(),
            ["READY=1\nSTATUS=Started working: 1 available service", "STOPPING=1"],
        )

    @inlineCallbacks
    def test_reloadRightAfterReady(self) -> Generated:
        """
        A SIGHUP that arrives while txinetd sends READY=1 reconfigures it.
        """
        operated = yield self.blockedAtReady()
        operated.signal(signal.SIGHUP)
        ended = operated.run.daemon.ended
        yield pollUntil(
            lambda: (ended.called or len(self.receiver.receive()) >= self.filled + 3) or None,
            lambda: f"READY, RELOADING, READY in {self.notifications()}",
        )
        self.assertFalse(ended.called, "twistd ended")
        yield operated.waitForCount("Reconfigured: new=0 old=1 dropped=0", 1)
        self.assertEqual(
            self.notifications()[2],
            "READY=1\nSTATUS=Reconfigured: new=0 old=1 dropped=0 (services): 1 available service",
        )


def fillQueue(receiver: NotifyReceiver) -> int:
    """
    Send datagrams to a receiver until its queue is full, so that the next
    blocking sender waits.

    @return: how many were sent.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for count in range(100000):
            try:
                sender.sendto(b"filler", receiver.address)
            except BlockingIOError:
                return count
    raise AssertionError("the notify socket's queue never filled")


def waitChannel(pid: int) -> str | None:
    """
    Where in the kernel a process waits (C{/proc/<pid>/wchan}), if it
    exists.
    """
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except FileNotFoundError:
        return None


class TacTests(TestCase):
    """
    C{etc/txinetd.tac}: the service tree of C{twistd xinetd}, under
    C{twistd -ny}.
    """

    @inlineCallbacks
    def test_twistd(self) -> Generated:
        """
        C{twistd -ny etc/txinetd.tac} serves the configuration named by
        C{TXINETD_CONFIG} with the options of C{TXINETD_OPTIONS}, and stops
        on SIGTERM.
        """
        (port,) = freePorts(1)
        directory = tempfile.mkdtemp(prefix="txinetd-tac-")
        self.addCleanup(shutil.rmtree, directory, True)
        config = os.path.join(directory, "xinetd.conf")
        with open(config, "w") as f:
            f.write(builtin("daytime", port))
        programLog = os.path.join(directory, "program.log")
        daemon = Daemon()
        environ = {
            **os.environ,
            "TXINETD_CONFIG": config,
            "TXINETD_OPTIONS": f"-filelog {programLog} {' '.join(hostsOptions(directory))}",
        }
        process = reactor.spawnProcess(
            daemon, TWISTD, [TWISTD, "-ny", TAC, "--pidfile="], env=environ, path=ROOT
        )

        def stop() -> Deferred[BaseException]:
            if process.pid is not None:
                process.signalProcess(signal.SIGKILL)
            return withTimeout(daemon.ended, 30)

        self.addCleanup(stop)
        yield withTimeout(daemon.ready, 30)
        answer = yield tcpExchange(HOST, port)
        self.assertRegex(answer, DAYTIME)
        with open(programLog) as f:
            self.assertIn("NOTICE: Started working: 1 available service\n", f.read())
        process.signalProcess(signal.SIGTERM)
        ended = yield withTimeout(daemon.ended, 30)
        self.assertIsInstance(ended, ProcessTerminated)
        self.assertEqual(ended.signal, signal.SIGTERM)
        self.assertIn(b"Server Shut Down.", daemon.output)
        yield self.assertFailure(tcpExchange(HOST, port), ConnectionRefusedError)

    def test_sameTree(self) -> None:
        """
        Without C{TXINETD_CONFIG} the application file builds the tree of
        C{twistd xinetd -f etc/demo.conf} (both with the test's own
        hosts.allow and hosts.deny).
        """
        hosts = hostsOptions()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TXINETD_")}
        environ["TXINETD_OPTIONS"] = " ".join(hosts)
        self.patch(os, "environ", environ)
        application = loadValueFromFile(TAC, "application")
        (tree,) = list(IServiceCollection(application))
        options = Options()
        options.parseOptions(["-f", os.path.join(ROOT, "etc", "demo.conf"), *hosts])
        expected = makeService(options)
        assert isinstance(tree, XinetdService) and isinstance(expected, XinetdService)
        self.assertEqual(
            [(child.name, child.config) for child in tree.listening()],
            [(child.name, child.config) for child in expected.listening()],
        )
        self.assertEqual(len(tree.listening()), 10)
        self.assertTrue(tree.signals is not None and tree.loader is not None)
