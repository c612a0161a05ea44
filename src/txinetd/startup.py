# -*- test-case-name: tests.test_startup -*-
"""
Start-up problems, said so that an administrator can act on them: one line
that says what is wrong, where, and what to do, then exit status 1 (xinetd's
for a usage error, an unreadable file or a log it cannot open); never a
traceback, never a page of usage.

The twistd plugin (L{txinetd.tap}) reports with these its own option errors
and the problems of the twistd command line it runs under.  A launcher that
builds twistd's options itself (a C{txinetd} command) parses them with
L{parseOrExit}, checks what twistd will write with L{twistdProblem}, and
reports its own problems with L{exitWith}.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NoReturn, TextIO

from twisted.python import usage

from txinetd.core.config import Config

#: The exit status of every start-up problem, as xinetd's.
EXIT_FAILURE = 1

#: The key of twistd's options that names a launcher running the plugin
#: (the C{txinetd} command): its name is used in the messages, and it keeps
#: twistd's log itself (no file).
LAUNCHER = "txinetd_launcher"

#: twistd's options that are given after C{xinetd} by mistake.
TWISTD_OPTIONS = frozenset(
    {"n", "nodaemon", "l", "logfile", "umask", "u", "uid", "g", "gid", "r", "reactor"}
    | {"y", "python", "rundir", "chroot", "euid", "prefix", "spew", "originalname"}
)

#: twistd's default for C{-f} (a .tap file), which it ignores when a plugin
#: such as C{xinetd} is named.
TWISTD_TAP_DEFAULT = "twistd.tap"

_COERCION = "Parameter type enforcement failed: "


def exitWith(
    message: str, err: TextIO | None = None, program: str = "txinetd", status: int = EXIT_FAILURE
) -> NoReturn:
    """
    Write C{<program>: <message>} and exit.

    @param message: one line: what, where, what to do.
    @param err: where to write it (standard error by default).
    @param program: the name the line starts with.
    @param status: the exit status.
    @raise SystemExit: always.
    """
    (sys.stderr if err is None else err).write(f"{program}: {message}\n")
    raise SystemExit(status)


def optionName(option: str, singleDash: Collection[str] = ()) -> str:
    """
    An option as the command line spells it: C{--limit} as C{-limit} when
    it is one of xinetd's single-dash words.
    """
    name = option.lstrip("-")
    return f"-{name}" if option.startswith("--") and name in singleDash else option


def explainUsageError(
    error: usage.UsageError, singleDash: Collection[str] = (), helpCommand: str | None = None
) -> str:
    """
    The one line that says what is wrong with a command line, from the
    error Twisted's option parser raised.

    @param error: the parser's error.
    @param singleDash: the options spelt with one dash, for the messages.
    @param helpCommand: the command that lists the options; L{None} for the
        C{xinetd} plugin's (C{twistd xinetd --help}), where an option of
        twistd's given after C{xinetd} is also explained.
    """
    listing = "twistd xinetd --help" if helpCommand is None else helpCommand
    text = str(error)
    if text.startswith(_COERCION):
        return text[len(_COERCION) :]
    words = text.split()
    if len(words) >= 3 and words[0] == "option":
        option = optionName(words[1], singleDash)
        name = option.lstrip("-").split("=", 1)[0]
        if words[2:4] == ["not", "recognized"] and helpCommand is None and name in TWISTD_OPTIONS:
            return (
                f"unknown option {option}: it is an option of twistd; give it before the word "
                "xinetd"
            )
        if words[2:4] == ["not", "recognized"]:
            return f"unknown option {option}; see {listing}"
        if words[2:4] == ["requires", "argument"]:
            return f"option {option} needs a value; see {listing}"
        if words[2:5] == ["must", "not", "have"]:
            return f"option {option} takes no value; see {listing}"
    return text


def parseOrExit(
    options: usage.Options,
    arguments: Sequence[str],
    err: TextIO | None = None,
    program: str = "txinetd",
) -> None:
    """
    Parse a command line (twistd's options with the C{xinetd} plugin's
    after them, say); a usage error is reported in one line (see
    L{explainUsageError}, the options being listed by C{<program> --help})
    and ends the process with status 1.  The plugin reports its own errors
    the same way, from within the parse.
    """
    try:
        options.parseOptions(list(arguments))
    except usage.UsageError as e:
        exitWith(explainUsageError(e, helpCommand=f"{program} --help"), err, program)


def unwritable(path: str) -> str | None:
    """
    Why a file could not be written (created, or appended to), or L{None}
    if it can be.  Only permissions and a missing directory are looked at;
    nothing is created.
    """
    path = os.path.abspath(path)
    if os.path.exists(path):
        return None if os.access(path, os.W_OK) else os.strerror(errno.EACCES)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        return os.strerror(errno.ENOENT)
    return None if os.access(directory, os.W_OK | os.X_OK) else os.strerror(errno.EACCES)


def twistdProblem(serverOptions: Mapping[str, Any]) -> str | None:
    """
    What in twistd's own options keeps txinetd from starting as the user
    means (see L{misplacedFile} and L{unwritableFiles}).

    @param serverOptions: twistd's parsed options (C{file}, C{pidfile},
        C{logfile}, C{nodaemon}, C{syslog}).
    @return: the one-line message, or L{None}.
    """
    return misplacedFile(serverOptions) or unwritableFiles(serverOptions)


def misplacedFile(serverOptions: Mapping[str, Any]) -> str | None:
    """
    C{twistd -f conf xinetd}: twistd took C{-f}, for a .tap file it then
    ignores, and txinetd would read /etc/xinetd.conf.

    @return: the one-line message, or L{None}.
    """
    tap = serverOptions.get("file")
    if tap in (None, TWISTD_TAP_DEFAULT):
        return None
    return (
        f"-f {tap} was given to twistd, which takes it for a .tap file and ignores it; "
        f"txinetd's options go after xinetd: twistd ... xinetd -f {tap}"
    )


def unwritableFiles(serverOptions: Mapping[str, Any]) -> str | None:
    """
    A pid or log file twistd cannot write: twistd would fail later with a
    traceback, and a start in a directory the user may not write (C{/}, say)
    would surprise.

    @return: the one-line message, or L{None}.
    """
    pidfile = serverOptions.get("pidfile")
    if pidfile:
        why = unwritable(pidfile)
        if why is not None:
            return (
                f"twistd cannot write its pid file {os.path.abspath(pidfile)}: {why}; give twistd "
                "--pidfile= (no pid file) or --pidfile=PATH before xinetd"
            )
    logfile = twistdLogFile(serverOptions)
    if logfile is not None:
        why = unwritable(logfile)
        if why is not None:
            return logUnwritable(logfile, why)
    return None


def logUnwritable(path: str, why: str) -> str:
    """
    The message for a twistd log file that cannot be written.
    """
    return (
        f"twistd cannot write its log file {path}: {why}; give twistd --logfile=PATH before "
        "xinetd, or -n to log to standard output"
    )


def twistdLogFile(serverOptions: Mapping[str, Any]) -> str | None:
    """
    The file twistd writes its log to, or L{None} when it logs to standard
    output or syslog: C{--logfile}, or C{twistd.log} in the current
    directory when it daemonizes without one.
    """
    if serverOptions.get("syslog") or serverOptions.get("logger") or serverOptions.get(LAUNCHER):
        return None
    logfile = serverOptions.get("logfile")
    if logfile == "-" or (not logfile and serverOptions.get("nodaemon")):
        return None
    return os.path.abspath(logfile or "twistd.log")


def report(config: Config, out: TextIO) -> None:
    """
    Write every diagnostic of a configuration, one per line.
    """
    for diagnostic in config.diagnostics:
        out.write(f"{diagnostic}\n")
