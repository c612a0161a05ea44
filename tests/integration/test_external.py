# -*- test-case-name: tests.integration.test_external -*-
"""
External servers end to end: the service tree on the real reactor starts
real servers through its spawner processes, real clients connect on
loopback, and the exact lines of a FILE service log are checked.

Most servers are C{tests/helpers/probe.py}, which reports the process state
it was started with (argv, ids, groups, umask, niceness, every resource
limit, environment, descriptors, working directory, session) as JSON.  It
runs with C{/usr/bin/python3}: the test suite's own interpreter may live
where user C{nobody} cannot reach it.  The tests that start servers as
C{nobody} need root (CI runs as root); they are skipped otherwise.

The C{wait = yes} tests use small servers written to a temporary directory
that keep serving until they are told to stop.
"""

from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import stat
import tempfile
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from twisted.internet.defer import Deferred, DeferredSemaphore, gatherResults, inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase

from txinetd.core.config import Config
from txinetd.daemon.loading import LocalSystem, loadConfig
from txinetd.net.systemd import ListenFds

from .support import (
    TIMEOUT,
    DatagramPeer,
    collaborators,
    hasIPv6,
    reactor,
    tcpExchange,
    writeConfig,
)
from .test_access_limits import Client, Scenario, StreamTarget, waitUntil

Generated = Generator[Deferred[Any], Any, None]

PYTHON = "/usr/bin/python3"
PROBE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "helpers", "probe.py")
NOBODY = 65534

#: What the program log adds to an exec failure, by errno.
EXEC_HINTS = {
    errno.ENOENT: "the server, or the interpreter its #! line names, does not exist",
    errno.ENOEXEC: "the server is not a program and has no #! line",
    errno.EACCES: "the server, or a directory on its path, may not be executed by its user",
}

#: The daemon's start-up environment in these tests.
ENVIRON: Mapping[str, str] = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TXINETD_KEPT": "kept",
    "TXINETD_OTHER": "other",
}

#: Every C{rlimit_*} attribute, and the limit it sets.
LIMIT_LINES = (
    " rlimit_as = 1024M\n rlimit_cpu = 100\n rlimit_data = 768M\n"
    " rlimit_rss = 64M\n rlimit_stack = 4096K\n rlimit_files = 77\n"
)
LIMITS: Mapping[int, int] = {
    resource.RLIMIT_AS: 1 << 30,
    resource.RLIMIT_CPU: 100,
    resource.RLIMIT_DATA: 768 << 20,
    resource.RLIMIT_RSS: 64 << 20,
    resource.RLIMIT_STACK: 4 << 20,
    resource.RLIMIT_NOFILE: 77,
}

#: Log every field of START and EXIT.
SUCCESS = "PID HOST EXIT DURATION"

#: The duration field of an EXIT entry.
DURATION = re.compile(r"duration=(\d+)\(sec\)")

#: A C{wait = yes} stream server: it accepts connections on fd 0 and
#: answers each command line with its pid and whether fd 0 is non-blocking;
#: C{hold} makes it stop accepting and wait for SIGUSR1, then exit; C{quit}
#: makes it exit.
STREAM_SERVER = """\
import fcntl, json, os, signal, socket
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
listener = socket.socket(fileno=0)
while True:
    connection, peer = listener.accept()
    with connection, connection.makefile("rb") as lines:
        command = lines.readline().strip().decode()
        nonblocking = bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK)
        reply = {"pid": os.getpid(), "command": command, "nonblocking": nonblocking}
        connection.sendall(json.dumps(reply).encode() + b"\\n")
    if command == "hold":
        signal.sigwait({signal.SIGUSR1})
    if command in ("hold", "quit"):
        break
"""

#: The same for datagrams on a UDP socket on fd 0.
DATAGRAM_SERVER = """\
import fcntl, json, os, signal, socket
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
server = socket.socket(fileno=0)
while True:
    data, sender = server.recvfrom(65536)
    command = data.decode()
    nonblocking = bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK)
    reply = {"pid": os.getpid(), "command": command, "nonblocking": nonblocking}
    server.sendto(json.dumps(reply).encode(), sender)
    if command == "hold":
        signal.sigwait({signal.SIGUSR1})
    if command in ("hold", "quit"):
        break
"""


def requirePython() -> None:
    if not os.access(PYTHON, os.X_OK):
        raise SkipTest(f"{PYTHON} is missing: the probe runs with it")


def requireRoot() -> None:
    requirePython()
    if os.geteuid() != 0:
        raise SkipTest("needs root to start servers as other users")
    if pwd.getpwnam("nobody").pw_uid != NOBODY:
        raise SkipTest(f"user nobody is not uid {NOBODY} here")


def readableByOthers(path: str) -> bool:
    """
    Whether a user other than the owner can read C{path}: every directory
    on the way searchable by others, the file readable by others.
    """
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    while True:
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            return False
        if directory == "/":
            break
        directory = os.path.dirname(directory)
    return bool(os.stat(real).st_mode & stat.S_IROTH)


def probeForOthers(case: TestCase) -> str:
    """
    The probe's path, or that of a copy in a new directory of mode 755 if
    user C{nobody} cannot read the original.
    """
    if readableByOthers(PROBE):
        return PROBE
    directory = tempfile.mkdtemp(prefix="txinetd-probe-")
    case.addCleanup(shutil.rmtree, directory)
    os.chmod(directory, 0o755)
    copy = os.path.join(directory, "probe.py")
    shutil.copyfile(PROBE, copy)
    os.chmod(copy, 0o755)
    return copy


def selfUser() -> str:
    """
    The name of the user the tests run as: the C{user} of services that do
    not change user.
    """
    return pwd.getpwuid(os.geteuid()).pw_name


def daemonNice() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def daemonUmask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current | 0o022


def daemonFileLimit() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 4096 if hard == resource.RLIM_INFINITY else hard


def expectedLimits(configured: Mapping[int, int]) -> dict[str, list[int]]:
    """
    Every limit a server should have: the configured ones (soft = hard),
    NOFILE at the daemon's hard limit otherwise, the others the daemon's.
    """
    result = {}
    for name in dir(resource):
        if not name.startswith("RLIMIT_"):
            continue
        number = getattr(resource, name)
        value = configured.get(number)
        if value is None and number == resource.RLIMIT_NOFILE:
            value = daemonFileLimit()
        result[name] = list(resource.getrlimit(number)) if value is None else [value, value]
    return result


@dataclass(frozen=True)
class Expected:
    """
    The process state a probe should report, apart from what depends on
    its connection.
    """

    probe: str = PROBE
    args: Sequence[str] = ()
    uid: int = field(default_factory=os.geteuid)
    gid: int = field(default_factory=os.getegid)
    groups: Sequence[int] = field(
        default_factory=lambda: [] if os.geteuid() == 0 else sorted(os.getgroups())
    )
    umask: int = field(default_factory=daemonUmask)
    nice: int = field(default_factory=daemonNice)
    limits: Mapping[int, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=lambda: dict(ENVIRON))


def loadWith(text: str) -> Config:
    """
    Load a configuration with this machine's look-ups and L{ENVIRON} as the
    daemon's start-up environment.
    """
    path = writeConfig(text)
    return loadConfig(path, system=LocalSystem(ENVIRON), baseDirectory=os.path.dirname(path))


def serviceEntry(
    serviceId: str,
    server: str,
    args: str,
    extra: str,
    socketType: str = "stream",
    wait: bool = False,
) -> str:
    """
    The text of an UNLISTED service on an ephemeral port.
    """
    return (
        f"service {serviceId}\n{{\n type = UNLISTED\n socket_type = {socketType}\n"
        f" wait = {'yes' if wait else 'no'}\n port = 0\n server = {server}\n"
        + (f" server_args = {args}\n" if args else "")
        + f"{extra}}}\n"
    )


def processTable() -> list[tuple[int, int, str]]:
    """
    Every process as (pid, parent pid, state).
    """
    table = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text.rpartition(")")[2].split()
        table.append((int(name), int(fields[1]), fields[0]))
    return table


def zombies() -> list[int]:
    """
    The zombies among the children of this process and of its children
    (the spawner processes).
    """
    table = processTable()
    parents = {os.getpid()} | {pid for pid, parent, _ in table if parent == os.getpid()}
    return [pid for pid, parent, state in table if parent in parents and state == "Z"]


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


def normalisedAddress(address: Sequence[Any] | None) -> list[Any] | None:
    """
    An address reported by the probe as [host, port], the IPv4-mapped
    prefix taken off.
    """
    if address is None:
        return None
    host = str(address[0])
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return [host, address[1]]


def commandLine(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [os.fsdecode(arg) for arg in f.read().split(b"\0")[:-1]]


@inlineCallbacks
def firstLine(client: Client) -> Generator[Deferred[Any], Any, Any]:
    """
    Wait for the first line a client receives, and decode it as JSON.
    """
    while b"\n" not in client.received:
        if client.ended:
            raise AssertionError(f"connection ended after {bytes(client.received)!r}")
        yield client.receivedAtLeast(len(client.received) + 1)
    return json.loads(bytes(client.received).split(b"\n", 1)[0])


class ExternalTestCase(TestCase):
    """
    Scenarios whose services run external servers.
    """

    def scenario(self, **changes: Any) -> Scenario:
        changes.setdefault("environ", dict(ENVIRON))
        return Scenario(self, StreamTarget("probe", "", r"[1-9]\d*"), collaborators(**changes))

    def start(self, s: Scenario, text: str) -> None:
        config = loadWith(text)
        self.assertEqual([str(d) for d in config.errors], [])
        s.start(config)

    def probeService(
        self,
        s: Scenario,
        serviceId: str,
        extra: str = "",
        args: str = "",
        socketType: str = "stream",
        wait: bool = False,
    ) -> str:
        """
        The text of a service that runs the probe with C{args} as the
        tests' own user, logging every field.
        """
        lines = f" user = {selfUser()}\n" + s.logging(SUCCESS) + extra
        return serviceEntry(serviceId, PYTHON, f"{PROBE} {args}".strip(), lines, socketType, wait)

    def script(self, name: str, text: str) -> str:
        """
        Write a server script to a temporary directory.

        @return: its path.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertProcessState(self, report: Mapping[str, Any], expected: Expected) -> None:
        """
        Check every field of a probe's report that does not depend on its
        socket.
        """
        env = [tuple(pair) for pair in report["env"]]
        self.assertEqual(len({name for name, _ in env}), len(env), f"duplicates in {env}")
        actual = {
            "argv": report["argv"],
            "uid": report["uid"],
            "gid": report["gid"],
            "groups": report["groups"],
            "umask": oct(report["umask"]),
            "nice": report["nice"],
            "rlimits": report["rlimits"],
            "env": dict(env),
            "cwd": report["cwd"],
            "sid": report["sid"],
            "pgid": report["pgid"],
        }
        wanted = {
            "argv": [expected.probe, *expected.args],
            "uid": [expected.uid] * 3,
            "gid": [expected.gid] * 3,
            "groups": sorted(expected.groups),
            "umask": oct(expected.umask),
            "nice": expected.nice,
            "rlimits": expectedLimits(expected.limits),
            "env": dict(expected.env),
            "cwd": "/",
            "sid": report["pid"],
            "pgid": report["pid"],
        }
        self.assertEqual(actual, wanted)

    def assertStdio(
        self, report: Mapping[str, Any], kind: int, local: list[Any], peer: list[Any] | None
    ) -> None:
        """
        Fds 0, 1 and 2 are one socket of type C{kind} with these addresses
        (as L{normalisedAddress} gives them), and nothing else is open.
        """
        stdio = report["stdio"]
        inode = stdio["0"]["inode"]
        socketLink = f"socket:[{inode}]"
        self.assertEqual(report["fds"], {"0": socketLink, "1": socketLink, "2": socketLink})
        described = {
            fd: {
                **description,
                "local": normalisedAddress(description.get("local")),
                "peer": normalisedAddress(description.get("peer")),
            }
            for fd, description in stdio.items()
        }
        wanted = {"open": True, "socket": True, "inode": inode, "type": int(kind)}
        wanted.update(local=local, peer=peer)
        self.assertEqual(described, {"0": wanted, "1": wanted, "2": wanted})

    def assertLog(self, s: Scenario, expected: Sequence[str]) -> None:
        """
        The entries of the service log are C{expected}, where
        C{duration=N(sec)} stands for any duration up to the test's
        timeout.
        """
        entries = s.serviceLog()
        durations = [int(found) for entry in entries for found in DURATION.findall(entry)]
        self.assertEqual([DURATION.sub("duration=N(sec)", entry) for entry in entries], expected)
        self.assertTrue(all(duration <= TIMEOUT for duration in durations), durations)

    def assertExchangeLog(
        self, s: Scenario, serviceId: str, pid: int, host: str, status: str = "status=0"
    ) -> None:
        self.assertLog(
            s,
            [
                f"START: {serviceId} pid={pid} from={host}",
                f"EXIT: {serviceId} {status} pid={pid} duration=N(sec)",
            ],
        )

    @inlineCallbacks
    def report(
        self, s: Scenario, serviceId: str, source: str = "127.0.0.1"
    ) -> Generator[Deferred[Any], Any, tuple[dict[str, Any], Client]]:
        """
        Connect, half-close, read the probe's report until the server
        closes, and wait until the server has been reaped.
        """
        client = yield s.connect(serviceId, source, halfClose=True)
        received = yield client.whenEnded()
        yield s.settled()
        report = json.loads(received)
        return report, client


class ProcessStateTests(ExternalTestCase):
    """
    What a C{wait = no} stream server is started with (sections 7.1-7.3 of
    the reference): every field the probe reports, for each combination of
    attributes.
    """

    def setUp(self) -> None:
        requirePython()
        self.probe = probeForOthers(self)

    @inlineCallbacks
    def checkStream(
        self, text: str, expected: Expected, source: str = "127.0.0.1"
    ) -> Generator[Deferred[Any], Any, None]:
        """
        Run service C{p} of C{text} for one client from C{source}: the
        probe's report is C{expected}, with the client's connection on fds
        0-2 and REMOTE_HOST and REMOTE_PORT naming the client; START shows
        the probe's pid and EXIT its status.
        """
        s = self.scenario()
        self.start(s, text.replace("@LOG@", s.logging(SUCCESS)))
        report, client = yield self.report(s, "p", source)
        env = {**expected.env, "REMOTE_HOST": source, "REMOTE_PORT": str(client.localPort)}
        self.assertProcessState(report, replace(expected, probe=self.probe, env=env))
        local = ["127.0.0.1" if source == "127.0.0.1" else "::1", s.port("p")]
        self.assertStdio(report, socket.SOCK_STREAM, local, [source, client.localPort])
        self.assertExchangeLog(s, "p", report["pid"], source)

    def entry(self, extra: str, user: str | None = None, args: str = "") -> str:
        """
        Service C{p}, running the probe (readable by C{nobody}) with
        C{args}, as C{user} (default: the tests' own user).
        """
        lines = f" user = {user or selfUser()}\n@LOG@{extra}"
        return serviceEntry("p", PYTHON, f"{self.probe} {args}".strip(), lines)

    def test_defaults(self) -> Deferred[None]:
        """
        Without any process attribute: the daemon's own user (root: no
        change and no supplementary groups), umask, niceness and limits,
        NOFILE at the daemon's hard limit, the whole start-up environment.
        """
        return self.checkStream(self.entry(""), Expected())

    def test_ipv6Client(self) -> Deferred[None]:
        if not hasIPv6():
            raise SkipTest("no IPv6 loopback")
        return self.checkStream(self.entry(""), Expected(), source="::1")

    def test_nobody(self) -> Deferred[None]:
        """
        C{user = nobody} with umask, niceness and every limit: real,
        effective and saved ids are nobody's, no supplementary groups.
        """
        requireRoot()
        extra = " umask = 027\n nice = 5\n" + LIMIT_LINES
        expected = Expected(
            uid=NOBODY,
            gid=NOBODY,
            groups=[],
            umask=0o027,
            nice=min(daemonNice() + 5, 19),
            limits=LIMITS,
        )
        return self.checkStream(self.entry(extra, "nobody"), expected)

    def test_nobodyGroups(self) -> Deferred[None]:
        """
        C{groups = yes}: the user's groups, as C{initgroups} gives them.
        """
        requireRoot()
        groups = sorted(set(os.getgrouplist("nobody", NOBODY)))
        self.assertNotEqual(groups, [])
        expected = Expected(uid=NOBODY, gid=NOBODY, groups=groups)
        return self.checkStream(self.entry(" groups = yes\n", "nobody"), expected)

    def test_groupAttribute(self) -> Deferred[None]:
        """
        C{group} sets the gid; C{groups = yes} still takes the user's
        groups from its passwd entry's gid, not from C{group}.
        """
        requireRoot()
        try:
            daemonGroup = grp.getgrnam("daemon").gr_gid
        except KeyError:
            raise SkipTest("no group daemon here") from None
        groups = sorted(set(os.getgrouplist("nobody", NOBODY)))
        self.assertNotIn(daemonGroup, groups)
        expected = Expected(uid=NOBODY, gid=daemonGroup, groups=groups)
        text = self.entry(" group = daemon\n groups = yes\n", "nobody")
        return self.checkStream(text, expected)

    def test_rootNegativeNice(self) -> Deferred[None]:
        """
        As root, a negative C{nice} raises the priority; the user does not
        change and supplementary groups are cleared.
        """
        requireRoot()
        expected = Expected(uid=0, gid=0, groups=[], nice=max(daemonNice() - 5, -20))
        return self.checkStream(self.entry(" nice = -5\n", "root"), expected)

    def test_nobodyNegativeNice(self) -> Deferred[None]:
        """
        A user that may not raise its priority keeps the daemon's (C{nice}
        is applied after the user change, as in xinetd).
        """
        requireRoot()
        expected = Expected(uid=NOBODY, gid=NOBODY, groups=[])
        return self.checkStream(self.entry(" nice = -5\n", "nobody"), expected)

    def test_unlimited(self) -> Deferred[None]:
        """
        C{UNLIMITED} limits are set to infinity, soft and hard.
        """
        requireRoot()
        infinity = resource.RLIM_INFINITY
        extra = " rlimit_as = UNLIMITED\n rlimit_cpu = UNLIMITED\n"
        limits = {resource.RLIMIT_AS: infinity, resource.RLIMIT_CPU: infinity}
        return self.checkStream(self.entry(extra), Expected(limits=limits))

    def test_unlimitedFiles(self) -> Deferred[None]:
        """
        C{rlimit_files = UNLIMITED}, which Linux never allows, starts the
        server with NOFILE at the daemon's hard limit instead of failing.
        """
        return self.checkStream(self.entry(" rlimit_files = UNLIMITED\n"), Expected())

    def test_passenvAndEnv(self) -> Deferred[None]:
        """
        C{passenv} keeps only the names it lists; C{env} (C{=} then C{+=})
        adds and replaces; C{REMOTE_HOST} and C{REMOTE_PORT} come last.
        """
        extra = (
            " passenv = PATH TXINETD_KEPT LANG\n env = LANG=fr_FR.UTF-8 EQUALS=a=b\n"
            " env += EMPTY=\n"
        )
        env = {
            "PATH": ENVIRON["PATH"],
            "TXINETD_KEPT": "kept",
            "LANG": "fr_FR.UTF-8",
            "EQUALS": "a=b",
            "EMPTY": "",
        }
        return self.checkStream(self.entry(extra), Expected(env=env))

    def test_emptyPassenv(self) -> Deferred[None]:
        """
        C{passenv =} with no names passes nothing of the daemon's
        environment.
        """
        return self.checkStream(self.entry(" passenv =\n"), Expected(env={}))

    def test_emptyPassenvWithEnv(self) -> Deferred[None]:
        extra = " passenv =\n env = ONLY=this\n"
        return self.checkStream(self.entry(extra), Expected(env={"ONLY": "this"}))

    def test_serverArgs(self) -> Deferred[None]:
        """
        C{server_args} are split on white space only: quotes are kept.
        """
        args = 'one "two three" it\'s'
        expected = Expected(args=["one", '"two', 'three"', "it's"])
        return self.checkStream(self.entry("", args=args), expected)

    @inlineCallbacks
    def test_ipv4PeerSeenAsIPv4(self) -> Generated:
        """
        A server sees an IPv4 client of a dual-stack service through an
        AF_INET socket, on every kernel: C{getpeername} gives the plain
        address (the connection came in on the service's IPv4 socket).
        """
        s = self.scenario()
        self.start(s, self.entry("").replace("@LOG@", s.logging(SUCCESS)))
        report, client = yield self.report(s, "p")
        self.assertEqual(report["stdio"]["0"]["peer"], ["127.0.0.1", client.localPort])
        self.assertEqual(report["stdio"]["0"]["local"], ["127.0.0.1", s.port("p")])

    @inlineCallbacks
    def test_ipv6PeerOfDualStackService(self) -> Generated:
        if not hasIPv6():
            raise SkipTest("no IPv6 loopback")
        s = self.scenario()
        self.start(s, self.entry("").replace("@LOG@", s.logging(SUCCESS)))
        report, client = yield self.report(s, "p", "::1")
        self.assertEqual(report["stdio"]["0"]["peer"][:2], ["::1", client.localPort])

    @inlineCallbacks
    def test_ipv4PeerOfPassedDualStackSocket(self) -> Generated:
        """
        On a dual-stack socket that systemd passed, an IPv4 client's
        connection is made AF_INET with C{IPV6_ADDRFORM} where the kernel
        has it; where it has not (gVisor, newer kernels), the server sees
        C{::ffff:a.b.c.d} and the failure is logged at WARNING, once.
        """
        passed = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.addCleanup(passed.close)
        passed.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        passed.bind(("::", 0))
        passed.listen(8)
        s = self.scenario(listenFds=ListenFds((passed.fileno(),), ("passed",)))
        text = self.entry(" listen = systemd:name=passed\n").replace(" port = 0\n", "")
        self.start(s, text.replace("@LOG@", s.logging(SUCCESS)))
        reports = []
        for _ in range(2):
            report, client = yield self.report(s, "p")
            reports.append((report["stdio"]["0"]["peer"][:2], client.localPort))
        warning = (
            "service p, IPV6_ADDRFORM setsockopt() failed: Protocol not available (errno = 92)"
        )
        host = "127.0.0.1"
        if warning in s.messages:
            self.assertEqual(s.messages.count(warning), 1)
            host = "::ffff:127.0.0.1"
        self.assertEqual([peer for peer, _ in reports], [[host, port] for _, port in reports])


class ArgvTests(ExternalTestCase):
    """
    argv as the server sees it, read from C{/proc/<pid>/cmdline} while it
    runs (argv[0] included, which a Python program cannot report itself).
    """

    def setUp(self) -> None:
        requirePython()

    @inlineCallbacks
    def commandLineOf(self, text: str) -> Generator[Deferred[Any], Any, list[str]]:
        """
        Start service C{p} of C{text} (the probe in C{wait} mode), read the
        running server's command line, then let it end.
        """
        s = self.scenario()
        self.start(s, text.replace("@LOG@", s.logging(SUCCESS)))
        client = yield s.connect("p")
        report = yield firstLine(client)
        arguments = commandLine(report["pid"])
        yield client.close()
        yield s.settled()
        self.assertExchangeLog(s, "p", report["pid"], "127.0.0.1")
        return arguments

    def entry(self, lines: str) -> str:
        """
        Service C{p} running C{/usr/bin/python3} with C{lines} (its
        C{server_args} and C{flags}, in their order).
        """
        return serviceEntry("p", PYTHON, "", f" user = {selfUser()}\n@LOG@{lines}")

    @inlineCallbacks
    def test_basename(self) -> Generated:
        """
        Without NAMEINARGS, argv[0] is the server's base name, then the
        arguments.
        """
        argv = yield self.commandLineOf(self.entry(f" server_args = {PROBE} wait x=1\n"))
        self.assertEqual(argv, ["python3", PROBE, "wait", "x=1"])

    @inlineCallbacks
    def test_nameInArgsFlagsFirst(self) -> Generated:
        lines = f" flags = NAMEINARGS\n server_args = in.probe {PROBE} wait\n"
        argv = yield self.commandLineOf(self.entry(lines))
        self.assertEqual(argv, ["in.probe", PROBE, "wait"])

    @inlineCallbacks
    def test_nameInArgsFlagsLast(self) -> Generated:
        """
        The order of C{flags} and C{server_args} does not matter (xinetd
        2.3.15 crashes the server when C{flags} comes last).
        """
        lines = f" server_args = in.probe {PROBE} wait\n flags = NAMEINARGS\n"
        argv = yield self.commandLineOf(self.entry(lines))
        self.assertEqual(argv, ["in.probe", PROBE, "wait"])


class WaitingServiceTests(ExternalTestCase):
    """
    C{wait = yes}: the listening (stream) or UDP (dgram) socket is handed to
    one server; the next server starts only after it has exited.
    """

    def setUp(self) -> None:
        requirePython()

    def scriptService(self, s: Scenario, serviceId: str, script: str, socketType: str) -> str:
        path = self.script(f"{serviceId}.py", script)
        lines = f" user = {selfUser()}\n" + s.logging(SUCCESS)
        return serviceEntry(serviceId, PYTHON, path, lines, socketType, wait=True)

    @inlineCallbacks
    def test_streamProbe(self) -> Generated:
        """
        A C{wait = yes} stream server gets the listening socket on fds 0-2,
        REMOTE_HOST C{<no address>} and no REMOTE_PORT; START and EXIT show
        C{from=<no address>}.
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "w", args="accept", wait=True))
        port = socketPort(s, "w")
        received = yield tcpExchange("127.0.0.1", port)
        report = json.loads(received)
        yield s.settled()
        env = {**ENVIRON, "REMOTE_HOST": "<no address>"}
        self.assertProcessState(report, Expected(args=["accept"], env=env))
        self.assertStdio(report, socket.SOCK_STREAM, ["::", port], None)
        self.assertExchangeLog(s, "w", report["pid"], "<no address>")

    @inlineCallbacks
    def test_datagramProbe(self) -> Generated:
        """
        A C{wait = yes} dgram server gets the UDP socket on fds 0-2, and
        REMOTE_HOST and REMOTE_PORT name the first datagram's sender.
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "d", args="datagram", socketType="dgram", wait=True))
        port = socketPort(s, "d")
        peer = DatagramPeer.start(self)
        peer.send(b"report", port)
        report = json.loads((yield peer.reply()))
        yield s.settled()
        env = {**ENVIRON, "REMOTE_HOST": "127.0.0.1", "REMOTE_PORT": str(peer.port)}
        self.assertProcessState(report, Expected(args=["datagram"], env=env))
        self.assertStdio(report, socket.SOCK_DGRAM, ["::", port], None)
        self.assertExchangeLog(s, "d", report["pid"], "127.0.0.1")

    @inlineCallbacks
    def test_streamServerKeepsServing(self) -> Generated:
        """
        The server accepts every connection while it runs; a connection
        that arrives while it holds is left pending (txinetd does not watch
        the socket) and is served by a new server once the first has exited.
        """
        s = self.scenario()
        self.start(s, self.scriptService(s, "w", STREAM_SERVER, "stream"))
        service = s.service("w")
        port = socketPort(s, "w")
        replies = []
        for command in (b"one", b"two", b"hold"):
            received = yield tcpExchange("127.0.0.1", port, command + b"\n")
            replies.append(json.loads(received))
        first = replies[0]["pid"]
        self.assertEqual([reply["pid"] for reply in replies], [first] * 3)
        pending = yield s.connect("w", send=b"pending\n", halfClose=True, port=port)
        assert service.port is not None
        self.assertFalse(service.port.reading)
        yield s.waitForEntry("START:")
        self.assertEqual(len(s.serviceLog()), 1)
        os.kill(first, signal.SIGUSR1)
        received = yield pending.whenEnded()
        second = json.loads(received)
        self.assertEqual(second["command"], "pending")
        self.assertNotEqual(second["pid"], first)
        yield tcpExchange("127.0.0.1", port, b"quit\n")
        yield s.settled()
        self.assertLog(
            s,
            [
                f"START: w pid={first} from=<no address>",
                f"EXIT: w status=0 pid={first} duration=N(sec)",
                f"START: w pid={second['pid']} from=<no address>",
                f"EXIT: w status=0 pid={second['pid']} duration=N(sec)",
            ],
        )

    @inlineCallbacks
    def test_datagramServerKeepsServing(self) -> Generated:
        """
        The server answers every datagram, from any sender, while it runs;
        what is queued when it exits is drained, and the next datagram
        starts a new server.
        """
        s = self.scenario()
        self.start(s, self.scriptService(s, "d", DATAGRAM_SERVER, "dgram"))
        service = s.service("d")
        port = socketPort(s, "d")
        one, two, stale, fresh = (DatagramPeer.start(self) for _ in range(4))
        replies = []
        for peer, command in ((one, b"one"), (two, b"two"), (one, b"hold")):
            peer.send(command, port)
            replies.append(json.loads((yield peer.reply())))
        first = replies[0]["pid"]
        self.assertEqual([reply["pid"] for reply in replies], [first] * 3)
        stale.send(b"stale", port)
        assert service.socket is not None
        listening = service.socket
        yield waitUntil(lambda: queuedDatagram(listening) == b"stale", "the datagram is queued")
        watcher = service.port
        assert watcher is not None
        self.assertFalse(watcher.reading)
        os.kill(first, signal.SIGUSR1)
        yield s.waitForEntry("EXIT:")
        yield waitUntil(lambda: watcher.reading, "the socket is watched again")
        self.assertIsNone(queuedDatagram(listening))
        fresh.send(b"fresh", port)
        second = json.loads((yield fresh.reply()))
        self.assertEqual(second["command"], "fresh")
        self.assertNotEqual(second["pid"], first)
        self.assertEqual(stale.replies.pending, [])
        fresh.send(b"quit", port)
        yield fresh.reply()
        yield s.settled()
        self.assertLog(
            s,
            [
                f"START: d pid={first} from=127.0.0.1",
                f"EXIT: d status=0 pid={first} duration=N(sec)",
                f"START: d pid={second['pid']} from=127.0.0.1",
                f"EXIT: d status=0 pid={second['pid']} duration=N(sec)",
            ],
        )

    @inlineCallbacks
    def test_blockingSocket(self) -> Generated:
        """
        A C{wait = yes} server gets a blocking socket, as from xinetd (only
        the sockets of non-forking internal services are non-blocking).
        """
        s = self.scenario()
        text = self.scriptService(s, "w", STREAM_SERVER, "stream")
        text += self.scriptService(s, "d", DATAGRAM_SERVER, "dgram")
        self.start(s, text)
        received = yield tcpExchange("127.0.0.1", socketPort(s, "w"), b"quit\n")
        peer = DatagramPeer.start(self)
        peer.send(b"quit", socketPort(s, "d"))
        answered = yield peer.reply()
        yield s.settled()
        replies = [json.loads(received), json.loads(answered)]
        self.assertEqual([reply["nonblocking"] for reply in replies], [False, False])

    def test_address(self) -> None:
        """
        The address of a C{wait = yes} service is that of its socket (as the
        state dump shows it).
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "w", args="accept", wait=True))
        self.assertEqual(s.service("w").address, ("::", socketPort(s, "w")))

    def test_deactivate(self) -> None:
        """
        Deactivating a C{wait = yes} service stops watching its socket and
        closes it.
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "w", args="accept", wait=True))
        service = s.service("w")
        watcher, sock = service.port, service.socket
        assert sock is not None
        service.deactivate()
        self.assertNotIn(watcher, reactor.getReaders())
        self.assertEqual(sock.fileno(), -1)

    @inlineCallbacks
    def test_streamRefused(self) -> Generated:
        """
        A C{wait = yes} stream service that a limit refuses accepts the
        pending connection and closes it; no server starts.
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "w", " instances = 0\n", args="accept", wait=True))
        received = yield tcpExchange("127.0.0.1", socketPort(s, "w"))
        self.assertEqual(received, b"")
        self.assertLog(s, ["FAIL: w service_limit from=<no address>"])

    @inlineCallbacks
    def test_datagramRefused(self) -> Generated:
        """
        A refused datagram is drained unanswered and logged; an allowed
        sender then starts a server.
        """
        s = self.scenario()
        text = self.probeService(
            s, "d", " only_from = 127.0.0.1\n", args="datagram", socketType="dgram", wait=True
        )
        self.start(s, text)
        port = socketPort(s, "d")
        refused = DatagramPeer.start(self, "127.0.0.2")
        refused.send(b"refused", port)
        yield s.waitForEntry("FAIL:")
        allowed = DatagramPeer.start(self)
        allowed.send(b"allowed", port)
        report = json.loads((yield allowed.reply()))
        yield s.settled()
        self.assertEqual(refused.replies.pending, [])
        self.assertLog(
            s,
            [
                "FAIL: d address from=127.0.0.2",
                f"START: d pid={report['pid']} from=127.0.0.1",
                f"EXIT: d status=0 pid={report['pid']} duration=N(sec)",
            ],
        )


def socketPort(s: Scenario, serviceId: str) -> int:
    """
    The port a service's socket is bound to (read from the socket itself).
    """
    sock = s.service(serviceId).socket
    assert sock is not None, f"{serviceId} has no socket"
    return int(sock.getsockname()[1])


def queuedDatagram(sock: socket.socket) -> bytes | None:
    """
    The first datagram queued on a socket, left queued; L{None} if none is.
    """
    try:
        return sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None


class LifecycleTests(ExternalTestCase):
    """
    Exit statuses, crashes, servers that cannot be executed, refusals, and
    many short-lived servers.
    """

    def setUp(self) -> None:
        requirePython()

    @inlineCallbacks
    def test_exitStatus(self) -> Generated:
        """
        START has the server's pid; EXIT its status, pid and duration.
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "x", args="exit=3"))
        report, _ = yield self.report(s, "x")
        self.assertExchangeLog(s, "x", report["pid"], "127.0.0.1", "status=3")

    @inlineCallbacks
    def test_crash(self) -> Generated:
        """
        A server killed by SIGSEGV is logged with its signal; the service
        goes on serving.
        """
        core = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, core[1]))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_CORE, core)
        s = self.scenario()
        self.start(s, self.probeService(s, "c", args="signal=11"))
        first, _ = yield self.report(s, "c")
        second, _ = yield self.report(s, "c")
        self.assertNotEqual(first["pid"], second["pid"])
        self.assertLog(
            s,
            [
                f"START: c pid={first['pid']} from=127.0.0.1",
                f"EXIT: c signal=11 pid={first['pid']} duration=N(sec)",
                f"START: c pid={second['pid']} from=127.0.0.1",
                f"EXIT: c signal=11 pid={second['pid']} duration=N(sec)",
            ],
        )

    @inlineCallbacks
    def checkUnexecutable(
        self, spoil: Callable[[str], None], number: int, exact: bool
    ) -> Generator[Deferred[Any], Any, None]:
        """
        A server that C{spoil} makes unexecutable after the configuration
        was loaded: the client's connection is closed, the reason is in the
        program log (C{exact}: worded exactly as xinetd's, with the errno,
        then what to look at; otherwise at least its strerror), the service
        log has a FAIL line with the reason C{execv}; once the server is
        back, the service serves again.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        server = os.path.join(directory, "server")
        shutil.copy2("/bin/true", server)
        s = self.scenario()
        lines = f" user = {selfUser()}\n" + s.logging(SUCCESS)
        self.start(s, serviceEntry("gone", server, "", lines))
        spoil(server)
        received = yield s.exchange("gone")
        self.assertEqual(received, b"")
        message = f"execv( {server} ) failed: {os.strerror(number)}"
        if exact:
            self.assertIn(f"{message} (errno = {number}); {EXEC_HINTS[number]}", s.messages)
        else:
            self.assertTrue(any(text.startswith(message) for text in s.messages), s.messages)
        self.assertEqual(s.serviceLog(), ["FAIL: gone execv from=127.0.0.1"])
        shutil.copy2("/bin/true", server)
        received = yield s.exchange("gone")
        self.assertEqual(received, b"")
        entries = s.serviceLog()
        self.assertEqual(
            [entry.split(" pid=")[0] for entry in entries],
            ["FAIL: gone execv from=127.0.0.1", "START: gone", "EXIT: gone status=0"],
        )

    def test_missingServer(self) -> Deferred[None]:
        return self.checkUnexecutable(os.remove, errno.ENOENT, exact=False)

    def test_notExecutable(self) -> Deferred[None]:
        """
        A file without any execute bit cannot be executed, even by root.
        """
        return self.checkUnexecutable(lambda path: os.chmod(path, 0o644), errno.EACCES, True)

    def test_execFailureWording(self) -> Deferred[None]:
        """
        The reason is worded as xinetd's C{%m}: C{<strerror> (errno = <n>)}.
        """
        return self.checkUnexecutable(os.remove, errno.ENOENT, exact=True)

    def test_badInterpreterLine(self) -> Deferred[None]:
        """
        A script whose C{#!} line names a missing interpreter fails with
        ENOENT, and the message says the interpreter may be the missing
        file.
        """

        def spoil(path: str) -> None:
            with open(path, "w") as f:
                f.write("#!/nonexistent/interpreter\necho hello\n")
            os.chmod(path, 0o755)

        return self.checkUnexecutable(spoil, errno.ENOENT, exact=True)

    def test_notAProgram(self) -> Deferred[None]:
        """
        An executable file that is no program and has no C{#!} line fails
        with ENOEXEC (no shell is tried).
        """

        def spoil(path: str) -> None:
            with open(path, "w") as f:
                f.write("echo hello\n")
            os.chmod(path, 0o755)

        return self.checkUnexecutable(spoil, errno.ENOEXEC, exact=True)

    @inlineCallbacks
    def test_refusalLogsFailOnly(self) -> Generated:
        """
        A refused connection to an external service is closed with a FAIL
        line and no START or EXIT: no server is started.
        """
        s = self.scenario()
        self.start(s, self.probeService(s, "r", " only_from = 127.0.0.2\n"))
        received = yield s.exchange("r")
        self.assertEqual(received, b"")
        report, _ = yield self.report(s, "r", "127.0.0.2")
        self.assertLog(
            s,
            [
                "FAIL: r address from=127.0.0.1",
                f"START: r pid={report['pid']} from=127.0.0.2",
                f"EXIT: r status=0 pid={report['pid']} duration=N(sec)",
            ],
        )

    @inlineCallbacks
    def test_manyConnections(self) -> Generated:
        """
        2000 connections to a server that exits at once: every one is
        closed, every server is reaped and logged, no zombie is left and
        the daemon has the same descriptors open as before.
        """
        s = self.scenario()
        lines = f" user = {selfUser()}\n cps = 0 0\n" + s.logging("PID EXIT")
        self.start(s, serviceEntry("t", "/bin/true", "", lines))
        port = s.port("t")
        yield tcpExchange("127.0.0.1", port)
        yield s.settled()
        before = openDescriptors()
        semaphore = DeferredSemaphore(16)
        received = yield gatherResults(
            [semaphore.run(tcpExchange, "127.0.0.1", port) for _ in range(2000)]
        )
        self.assertEqual(set(received), {b""})
        yield s.settled()
        self.assertEqual(zombies(), [])
        self.assertEqual(openDescriptors(), before)
        entries = s.serviceLog()
        starts = [entry for entry in entries if entry.startswith("START: t pid=")]
        exits = [entry for entry in entries if entry.startswith("EXIT: t status=0 pid=")]
        self.assertEqual((len(starts), len(exits), len(entries)), (2001, 2001, 4002))
