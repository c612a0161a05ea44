# -*- test-case-name: tests.net.test_listening -*-
"""
Tests for L{txinetd.net.listening}: which sockets a service listens on, how
they are made and bound together, UNIX sockets, the sockets systemd passes,
and the message of a failed bind.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import stat
import tempfile
from dataclasses import replace
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.fakes import ConfigFiles, FakeSystem, describe
from txinetd.core.config import Listening, ServiceConfig, ServiceKind
from txinetd.core.diagnostics import Location
from txinetd.core.endpoint import SystemdListen, UNIXListen
from txinetd.core.events import Level
from txinetd.core.values import Flag, ServiceType, SocketType
from txinetd.daemon.safefiles import ReachedDirectory, UnsafeFile, reachDirectory
from txinetd.net.listening import (
    EPHEMERAL_ATTEMPTS,
    Binding,
    bindFailed,
    bindingsOf,
    openBoundSockets,
    openUnixSocket,
    passedSocket,
    removeUnixSocket,
)
from txinetd.net.systemd import ListenFds

INTERNAL = frozenset({ServiceType.INTERNAL, ServiceType.UNLISTED})
EXTERNAL = frozenset({ServiceType.UNLISTED})
DUAL = (
    Binding(socket.AF_INET6, "::", True),
    Binding(socket.AF_INET, "0.0.0.0", None),
)


def service(**changes: Any) -> ServiceConfig:
    """
    An internal stream service on every address of both families.
    """
    base = ServiceConfig(
        name="echo",
        id="echo-stream",
        location=Location("x.conf", 1),
        type=INTERNAL,
        flags=frozenset(),
        socket_type=SocketType.STREAM,
        protocol="tcp",
        wait=False,
        port=0,
        family=socket.AF_INET6,
        bindAddress="::",
        kind=ServiceKind.INTERNAL,
        listening=Listening.ACCEPT,
    )
    return replace(base, **changes)


def refuse(level: Level, text: str) -> None:
    """
    A program log for calls that must write none.
    """
    raise AssertionError(f"unexpected program message: {level.name}: {text}")


class BindingsTests(SynchronousTestCase):
    """
    L{bindingsOf}: two sockets for a dual-stack service whose connections
    txinetd accepts, one otherwise.
    """

    def test_dualStack(self) -> None:
        for config in (
            service(),
            service(v6only=False),
            service(type=EXTERNAL, kind=ServiceKind.SERVER),
            service(wait=True, listening=Listening.ACCEPT_ONE_AT_A_TIME),
            service(
                socket_type=SocketType.DGRAM,
                protocol="udp",
                wait=True,
                listening=Listening.DATAGRAMS,
            ),
        ):
            self.assertEqual(bindingsOf(config), DUAL, config)

    def test_single(self) -> None:
        self.assertEqual(
            [
                bindingsOf(config)
                for config in (
                    service(v6only=True),
                    service(family=socket.AF_INET, bindAddress="0.0.0.0"),
                    service(bindAddress="::1"),
                    service(family=socket.AF_INET, bindAddress="127.0.0.1", v6only=True),
                )
            ],
            [
                (Binding(socket.AF_INET6, "::", True),),
                (Binding(socket.AF_INET, "0.0.0.0", None),),
                (Binding(socket.AF_INET6, "::1", False),),
                (Binding(socket.AF_INET, "127.0.0.1", None),),
            ],
        )

    def test_serverTakesSocket(self) -> None:
        """
        An external C{wait = yes} service keeps xinetd's one dual-stack
        socket: its server takes it and serves both families.
        """
        for kind, protocol, listening in (
            (SocketType.STREAM, "tcp", Listening.HAND_OVER_STREAM),
            (SocketType.DGRAM, "udp", Listening.HAND_OVER_DATAGRAMS),
        ):
            config = service(
                type=EXTERNAL,
                kind=ServiceKind.SERVER,
                wait=True,
                socket_type=kind,
                protocol=protocol,
                listening=listening,
            )
            self.assertEqual(bindingsOf(config), (Binding(socket.AF_INET6, "::", False),))

    def test_describe(self) -> None:
        self.assertEqual([str(binding) for binding in DUAL], ["[::]", "0.0.0.0"])


class FakeSocket:
    """
    A socket that records what is done to it; C{bind} fails with the
    errors queued for its family.
    """

    nextPort = 40000

    def __init__(self, factory: FakeSockets, family: socket.AddressFamily, kind: int) -> None:
        self.factory = factory
        self.family = family
        self.type = kind
        self.options: dict[tuple[int, int], int] = {}
        self.bound: tuple[str, int] | None = None
        self.closed = False

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options[level, option] = value

    def bind(self, address: tuple[str, int]) -> None:
        failures = self.factory.bindFailures.get(self.family, [])
        if failures:
            raise OSError(failures.pop(0), "taken")
        host, port = address
        if not port:
            FakeSocket.nextPort += 1
            port = FakeSocket.nextPort
        self.bound = (host, port)

    def getsockname(self) -> tuple[str, int]:
        assert self.bound is not None
        return self.bound

    def listen(self, backlog: int) -> None:
        self.backlog = backlog

    def setblocking(self, flag: bool) -> None:
        self.blocking = flag

    def close(self) -> None:
        self.closed = True


class FakeSockets:
    """
    Makes L{FakeSocket}s; a family in C{missing} cannot be made.
    """

    def __init__(self, missing: tuple[socket.AddressFamily, ...] = ()) -> None:
        self.missing = missing
        self.made: list[FakeSocket] = []
        self.bindFailures: dict[socket.AddressFamily, list[int]] = {}

    def __call__(self, family: socket.AddressFamily, kind: socket.SocketKind) -> Any:
        if family in self.missing:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        made = FakeSocket(self, family, kind)
        self.made.append(made)
        return made


class OpenBoundSocketsTests(SynchronousTestCase):
    """
    L{openBoundSockets} with real sockets, and with fake ones for what the
    kernel rarely does.
    """

    def open(self, config: ServiceConfig) -> list[socket.socket]:
        sockets = openBoundSockets(config, refuse)
        for sock in sockets:
            self.addCleanup(sock.close)
        return sockets

    def test_dualStackReal(self) -> None:
        """
        A dual-stack stream service gets an IPv6 socket with V6ONLY and an
        IPv4 one on the same port; an IPv4 client lands on the IPv4 one,
        so its connection is AF_INET whether or not the kernel could
        convert it.
        """
        six, four = self.open(service(flags=frozenset({Flag.NODELAY})))
        self.assertEqual((six.family, four.family), (socket.AF_INET6, socket.AF_INET))
        self.assertEqual(six.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY), 1)
        self.assertEqual(four.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)
        port = six.getsockname()[1]
        self.assertEqual(four.getsockname(), ("0.0.0.0", port))
        self.assertFalse(six.getblocking() or four.getblocking())
        client = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(client.close)
        four.setblocking(True)
        accepted, peer = four.accept()
        self.addCleanup(accepted.close)
        self.assertEqual((accepted.family, peer), (socket.AF_INET, client.getsockname()))

    def test_serverTakesSocketReal(self) -> None:
        """
        An external C{wait = yes} service gets one blocking dual-stack socket.
        """
        (sock,) = self.open(
            service(
                type=EXTERNAL,
                kind=ServiceKind.SERVER,
                wait=True,
                listening=Listening.HAND_OVER_STREAM,
            )
        )
        self.assertEqual(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY), 0)
        self.assertTrue(sock.getblocking())

    def test_portTakenOnIPv4(self) -> None:
        """
        A port that another program holds on IPv4 alone fails the service
        (as xinetd's dual-stack bind would) and leaves no socket open.
        """
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        error = self.assertRaises(OSError, openBoundSockets, service(port=port), refuse)
        self.assertEqual(error.errno, errno.EADDRINUSE)
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.addCleanup(probe.close)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(("::", port))

    def test_ephemeralPortDrawnAgain(self) -> None:
        """
        An ephemeral port that the IPv4 half finds taken is drawn again;
        the sockets of the failed attempt are closed.
        """
        fakes = FakeSockets()
        fakes.bindFailures[socket.AF_INET] = [errno.EADDRINUSE, errno.EADDRINUSE]
        sockets: list[Any] = openBoundSockets(service(), refuse, makeSocket=fakes)
        self.assertEqual(len(fakes.made), 6)
        self.assertEqual([sock.closed for sock in fakes.made], [True] * 4 + [False] * 2)
        six, four = sockets
        self.assertEqual(six.bound[1], four.bound[1])
        self.assertEqual(six.options[socket.IPPROTO_IPV6, socket.IPV6_V6ONLY], 1)

    def test_ephemeralAttemptsBounded(self) -> None:
        fakes = FakeSockets()
        fakes.bindFailures[socket.AF_INET] = [errno.EADDRINUSE] * EPHEMERAL_ATTEMPTS
        error = self.assertRaises(OSError, openBoundSockets, service(), refuse, makeSocket=fakes)
        self.assertEqual(error.errno, errno.EADDRINUSE)
        self.assertEqual(len(fakes.made), 2 * EPHEMERAL_ATTEMPTS)
        self.assertTrue(all(sock.closed for sock in fakes.made))

    def test_fixedPortNotRetried(self) -> None:
        fakes = FakeSockets()
        fakes.bindFailures[socket.AF_INET] = [errno.EADDRINUSE]
        self.assertRaises(OSError, openBoundSockets, service(port=7), refuse, makeSocket=fakes)
        self.assertEqual(len(fakes.made), 2)

    def test_noIPv6(self) -> None:
        """
        Without IPv6 in the kernel, a service without C{bind} listens on
        IPv4 alone, with xinetd's NOTICE.
        """
        log: list[tuple[Level, str]] = []
        fakes = FakeSockets(missing=(socket.AF_INET6,))
        sockets: list[Any] = openBoundSockets(
            service(), lambda level, text: log.append((level, text)), makeSocket=fakes
        )
        self.assertEqual(
            [(sock.family, sock.bound[0]) for sock in sockets], [(socket.AF_INET, "0.0.0.0")]
        )
        notice = "IPv6 socket creation failed for service echo-stream, trying IPv4"
        self.assertEqual(log, [(Level.NOTICE, notice)])

    def test_noIPv6WithBind(self) -> None:
        """
        A service bound to an IPv6 address does not fall back.
        """
        fakes = FakeSockets(missing=(socket.AF_INET6,))
        config = service(bindAddress="::1", bind=object())
        error = self.assertRaises(OSError, openBoundSockets, config, refuse, makeSocket=fakes)
        self.assertEqual(error.errno, errno.EAFNOSUPPORT)


class _TooSlow(Exception):
    """
    Not an L{OSError}, so that the code under test cannot take it for one.
    """


def _tooSlow(signum: int, frame: object) -> None:
    raise _TooSlow("the probe of a live socket blocked")


NOBODY = 65534


def needRoot() -> None:
    if os.geteuid() != 0:
        raise SkipTest("changing owners needs root")


class UnixSocketTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="txinetd-unix-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.path = os.path.join(self.directory, "s.sock")
        self.spec = UNIXListen(f"unix:{self.path}", self.path, 0o620, None)
        self.said: list[tuple[Level, str]] = []

    def say(self, level: Level, text: str) -> None:
        self.said.append((level, text))

    def open(self, spec: UNIXListen | None = None) -> socket.socket:
        return openUnixSocket(spec or self.spec, 5, self.say, reachDirectory)

    def remove(self, sock: socket.socket) -> None:
        removeUnixSocket(sock, self.say, reachDirectory)

    def test_modeAndRemoval(self) -> None:
        """
        The socket file gets the mode; removing it unlinks the file.
        """
        sock = self.open()
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o620)
        self.remove(sock)
        sock.close()
        self.assertFalse(os.path.exists(self.path))
        self.assertEqual(self.said, [])

    def test_modeAtBind(self) -> None:
        """
        The file gets its mode as bind creates it, even one wider than the
        umask, and never by a chmod that would go by name again; the
        umask is restored.
        """

        def chmod(*args: object, **kwargs: object) -> None:
            raise AssertionError("chmod by name")

        self.patch(os, "chmod", chmod)
        previous = os.umask(0o022)
        self.addCleanup(os.umask, previous)
        sock = self.open(replace(self.spec, mode=0o666))
        self.addCleanup(sock.close)
        self.assertEqual(stat.S_IMODE(os.lstat(self.path).st_mode), 0o666)
        self.assertEqual(os.umask(0o022), 0o022)

    def test_symlinkedDirectoryRefused(self) -> None:
        """
        A symbolic link on the way to the socket, in a directory others
        can write, is not followed: nothing is bound, and the error says
        why.
        """
        needRoot()
        shared = os.path.join(self.directory, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        theirs = os.path.join(self.directory, "theirs")
        os.mkdir(theirs)
        os.chown(theirs, NOBODY, -1)
        link = os.path.join(shared, "ud")
        os.symlink(theirs, link)
        os.lchown(link, NOBODY, -1)
        path = os.path.join(link, "svc.sock")
        error = self.assertRaises(
            UnsafeFile, self.open, UNIXListen(f"unix:{path}", path, 0o666, None)
        )
        self.assertEqual(
            error.strerror,
            "ud is a symbolic link in a directory writable by everyone; not followed",
        )
        self.assertEqual(os.listdir(theirs), [])

    def test_othersDirectory(self) -> None:
        """
        A socket in a directory found in another user's directory is bound
        in the directory reached (not by a path he could redirect), and
        still answers at its path.
        """
        needRoot()
        theirs = os.path.join(self.directory, "theirs")
        os.mkdir(theirs)
        os.chown(theirs, NOBODY, -1)
        os.mkdir(os.path.join(theirs, "sub"))
        path = os.path.join(theirs, "sub", "svc.sock")
        sock = self.open(UNIXListen(f"unix:{path}", path, 0o600, None))
        self.addCleanup(sock.close)
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))
        self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o600)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
        self.remove(sock)
        self.assertFalse(os.path.lexists(path))

    def test_boundInDirectoryReached(self) -> None:
        """
        Where the path could be redirected (not pinned), the socket is bound
        in the directory the walk reached, not wherever the path leads by
        then.
        """
        reached = os.path.join(self.directory, "reached")
        os.mkdir(reached)
        fd = os.open(reached, os.O_PATH | os.O_DIRECTORY)
        place = ReachedDirectory(fd, "s.sock", False)
        sock = openUnixSocket(self.spec, 5, self.say, lambda path: place)
        self.addCleanup(sock.close)
        self.assertFalse(os.path.lexists(self.path))
        self.assertTrue(stat.S_ISSOCK(os.lstat(os.path.join(reached, "s.sock")).st_mode))
        self.assertRaises(OSError, os.fstat, fd)

    def test_regularFileAtStopKept(self) -> None:
        """
        A regular file found at the path at stop is not the socket bound:
        it is left, and the program log says why.
        """
        sock = self.open()
        self.addCleanup(sock.close)
        os.unlink(self.path)
        with open(self.path, "w") as f:
            f.write("keep")
        self.remove(sock)
        with open(self.path) as f:
            self.assertEqual(f.read(), "keep")
        self.assertEqual(
            self.said,
            [(Level.WARNING, f"{self.path} not removed: a regular file, not the socket bound")],
        )

    def test_replacedSocketAtStopKept(self) -> None:
        """
        Another socket at the path at stop (not the file bound) is left.
        """
        sock = self.open()
        self.addCleanup(sock.close)
        os.unlink(self.path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.bind(self.path)
        self.remove(sock)
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))
        self.assertEqual(
            self.said,
            [(Level.WARNING, f"{self.path} not removed: another socket than the one bound")],
        )

    def test_swappedDirectoryAtStop(self) -> None:
        """
        A directory on the way that its owner replaced with a symbolic link
        after the bind is not followed at stop: the file it leads to stays.
        """
        needRoot()
        theirs = os.path.join(self.directory, "theirs")
        os.mkdir(theirs)
        os.chown(theirs, NOBODY, -1)
        sub = os.path.join(theirs, "sub")
        os.mkdir(sub)
        path = os.path.join(sub, "svc.sock")
        sock = self.open(UNIXListen(f"unix:{path}", path, 0o666, None))
        self.addCleanup(sock.close)
        victims = os.path.join(self.directory, "victims")
        os.mkdir(victims)
        victim = os.path.join(victims, "svc.sock")
        with open(victim, "w") as f:
            f.write("keep")
        os.rename(sub, os.path.join(theirs, "old"))
        os.symlink(victims, sub)
        self.remove(sock)
        with open(victim) as f:
            self.assertEqual(f.read(), "keep")
        self.assertEqual(
            self.said,
            [
                (
                    Level.WARNING,
                    f"{path} not removed: sub is a symbolic link in a directory owned by uid"
                    f" {NOBODY}; not followed",
                )
            ],
        )

    def test_staleReplaced(self) -> None:
        """
        A socket file nothing listens on is replaced.
        """
        old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old.bind(self.path)
        old.close()
        sock = self.open()
        self.addCleanup(sock.close)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(self.path)
            client.sendall(b"x")
        accepted = sock.accept()[0]
        self.addCleanup(accepted.close)
        self.assertEqual(accepted.recv(2), b"x")

    def test_liveKept(self) -> None:
        """
        A socket another process listens on is not taken over.
        """
        live = self.open()
        self.addCleanup(live.close)
        error = self.assertRaises(OSError, self.open)
        self.assertEqual(error.errno, 98)

    def test_busyLiveKept(self) -> None:
        """
        A live socket whose owner does not accept and whose backlog is
        full is taken as live at once: the probe does not wait for it.
        """
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(live.close)
        live.bind(self.path)
        live.listen(0)
        for _ in range(8):
            waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            self.addCleanup(waiting.close)
            try:
                waiting.connect(self.path)
            except BlockingIOError:
                break
        else:
            self.fail("the backlog never filled")
        previous = signal.signal(signal.SIGALRM, _tooSlow)
        self.addCleanup(signal.signal, signal.SIGALRM, previous)
        signal.alarm(10)
        try:
            error = self.assertRaises(OSError, self.open)
        finally:
            signal.alarm(0)
        self.assertEqual(error.errno, errno.EADDRINUSE)

    def test_otherFileKept(self) -> None:
        """
        A regular file in the way is an error, not removed, and the program
        log says why.
        """
        with open(self.path, "w") as f:
            f.write("keep")
        self.assertRaises(OSError, self.open)
        with open(self.path) as f:
            self.assertEqual(f.read(), "keep")
        self.assertEqual(
            self.said,
            [(Level.WARNING, f"{self.path} is a regular file, not a socket: not removed")],
        )

    def test_staleSymlinkKept(self) -> None:
        """
        A symbolic link at the path to a stale socket is not followed: the
        socket it leads to stays.
        """
        elsewhere = os.path.join(self.directory, "elsewhere.sock")
        old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old.bind(elsewhere)
        old.close()
        os.symlink(elsewhere, self.path)
        error = self.assertRaises(OSError, self.open)
        self.assertEqual(error.errno, errno.EADDRINUSE)
        self.assertTrue(stat.S_ISSOCK(os.lstat(elsewhere).st_mode))
        self.assertTrue(os.path.islink(self.path))
        self.assertEqual(
            self.said,
            [(Level.WARNING, f"{self.path} is a symbolic link, not a socket: not removed")],
        )


class PassedSocketTests(SynchronousTestCase):
    """
    A passed socket is adopted when its type and family suit the service;
    otherwise L{OSError} says why, so that the service fails to start as
    when a bind fails.
    """

    def service(self, socketType: str, *lines: str) -> ServiceConfig:
        files = ConfigFiles(self)
        wait = "yes" if socketType == "dgram" else "no"
        body = "".join(f"    {line}\n" for line in lines)
        files.write(
            "xinetd.conf",
            f"service echo\n{{\n    type = INTERNAL UNLISTED\n    socket_type = {socketType}\n"
            f"    wait = {wait}\n    listen = systemd:name=passed\n{body}}}\n",
        )
        config = files.load(system=FakeSystem())
        self.assertEqual(describe(config.errors), [])
        (service,) = config.services
        return service

    def adopt(
        self, config: ServiceConfig, family: socket.AddressFamily, kind: socket.SocketKind
    ) -> socket.socket:
        passed = socket.socket(family, kind)
        self.addCleanup(passed.close)
        spec = config.listen
        assert isinstance(spec, SystemdListen)
        adopted = passedSocket(config, spec, ListenFds((passed.fileno(),), ("passed",)))
        self.addCleanup(adopted.close)
        return adopted

    def refused(
        self, config: ServiceConfig, family: socket.AddressFamily, kind: socket.SocketKind
    ) -> OSError:
        error: OSError = self.assertRaises(OSError, self.adopt, config, family, kind)
        return error

    def test_unixDatagramRefused(self) -> None:
        """
        A datagram service cannot serve a UNIX socket (its clients have no
        address to answer or check).
        """
        error = self.refused(self.service("dgram"), socket.AF_UNIX, socket.SOCK_DGRAM)
        self.assertEqual(error.errno, errno.EAFNOSUPPORT)
        self.assertEqual(error.strerror, "systemd:name=passed: datagram services need an IP socket")

    def test_ipDatagramAdopted(self) -> None:
        adopted = self.adopt(self.service("dgram"), socket.AF_INET, socket.SOCK_DGRAM)
        self.assertEqual((adopted.family, adopted.type), (socket.AF_INET, socket.SOCK_DGRAM))

    def test_unixStreamAdopted(self) -> None:
        adopted = self.adopt(self.service("stream"), socket.AF_UNIX, socket.SOCK_STREAM)
        self.assertEqual((adopted.family, adopted.type), (socket.AF_UNIX, socket.SOCK_STREAM))

    def test_unixWithOwnAddressRulesRefused(self) -> None:
        """
        A service with its own C{only_from} or C{no_access} cannot take a
        UNIX socket: there is no client address to check.
        """
        for rule in ("only_from = 127.0.0.1", "no_access = 10.0.0.1"):
            error = self.refused(self.service("stream", rule), socket.AF_UNIX, socket.SOCK_STREAM)
            self.assertEqual(error.errno, errno.EAFNOSUPPORT)
            name = rule.split()[0]
            self.assertEqual(error.strerror, f"systemd:name=passed: {name} needs an IP socket")

    def test_ipWithAddressRulesAdopted(self) -> None:
        adopted = self.adopt(
            self.service("stream", "only_from = 127.0.0.1"), socket.AF_INET6, socket.SOCK_STREAM
        )
        self.assertEqual(adopted.family, socket.AF_INET6)

    def test_otherKindRefused(self) -> None:
        error = self.refused(self.service("stream"), socket.AF_INET, socket.SOCK_DGRAM)
        self.assertEqual(error.errno, errno.EPROTOTYPE)


class BindFailedTests(SynchronousTestCase):
    """
    L{bindFailed}: xinetd's message for a socket that could not be made,
    naming where the service was to listen.
    """

    def services(self, *entries: str) -> list[ServiceConfig]:
        files = ConfigFiles(self)
        files.write("xinetd.conf", "".join(entries))
        config = files.load(system=FakeSystem())
        self.assertEqual(describe(config.errors), [])
        return list(config.services)

    def test_places(self) -> None:
        """
        An IP service names its address, port and protocol (C{::} for the
        default dual-stack socket), an RPC service that its port was to be
        chosen at bind; a C{listen} socket names its description.
        """
        entry = "service {name}\n{{\n type = INTERNAL UNLISTED\n socket_type = {kind}\n{rest}}}\n"
        services = self.services(
            entry.format(name="echo", kind="stream", rest=" wait = no\n port = 7777\n"),
            entry.format(
                name="time", kind="dgram", rest=" wait = yes\n port = 37\n bind = 127.0.0.2\n"
            ),
            entry.format(
                name="daytime", kind="stream", rest=" wait = no\n listen = unix:/run/d.sock\n"
            ),
            "service mine\n{\n type = RPC UNLISTED\n socket_type = dgram\n wait = yes\n"
            " user = root\n server = /bin/cat\n rpc_version = 2-4\n rpc_number = 300000\n}\n",
        )
        error = OSError(errno.EADDRINUSE, "Address already in use")
        self.assertEqual(
            [bindFailed(service, error) for service in services],
            [
                f"bind failed (Address already in use (errno = 98)). service = {where}"
                for where in [
                    "echo on :: port 7777/tcp",
                    "time on 127.0.0.2 port 37/udp",
                    "daytime on unix:/run/d.sock",
                    "mine on :: port chosen at bind (udp)",
                ]
            ],
        )
