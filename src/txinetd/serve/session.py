# -*- test-case-name: tests.serve.test_session -*-
"""
One client of a service, from the moment it counts toward the service's
limits to its end: a L{Session}, in one L{SessionState} at a time.

A session is made by its service's admission (L{txinetd.serve.admission}),
which then takes it through the steps in front of the service; its runner
takes it from there.  It says what happens to it as events (its START, its
EXIT) to the observers of its service, through the admission that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred

from txinetd.core.events import (
    Exited,
    Failed,
    FailReason,
    Level,
    ProgramMessage,
    SessionEvent,
    Started,
    Traffic,
)

__all__ = ["Session", "SessionOwner", "SessionState"]

_T = TypeVar("_T")


class SessionOwner(Protocol):
    """
    What a session needs of the admission that made it
    (L{txinetd.serve.admission.Admission}).

    @ivar serviceId: the id of the service it belongs to.
    """

    serviceId: str

    def now(self) -> float:
        """
        The time.
        """

    def emit(self, event: SessionEvent) -> None:
        """
        Give an event to the service's observers.
        """

    def release(self, session: Session) -> None:
        """
        The session no longer counts toward the service's limits.
        """


class SessionState(Enum):
    """
    Where a session is.
    """

    #: Counted toward the limits; its admission runs (look-ups, banners,
    #: the TLS handshake, ident): stopping it cancels what that waits for.
    ADMITTING = "admitting"
    #: Its runner has it, and will say when the service runs (a server is
    #: being executed, say); stopping it is left to the runner.
    STARTING = "starting"
    #: The service runs for it: its START was said.
    RUNNING = "running"
    #: The service ended: its EXIT was said.
    ENDED = "ended"
    #: It was refused, failed or was stopped before its service ran: no
    #: START, no EXIT.
    DROPPED = "dropped"


class Session:
    """
    One client of a service (see the module's docstring).

    The session keeps its place among the service's running servers until
    it is L{ENDED<SessionState.ENDED>} or L{DROPPED<SessionState.DROPPED>}
    and its ident look-up, if one runs, has ended too (as xinetd's forked
    child asks ident before it runs the server, and counts all along).

    @ivar admission: the admission that made it, whose service it belongs
        to.
    @ivar host: the client's address, or L{None} when it has none.
    @ivar started: when it was admitted.
    @ivar pid: its server's pid; 0 in process.
    @ivar waiting: what its admission waits for now.
    @ivar stopper: ends its service (given by its runner).
    @ivar stopAsked: L{None}, or whether the strongest stop asked before its
        runner gave a stopper was forced.
    @ivar identLookup: its ident look-up, while it runs.
    @ivar port: the client's port, or L{None} when it has none.
    @ivar relayed: for a redirect, gives the bytes relayed so far (from the
        client, to it), for the status document.
    """

    __slots__ = (
        "admission",
        "host",
        "identLookup",
        "pid",
        "port",
        "relayed",
        "started",
        "state",
        "stopAsked",
        "stopper",
        "waiting",
    )

    def __init__(
        self, admission: SessionOwner, host: str | None, started: float, port: int | None = None
    ) -> None:
        self.admission = admission
        self.host = host
        self.port = port
        self.started = started
        self.state = SessionState.ADMITTING
        self.pid = 0
        self.waiting: Deferred[Any] | None = None
        self.stopper: Callable[[bool], None] | None = None
        self.stopAsked: bool | None = None
        self.identLookup: Deferred[Any] | None = None
        self.relayed: Callable[[], tuple[int, int]] | None = None

    def __repr__(self) -> str:
        return f"<Session {self.state.value} host={self.host} pid={self.pid}>"

    @property
    def done(self) -> bool:
        """
        Whether its service has ended, or will never run.
        """
        return self.state is SessionState.ENDED or self.state is SessionState.DROPPED

    def waitFor(self, waiting: Deferred[_T]) -> Deferred[_T]:
        """
        Its admission waits for C{waiting}: stopping the session now cancels
        it.
        """
        self.waiting = waiting
        return waiting

    def stop(self, force: bool = False) -> None:
        """
        Ask its service to end (C{force}: at once), and give up its ident
        look-up.  While it is admitted, what its admission waits for is
        cancelled (the connection is then closed, with no START and no
        EXIT); while its runner starts it, the stop is kept for the
        runner's stopper.
        """
        self.cancelLookup()
        if self.done:
            return
        self.stopAsked = force or bool(self.stopAsked)
        if self.stopper is not None:
            self.stopper(force)
            return
        waiting = self.waiting
        if waiting is not None and not waiting.called:
            waiting.cancel()

    def admitted(self) -> None:
        """
        Its admission is over: its runner has it.
        """
        if self.state is SessionState.ADMITTING:
            self.state = SessionState.STARTING
        self.waiting = None

    def stopWith(self, stopper: Callable[[bool], None]) -> None:
        """
        Its runner has it, and C{stopper} ends its service; a stop asked
        since is applied now.
        """
        self.admitted()
        self.stopper = stopper
        if self.stopAsked is not None and not self.done:
            stopper(self.stopAsked)

    def begin(self, pid: int) -> None:
        """
        Its service runs (C{pid} 0: in process): START.
        """
        self.pid = pid
        self.state = SessionState.RUNNING
        admission = self.admission
        admission.emit(
            Started(admission.serviceId, pid, self.host, admission.now(), self.port, self.started)
        )

    def ended(self, status: int | None = 0, signal: int | None = None) -> None:
        """
        Its service ended: EXIT, and its place is given up (once its ident
        look-up, if one still runs, has ended too: its USERID line waits).
        """
        if self.done:
            return
        self.state = SessionState.ENDED
        admission = self.admission
        if self.identLookup is None:
            admission.release(self)
        now = admission.now()
        admission.emit(
            Exited(
                admission.serviceId,
                self.pid,
                self.host,
                status,
                signal,
                now - self.started,
                now,
                self.port,
            )
        )

    def abandon(self) -> None:
        """
        Its service never ran: its ident look-up is given up, and its place
        too, without an EXIT.
        """
        if not self.done:
            self.state = SessionState.DROPPED
            self.cancelLookup()
            if self.identLookup is None:
                self.admission.release(self)

    def fail(self, reason: FailReason) -> None:
        """
        Its service could not run (its TLS handshake failed, its server
        could not be started): FAIL, and it is dropped (see L{abandon}).
        """
        self.abandon()
        admission = self.admission
        admission.emit(Failed(admission.serviceId, reason, self.host, admission.now(), self.port))

    def say(self, level: Level, text: str) -> None:
        """
        A program message about the session (why its server could not be
        started, why its redirect target could not be reached).
        """
        self.admission.emit(ProgramMessage(level, text))

    def traffic(self, bytesIn: int, bytesOut: int) -> None:
        """
        What its service relayed: C{bytesIn} from the client, C{bytesOut}
        to it.
        """
        admission = self.admission
        admission.emit(
            Traffic(admission.serviceId, bytesIn, bytesOut, admission.now(), self.host, self.port)
        )

    def holdFor(self, lookup: Deferred[Any]) -> None:
        """
        Keep its place until C{lookup} has ended (fired or been cancelled).
        """
        self.identLookup = lookup

        def finished(result: object) -> object:
            self.identLookup = None
            if self.done:
                self.admission.release(self)
            return result

        lookup.addBoth(finished)

    def cancelLookup(self) -> None:
        lookup = self.identLookup
        if lookup is not None and not lookup.called:
            lookup.cancel()
