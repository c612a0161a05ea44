# -*- test-case-name: tests.daemon.test_programlog -*-
"""
txinetd's program log: its own messages (C{Started working: 2 available
services}), each with a L{Level}.

Any part of the daemon writes one with L{programMessage}, a
L{twisted.logger} event in the C{txinetd} namespace that carries its
C{xinetd_level}; twistd's log shows it as any event, and the
L{ProgramLogObserver} of C{-filelog} or C{-syslog} writes it in xinetd's
format to its target.  The layers below the daemon are given
L{programMessage} (as a L{txinetd.core.events.ProgramLog}) rather than
import it.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import ILogObserver, Logger, LogLevel, formatEvent
from zope.interface import implementer

from txinetd.core.config import Config
from txinetd.core.events import Level
from txinetd.core.logformat import LogTarget

__all__ = [
    "PROGRAM_FORMAT",
    "ProgramLogObserver",
    "messageLevel",
    "messageText",
    "programMessage",
    "reportDiagnostics",
]

_log = Logger(namespace="txinetd")

#: The C{log_format} of a program message: its text alone.
PROGRAM_FORMAT = "{xinetd_text}"

_LEVELS_FROM_TWISTED = {
    LogLevel.debug: Level.DEBUG,
    LogLevel.info: Level.INFO,
    LogLevel.warn: Level.WARNING,
    LogLevel.error: Level.ERROR,
    LogLevel.critical: Level.CRITICAL,
}


_TWISTED_LEVELS = {
    Level.DEBUG: LogLevel.debug,
    Level.INFO: LogLevel.info,
    Level.NOTICE: LogLevel.info,
    Level.WARNING: LogLevel.warn,
    Level.ERROR: LogLevel.error,
    Level.CRITICAL: LogLevel.critical,
}


def programMessage(level: Level, text: str) -> None:
    """
    Write a message to txinetd's program log (and twistd's log): a
    twisted.logger event in the C{txinetd} namespace that carries its
    C{xinetd_level} and C{xinetd_text}, which L{ProgramLogObserver} renders.
    It is the default L{ProgramMessageCallback} of the targets.

    @param level: the message's level.
    @param text: its text.
    """
    _log.emit(_TWISTED_LEVELS[level], PROGRAM_FORMAT, xinetd_level=level, xinetd_text=text)


def messageLevel(event: dict[str, Any]) -> Level | None:
    """
    The program-log level of a twisted.logger event, or L{None} if it is
    not a program message: one that carries an C{xinetd_level} (a L{Level}
    or its name), or one in the C{txinetd} namespace or below it, whose
    C{log_level} gives the level.
    """
    explicit = event.get("xinetd_level")
    if explicit is not None:
        return explicit if isinstance(explicit, Level) else Level[explicit]
    namespace = event.get("log_namespace", "")
    if namespace == "txinetd" or namespace.startswith("txinetd."):
        return _LEVELS_FROM_TWISTED.get(event.get("log_level"))
    return None


def messageText(event: dict[str, Any]) -> str:
    """
    The text of a program message, with the error of a failure it carries.
    """
    text = event.get("xinetd_text")
    if type(text) is not str or event.get("log_format") != PROGRAM_FORMAT:
        # Anything but a program message's plain text: Twisted formats it.
        text = formatEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        text = f"{text}: {failure.getErrorMessage()}"
    return text


@implementer(ILogObserver)
class ProgramLogObserver:
    """
    Writes txinetd's twisted.logger events to a program log.

    An event is a program message when it carries an C{xinetd_level} (a
    L{Level} or its name), or when its namespace is C{txinetd} or below it,
    in which case its C{log_level} gives the level.  DEBUG messages are
    written only in debug mode.  A CRITICAL message names the function in
    the event's C{xinetd_function}, or the last part of its namespace.
    """

    def __init__(self, target: LogTarget, debug: bool = False) -> None:
        """
        @param target: the program log.
        @param debug: whether DEBUG messages are written.
        """
        self._target = target
        self._debug = debug

    def reopen(self) -> None:
        """
        Reopen the program log if it is a file (log rotation).
        """
        reopen = getattr(self._target, "reopen", None)
        if reopen is not None:
            reopen()

    def __call__(self, event: dict[str, Any]) -> None:
        """
        Write one event, if it is a program message.

        @param event: a twisted.logger event.
        """
        level = self._level(event)
        if level is None or (level is Level.DEBUG and not self._debug):
            return
        self._target.writeProgram(
            level, self._text(event), event["log_time"], self._function(event)
        )

    _level = staticmethod(messageLevel)
    _text = staticmethod(messageText)

    @staticmethod
    def _function(event: dict[str, Any]) -> str | None:
        """
        The function a CRITICAL event names.
        """
        function = event.get("xinetd_function")
        if function is not None:
            return str(function)
        namespace = event.get("log_namespace")
        return None if namespace is None else str(namespace).rsplit(".", 1)[-1]


def reportDiagnostics(config: Config) -> None:
    """
    Write every problem of a configuration to the program log, the way
    xinetd words parse messages.
    """
    for diagnostic in config.diagnostics:
        text = diagnostic.message
        if diagnostic.location is not None:
            where = diagnostic.location
            text = f"{text} [file={where.path}] [line={where.line}]"
        programMessage(diagnostic.level, text)
