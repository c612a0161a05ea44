# -*- test-case-name: tests.serve.test_lookups -*-
"""
What the admission of a connection may have to look up, without ever
blocking the reactor: the client's name (L{ReverseLookup}), the rules of
hosts.allow and hosts.deny as they are now (L{HostsRules}), and who the
client is according to its ident server, within the daemon's bounds on
ident look-ups (L{IdentLookups}, L{IdentSetup}); and how work that may
block is run off the reactor's thread (L{BlockingRunner}).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool

from txinetd.core.addresses import IPAddress, clientAddress
from txinetd.core.config import IDENT_PORT
from txinetd.core.events import Level, ProgramLog
from txinetd.core.libwrap import HostsAccess

__all__ = [
    "NO_NAME",
    "BlockingRunner",
    "FixedHosts",
    "HostName",
    "HostsRules",
    "IdentLookups",
    "IdentSetup",
    "ReverseLookup",
    "identCapReached",
    "inThreadPool",
    "resolveHostName",
    "threadedReverseLookup",
]

_T = TypeVar("_T")


@dataclass(frozen=True)
class HostName:
    """
    What the resolver says of a client's address.

    @ivar name: the address's reverse name, or L{None} if it has none.
    @ivar paranoid: whether the name was checked and does not map back to
        the address (its forward lookup failed or did not give the address).
    """

    name: str | None
    paranoid: bool = False


#: No name: none was needed, or the address has none.
NO_NAME = HostName(None)


class ReverseLookup(TypingProtocol):
    """
    Finds the name of an address without blocking the reactor.
    """

    def __call__(self, address: str, verify: bool) -> Deferred[HostName]:
        """
        @param address: the client's address.
        @param verify: whether to check that the name maps back to the
            address (for hosts.allow and hosts.deny).
        @return: the address's name.
        """


NameInfo = Callable[[tuple[str, int], int], tuple[str, str]]
"""
L{socket.getnameinfo}'s signature, for the reverse lookup.
"""

AddressInfo = Callable[..., Sequence[tuple[Any, ...]]]
"""
L{socket.getaddrinfo}'s signature, for the forward lookup.
"""


def resolveHostName(
    address: str,
    verify: bool,
    getnameinfo: NameInfo = socket.getnameinfo,
    getaddrinfo: AddressInfo = socket.getaddrinfo,
) -> HostName:
    """
    Find the name of an address, blocking; with C{verify}, also look the
    name up and mark it paranoid unless the address is among the results,
    as TCP wrappers do.

    @param address: the client's address.
    @param verify: whether to check the name with a forward lookup.
    @param getnameinfo: the reverse resolver.
    @param getaddrinfo: the forward resolver.
    """
    try:
        name = getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
    except OSError:
        return NO_NAME
    if not verify:
        return HostName(name)
    try:
        client = clientAddress(address)
        found = getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return HostName(name, paranoid=True)
    return HostName(name, paranoid=not any(_isAddress(info[4][0], client) for info in found))


def _isAddress(text: str, client: IPAddress) -> bool:
    """
    Whether a forward lookup's address (perhaps with a C{%scope}) is
    C{client}.
    """
    try:
        return clientAddress(text.partition("%")[0]) == client
    except ValueError:
        return False


def threadedReverseLookup(
    reactor: Any,
    getnameinfo: NameInfo = socket.getnameinfo,
    getaddrinfo: AddressInfo = socket.getaddrinfo,
) -> ReverseLookup:
    """
    A L{ReverseLookup} through L{resolveHostName}, in the reactor's thread
    pool: the reverse and the forward lookup run in the same thread.

    @param reactor: the reactor, with its thread pool.
    @param getnameinfo: the reverse resolver.
    @param getaddrinfo: the forward resolver.
    """

    def lookup(address: str, verify: bool) -> Deferred[HostName]:
        d: Deferred[HostName] = deferToThreadPool(
            reactor,
            reactor.getThreadPool(),
            resolveHostName,
            address,
            verify,
            getnameinfo,
            getaddrinfo,
        )
        return d

    return lookup


class BlockingRunner(TypingProtocol):
    """
    Runs work that may block without blocking the reactor.
    """

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        @return: fires with what C{work} returns.
        """


def inThreadPool(reactor: Any) -> BlockingRunner:
    """
    A L{BlockingRunner} on the reactor's thread pool.
    """

    def run(work: Callable[[], _T]) -> Deferred[_T]:
        d: Deferred[_T] = deferToThreadPool(reactor, reactor.getThreadPool(), work)
        return d

    return run


class IdentLookups:
    """
    Bounds the ident lookups running at once: the ones made for USERID on
    failure (C{-logprocs}), or every lookup of the daemon.

    @ivar limit: the most that may run at once.
    @ivar running: how many run now.
    @ivar parent: a bound the same lookups also count toward.
    @ivar onFull: called when a lookup is not started because this bound
        has just been reached (once, until a lookup ends).
    """

    def __init__(
        self,
        limit: int = 15,
        parent: IdentLookups | None = None,
        onFull: Callable[[int], None] | None = None,
    ) -> None:
        self.limit = limit
        self.running = 0
        self.parent = parent
        self.onFull = onFull
        self.full = False

    def _chain(self) -> list[IdentLookups]:
        return [self] if self.parent is None else [self, *self.parent._chain()]

    def run(self, lookup: Callable[[], Deferred[Any]]) -> Deferred[Any] | None:
        """
        Start C{lookup} unless this bound or a parent one is reached.

        @return: its L{Deferred}, or L{None} if it was not started.
        """
        chain = self._chain()
        for bound in chain:
            if bound.running >= bound.limit:
                if not bound.full and bound.onFull is not None:
                    bound.onFull(bound.limit)
                bound.full = True
                return None
        for bound in chain:
            bound.running += 1

        def done(result: object) -> object:
            for bound in chain:
                bound.running -= 1
                bound.full = False
            return result

        return lookup().addBoth(done)


def identCapReached(limit: int) -> str:
    """
    The program-log WARNING said once the daemon-wide bound on ident
    look-ups is reached.
    """
    return (
        f"{limit} ident lookups are running: no more are made until one ends "
        "(no USERID line; IDONLY services refuse with NOID)"
    )


@dataclass(frozen=True)
class IdentSetup:
    """
    How txinetd asks ident servers.

    @ivar cap: bounds every ident look-up of the daemon.
    @ivar forFailures: bounds the look-ups for USERID on failure
        (C{-logprocs}); they count toward C{cap} too (C{cap} is its parent).
    @ivar port: the ident port to query (113; other values for tests).
    @ivar timeout: how long a look-up may take (and an IDONLY service
        waits).
    """

    cap: IdentLookups
    forFailures: IdentLookups
    port: int = IDENT_PORT
    timeout: float = 30.0

    @classmethod
    def bounded(
        cls,
        cap: int,
        forFailures: int,
        say: ProgramLog,
        port: int = IDENT_PORT,
        timeout: float = 30.0,
    ) -> IdentSetup:
        """
        At most C{cap} look-ups at once, C{forFailures} of them for USERID
        on failure; reaching C{cap} is said once (L{identCapReached}) until
        a look-up ends.
        """
        lookups = IdentLookups(cap, onFull=lambda limit: say(Level.WARNING, identCapReached(limit)))
        return cls(lookups, IdentLookups(forFailures, parent=lookups), port, timeout)


class HostsRules(TypingProtocol):
    """
    The rules of hosts.allow and hosts.deny as they are now (see
    L{txinetd.serve.hostsfiles.HostsFiles}, and L{FixedHosts}).
    """

    @property
    def apply(self) -> bool:
        """
        Whether connections are checked against them at all.
        """

    def now(self) -> tuple[bool, HostsAccess | None]:
        """
        The rules to decide a connection that arrived now with, when they
        are known without reading anything.

        @return: whether they are known, and they (L{None}: none apply).
        """

    def current(self) -> Deferred[HostsAccess | None]:
        """
        The rules to decide a connection that arrived now with, once any
        file that changed is read again.
        """

    def reread(self) -> None:
        """
        Read them again before the next decision (a reconfiguration).
        """

    def start(self) -> None:
        """
        Keep them current while the daemon runs.
        """

    def stop(self) -> None:
        """
        Stop keeping them current (the daemon stops).
        """


@dataclass(frozen=True)
class FixedHosts:
    """
    L{HostsRules} that never change: the rules given (L{None}: hosts.allow
    and hosts.deny are not used at all).
    """

    access: HostsAccess | None = None

    @property
    def apply(self) -> bool:
        return self.access is not None

    def now(self) -> tuple[bool, HostsAccess | None]:
        return True, self.access

    def current(self) -> Deferred[HostsAccess | None]:
        return succeed(self.access)

    def reread(self) -> None:
        """
        Nothing to read.
        """

    def start(self) -> None:
        """
        Nothing to watch.
        """

    def stop(self) -> None:
        """
        Nothing to stop.
        """
