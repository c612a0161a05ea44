# -*- test-case-name: tests.core.test_logformat -*-
"""
xinetd's log lines, as text.

Everything here is pure: a function takes the facts of an event and returns
the exact text xinetd 2.3.15 writes for it, so that the tools that read
xinetd logs (fail2ban's C{xinetd-fail} filter, logwatch, grep) read
txinetd's logs unchanged.  Nothing here opens a file or a socket; the log
targets in L{txinetd.daemon.observers} write what these functions return.

Two streams exist.  The X{service log} holds the per-connection entries
(C{START}, C{EXIT}, C{FAIL}, C{USERID}, C{NOID}, C{TRAFFIC}) selected by a
service's C{log_on_success} and C{log_on_failure}; the X{program log} holds
txinetd's own messages (C{Started working: 2 available services}), each with
a L{Level}.

Any text that comes from outside txinetd (ident replies, client addresses)
passes through L{sanitise} before it reaches a line, so that no peer can
forge or split log lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from enum import IntEnum
from typing import Protocol

from txinetd.core.addresses import NO_ADDRESS, normaliseHost
from txinetd.core.events import FailReason, Level, NoIdReason

__all__ = [
    "DEFAULT_FUNCTION",
    "SYSLOG_FACILITIES",
    "SYSLOG_LEVELS",
    "Facility",
    "LogTarget",
    "SyslogLevel",
    "defaultHardLimit",
    "displayAddress",
    "fileProgramLine",
    "fileServiceLine",
    "fileTimestamp",
    "formatBadIdentLine",
    "formatExit",
    "formatFail",
    "formatNoid",
    "formatStart",
    "formatTraffic",
    "formatUserid",
    "sanitise",
    "syslogProgramMessage",
    "syslogServiceMessage",
    "syslogTimestamp",
]

DEFAULT_FUNCTION = "txinetd"
"""
The function name a CRITICAL program message carries when its emitter names
none.
"""

_LOG_EXTRA_MIN = 5 * 1024
_LOG_EXTRA_MAX = 20 * 1024

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SyslogLevel(IntEnum):
    """
    The syslog levels a C{log_type = SYSLOG facility level} may name.
    """

    EMERG = 0
    ALERT = 1
    CRIT = 2
    ERR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


class Facility(IntEnum):
    """
    The syslog facilities xinetd accepts, with their syslog facility codes.
    """

    USER = 1
    MAIL = 2
    DAEMON = 3
    AUTH = 4
    LPR = 6
    NEWS = 7
    UUCP = 8
    AUTHPRIV = 10
    FTP = 11
    LOCAL0 = 16
    LOCAL1 = 17
    LOCAL2 = 18
    LOCAL3 = 19
    LOCAL4 = 20
    LOCAL5 = 21
    LOCAL6 = 22
    LOCAL7 = 23


SYSLOG_FACILITIES: Mapping[str, Facility] = {f.name.lower(): f for f in Facility}
"""
The facility names of C{log_type = SYSLOG} and C{-syslog}, as written in a
configuration (lower case; matched case-sensitively, as xinetd does).
"""

SYSLOG_LEVELS: Mapping[str, SyslogLevel] = {lv.name.lower(): lv for lv in SyslogLevel}
"""
The level names of C{log_type = SYSLOG facility level}.
"""


class LogTarget(Protocol):
    """
    Where log lines go.
    """

    def writeService(self, message: str, when: float) -> None:
        """
        Write a service-log entry.

        @param message: the entry, from L{formatStart} and friends.
        @param when: the POSIX time of the event.
        """

    def writeProgram(
        self, level: Level, message: str, when: float, function: str | None = None
    ) -> None:
        """
        Write a program message.

        @param level: its level.
        @param message: its text.
        @param when: its POSIX time.
        @param function: for CRITICAL messages, the emitting function.
        """

    def close(self) -> None:
        """
        Stop writing and release the file or socket.
        """


def sanitise(text: str) -> str:
    """
    Make text from outside safe to put in a log line.

    @param text: any text.
    @return: C{text} with every control character (C0 including CR, LF and
        TAB, DEL, C1), the Unicode line and paragraph separators and lone
        surrogates replaced by C{?}.
    """
    if text.isprintable():
        # Nothing to replace: each of those characters is unprintable.
        return text
    return _CONTROL.sub("?", text)


def displayAddress(host: str | None) -> str:
    """
    The address as a log line shows it.

    @param host: the peer's numeric address, or L{None} when there is none.
    @return: the normalised, sanitised address, or C{<no address>}.
    """
    if host is None:
        return NO_ADDRESS
    return sanitise(normaliseHost(host))


def defaultHardLimit(soft: int) -> int:
    """
    The hard size limit of a FILE log given only a soft one.

    @param soft: the soft limit in bytes.
    @return: C{soft} plus one percent of it, but at least 5 KiB and at most
        20 KiB more.
    """
    return soft + min(max(soft // 100, _LOG_EXTRA_MIN), _LOG_EXTRA_MAX)


def _fromField(flags: frozenset[str], host: str | None) -> str:
    """
    The C{ from=<addr>} field, when the HOST flag asks for it.
    """
    return f" from={displayAddress(host)}" if "HOST" in flags else ""


def formatStart(serviceId: str, flags: frozenset[str], pid: int, host: str | None) -> str | None:
    """
    The C{START} entry of a served connection.

    @param serviceId: the service's id.
    @param flags: the service's C{log_on_success} flags.
    @param pid: the server's process id; 0 for a service run in process.
    @param host: the client's numeric address, or L{None}.
    @return: the entry, or L{None} when C{log_on_success} is empty.
    """
    if not flags:
        return None
    pidField = f" pid={pid}" if "PID" in flags else ""
    return f"START: {sanitise(serviceId)}{pidField}{_fromField(flags, host)}"


def _exitField(exitStatus: int | None, exitSignal: int | None) -> str:
    """
    The C{ signal=<n>} or C{ status=<n>} field of an C{EXIT} entry.
    """
    if exitSignal is not None:
        return f" signal={exitSignal}"
    if exitStatus is None:
        raise ValueError("an exit needs a status or a signal")
    return f" status={exitStatus}"


def formatExit(
    serviceId: str,
    flags: frozenset[str],
    exitStatus: int | None,
    exitSignal: int | None,
    pid: int,
    duration: float,
) -> str | None:
    """
    The C{EXIT} entry of a server that ended.

    @param serviceId: the service's id.
    @param flags: the service's C{log_on_success} flags.
    @param exitStatus: the server's exit status, or L{None} if a signal
        ended it.
    @param exitSignal: the number of the signal that ended the server, or
        L{None} if it exited.
    @param pid: the server's process id.
    @param duration: seconds from the server's start to its end; whole
        seconds are logged.
    @return: the entry, or L{None} when neither EXIT nor DURATION is in
        C{flags}.
    @raise ValueError: if EXIT is in C{flags} and the exit has neither a
        status nor a signal.
    """
    if not flags & {"EXIT", "DURATION"}:
        return None
    exitField = _exitField(exitStatus, exitSignal) if "EXIT" in flags else ""
    pidField = f" pid={pid}" if "PID" in flags else ""
    durationField = f" duration={int(duration)}(sec)" if "DURATION" in flags else ""
    return f"EXIT: {sanitise(serviceId)}{exitField}{pidField}{durationField}"


def formatFail(
    serviceId: str, reason: FailReason, flags: frozenset[str], host: str | None
) -> str | None:
    """
    The C{FAIL} entry of a refused connection.

    @param serviceId: the service's id.
    @param reason: why it was refused.
    @param flags: the service's C{log_on_failure} flags.
    @param host: the client's numeric address, or L{None}.
    @return: the entry, or L{None} when C{log_on_failure} is empty.
    """
    if not flags:
        return None
    return f"FAIL: {sanitise(serviceId)} {reason.value}{_fromField(flags, host)}"


def formatUserid(serviceId: str, text: str) -> str:
    """
    The C{USERID} entry of a successful ident lookup.

    @param serviceId: the service's id.
    @param text: what the ident server said after C{USERID :}, such as
        C{UNIX : alice}.
    @return: the entry.
    """
    return f"USERID: {sanitise(serviceId)} {sanitise(text)}"


def formatNoid(serviceId: str, host: str | None, reason: NoIdReason) -> str:
    """
    The C{NOID} entry of a connection refused because ident gave no user.

    @param serviceId: the service's id.
    @param host: the client's numeric address, or L{None}.
    @param reason: why the lookup failed.
    @return: the entry.
    """
    return f"NOID: {sanitise(serviceId)} {displayAddress(host)} {reason.value}"


def formatTraffic(serviceId: str, bytesIn: int, bytesOut: int) -> str:
    """
    The C{TRAFFIC} entry of a redirected session that ended.

    @param serviceId: the service's id.
    @param bytesIn: bytes from the client to the redirect target.
    @param bytesOut: bytes from the redirect target to the client.
    @return: the entry.
    """
    return f"TRAFFIC: {sanitise(serviceId)} in={bytesIn}(bytes) out={bytesOut}(bytes)"


def formatBadIdentLine(host: str | None, line: str) -> str:
    """
    The program-log ERROR for an ident reply that could not be used.

    @param host: the ident server's numeric address.
    @param line: its reply.
    @return: the message.
    """
    return f"Bad line received from identity server at {displayAddress(host)}: {sanitise(line)}"


def fileTimestamp(when: float) -> str:
    """
    The timestamp of a FILE log line: local time as C{YY/M/D@HH:MM:SS}, month
    and day not padded.

    @param when: a POSIX time.
    """
    key = (int(when), time.timezone, time.tzname)
    if _lastTimestamp[0] != key:
        t = time.localtime(key[0])
        _lastTimestamp[:] = [
            key,
            f"{t.tm_year % 100:02d}/{t.tm_mon}/{t.tm_mday}"
            f"@{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}",
        ]
    return str(_lastTimestamp[1])


#: The last timestamp made (a busy log writes many in one second).
_lastTimestamp: list[object] = [None, ""]


def syslogTimestamp(when: float) -> str:
    """
    The timestamp of a syslog datagram: local time as C{Mmm dd HH:MM:SS},
    English month, day padded with a space.

    @param when: a POSIX time.
    """
    t = time.localtime(when)
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def fileServiceLine(when: float, message: str) -> str:
    """
    A service-log line of a FILE target.

    @param when: the POSIX time of the event.
    @param message: a service-log entry (from L{formatStart} and friends).
    @return: C{<timestamp>: <message>} and a newline.
    """
    return f"{fileTimestamp(when)}: {sanitise(message)}\n"


def _programText(level: Level, pid: int, message: str, function: str | None) -> str:
    """
    A program message as both targets show it after their own prefix:
    CRITICAL messages name the process and the function that emitted them.
    """
    if level is Level.CRITICAL:
        return f"{pid} {{{sanitise(function or DEFAULT_FUNCTION)}}} {sanitise(message)}"
    return sanitise(message)


def fileProgramLine(
    when: float,
    progname: str,
    pid: int,
    level: Level,
    message: str,
    function: str | None = None,
) -> str:
    """
    A program-log line of a FILE target (C{-filelog}).

    @param when: the POSIX time of the message.
    @param progname: the program's name, C{xinetd}.
    @param pid: the process id of the writer.
    @param level: the message's level.
    @param message: the message.
    @param function: the name of the function that emitted a CRITICAL
        message; L{DEFAULT_FUNCTION} when L{None}.
    @return: C{<timestamp> <progname>[<pid>]: <LEVEL>: <text>} and a newline.
    """
    text = _programText(level, pid, message, function)
    return f"{fileTimestamp(when)} {progname}[{pid}]: {level.name}: {text}\n"


def _syslogMessage(priority: int, when: float, ident: str, pid: int, text: str) -> str:
    """
    A datagram for the local syslog socket, as syslog(3) sends it.
    """
    return f"<{priority}>{syslogTimestamp(when)} {ident}[{pid}]: {text}"


def syslogServiceMessage(
    when: float,
    facility: Facility,
    level: SyslogLevel,
    ident: str,
    pid: int,
    message: str,
) -> str:
    """
    A service-log datagram of a SYSLOG target.

    @param when: the POSIX time of the event.
    @param facility: the target's facility.
    @param level: the target's level.
    @param ident: the program name syslog shows, C{xinetd}.
    @param pid: the process id of the writer.
    @param message: a service-log entry.
    @return: C{<PRI>Mmm dd HH:MM:SS ident[pid]: message}.
    """
    return _syslogMessage(facility * 8 + level, when, ident, pid, sanitise(message))


def syslogProgramMessage(
    when: float,
    facility: Facility,
    level: Level,
    ident: str,
    pid: int,
    message: str,
    function: str | None = None,
) -> str:
    """
    A program-log datagram (C{-syslog}): no level word, CRITICAL messages
    still name the process and function.

    @param when: the POSIX time of the message.
    @param facility: the program log's facility.
    @param level: the message's level.
    @param ident: the program name syslog shows, C{xinetd}.
    @param pid: the process id of the writer.
    @param message: the message.
    @param function: see L{fileProgramLine}.
    @return: C{<PRI>Mmm dd HH:MM:SS ident[pid]: text}.
    """
    text = _programText(level, pid, message, function)
    return _syslogMessage(facility * 8 + level, when, ident, pid, text)
