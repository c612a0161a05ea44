# -*- test-case-name: tests.daemon.test_logtargets -*-
"""
The two kinds of log target, a FILE and the local syslog, and twistd's own
log file.

A target writes lines made by L{txinetd.core.logformat}: service-log entries
through C{writeService} and program messages through C{writeProgram}.  A
service's C{log_type = FILE path soft hard} is a L{FileLogTarget} with size
limits, C{-filelog path} is one without; C{log_type = SYSLOG facility level}
and C{-syslog facility} are L{SyslogTarget}s.

Neither target ever blocks the reactor for long: files are appended to with
one C{write} per line (or, while a L{txinetd.daemon.logbatch.WriteBatch} is
held, one for the lines of a reactor wake-up), and syslog datagrams are sent
on a non-blocking socket and dropped when syslog cannot take them.

A target reports its own trouble (a size limit reached, syslog unreachable)
once, as a program message given to its C{onProgramMessage} callable; by
default that is L{txinetd.daemon.programlog.programMessage}, so that it
reaches the program log and twistd's log.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket

from txinetd.core.events import Level, ProgramLog
from txinetd.core.logformat import (
    Facility,
    SyslogLevel,
    defaultHardLimit,
    fileProgramLine,
    fileServiceLine,
    syslogProgramMessage,
    syslogServiceMessage,
)
from txinetd.daemon.logbatch import WriteBatch
from txinetd.daemon.programlog import programMessage
from txinetd.daemon.safefiles import openForWriting

__all__ = [
    "FileLogTarget",
    "SyslogTarget",
    "TextLogFile",
    "appendAll",
    "openLogFile",
]

_FILE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
_FILE_MODE = 0o644

#: Paths that name the daemon's own standard streams: they are shared (so
#: that lines interleave with twistd's own output) rather than reopened.
_STANDARD_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}

_SYSLOG_BUSY = frozenset({errno.EAGAIN, errno.ENOBUFS})


def openLogFile(path: str) -> int:
    """
    Open a log file for appending.  A file that exists keeps its mode (the
    one logrotate's C{create} gave it, say); a file this call creates gets
    mode 0644 whatever the umask (a daemonized twistd's is 077), as xinetd's
    logs.

    It is never opened through a link another user planted (see
    L{txinetd.daemon.safefiles}).

    @return: the descriptor, close-on-exec.
    @raise OSError: if the file cannot be opened or created (L{UnsafeFile}
        if it is refused as unsafe).
    """
    while True:
        try:
            return openForWriting(path, _FILE_FLAGS)
        except FileNotFoundError:
            pass
        try:
            fd = openForWriting(path, _FILE_FLAGS | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        except FileExistsError:
            # Made by someone else meanwhile: open theirs.
            continue
        try:
            os.fchmod(fd, _FILE_MODE)
        except OSError:
            os.close(fd)
            raise
        return fd


def appendAll(fd: int, data: bytes) -> None:
    """
    Write all of C{data} to a file opened for appending.

    @raise OSError: if a write fails.
    """
    while data:
        data = data[os.write(fd, data) :]


class FileLogTarget:
    """
    A log file, appended to, with optional size limits.

    Past the soft limit the target reports one WARNING and goes on writing;
    past the hard limit it reports one ERROR and writes nothing more until
    L{reopen} finds the file below the hard limit again (after logrotate
    moved it away, for example).  The size is counted as lines are written,
    and read from the file only when it is opened.

    @ivar path: the file's path.
    @ivar logId: the name reports use for this log.
    @ivar softLimit: the soft limit in bytes, or L{None} for no size control.
    @ivar hardLimit: the hard limit in bytes, or L{None} for no size control.
    @ivar size: the file's size as far as this target knows.
    @ivar stopped: whether the hard limit stopped this target.
    """

    def __init__(
        self,
        path: str,
        softLimit: int | None = None,
        hardLimit: int | None = None,
        onProgramMessage: ProgramLog = programMessage,
        *,
        logId: str | None = None,
        progname: str = "xinetd",
        pid: int | None = None,
        batch: WriteBatch | None = None,
    ) -> None:
        """
        Open the file.

        @param path: the file; created with mode 0644 if missing.
        @param softLimit: the soft limit in bytes; L{None} or 0 turn size
            control off.
        @param hardLimit: the hard limit in bytes; L{None} means
            L{txinetd.core.logformat.defaultHardLimit} of C{softLimit}.
        @param onProgramMessage: receives this target's reports.
        @param logId: the name reports use for this log (the service id);
            the path when L{None}.
        @param progname: the program name of program lines.
        @param pid: the process id of program lines; the current one when
            L{None}.
        @param batch: while it is held, lines are kept and written together
            when it is let go (not on the daemon's standard streams, where
            they interleave with twistd's own lines as they come).
        @raise OSError: if the file cannot be opened.
        """
        self.path = path
        self.logId = path if logId is None else logId
        self.softLimit = softLimit or None
        self.hardLimit = self._hardLimit(self.softLimit, hardLimit)
        self._onProgramMessage = onProgramMessage
        self._progname = progname
        self._pid = pid
        self.size = 0
        self.stopped = False
        self._warned = False
        self._writeFailed = False
        self._cut = False
        self._batch = None if path in _STANDARD_STREAMS else batch
        self._held: list[bytes] = []
        self._fd: int | None = None
        self._open()

    @staticmethod
    def _hardLimit(softLimit: int | None, hardLimit: int | None) -> int | None:
        """
        The hard limit that goes with C{softLimit}.
        """
        if softLimit is None:
            return None
        return defaultHardLimit(softLimit) if hardLimit is None else hardLimit

    def _open(self) -> None:
        """
        Open the file, learn its size and check the limits.
        """
        stream = _STANDARD_STREAMS.get(self.path)
        if stream is not None:
            self._fd = os.dup(stream)
            os.set_inheritable(self._fd, False)
        else:
            self._fd = openLogFile(self.path)
        self.size = os.fstat(self._fd).st_size
        self.stopped = False
        self._warned = False
        self._writeFailed = False
        self._checkLimits()

    def _checkLimits(self) -> None:
        """
        Report a limit the file has just passed; stop at the hard one.
        """
        if self.softLimit is None or self.size <= self.softLimit:
            return
        if not self._warned:
            self._warned = True
            self._report(Level.WARNING, f"Size of {self.logId} log exceeded soft limit")
        if self.hardLimit is not None and self.size > self.hardLimit and not self.stopped:
            self.stopped = True
            self._report(Level.ERROR, f"Size of {self.logId} log exceeded hard limit")

    def _report(self, level: Level, message: str) -> None:
        """
        Give a report about this target to its callback.
        """
        self._onProgramMessage(level, message)

    def _write(self, line: str) -> None:
        """
        Append one line, unless the hard limit stopped this target; while
        the batch is held, keep it for L{writeHeld}.  Its size counts at
        once, so that a limit stops at the same line either way.
        """
        if self._fd is None or self.stopped:
            return
        data = line.encode("utf-8")
        batch = self._batch
        if batch is not None and batch.holding:
            if not self._held:
                batch.add(self)
            self._held.append(data)
            self.size += len(data)
            self._checkLimits()
            return
        self._append(data)

    def writeHeld(self) -> None:
        """
        Write the lines kept while the batch was held, with one write.
        """
        if not self._held:
            return
        data = b"".join(self._held)
        self._held = []
        self.size -= len(data)
        self._append(data)

    def _append(self, data: bytes) -> None:
        """
        Append C{data}.  A line that a full disk cut short is ended before
        the next one.
        """
        if self._fd is None:
            return
        if self._cut:
            # A full disk cut the last line short: end it first.
            data = b"\n" + data
        try:
            while data:
                written = os.write(self._fd, data)
                self.size += written
                self._cut = not data[:written].endswith(b"\n")
                data = data[written:]
        except OSError as e:
            self._writeError(e)
            return
        self._writeFailed = False
        self._checkLimits()

    def _writeError(self, error: OSError) -> None:
        """
        Report the first of a run of failed writes.
        """
        if not self._writeFailed:
            self._writeFailed = True
            self._report(Level.ERROR, f"Error in {self.logId} log: {error.strerror}")

    def writeService(self, message: str, when: float) -> None:
        """
        Append a service-log line.

        @param message: the entry, from L{txinetd.core.logformat}.
        @param when: the POSIX time of the event.
        """
        self._write(fileServiceLine(when, message))

    def writeProgram(
        self, level: Level, message: str, when: float, function: str | None = None
    ) -> None:
        """
        Append a program-log line.

        @param level: the message's level.
        @param message: its text.
        @param when: its POSIX time.
        @param function: for CRITICAL messages, the emitting function.
        """
        pid = os.getpid() if self._pid is None else self._pid
        self._write(fileProgramLine(when, self._progname, pid, level, message, function))

    def reopen(self) -> None:
        """
        Close the file and open the path again, as reconfiguration does so
        that a rotated log is followed.  If the path cannot be opened, an
        ERROR is reported and nothing is written until the next reopen.
        """
        self.close()
        try:
            self._open()
        except OSError as e:
            self._report(Level.ERROR, f"Cannot open {self.logId} log {self.path}: {e.strerror}")

    def close(self) -> None:
        """
        Close the file, once the lines kept for the batch are written.
        """
        self.writeHeld()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SyslogTarget:
    """
    The local syslog daemon, reached through its datagram socket.

    Each message is one datagram in the format of syslog(3) with the pid.
    Sending never blocks: when syslog is too slow the message is dropped;
    when its socket is gone the target reconnects at the next message.  The
    first message lost in a run of failures is reported once.

    @ivar facility: the facility of every message.
    @ivar level: the level of service-log messages.
    @ivar socketPath: the path of syslog's socket.
    """

    def __init__(
        self,
        facility: Facility,
        level: SyslogLevel = SyslogLevel.INFO,
        socketPath: str = "/dev/log",
        ident: str = "xinetd",
        pid: int | None = None,
        onProgramMessage: ProgramLog = programMessage,
    ) -> None:
        """
        @param facility: the facility of every message.
        @param level: the level of service-log messages.
        @param socketPath: the path of syslog's socket.
        @param ident: the program name syslog shows.
        @param pid: the process id syslog shows; the current one when
            L{None}.
        @param onProgramMessage: receives this target's reports.
        """
        self.facility = facility
        self.level = level
        self.socketPath = socketPath
        self._ident = ident
        self._pid = pid
        self._onProgramMessage = onProgramMessage
        self._socket: socket.socket | None = None
        self._failing = False

    @property
    def _currentPid(self) -> int:
        return os.getpid() if self._pid is None else self._pid

    def _connect(self) -> socket.socket:
        """
        A non-blocking datagram socket connected to syslog.

        @raise OSError: if syslog's socket cannot be reached.
        """
        if self._socket is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                sock.connect(self.socketPath)
            except OSError:
                sock.close()
                raise
            self._socket = sock
        return self._socket

    def _sendReconnecting(self, datagram: bytes) -> None:
        """
        Send on the current connection; if syslog went away, on a new one.

        @raise OSError: if the datagram could not be sent.
        """
        try:
            self._connect().send(datagram)
        except OSError as e:
            if e.errno in _SYSLOG_BUSY:
                raise
            self.close()
            self._connect().send(datagram)

    def _send(self, text: str) -> None:
        """
        Send one datagram, or report that messages are being lost.
        """
        try:
            self._sendReconnecting(text.encode("utf-8"))
        except OSError as e:
            self._lost(e)
            return
        self._failing = False

    def _lost(self, error: OSError) -> None:
        """
        Report the first message lost in a run of failures.
        """
        if not self._failing:
            self._failing = True
            self._onProgramMessage(
                Level.ERROR,
                f"Cannot send to syslog at {self.socketPath}: {error.strerror};"
                " messages are dropped",
            )

    def writeService(self, message: str, when: float) -> None:
        """
        Send a service-log message at this target's level.

        @param message: the entry, from L{txinetd.core.logformat}.
        @param when: the POSIX time of the event.
        """
        self._send(
            syslogServiceMessage(
                when, self.facility, self.level, self._ident, self._currentPid, message
            )
        )

    def writeProgram(
        self, level: Level, message: str, when: float, function: str | None = None
    ) -> None:
        """
        Send a program message at its own level.

        @param level: the message's level.
        @param message: its text.
        @param when: its POSIX time.
        @param function: for CRITICAL messages, the emitting function.
        """
        self._send(
            syslogProgramMessage(
                when, self.facility, level, self._ident, self._currentPid, message, function
            )
        )

    def close(self) -> None:
        """
        Close the socket; the next message opens a new one.
        """
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class TextLogFile:
    """
    twistd's own log file, written by a L{twisted.logger.textFileLogObserver}
    (C{write}, C{flush}) and reopened after logrotate moved it (L{reopen}).
    It is opened as the FILE targets are (see L{openLogFile}); a write that
    fails is dropped, as the log has nowhere else to say so.

    @ivar path: the file's path.
    """

    def __init__(self, path: str, batch: WriteBatch | None = None) -> None:
        """
        Open the file.

        @param batch: while it is held, what is written is kept and written
            together when it is let go.
        @raise OSError: if it cannot be opened.
        """
        self.path = path
        self._batch = batch
        self._held: list[bytes] = []
        self._fd: int | None = openLogFile(path)

    def write(self, text: str) -> None:
        if self._fd is None:
            return
        data = text.encode("utf-8", "replace")
        batch = self._batch
        if batch is not None and batch.holding:
            if not self._held:
                batch.add(self)
            self._held.append(data)
            return
        self._append(data)

    def writeHeld(self) -> None:
        """
        Write what was kept while the batch was held, with one write.
        """
        if self._held:
            data = b"".join(self._held)
            self._held = []
            self._append(data)

    def _append(self, data: bytes) -> None:
        if self._fd is not None:
            # Reporting the failure would log through this file again.
            with contextlib.suppress(OSError):
                appendAll(self._fd, data)

    def flush(self) -> None:
        """
        Nothing to flush: a write reaches the file at once, or, while the
        batch is held, when the reactor's wake-up ends.
        """

    def reopen(self) -> None:
        """
        Close the file and open the path again; if it cannot be opened,
        nothing is written until the next reopen (the error is reported to
        the program log).
        """
        self.close()
        try:
            self._fd = openLogFile(self.path)
        except OSError as e:
            programMessage(Level.ERROR, f"Cannot open twistd's log {self.path}: {e.strerror}")

    def close(self) -> None:
        """
        Close the file, once what was kept for the batch is written.
        """
        self.writeHeld()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
