"""
Real-reactor helpers for integration tests: configurations written to
temporary files, clients that collect what a server sends.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
from collections.abc import Callable, Generator, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from twisted.internet import reactor as _reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredQueue, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.protocol import DatagramProtocol, Factory, ProcessProtocol, Protocol
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase
from zope.interface import implementer

from tests import conftest
from tests.namespaces import namespaceId
from txinetd.core.config import IDENT_PORT, Config
from txinetd.core.libwrap import HostsAccess
from txinetd.daemon.loading import loadConfig
from txinetd.daemon.machine import Collaborators, onThisMachine
from txinetd.net.systemd import ListenFds
from txinetd.serve.lookups import FixedHosts

reactor: Any = _reactor
TIMEOUT = 10.0
T = TypeVar("T")


def captureLog(testCase: TestCase) -> list[str]:
    """
    Collect the text of every log event emitted until the test ends.
    """
    texts: list[str] = []

    @implementer(ILogObserver)
    def observe(event: LogEvent) -> None:
        texts.append(formatEvent(event) or "")

    globalLogPublisher.addObserver(observe)
    testCase.addCleanup(globalLogPublisher.removeObserver, observe)
    return texts


def canBind(family: socket.AddressFamily, host: str) -> bool:
    """
    Whether a stream socket of C{family} can be bound to C{host} here.
    """
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
    except OSError:
        return False
    return True


def hasIPv6() -> bool:
    """
    Whether ::1 can be bound here.
    """
    return canBind(socket.AF_INET6, "::1")


def portNumber(port: IListeningPort) -> int:
    """
    The port number a Twisted listening port is bound to.
    """
    address = port.getHost()
    assert isinstance(address, IPv4Address | IPv6Address)
    return address.port


class CollectingProcess(ProcessProtocol):
    """
    Collects a process's output (stdout and stderr); C{ended} fires when
    it exits.
    """

    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)


def readText(path: str) -> str:
    """
    A text file's contents, or nothing if it does not exist (yet).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def writeConfig(text: str) -> str:
    """
    Write a configuration to a new temporary directory.

    @return: the file's path.
    """
    directory = tempfile.mkdtemp(prefix="txinetd-test-")
    path = os.path.join(directory, "xinetd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def hostsOptions(directory: str | None = None, allow: str = "", deny: str = "") -> list[str]:
    """
    The options that give a twistd started by a test hosts.allow and
    hosts.deny files of its own (empty unless given), so that it never reads
    the machine's: a rule there (C{ALL: ALL} on a hardened host, or a name
    pattern that would send DNS queries) would change what the test sees.

    @param directory: where to write them (a new temporary directory by
        default).
    """
    if directory is None:
        directory = tempfile.mkdtemp(prefix="txinetd-hosts-")
    paths = [os.path.join(directory, name) for name in ("hosts.allow", "hosts.deny")]
    for path, text in zip(paths, (allow, deny), strict=True):
        if text or not os.path.exists(path):
            with open(path, "w") as f:
                f.write(text)
    return ["--hosts-allow", paths[0], "--hosts-deny", paths[1]]


def collaborators(
    clock: Any = None,
    *,
    identPort: int = IDENT_PORT,
    environ: Mapping[str, str] | None = None,
    listenFds: ListenFds | None = None,
    hostsAccess: HostsAccess | None = None,
    **changes: Any,
) -> Collaborators:
    """
    What a test's service tree is built with: this machine's
    (L{onThisMachine}), with the shared parts in C{changes} given other
    values (a fake resolver as C{names}, C{localTime}, C{load},
    C{processes}...).

    @param clock: the reactor the tree runs on (the real one by default).
    @param hostsAccess: fixed hosts.allow / hosts.deny rules (none by
        default).
    """
    made = onThisMachine(
        reactor if clock is None else clock,
        identPort=identPort,
        environ=environ,
        listenFds=listenFds,
    )
    if hostsAccess is not None:
        changes["hosts"] = FixedHosts(hostsAccess)
    return replace(made, shared=replace(made.shared, **changes))


def loadText(text: str) -> Config:
    """
    Load a configuration given as text, with this machine's look-ups.
    """
    path = writeConfig(text)
    return loadConfig(path, baseDirectory=os.path.dirname(path))


def internalService(name: str, socketType: str, port: int = 0, extra: str = "") -> str:
    """
    The text of an INTERNAL UNLISTED service entry.
    """
    wait = "yes" if socketType == "dgram" else "no"
    return (
        f"service {name}\n{{\n type = INTERNAL UNLISTED\n id = {name}-{socketType}\n"
        f" socket_type = {socketType}\n wait = {wait}\n port = {port}\n{extra}}}\n"
    )


def withTimeout(d: Deferred[Any], seconds: float = TIMEOUT) -> Deferred[Any]:
    """
    Fail C{d} if it has not fired within C{seconds}.
    """
    clock: IReactorTime = reactor
    return d.addTimeout(seconds, clock)


class _Collector(Protocol):
    def __init__(self, send: bytes, halfClose: bool, limit: int | None) -> None:
        self.send = send
        self.halfClose = halfClose
        self.limit = limit
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        if self.send:
            self.transport.write(self.send)
        if self.halfClose:
            self.transport.loseWriteConnection()  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.limit is not None and len(self.received) >= self.limit:
            assert self.transport is not None
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.done.called:
            self.done.callback(bytes(self.received))


def tcpExchange(
    host: str, port: int, send: bytes = b"", halfClose: bool = True, limit: int | None = None
) -> Deferred[bytes]:
    """
    Connect, send C{send}, optionally half-close, and collect everything the
    server sends until it closes (or until C{limit} bytes arrived).
    """
    endpointType = TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint
    endpoint = endpointType(reactor, host, port)
    collector = _Collector(send, halfClose, limit)
    connecting = endpoint.connect(Factory.forProtocol(lambda: collector))
    connecting.addCallback(lambda _: collector.done)
    return withTimeout(connecting)


class _DatagramClient(DatagramProtocol):
    def __init__(self) -> None:
        self.replies: Deferred[bytes] = Deferred()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if not self.replies.called:
            self.replies.callback(datagram)


def udpExchange(host: str, port: int, payload: bytes) -> Deferred[bytes]:
    """
    Send one datagram from an ephemeral port (>= 1024) and wait for the
    first reply.
    """
    client = _DatagramClient()
    listening = reactor.listenUDP(0, client, interface="::1" if ":" in host else "127.0.0.1")
    assert client.transport is not None
    client.transport.write(payload, (host, port))
    reply = withTimeout(client.replies)

    def cleanUp(result: Any) -> Any:
        listening.stopListening()
        return result

    return reply.addBoth(cleanUp)


def freePorts(
    count: int, host: str = "127.0.0.1", low: int = 20000, high: int = 30000
) -> list[int]:
    """
    Distinct ports in [C{low}, C{high}) that are free for both TCP and UDP on
    C{host} right now, for configurations that must name their ports.
    """
    chooser = random.Random()
    ports: list[int] = []
    for _ in range(100 * count):
        port = chooser.randrange(low, high)
        if port not in ports and all(
            _bindable(host, port, kind) for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)
        ):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"no {count} free ports in {low}-{high}")


def freeListedPort(taken: int) -> tuple[str, int]:
    """
    A TCP service of /etc/services above 1024 that is free on 127.0.0.1
    (inetd.conf names services, not ports), on another port than C{taken}.
    """
    listed: dict[str, int] = {}
    try:
        with open("/etc/services") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[1].endswith("/tcp"):
                    number = int(words[1].split("/")[0])
                    if number > 1024:
                        listed.setdefault(words[0], number)
    except FileNotFoundError:
        raise SkipTest("/etc/services is missing (Debian package netbase)") from None
    candidates = list(listed.items())
    random.shuffle(candidates)
    for name, number in candidates:
        if number == taken or socket.getservbyname(name, "tcp") != number:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", number))
            except OSError:
                continue
        return name, number
    raise SkipTest("no service of /etc/services above 1024 is free")


def _bindable(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pollUntil(
    check: Callable[[], T | None], describe: Callable[[], str], seconds: float = TIMEOUT
) -> Deferred[T]:
    """
    Call C{check} every 20 ms until it returns something other than L{None}.

    @param describe: says what is awaited (and what there is instead), for
        the error.
    @return: fires with that value, or fails with L{TimeoutError} after
        C{seconds}.
    """

    @inlineCallbacks
    def poll() -> Generator[Deferred[None], None, T]:
        deadline = reactor.seconds() + seconds
        while True:
            value = check()
            if value is not None:
                return value
            if reactor.seconds() > deadline:
                raise TimeoutError(f"waited {seconds} s for {describe()}")
            yield deferLater(reactor, 0.02, lambda: None)

    return poll()


def tcpExchangeFrom(source: str, host: str, port: int, send: bytes = b"") -> Deferred[bytes]:
    """
    Like L{tcpExchange} (half-closing after C{send}), from the IPv4 address
    C{source}, such as C{127.0.0.2}.
    """
    endpoint = TCP4ClientEndpoint(reactor, host, port, bindAddress=(source, 0))
    collector = _Collector(send, True, None)
    connecting = endpoint.connect(Factory.forProtocol(lambda: collector))
    connecting.addCallback(lambda _: collector.done)
    return withTimeout(connecting)


class DatagramPeer(DatagramProtocol):
    """
    A UDP socket that sends datagrams and queues the ones it receives.

    @ivar replies: the datagrams received and not yet taken.
    """

    def __init__(self) -> None:
        self.replies: DeferredQueue[bytes] = DeferredQueue()

    @classmethod
    def start(cls, testCase: TestCase, host: str = "127.0.0.1") -> DatagramPeer:
        """
        Bind a new peer to an ephemeral port of C{host}, until the test ends.
        """
        peer = cls()
        listening = reactor.listenUDP(0, peer, interface=host)
        testCase.addCleanup(listening.stopListening)
        return peer

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.getHost().port)

    def send(self, payload: bytes, port: int, host: str = "127.0.0.1") -> None:
        assert self.transport is not None
        self.transport.write(payload, (host, port))

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.replies.put(datagram)

    def reply(self) -> Deferred[bytes]:
        """
        The next datagram received (within L{TIMEOUT}).
        """
        return withTimeout(self.replies.get())


# --- network namespaces of a test's own -----------------------------------------


def requireOwnNetwork() -> None:
    """
    Skip the test unless it runs in a network namespace of its own (as
    root, every test does: see C{tests/conftest.py}), where listening on
    every address or on a fixed port reaches no other host and collides
    with nothing.
    """
    if namespaceId() == conftest.STARTED_IN:
        raise SkipTest("needs a network namespace of its own (tests run in one as root)")
