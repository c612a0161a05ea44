# -*- test-case-name: tests.daemon.test_eventlog -*-
"""
The JSON event log (C{--json-log PATH}): one JSON object per line for every
event of every service's sessions, whatever its C{log_on_success} and
C{log_on_failure} say, and for every program message.

Every line has the same fields, in this order; a field that does not apply
to an event is C{null} (docs/monitoring.md documents them):

  - C{time}: when, in RFC 3339 (UTC, milliseconds: C{2026-12-07T05:07:01.123Z});
  - C{event}: C{start}, C{exit}, C{fail}, C{userid}, C{noid}, C{traffic},
    C{message} or C{reload};
  - C{service}: the service's id;
  - C{pid}: the server's pid (0 for a service txinetd runs itself);
  - C{address}, C{port}: the client's;
  - C{reason}: the C{FAIL} reason word, or the C{NOID} reason;
  - C{status}: the exit status, or C{signal}: the name of the signal that
    ended the server;
  - C{duration}: the session's length in seconds;
  - C{bytes_in}, C{bytes_out}: what a redirect relayed from the client and
    back;
  - C{user}: what ident (or a client certificate, or a UNIX peer's
    credentials) said of the client;
  - C{level}, C{text}: a program message's level and text;
  - C{result}: a reconfiguration's, C{applied} or C{rejected}.

The file is opened as the FILE service logs are (never through a link
another user planted, mode 0644 when created) and reopened with them on
every reconfiguration signal, so logrotate can move it.  The lines are
ASCII: anything else in a text is escaped as JSON escapes it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from twisted.logger import ILogObserver
from zope.interface import implementer

from txinetd.core.events import (
    Exited,
    Failed,
    Level,
    NotIdentified,
    ProgramLog,
    Reloaded,
    SessionEvent,
    Started,
    Traffic,
    UserIdentified,
)
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.logtargets import FileLogTarget
from txinetd.daemon.metrics import exitLabel
from txinetd.daemon.programlog import messageLevel, messageText, programMessage

__all__ = ["FIELDS", "EventLog", "LogObservers", "rfc3339"]

#: The fields of every line, in order.
FIELDS = (
    "time",
    "event",
    "service",
    "pid",
    "address",
    "port",
    "reason",
    "status",
    "signal",
    "duration",
    "bytes_in",
    "bytes_out",
    "user",
    "level",
    "text",
    "result",
)

_Record = dict[str, Any]


#: The last second L{rfc3339} formatted, and its text.
_lastSecond: list[Any] = [None, ""]

#: Encodes a record as one line (no spaces, ASCII).
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def rfc3339(when: float) -> str:
    """
    A POSIX time in RFC 3339, in UTC to the millisecond:
    C{2026-12-07T05:07:01.123Z}.
    """
    second = math.floor(when)
    milliseconds = min(999, int((when - second) * 1000))
    if _lastSecond[0] != second:
        _lastSecond[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_lastSecond[1]}.{milliseconds:03d}Z"


def _record(when: float, event: str, **fields: Any) -> _Record:
    record: _Record = dict.fromkeys(FIELDS)
    record["time"] = rfc3339(when)
    record["event"] = event
    record.update(fields)
    return record


def _started(event: Started) -> _Record:
    return _record(
        event.when,
        "start",
        service=event.service,
        pid=event.pid,
        address=event.host,
        port=event.port,
    )


def _exited(event: Exited) -> _Record:
    return _record(
        event.when,
        "exit",
        service=event.service,
        pid=event.pid,
        address=event.host,
        port=event.port,
        status=event.status if event.signal is None else None,
        signal=None if event.signal is None else exitLabel(None, event.signal),
        duration=round(event.duration, 6),
    )


def _failed(event: Failed) -> _Record:
    return _record(
        event.when,
        "fail",
        service=event.service,
        address=event.host,
        port=event.port,
        reason=event.reason.value,
    )


def _identified(event: UserIdentified) -> _Record:
    return _record(
        event.when,
        "userid",
        service=event.service,
        address=event.host,
        port=event.port,
        user=event.text,
    )


def _notIdentified(event: NotIdentified) -> _Record:
    return _record(
        event.when,
        "noid",
        service=event.service,
        address=event.host,
        port=event.port,
        reason=event.reason.value,
    )


def _traffic(event: Traffic) -> _Record:
    return _record(
        event.when,
        "traffic",
        service=event.service,
        address=event.host,
        port=event.port,
        bytes_in=event.bytesIn,
        bytes_out=event.bytesOut,
    )


def _reloaded(event: Reloaded) -> _Record:
    return _record(event.when, "reload", result=event.result.value)


#: How each session event becomes a line.  Program messages are not among
#: them: a session's reach the program log (see L{EventLog.observeProgram}).
_RECORDS: dict[type, Callable[[Any], _Record]] = {
    Started: _started,
    Exited: _exited,
    Failed: _failed,
    UserIdentified: _identified,
    NotIdentified: _notIdentified,
    Traffic: _traffic,
    Reloaded: _reloaded,
}


class _LineFile(FileLogTarget):
    """
    A log file of whole lines, opened, written and reopened as a FILE
    service log is (a full disk reported once, a cut line ended).
    """

    def writeLine(self, line: str) -> None:
        self._write(line)


class EventLog:
    """
    The JSON event log (see the module's docstring).  It is a
    L{txinetd.core.events.SessionObserver} of every service; its
    L{observeProgram} is a twisted.logger observer, for the program
    messages.

    @ivar path: the file's path.
    """

    def __init__(
        self,
        path: str,
        debug: bool = False,
        say: ProgramLog = programMessage,
        batch: WriteBatch | None = None,
    ) -> None:
        """
        Open the file.

        @param debug: whether DEBUG program messages are written (C{-d}).
        @param say: where the file's own trouble is reported.
        @param batch: what the file keeps its lines for while it is held
            (see L{txinetd.daemon.logbatch}).
        @raise OSError: if it cannot be opened (L{UnsafeFile} if it is
            refused as unsafe).
        """
        self.path = path
        self.debug = debug
        self.file = _LineFile(path, onProgramMessage=say, logId="JSON event", batch=batch)
        #: The twisted.logger observer that writes the program messages.
        self.observeProgram = _ProgramMessages(self)

    def write(self, record: _Record) -> None:
        """
        Append one record as a line.
        """
        self.file.writeLine(_ENCODER.encode(record) + "\n")

    def __call__(self, event: SessionEvent) -> None:
        """
        Write one event of a session (or the daemon's L{Reloaded}).
        """
        record = _RECORDS.get(type(event))
        if record is not None:
            self.write(record(event))

    def reopen(self) -> None:
        """
        Reopen the file (log rotation).
        """
        self.file.reopen()

    def close(self) -> None:
        self.file.close()


@implementer(ILogObserver)
class _ProgramMessages:
    """
    Writes the program messages of twisted.logger events to an
    L{EventLog} (DEBUG ones only with C{-d}).
    """

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def reopen(self) -> None:
        self.log.reopen()

    def __call__(self, event: dict[str, Any]) -> None:
        level = messageLevel(event)
        if level is None or (level is Level.DEBUG and not self.log.debug):
            return
        self.log.write(
            _record(
                event.get("log_time", time.time()),
                "message",
                level=level.name,
                text=messageText(event),
            )
        )


@implementer(ILogObserver)
class LogObservers:
    """
    Several twisted.logger observers as one (the program log and the
    JSON event log's program messages), reopened together.
    """

    def __init__(self, *observers: ILogObserver) -> None:
        self.observers = observers

    def __call__(self, event: dict[str, Any]) -> None:
        for observer in self.observers:
            observer(event)

    def reopen(self) -> None:
        """
        Reopen each observer that has a file (log rotation).
        """
        for observer in self.observers:
            reopen = getattr(observer, "reopen", None)
            if reopen is not None:
                reopen()
