# -*- test-case-name: tests.core.test_events -*-
"""
What happens to txinetd's connections, and why, as typed records.

The vocabulary: a program message's L{Level}, why a connection was refused
(L{FailReason}) and why ident named no user (L{NoIdReason}).

The events: a session emits one of them for each thing that happens to it,
to the L{SessionObserver}s of its service -- L{Started} when its service
runs, L{Exited} when it ends, L{Failed} when it is refused, L{UserIdentified}
and L{NotIdentified} for what ident said, L{Traffic} for what a redirect
relayed, and L{ProgramMessage} for what the program log says about it.
The daemon itself emits L{Reloaded} after each reconfiguration, to the
observers of every service.  xinetd's log lines are one way to write them
(see L{txinetd.core.logformat} and the service logs of L{txinetd.daemon});
the metrics and the JSON event log read the same events.

Every event about a client carries its address (C{host}) and port
(C{port}), L{None} when it has none (a UNIX-socket client, a C{wait = yes}
stream service).

The events are named tuples, not frozen dataclasses: two are made for
every connection, and a frozen dataclass costs three times as much to make.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, IntEnum
from typing import NamedTuple, Protocol, TypeAlias

__all__ = [
    "Exited",
    "FailReason",
    "Failed",
    "Level",
    "NoIdReason",
    "NotIdentified",
    "ProgramLog",
    "ProgramMessage",
    "ReloadResult",
    "Reloaded",
    "SessionEvent",
    "SessionObserver",
    "Started",
    "Traffic",
    "UserIdentified",
]


class Level(IntEnum):
    """
    The level of a program-log message.  The name is the word a FILE program
    log prints; the value is the syslog level it is sent with.
    """

    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


class FailReason(Enum):
    """
    Why a connection was refused: the reason word of a C{FAIL} entry.
    """

    ADDRESS = "address"
    TIME = "time"
    FORK = "fork"
    SERVICE_LIMIT = "service_limit"
    PER_SOURCE_LIMIT = "per_source_limit"
    PROCESS_LIMIT = "process_limit"
    LIBWRAP = "libwrap"
    LOAD = "load"
    CPS = "connections per second"
    #: txinetd's own: the TLS handshake failed or the client certificate was refused.
    TLS = "tls"
    #: txinetd's own: the server could not be run (its C{execv}, or a step of
    #: its set-up such as C{setuid}, failed); the program log says why.
    EXEC = "execv"
    #: txinetd's own: no valid PROXY header from a trusted balancer, or a
    #: connection from an address that may not send one.
    PROXY = "proxy"


class NoIdReason(Enum):
    """
    Why an ident (RFC 1413) lookup gave no user: the reason of a C{NOID}
    entry.
    """

    NO_SERVER = "no server"
    TIMEOUT = "timeout"
    SYSTEM_ERROR = "system error"
    RECEIVE_ERROR = "error while receiving response"
    BAD_RESPONSE = "bad response"


class ProgramMessage(NamedTuple):
    """
    A message for txinetd's own log.

    @ivar level: its level.
    @ivar text: the message, exactly as xinetd words it.
    """

    level: Level
    text: str


ProgramLog: TypeAlias = Callable[[Level, str], None]
"""
Writes a message to txinetd's program log (what lower layers are given, so
that they need not know where it goes).
"""


class Started(NamedTuple):
    """
    A service runs for a client: its server was executed, or it runs in
    process (C{pid} 0).

    @ivar service: the service's id.
    @ivar host: the client's address, or L{None} when it has none.
    @ivar when: the POSIX time of the event.
    @ivar port: the client's port, or L{None} when it has none.
    @ivar admitted: when the client's connection passed the limit checks
        (right after it was accepted), for a session; L{None} for a
        datagram answered in process.  C{when - admitted} is the time it
        took to start the service.
    """

    service: str
    pid: int
    host: str | None
    when: float
    port: int | None = None
    admitted: float | None = None


class Exited(NamedTuple):
    """
    A service that ran for a client ended.

    @ivar status: its exit status, or L{None} if a signal ended it.
    @ivar signal: the signal that ended it, or L{None}.
    @ivar duration: seconds from its admission to its end.
    """

    service: str
    pid: int
    host: str | None
    status: int | None
    signal: int | None
    duration: float
    when: float
    port: int | None = None


class Failed(NamedTuple):
    """
    A client was refused, or its service could not be run.
    """

    service: str
    reason: FailReason
    host: str | None
    when: float
    port: int | None = None


class UserIdentified(NamedTuple):
    """
    Who the client is: what its ident server said after C{USERID :} (such as
    C{UNIX : alice}), or what txinetd knows without asking (a client
    certificate's subject, a UNIX peer's user).
    """

    service: str
    text: str
    host: str | None
    when: float
    port: int | None = None


class NotIdentified(NamedTuple):
    """
    An C{IDONLY} service refused a client whose ident lookup named no user.
    """

    service: str
    host: str | None
    reason: NoIdReason
    when: float
    port: int | None = None


class Traffic(NamedTuple):
    """
    What a redirect relayed, once it ended: bytes from the client to the
    target (C{bytesIn}) and back (C{bytesOut}).
    """

    service: str
    bytesIn: int
    bytesOut: int
    when: float
    host: str | None = None
    port: int | None = None


class ReloadResult(Enum):
    """
    What became of a reconfiguration.
    """

    #: The new configuration runs.
    APPLIED = "applied"
    #: It had errors: the running one stays.
    REJECTED = "rejected"


class Reloaded(NamedTuple):
    """
    The daemon read its configuration again (a reconfiguration signal).
    """

    result: ReloadResult
    when: float


SessionEvent: TypeAlias = (
    Started | Exited | Failed | UserIdentified | NotIdentified | Traffic | ProgramMessage | Reloaded
)
"""
Anything a session emits (and L{Reloaded}, which the daemon emits to the
observers every service shares).
"""


class SessionObserver(Protocol):
    """
    Receives the events of a service's sessions, as they happen.  An
    observer must not raise, and must not block: it is called on the
    reactor's thread, in the middle of serving the connection.
    """

    def __call__(self, event: SessionEvent) -> None:
        """
        Take one event.
        """
