# -*- test-case-name: tests.test_command,tests.integration.test_command -*-
"""
C{txinetd}: a drop-in for the C{xinetd} binary.

It takes xinetd 2.3.15's command line as xinetd does (C{-f}, C{-filelog},
C{-syslog}, C{-pidfile}, C{-dontfork}, C{-stayalive}, C{-limit},
C{-logprocs}, C{-inetd_compat}, Debian's C{-inetd_ipv6}, C{-cc}, C{-d},
C{-version}, C{-reuse}, C{-shutdownprocs}, and txinetd's own options) and
runs the C{xinetd} twistd plugin through twistd's own runner: it is a
launcher, not a second daemon.

Without C{-dontfork} (or C{-d}) it forks as xinetd does: the process that
was started exits with status 0 once every service listens and the
C{-pidfile} holds the daemon's pid, or with status 1 and the reason on
standard error (a bad configuration, an option it does not know).  So the
units and init scripts that start C{xinetd} start C{txinetd} by its path
alone.  It writes no C{twistd.pid} and no C{twistd.log}: the daemon's own
messages go to C{-filelog} or C{-syslog} (the C{daemon} facility by
default, as xinetd's), with Twisted's errors; in the foreground they go to
standard output as well, as with C{twistd -n}.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from twisted.application import app
from twisted.logger import ILogObserver, LogLevel, formatEvent
from twisted.scripts._twistd_unix import ServerOptions, UnixApplicationRunner, UnixAppLogger
from zope.interface import implementer

from txinetd.core.events import Level
from txinetd.daemon.programlog import ProgramLogObserver
from txinetd.startup import LAUNCHER, parseOrExit
from txinetd.tap import Options, programLog

__all__ = ["Launch", "launchArguments", "main"]

#: The plugin's name for twistd.
PLUGIN = "xinetd"

#: xinetd's usage line, with txinetd's additions.
USAGE = (
    "Usage: txinetd [-d] [-f config_file] [-filelog filename] [-syslog facility] [-reuse] "
    "[-limit proc_limit] [-pidfile filename] [-logprocs limit] [-shutdownprocs limit] "
    "[-cc interval] [-dontfork] [-stayalive] [-inetd_compat] [-inetd_ipv6] [-version] "
    "[--check] [txinetd's options: txinetd --help]"
)

_FOREGROUND = frozenset({"-dontfork", "--dontfork", "-d", "--debug"})
_HELP = frozenset({"-h", "-help", "--help", "-?"})
_PROGRAM_LOG = frozenset({"-filelog", "--filelog", "-syslog", "--syslog"})


@dataclass(frozen=True)
class Launch:
    """
    How to run twistd for a C{txinetd} command line.

    @ivar foreground: whether txinetd stays in the foreground (C{-dontfork}
        or C{-d}), as xinetd does.
    @ivar twistd: twistd's command line, the plugin's options included.
    """

    foreground: bool
    twistd: tuple[str, ...]


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def launchArguments(arguments: Sequence[str], umask: int | None = None) -> Launch:
    """
    The twistd command line that runs txinetd as xinetd would run with
    C{arguments}: no pid file or log file of twistd's, xinetd's umask (the
    starting one with 022 added), and in the background the program log in
    syslog's C{daemon} facility unless C{-filelog} or C{-syslog} names one.

    @param umask: the starting umask (default: this process's).
    """
    foreground = any(argument in _FOREGROUND for argument in arguments)
    mask = (_umask() if umask is None else umask) | 0o022
    twistd = ["--pidfile=", f"--umask={mask:04o}"]
    if foreground:
        twistd.append("--nodaemon")
    plugin = list(arguments)
    named = any(argument.split("=", 1)[0] in _PROGRAM_LOG for argument in arguments)
    if not foreground and not named:
        plugin = ["-syslog", "daemon", *plugin]
    return Launch(foreground, (*twistd, PLUGIN, *plugin))


@implementer(ILogObserver)
class ForeignErrors:
    """
    Writes to the program log the warnings and errors of twistd's log that
    are not txinetd's own program messages (those reach the program log by
    themselves): Twisted's unhandled errors, chiefly.  The daemon's twistd
    log, which otherwise would be a C{twistd.log} in the working directory.
    """

    def __init__(self, programLog: ProgramLogObserver) -> None:
        self.programLog = programLog

    def __call__(self, event: dict[str, Any]) -> None:
        namespace = str(event.get("log_namespace", ""))
        if "xinetd_level" in event or namespace == "txinetd" or namespace.startswith("txinetd."):
            return
        level = event.get("log_level")
        if level not in (LogLevel.warn, LogLevel.error, LogLevel.critical):
            return
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text = f"{text}: {failure.type.__name__}: {failure.getErrorMessage()}"
        self.programLog(
            {
                "log_time": event.get("log_time", 0.0),
                "log_format": "{text}",
                "text": text,
                "xinetd_level": Level.WARNING if level is LogLevel.warn else Level.ERROR,
                "xinetd_function": namespace.rsplit(".", 1)[-1] or "twisted",
            }
        )


class _Logger(UnixAppLogger):
    """
    twistd's log: standard output in the foreground (as C{twistd -n}); in
    the background, L{ForeignErrors} to the program log.
    """

    def __init__(self, options: ServerOptions) -> None:
        super().__init__(options)
        self.pluginOptions = options.subOptions

    def _getLogObserver(self) -> Any:
        if self._nodaemon or not isinstance(self.pluginOptions, Options):
            return super()._getLogObserver()
        observer = programLog(self.pluginOptions)
        if observer is None:
            return super()._getLogObserver()
        return ForeignErrors(observer)


class _Runner(UnixApplicationRunner):
    """
    twistd's Unix runner, with txinetd's log.
    """

    loggerFactory = _Logger


def main(arguments: Sequence[str] | None = None) -> NoReturn:
    """
    Run txinetd as the C{xinetd} binary would run with C{arguments}
    (default: the process's).
    """
    if arguments is None:
        arguments = sys.argv[1:]
    if any(argument in _HELP for argument in arguments):
        sys.stdout.write(f"{USAGE}\n{Options().getUsage(width=100)}")
        raise SystemExit(0)
    launch = launchArguments(arguments)
    config = ServerOptions()
    config[LAUNCHER] = "txinetd"
    parseOrExit(config, launch.twistd, program="txinetd")
    runner = _Runner(config)
    runner.run()
    # xinetd exits with status 0 on SIGTERM (as on SIGQUIT); twistd would
    # end killed by it.  SIGINT, which xinetd ignores, ends it as twistd does.
    if runner._exitSignal not in (None, signal.SIGTERM):
        app._exitWithSignal(runner._exitSignal)
    raise SystemExit(0)
