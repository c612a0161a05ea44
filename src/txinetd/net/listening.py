# -*- test-case-name: tests.net.test_listening -*-
"""
The listening sockets of a service that binds its own port: which ones,
made, configured and bound together, and the readers that serve them as
one.

A service listens on one socket, but for a dual-stack service (IPv6 on
every address, without C{v6only = yes}) whose connections txinetd accepts
itself: it listens on two sockets of the same port, an AF_INET6 one with
C{IPV6_V6ONLY} on C{::} and an AF_INET one on C{0.0.0.0}.  An IPv4 client
then comes in on an AF_INET socket, so a server it is handed to sees a
plain IPv4 peer whatever the kernel.  (xinetd listens on one dual-stack
socket and turns each IPv4 connection into an AF_INET one with Linux's
C{IPV6_ADDRFORM}, which gVisor and newer kernels do not have.)

A service whose server takes the listening socket itself (an external
C{wait = yes} service) keeps xinetd's single dual-stack socket: a server
that lingers then serves clients of both families, as under xinetd, and
sees IPv4 clients as C{::ffff:a.b.c.d}, as under xinetd.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import socket
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from txinetd.core.config import ServiceConfig
from txinetd.core.endpoint import SystemdListen, TCPListen, UNIXListen
from txinetd.core.events import Level, ProgramLog
from txinetd.core.values import Flag, SocketType
from txinetd.net.systemd import ListenFds

__all__ = [
    "Binding",
    "DirectoryReacher",
    "ListeningSockets",
    "SocketOpener",
    "UnixDirectory",
    "UnixListeningSocket",
    "bindFailed",
    "bindingsOf",
    "openBoundSockets",
    "openListeningSockets",
    "openUnixSocket",
    "passedSocket",
    "removeUnixSocket",
]

#: The backlog of a listening stream socket (xinetd's).
LISTEN_BACKLOG = 64

#: How often an ephemeral port (C{port = 0}, RPC services) is drawn again
#: when the second socket of a dual-stack pair finds it taken.
EPHEMERAL_ATTEMPTS = 16

SocketFactory = Callable[[socket.AddressFamily, socket.SocketKind], socket.socket]
"""
Makes a socket of a family and a type (L{socket.socket}; a fake in tests).
"""


@dataclass(frozen=True)
class Binding:
    """
    One listening socket of a service.

    @ivar family: its address family.
    @ivar address: the address it binds.
    @ivar v6only: the C{IPV6_V6ONLY} option of an AF_INET6 socket
        (L{None} for other families).
    """

    family: socket.AddressFamily
    address: str
    v6only: bool | None

    def __str__(self) -> str:
        return f"[{self.address}]" if self.family == socket.AF_INET6 else self.address


@functools.lru_cache(maxsize=4096)
def _everyAddress(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


def bindingsOf(config: ServiceConfig) -> tuple[Binding, ...]:
    """
    The sockets a service listens on: two for a dual-stack service whose
    connections txinetd accepts (AF_INET6 with C{IPV6_V6ONLY} first), one
    otherwise.  It is part of a service's identity across a reload.
    """
    v6only = bool(config.v6only) if config.family == socket.AF_INET6 else None
    single = (Binding(config.family, config.bindAddress, v6only),)
    if (
        config.family != socket.AF_INET6
        or config.v6only
        or not _everyAddress(config.bindAddress)
        or config.listening.handsOver
    ):
        return single
    return (
        Binding(socket.AF_INET6, config.bindAddress, True),
        Binding(socket.AF_INET, "0.0.0.0", None),
    )


def openBoundSockets(
    config: ServiceConfig,
    say: ProgramLog,
    backlog: int = LISTEN_BACKLOG,
    makeSocket: SocketFactory = socket.socket,
) -> list[socket.socket]:
    """
    Make, configure and bind the sockets of L{bindingsOf}, all on one port
    (an ephemeral port is the one the first socket got).  Without IPv6 in
    the kernel, a service with no C{bind} listens on IPv4 alone, as xinetd
    does (logged at NOTICE).

    @param say: writes to the program log.
    @param backlog: the listen backlog of stream sockets.
    @param makeSocket: makes the sockets.
    @return: the sockets, bound (and listening for streams), primary first.
    @raise OSError: if one of them cannot be made or bound; none is left
        open.
    """
    bindings = bindingsOf(config)
    try:
        return _openAll(config, bindings, backlog, makeSocket)
    except _NoIPv6 as e:
        if config.bind is not None:
            raise e.error from None
        say(Level.NOTICE, f"IPv6 socket creation failed for service {config.id}, trying IPv4")
    return _openAll(config, (Binding(socket.AF_INET, "0.0.0.0", None),), backlog, makeSocket)


class _NoIPv6(Exception):
    """
    An AF_INET6 socket could not be made.
    """

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def _openAll(
    config: ServiceConfig,
    bindings: Sequence[Binding],
    backlog: int,
    makeSocket: SocketFactory,
) -> list[socket.socket]:
    ephemeral = not config.port
    for attempt in range(EPHEMERAL_ATTEMPTS):
        port = config.port or 0
        opened: list[socket.socket] = []
        try:
            for binding in bindings:
                sock = _openOne(config, binding, port, backlog, makeSocket)
                opened.append(sock)
                port = port or int(sock.getsockname()[1])
        except OSError as e:
            for sock in opened:
                sock.close()
            retry = ephemeral and opened and e.errno == errno.EADDRINUSE
            if retry and attempt + 1 < EPHEMERAL_ATTEMPTS:
                continue
            raise
        return opened
    raise AssertionError("unreachable")  # pragma: no cover


def _openOne(
    config: ServiceConfig,
    binding: Binding,
    port: int,
    backlog: int,
    makeSocket: SocketFactory,
) -> socket.socket:
    stream = config.socket_type is SocketType.STREAM
    kind = socket.SOCK_STREAM if stream else socket.SOCK_DGRAM
    try:
        sock = makeSocket(binding.family, kind)
    except OSError as e:
        if binding.family == socket.AF_INET6:
            raise _NoIPv6(e) from None
        raise
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if binding.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(bool(binding.v6only)))
        if stream and Flag.NODELAY in config.flags:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if stream and Flag.KEEPALIVE in config.flags:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.bind((binding.address, port))
        if stream:
            sock.listen(backlog)
        # A wait = yes server shares the socket's O_NONBLOCK flag: its socket
        # stays blocking, and txinetd only peeks at it with MSG_DONTWAIT.
        sock.setblocking(config.listening.handsOver)
    except BaseException:
        sock.close()
        raise
    return sock


class UnixDirectory(TypingProtocol):
    """
    The directory that will hold a UNIX socket's file, reached safely (see
    C{txinetd.daemon.safefiles.reachDirectory}).
    """

    @property
    def directory(self) -> int:
        """
        An C{O_PATH} descriptor of the directory (the receiver closes it).
        """

    @property
    def name(self) -> str:
        """
        The socket file's name in it.
        """

    @property
    def pinned(self) -> bool:
        """
        Whether the path, as written, cannot be made to lead elsewhere by
        another user (then it may be given to C{bind} as it is).
        """


DirectoryReacher = Callable[[str], UnixDirectory]
"""
Reaches the directory of a UNIX socket's path, never through a symbolic
link that another user could have planted.

@raise OSError: if it cannot (with the reason).
"""


class UnixListeningSocket(socket.socket):
    """
    A UNIX socket txinetd bound, with what its file was right after C{bind}.

    @ivar path: the path it was bound at, as configured.
    @ivar identity: the file's C{(st_dev, st_ino)} (L{None} if it could not
        be read).
    """

    path: str = ""
    identity: tuple[int, int] | None = None


def _describe(info: os.stat_result) -> str:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a socket"


def _entry(place: UnixDirectory) -> os.stat_result | None:
    try:
        return os.stat(place.name, dir_fd=place.directory, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _address(path: str, place: UnixDirectory) -> str:
    """
    The name to give C{bind} or C{connect} for the socket file of C{path}:
    the path itself where no other user can redirect it, else the file's
    name in the directory already reached, through C{/proc/self/fd}.
    """
    if place.pinned:
        return path
    return f"/proc/self/fd/{place.directory}/{place.name}"


def _stale(address: str) -> bool:
    """
    Whether the socket at C{address} is one that nothing listens on any
    more.
    """
    # Non-blocking: a live owner with a full backlog must not hold up the
    # reactor; its EAGAIN counts as live.
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        probe.connect(address)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return False


def _removeStale(path: str, place: UnixDirectory, say: ProgramLog) -> None:
    """
    Remove a stale socket file left at C{path} by an earlier run; leave
    anything else there (it makes C{bind} fail), saying why.
    """
    info = _entry(place)
    if info is None:
        return
    if not stat.S_ISSOCK(info.st_mode):
        say(Level.WARNING, f"{path} is {_describe(info)}, not a socket: not removed")
        return
    if not _stale(_address(path, place)):
        return
    again = _entry(place)
    if again is not None and (again.st_dev, again.st_ino) == (info.st_dev, info.st_ino):
        os.unlink(place.name, dir_fd=place.directory)


def openUnixSocket(
    spec: UNIXListen, backlog: int, say: ProgramLog, reach: DirectoryReacher
) -> UnixListeningSocket:
    """
    Make, bind and listen on a UNIX stream socket; a stale socket file left
    by an earlier run is replaced, a live one (or any other file) is not.

    @param say: writes to the program log (a file in the way is said).
    @param reach: reaches the socket's directory safely.
    @raise OSError: if it cannot be made (C{EADDRINUSE} when another
        process listens on the path or another file is there; C{EPERM}
        with the reason when the way to its directory is not safe).
    """
    place = reach(spec.path)
    try:
        _removeStale(spec.path, place, say)
        sock = UnixListeningSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The file gets its mode as bind creates it (0777 less the
            # umask), so the umask is set for the call.  A chmod afterwards
            # would go by name, and in a directory others can write the name
            # may by then be another file (a hard link to one of root's, or
            # another service's socket); a socket's descriptor cannot change
            # its file's mode.  The umask is the process's: the reactor
            # thread creates nothing meanwhile, and txinetd's other threads
            # (name lookups, reading a new configuration) create no files.
            mask = os.umask(0o777 & ~spec.mode)
            try:
                sock.bind(_address(spec.path, place))
            finally:
                os.umask(mask)
            sock.path = spec.path
            info = _entry(place)
            if info is not None and stat.S_ISSOCK(info.st_mode):
                sock.identity = (info.st_dev, info.st_ino)
            sock.listen(spec.backlog or backlog)
        except BaseException:
            sock.close()
            raise
    finally:
        os.close(place.directory)
    return sock


def removeUnixSocket(sock: socket.socket, say: ProgramLog, reach: DirectoryReacher) -> None:
    """
    Remove the file of a UNIX socket txinetd bound (before closing it):
    only if it still is that socket, the same file as right after C{bind},
    in a directory reached safely again.  Otherwise it is left, and the
    program log says why.
    """
    if not isinstance(sock, UnixListeningSocket) or not sock.path:
        return
    path = sock.path
    try:
        place = reach(path)
    except OSError as e:
        say(Level.WARNING, f"{path} not removed: {e.strerror}")
        return
    try:
        info = _entry(place)
        if info is None:
            return
        if not stat.S_ISSOCK(info.st_mode):
            say(Level.WARNING, f"{path} not removed: {_describe(info)}, not the socket bound")
        elif (info.st_dev, info.st_ino) != sock.identity:
            say(Level.WARNING, f"{path} not removed: another socket than the one bound")
        else:
            os.unlink(place.name, dir_fd=place.directory)
    except OSError as e:
        say(Level.WARNING, f"{path} not removed: {e.strerror}")
    finally:
        os.close(place.directory)


def openListeningSockets(
    config: ServiceConfig, passed: ListenFds, say: ProgramLog, reach: DirectoryReacher
) -> list[socket.socket]:
    """
    Make, configure and bind the listening sockets of a service (two for
    a dual-stack one, see L{bindingsOf}), or take the one systemd passed,
    or a UNIX socket, for C{listen}.

    @param passed: the sockets systemd passed.
    @param say: writes to the program log (the fall back to IPv4 is said).
    @param reach: reaches the directory of a UNIX socket safely.
    @raise OSError: if one cannot be made or bound (none is left open).
    """
    spec = config.listen
    if isinstance(spec, UNIXListen):
        sock = openUnixSocket(spec, LISTEN_BACKLOG, say, reach)
        sock.setblocking(config.listening.handsOver)
        return [sock]
    if isinstance(spec, SystemdListen):
        return [passedSocket(config, spec, passed)]
    backlog = spec.backlog if isinstance(spec, TCPListen) and spec.backlog else LISTEN_BACKLOG
    return openBoundSockets(config, say, backlog)


def bindFailed(config: ServiceConfig, error: OSError) -> str:
    """
    xinetd's message for a listening socket that could not be made, with
    where the service was to listen: C{bind failed (Address already in use
    (errno = 98)). service = echo on 127.0.0.1 port 7/tcp}.
    """
    where = config.where
    if config.place is None:
        where += f"/{config.protocol}" if config.port is not None else f" ({config.protocol})"
    return (
        f"bind failed ({error.strerror} (errno = {error.errno})). service = {config.id} on {where}"
    )


def passedSocket(config: ServiceConfig, spec: SystemdListen, passed: ListenFds) -> socket.socket:
    """
    A copy of the listening socket systemd passed for C{spec}, checked
    against the service's socket type and C{domain}.  A UNIX socket serves
    only streams, and only services without address rules of their own (a
    UNIX client has no address to match).

    @raise OSError: if systemd passed no such socket, or one the service
        cannot use.
    """
    fd = passed.find(spec.name, spec.index)
    if fd is None:
        which = f"named {spec.name}" if spec.name is not None else f"number {spec.index}"
        raise OSError(errno.ENOENT, f"no socket {which} from systemd; {passed.describe()}")
    sock = socket.socket(fileno=os.dup(fd))
    try:
        checkPassedSocket(config, spec, sock)
    except OSError:
        sock.close()
        raise
    sock.setblocking(config.listening.handsOver)
    return sock


def checkPassedSocket(config: ServiceConfig, spec: SystemdListen, sock: socket.socket) -> None:
    """
    Whether a service can use the socket systemd passed for C{spec}.

    @raise OSError: if it cannot.
    """
    wanted = socket.SOCK_STREAM if config.socket_type is SocketType.STREAM else socket.SOCK_DGRAM
    if sock.type != wanted or (spec.domain is not None and sock.family != spec.domain):
        raise OSError(errno.EPROTOTYPE, f"the socket from systemd is not {spec.text}'s kind")
    if sock.family != socket.AF_UNIX:
        return
    if wanted == socket.SOCK_DGRAM:
        raise OSError(errno.EAFNOSUPPORT, f"{spec.text}: datagram services need an IP socket")
    own = config.specified & {"only_from", "no_access"}
    if own:
        raise OSError(errno.EAFNOSUPPORT, f"{spec.text}: {sorted(own)[0]} needs an IP socket")


@dataclass(frozen=True)
class ListeningSockets:
    """
    Opens a service's listening sockets on this machine (see
    L{openListeningSockets}): the daemon's L{SocketOpener}.

    @ivar passed: the sockets systemd passed.
    @ivar say: writes to the program log.
    @ivar reach: reaches the directory of a UNIX socket safely.
    """

    passed: ListenFds
    say: ProgramLog
    reach: DirectoryReacher

    def __call__(self, config: ServiceConfig) -> list[socket.socket]:
        return openListeningSockets(config, self.passed, self.say, self.reach)


class SocketOpener(TypingProtocol):
    """
    Makes the listening sockets of a service (a fake in tests).
    """

    def __call__(self, config: ServiceConfig) -> list[socket.socket]:
        """
        @return: the sockets, bound, listening for streams, in the blocking
            mode the service needs, the primary one first.
        @raise OSError: if they cannot be made (none is left open).
        """
