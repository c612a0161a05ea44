# -*- test-case-name: tests.daemon.test_reload -*-
"""
Reconfiguration: which running services a new configuration keeps, drops
or adds, the signals that ask for it, and the order reloads run in.

A service is kept when the new configuration has a service with the same
identity: the same id, the same INTERNAL / UNLISTED / RPC type bits, wait,
protocol, socket type, port, bind address and family, the sockets it listens
on (one, or two for dual stack: C{v6only} changes them), and the place of a
C{listen} without a port (UNIX path or systemd socket).  A kept service keeps
its listening socket open and takes the new attributes for new connections.
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Generic, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from txinetd.core.config import ServiceConfig
from txinetd.core.values import ServiceType
from txinetd.net.listening import bindingsOf

_IDENTITY_TYPES = frozenset({ServiceType.INTERNAL, ServiceType.UNLISTED, ServiceType.RPC})

_Running = TypeVar("_Running")

#: The longest a reload keeps the cycle collector paused (see
#: L{CollectorPause}).
COLLECTOR_PAUSE_LIMIT = 5.0


def identity(config: ServiceConfig) -> tuple[Any, ...]:
    """
    What must not change for a running service to be kept.
    """
    return (
        config.id,
        config.type & _IDENTITY_TYPES,
        config.wait,
        config.protocol,
        config.socket_type,
        config.port,
        config.bindAddress,
        config.family,
        bindingsOf(config),
        config.rpc_number,
        config.place,
    )


@dataclass(frozen=True)
class ReloadPlan(Generic[_Running]):
    """
    What a reconfiguration does.

    @ivar kept: running services and the new configuration each takes.
    @ivar removed: running services that stop.
    @ivar added: configurations of services that start.
    """

    kept: tuple[tuple[_Running, ServiceConfig], ...]
    removed: tuple[_Running, ...]
    added: tuple[ServiceConfig, ...]

    def summary(self) -> str:
        """
        xinetd's closing line of a reconfiguration.
        """
        return (
            f"Reconfigured: new={len(self.added)} old={len(self.kept)} "
            f"dropped={len(self.removed)} (services)"
        )


def planReload(
    running: Iterable[tuple[_Running, ServiceConfig]], new: Sequence[ServiceConfig]
) -> ReloadPlan[_Running]:
    """
    Match running services with a new configuration by identity.

    @param running: each running service with its current configuration.
    @param new: the new configuration's services that listen.
    """
    available: dict[tuple[Any, ...], list[ServiceConfig]] = {}
    for config in new:
        available.setdefault(identity(config), []).append(config)
    kept: list[tuple[_Running, ServiceConfig]] = []
    removed: list[_Running] = []
    for service, config in running:
        matches = available.get(identity(config))
        if matches:
            kept.append((service, matches.pop(0)))
        else:
            removed.append(service)
    added = [config for configs in available.values() for config in configs]
    order = {id(config): index for index, config in enumerate(new)}
    added.sort(key=lambda config: order[id(config)])
    return ReloadPlan(tuple(kept), tuple(removed), tuple(added))


class SignalDispatcher:
    """
    Installs signal handlers that only hand the work to the reactor, and
    restores the previous handlers.
    """

    def __init__(self, reactor: Any, handlers: Mapping[int, Callable[[], object]]) -> None:
        self.reactor = reactor
        self.handlers = dict(handlers)
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        """
        Install the handlers.
        """
        for number in self.handlers:
            self.previous[number] = signal.signal(number, self._received)

    def uninstall(self) -> None:
        """
        Restore the handlers that were there before.
        """
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous.clear()

    def _received(self, number: int, frame: FrameType | None) -> None:
        self.reactor.callFromThread(self.handlers[number])


class ReloadQueue:
    """
    Runs one reload at a time.  A reload asked for while one runs is
    remembered and run after it, so that the last configuration on disk is
    always the one in effect; any number of such requests make one reload,
    hard if any of them was.

    @ivar running: whether a reload runs now.
    @ivar pending: L{None}, or whether the reload to run next is hard.
    """

    def __init__(self, run: Callable[[bool], Deferred[None]]) -> None:
        """
        @param run: runs a reload (hard or soft); its L{Deferred} fires when
            it is done, never with a failure.
        """
        self.run = run
        self.running = False
        self.pending: bool | None = None
        self._waiting: list[Deferred[None]] = []

    def request(self, hard: bool) -> Deferred[None]:
        """
        Reload now, or after the running reload if there is one.

        @return: fires once a reload that started after this request is
            done.
        """
        if self.running:
            self.pending = hard or bool(self.pending)
            waiting: Deferred[None] = Deferred()
            self._waiting.append(waiting)
            return waiting
        return self._start(hard)

    def _start(self, hard: bool) -> Deferred[None]:
        self.running = True
        done: Deferred[None] = maybeDeferred(self.run, hard)
        return done.addBoth(self._finished)

    def _finished(self, result: object) -> None:
        self.running = False
        if self.pending is None:
            return
        hard, self.pending = self.pending, None
        waiting, self._waiting = self._waiting, []
        following = self._start(hard)
        for request in waiting:
            following.chainDeferred(request)


class CollectorPause:
    """
    Pauses Python's cycle collector while a reload runs.

    Reading and checking a large configuration makes hundreds of thousands
    of objects, and each time enough of them have been made the collector
    looks through every object of the daemon for cycles: with 1000
    services, a reload spent up to a third of its time there.  What a
    reload drops is freed by reference counting as before; garbage in
    cycles waits for the collector, which resumes when the reload ends or
    after L{COLLECTOR_PAUSE_LIMIT} seconds, whichever comes first, so that
    a load that hangs cannot stop it for longer.  A collector already
    paused by someone else is left paused.
    """

    def __init__(self, clock: IReactorTime, limit: float = COLLECTOR_PAUSE_LIMIT) -> None:
        self.clock = clock
        self.limit = limit
        self._resume: IDelayedCall | None = None

    @property
    def paused(self) -> bool:
        """
        Whether this object has paused the collector and not resumed it.
        """
        return self._resume is not None

    def begin(self) -> None:
        """
        Pause the collector, unless it is already paused.
        """
        if self._resume is not None or not gc.isenabled():
            return
        gc.disable()
        self._resume = self.clock.callLater(self.limit, self.end)

    def end(self) -> None:
        """
        Resume the collector if L{begin} paused it.
        """
        resume, self._resume = self._resume, None
        if resume is None:
            return
        if resume.active():
            resume.cancel()
        gc.enable()
