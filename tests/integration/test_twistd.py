"""
The real twistd entry point: C{twistd -n xinetd -f etc/demo.conf} served to
real clients (nc, rdate), and configuration errors reported as one clean
message with exit status 1.

Needs the Debian packages netcat-openbsd and rdate (the CI script installs
them); the tests that use them are skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from .support import (
    freePorts,
    hostsOptions,
    pollUntil,
    reactor,
    requireOwnNetwork,
    tcpExchange,
    withTimeout,
    writeConfig,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


class Daemon(ProcessProtocol):
    """
    A twistd process whose output is collected; C{ready} fires when it logs
    that it started working, C{exited} when the process has exited, and
    C{ended} with how it ended (L{ProcessDone} or L{ProcessTerminated}) once
    its output pipes are closed too (by every process that shares them).
    """

    def __init__(self) -> None:
        self.output = bytearray()
        self.ready: Deferred[None] = Deferred()
        self.exited: Deferred[None] = Deferred()
        self.ended: Deferred[BaseException] = Deferred()

        self.waiting: list[tuple[bytes, Deferred[None]]] = []

    def waitFor(self, text: bytes) -> Deferred[None]:
        """
        A L{Deferred} that fires once the output contains C{text}.
        """
        d: Deferred[None] = Deferred()
        self.waiting.append((text, d))
        self.outReceived(b"")
        return d

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if b"Started working" in self.output and not self.ready.called:
            self.ready.callback(None)
        for text, d in list(self.waiting):
            if text in self.output:
                self.waiting.remove((text, d))
                d.callback(None)

    errReceived = outReceived

    def processExited(self, reason: Failure) -> None:
        self.exited.callback(None)

    def processEnded(self, reason: Failure) -> None:
        if not self.ready.called:
            self.ready.errback(RuntimeError(self.output.decode(errors="replace")))
        assert reason.value is not None
        self.ended.callback(reason.value)


def twistd(*arguments: str) -> Deferred[tuple[bytes, bytes, int]]:
    """
    Run twistd to completion and collect its output and exit status.  A
    C{twistd xinetd} run gets hosts.allow and hosts.deny files of its own.
    """
    if "xinetd" in arguments and "--help" not in arguments:
        arguments += tuple(hostsOptions())
    return withTimeout(
        getProcessOutputAndValue(TWISTD, arguments, env=dict(os.environ), path=ROOT),
        60,
    )


def needs(*commands: str) -> None:
    for command in commands:
        if shutil.which(command) is None:
            raise SkipTest(f"{command} is not installed (Debian: netcat-openbsd, rdate)")


def run(command: str, *arguments: str, stdin: bytes | None = None) -> Deferred[bytes]:
    """
    Run a client command and return its standard output.
    """
    if stdin is None:
        d = getProcessOutputAndValue(command, arguments)
    else:
        d = getProcessOutputAndValue(
            "/bin/sh", ["-c", 'printf "%s" "$0" | "$@"', stdin.decode(), command, *arguments]
        )
    return withTimeout(d.addCallback(lambda result: result[0]), 30)


class DemoTests(TestCase):
    """
    The README's first command: the demo configuration served by the real
    twistd.  etc/demo.conf listens on every address, on fixed ports: the
    test runs in a network namespace of its own (whose only address is the
    loopback), so that it neither exposes the services nor collides with
    anything listening on the machine.
    """

    @inlineCallbacks
    def setUp(self) -> Any:  # type: ignore[override]
        requireOwnNetwork()
        needs("nc", "rdate")
        self.daemon = Daemon()
        self.process = reactor.spawnProcess(
            self.daemon,
            TWISTD,
            [TWISTD, "-n", "--pidfile=", "xinetd", "-f", "etc/demo.conf", *hostsOptions()],
            env=dict(os.environ),
            path=ROOT,
        )
        yield withTimeout(self.daemon.ready, 30)

    @inlineCallbacks
    def tearDown(self) -> Any:  # type: ignore[override]
        if self.process.pid is not None:
            self.process.signalProcess(signal.SIGTERM)
        ended = yield withTimeout(self.daemon.ended, 30)
        # After a clean shutdown twistd re-raises the signal that stopped it.
        self.assertIsInstance(ended, ProcessTerminated)
        self.assertEqual(ended.signal, signal.SIGTERM)
        self.assertIn(b"Server Shut Down.", self.daemon.output)

    @inlineCallbacks
    def test_daytime(self) -> Any:
        """
        nc reads a daytime line; the service log on stdout has its START
        and its EXIT, whose duration is at most the whole seconds from the
        connect to the moment the line was read.
        """
        before = time.time()
        line = yield run("nc", "-w", "5", "127.0.0.1", "10013")
        self.assertRegex(line, rb"^\d\d [A-Z]{3} \d{4} \d\d:\d\d:\d\d \S+\r\n$")
        self.assertIn(b"Started working: 10 available services", self.daemon.output)
        yield self.logged(b": START: daytime-stream pid=0 from=127.0.0.1\n")
        exit = rb": EXIT: daytime-stream status=0 pid=0 duration=(\d+)\(sec\)\n"
        duration = yield pollUntil(
            lambda: re.search(exit, self.daemon.output), lambda: f"{exit!r} in the output"
        )
        self.assertLessEqual(int(duration[1]), int(time.time() - before))

    def logged(self, text: bytes) -> Deferred[None]:
        """
        Fire when the daemon's output contains C{text}.
        """
        return withTimeout(self.daemon.waitFor(text), 10)

    @inlineCallbacks
    def test_rdate(self) -> Any:
        """
        rdate (RFC 868 client) reads the right time from the time service:
        a whole second between the moments the test started and ended it.
        """
        before = time.time()
        output = yield run("rdate", "-p", "-o", "10037", "127.0.0.1")
        after = time.time()
        # "rdate: [127.0.0.1]\tSun Nov 22 02:41:10 UTC 2026": drop the zone.
        words = output.decode().strip().split("\t")[-1].split()
        remote = time.mktime(time.strptime(" ".join(words[:4] + words[5:]), "%a %b %d %H:%M:%S %Y"))
        self.assertTrue(int(before) <= remote <= after, (before, output, after))

    @inlineCallbacks
    def test_echoTcpAndUdp(self) -> Any:
        echoed = yield run("nc", "-N", "-w", "5", "127.0.0.1", "10007", stdin=b"hello\n")
        self.assertEqual(echoed, b"hello\n")
        echoed = yield run("nc", "-u", "-w", "1", "::1", "10007", stdin=b"datagram\n")
        self.assertEqual(echoed, b"datagram\n")

    @inlineCallbacks
    def test_chargen(self) -> Any:
        output = yield run("sh", "-c", "nc -w 5 ::1 10019 | head -c 148")
        self.assertEqual(len(output), 148)
        self.assertTrue(output.endswith(b"\r\n"))


BAD_MAIN = """\
defaults
{{
\tinstances = 10
}}

include {included}
includedir {directory}

service echo
{{
\ttype = INTERNAL UNLISTED
\tsocket_type = stream
\twait = maybe
\tport = 7007
}}
"""

BAD_INCLUDED = """\
service daytime
{
\ttype = INTERNAL UNLISTED
\tsocket_type = stream
\twait = no
\tport=13013
}
"""

BAD_IN_DIRECTORY = """\
service time
{
\ttype = INTERNAL UNLISTED
\tsocket_type = stream
\twait = no
\tport = 99999
}

service chargen
{
\ttype = INTERNAL UNLISTED
\tsocket_type = stream
\twait = no
\tport = 13019
\tinstances = -3
}
"""


class ConfigErrorTests(TestCase):
    """
    Mistakes are reported with file and line, all at once, exit status 1,
    no traceback.
    """

    def severalMistakes(self) -> str:
        main = writeConfig("")
        directory = os.path.dirname(main)
        included = os.path.join(directory, "included.conf")
        subdirectory = os.path.join(directory, "xinetd.d")
        os.mkdir(subdirectory)
        with open(included, "w") as f:
            f.write(BAD_INCLUDED)
        with open(os.path.join(subdirectory, "more"), "w") as f:
            f.write(BAD_IN_DIRECTORY)
        with open(main, "w") as f:
            f.write(BAD_MAIN.format(included=included, directory=subdirectory))
        return main

    @inlineCallbacks
    def test_checkReportsEveryError(self) -> Any:
        main = self.severalMistakes()
        directory = os.path.dirname(main)
        out, err, code = yield twistd("-n", "xinetd", "-f", main, "--check")
        self.assertEqual(code, 1)
        self.assertNotIn(b"Traceback", out + err)
        text = out.decode()
        expected = [
            f"{main}:13: error: Bad value for wait: maybe",
            f"{directory}/included.conf:6: error: Attribute port needs a space before operator",
            f"{directory}/xinetd.d/more:6: error: port number is invalid",
            f"{directory}/xinetd.d/more:15: error: Number of instances is invalid: -3",
        ]
        for line in expected:
            self.assertIn(line, text)

    @inlineCallbacks
    def test_badDefaultsIsFatal(self) -> Any:
        path = writeConfig("defaults\n{\n\tinstances = lots\n}\n" + _GOOD)
        out, err, code = yield twistd("-n", "xinetd", "-f", path)
        self.assertEqual(code, 1)
        self.assertNotIn(b"Traceback", out + err)
        self.assertIn(f"{path}:3: error: Number of instances is invalid: lots".encode(), err)
        self.assertIn(b"fatal: A fatal error was encountered while parsing the default", err)

    @inlineCallbacks
    def test_missingFile(self) -> Any:
        out, err, code = yield twistd("-n", "xinetd", "-f", "/nonexistent/xinetd.conf")
        self.assertEqual(code, 1)
        self.assertNotIn(b"Traceback", out + err)
        self.assertIn(
            b"open( /nonexistent/xinetd.conf ) failed: No such file or directory (errno = 2)",
            err,
        )

    @inlineCallbacks
    def test_noServiceLeft(self) -> Any:
        """
        Without a service, a txinetd that would leave the foreground exits
        before twistd daemonizes (in the foreground it stays alive).
        """
        path = writeConfig("service echo\n{\n\tsocket_type = stream\n\twait = maybe\n}\n")
        logfile = os.path.join(os.path.dirname(path), "twistd.log")
        out, err, code = yield twistd("--pidfile=", "--logfile", logfile, "xinetd", "-f", path)
        self.assertFalse(os.path.exists(logfile))
        self.assertEqual(code, 1)
        self.assertNotIn(b"Traceback", out + err)
        self.assertIn(b"Bad value for wait: maybe", err)
        self.assertIn(b"no services. Exiting...", err)

    @inlineCallbacks
    def test_unknownAttributeAtStart(self) -> Any:
        """
        A misspelt attribute is an error in the program log at start-up,
        naming the attribute meant, and the service runs without the line,
        as in xinetd; C{--check} fails on it.
        """
        (port,) = freePorts(1)
        path = writeConfig(
            "service daytime\n{\n\ttype = INTERNAL UNLISTED\n\tsocket_type = stream\n"
            f"\twait = no\n\tport = {port}\n\tbind = 127.0.0.1\n\tonlyfrom = 127.0.0.2\n}}\n"
        )
        out, _, code = yield twistd("-n", "--pidfile=", "xinetd", "-f", path, "--check")
        self.assertEqual(code, 1)
        self.assertIn(b"bad service attribute: onlyfrom (did you mean only_from?)", out)
        daemon = Daemon()
        process = reactor.spawnProcess(
            daemon,
            TWISTD,
            [TWISTD, "-n", "--pidfile=", "xinetd", "-f", path, "--hosts-allow", path + ".allow"],
            env=dict(os.environ),
            path=ROOT,
        )
        self.addCleanup(lambda: withTimeout(daemon.ended, 30))
        self.addCleanup(process.signalProcess, signal.SIGTERM)
        yield withTimeout(daemon.ready, 30)
        self.assertIn(
            f"[txinetd#error] bad service attribute: onlyfrom (did you mean only_from?) "
            f"[file={path}] [line=8]".encode(),
            daemon.output,
        )
        answer = yield tcpExchange("127.0.0.1", port)
        self.assertRegex(answer, rb"^\d\d [A-Z]{3} \d{4} ")

    @inlineCallbacks
    def test_checkGoodConfig(self) -> Any:
        out, err, code = yield twistd("-n", "xinetd", "-f", "etc/demo.conf", "--check")
        self.assertEqual((code, err), (0, b""))
        self.assertIn(b"service daytime-stream: tcp stream nowait internal on :: port 10013", out)
        self.assertIn(b"etc/demo.conf: 10 services, 0 errors, 0 warnings", out)

    @inlineCallbacks
    def test_pluginListed(self) -> Any:
        out, _err, code = yield twistd("--help")
        self.assertIn(b"xinetd", out)
        out, _err, code = yield twistd("-n", "xinetd", "--help")
        self.assertEqual(code, 0)
        self.assertIn(b"--check", out)


class OptionErrorTests(TestCase):
    """
    Option mistakes, unreadable or unwritable files and twistd's own
    options used by mistake: one line on standard error saying what, where
    and what to do, exit status 1, no traceback, no usage page.
    """

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="txinetd-opt-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        os.chmod(self.directory, 0o755)
        self.config = os.path.join(self.directory, "xinetd.conf")
        with open(self.config, "w") as f:
            f.write(_GOOD)

    @inlineCallbacks
    def assertOneLine(self, arguments: list[str], expected: str, command: str = TWISTD) -> Any:
        out, err, code = yield withTimeout(
            getProcessOutputAndValue(command, arguments, env=dict(os.environ), path=self.directory),
            60,
        )
        self.assertEqual((code, out, err.decode()), (1, b"", f"txinetd: {expected}\n"))

    def test_filelogDirectoryMissing(self) -> Any:
        return self.assertOneLine(
            ["-n", "--pidfile=", "xinetd", "-f", self.config, "-filelog", "/nonexistent/dir/x.log"],
            "msg_init failed: can't open log file /nonexistent/dir/x.log: No such file or "
            "directory (errno = 2); -filelog needs a file in an existing directory that txinetd "
            "may write",
        )

    def test_limitNotANumber(self) -> Any:
        return self.assertOneLine(
            ["-n", "--pidfile=", "xinetd", "-f", self.config, "-limit", "abc"],
            "-limit abc: a whole number is needed, 1 or more",
        )

    def test_unknownOption(self) -> Any:
        return self.assertOneLine(
            ["-n", "--pidfile=", "xinetd", "-f", self.config, "-inetd_ipv4"],
            "unknown option -inetd_ipv4; see twistd xinetd --help",
        )

    def test_fileGivenToTwistd(self) -> Any:
        return self.assertOneLine(
            ["-n", "--pidfile=", "-f", self.config, "xinetd"],
            f"-f {self.config} was given to twistd, which takes it for a .tap file and ignores "
            f"it; txinetd's options go after xinetd: twistd ... xinetd -f {self.config}",
        )

    @inlineCallbacks
    def test_pidFileInUnwritableDirectory(self) -> Any:
        """
        Started by a user who may not write the current directory, twistd
        could not write C{twistd.pid} there: txinetd says so and how to
        avoid it, before twistd daemonizes.

        The user is nobody when nobody can run this interpreter; otherwise
        (it lives under a private directory, such as C{/root}) root without
        capabilities, in a directory whose mode lets no one write it.
        """
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or setpriv is None:
            raise SkipTest("needs root and setpriv (util-linux) to run twistd unprivileged")
        _, _, code = yield withTimeout(
            getProcessOutputAndValue(setpriv, [*NOBODY, TWISTD, "--version"], path="/"), 60
        )
        if code == 0:
            user: tuple[str, ...] = NOBODY
        else:
            user = WITHOUT_CAPABILITIES
            os.chmod(self.directory, 0o555)
            self.addCleanup(os.chmod, self.directory, 0o755)
        yield self.assertOneLine(
            [*user, TWISTD, "xinetd", "-f", self.config],
            f"twistd cannot write its pid file {self.directory}/twistd.pid: Permission denied; "
            "give twistd --pidfile= (no pid file) or --pidfile=PATH before xinetd",
            command=setpriv,
        )


NOBODY = ("--reuid=65534", "--regid=65534", "--clear-groups")

#: setpriv's options for root without any capability: the permission bits
#: of a file then apply to root as to its owner.
WITHOUT_CAPABILITIES = ("--bounding-set=-all", "--inh-caps=-all")

_GOOD = """
service echo
{
\ttype = INTERNAL UNLISTED
\tsocket_type = stream
\twait = no
\tport = 0
}
"""
