# -*- test-case-name: tests.test_itox -*-
"""
C{txinetd-itox}: an inetd.conf converted to xinetd.conf service entries,
as xinetd's C{itox} and C{xconv.pl} do (section 12 of the reference).

Each inetd.conf line becomes the entry that C{-inetd_compat} would read
for it (L{txinetd.core.inetdconf.inetdEntry}), printed as a C{service} block,
so that the converted file and C{-inetd_compat} run the same services.
One thing changes on the way: a server wrapped in tcpd (C{server =
/usr/sbin/tcpd}, the real daemon's name as argv[0]) becomes an entry that
starts the real daemon and names it in C{libwrap}, so that txinetd checks
hosts.allow and hosts.deny itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import BinaryIO, TextIO

from txinetd.core.diagnostics import Diagnostics, Severity
from txinetd.core.grammar import AttributeLine, Entry
from txinetd.core.inetdconf import readEntries
from txinetd.daemon.conffiles import readBounded, readInetdConf

#: The tcp_wrappers daemon, recognised by the base name of C{server}.
TCPD = "tcpd"
#: The flags a tcpd entry loses: txinetd runs the real daemon with its own
#: argv[0] and applies libwrap itself.
_TCPD_FLAGS = frozenset({"NAMEINARGS", "NOLIBWRAP"})
#: Where the C{=} of attribute lines is aligned: a multiple of this.
TAB = 8
STDIN = "<stdin>"


def _attribute(entry: Entry, name: str) -> AttributeLine | None:
    return next((line for line in entry.lines if line.name == name), None)


def unwrapTcpd(entry: Entry, daemonDirectory: str | None, diagnostics: Diagnostics) -> Entry | None:
    """
    An entry whose server is tcpd as one that runs the real daemon
    (C{<daemonDirectory>/<argv0>}, or argv0 itself when it is absolute) with
    C{libwrap = <argv0's base name>} and without NAMEINARGS and NOLIBWRAP;
    any other entry unchanged.

    @return: the entry, or L{None} (with an error) if the daemon's path is
        unknown.
    """
    server = _attribute(entry, "server")
    arguments = _attribute(entry, "server_args")
    if server is None or arguments is None or os.path.basename(server.values[0]) != TCPD:
        return entry
    daemon, *daemonArguments = arguments.values
    if os.path.basename(daemon) == TCPD:
        diagnostics.error("tcpd needs the daemon's name as its first argument", entry.location)
        return None
    if not os.path.isabs(daemon):
        if daemonDirectory is None:
            diagnostics.error("You must use option --daemon-dir if you use tcpd", entry.location)
            return None
        daemon = os.path.join(daemonDirectory, daemon)
    libwrap = dataclasses.replace(arguments, name="libwrap", values=(os.path.basename(daemon),))
    serverArguments: tuple[AttributeLine, ...] = (libwrap,)
    if daemonArguments:
        serverArguments = (dataclasses.replace(arguments, values=tuple(daemonArguments)), libwrap)
    replacements = {
        "server": (dataclasses.replace(server, values=(daemon,)),),
        "server_args": serverArguments,
    }
    flags = _attribute(entry, "flags")
    if flags is not None:
        kept = tuple(flag for flag in flags.values if flag.upper() not in _TCPD_FLAGS)
        replacements["flags"] = (dataclasses.replace(flags, values=kept),) if kept else ()
    lines = tuple(new for line in entry.lines for new in replacements.get(line.name, (line,)))
    return dataclasses.replace(entry, lines=lines)


def formatEntry(entry: Entry) -> str:
    """
    A C{service} block, its C{=} signs aligned with tabs.
    """
    width = max(len(line.name) for line in entry.lines) // TAB * TAB + TAB
    body = "".join(
        f"\t{line.name}{_tabs(width - len(line.name))}{line.op.value} {' '.join(line.values)}\n"
        for line in entry.lines
    )
    return f"service {entry.name}\n{{\n{body}}}\n"


def _tabs(columns: int) -> str:
    return "\t" * -(-columns // TAB)


def convert(text: str, path: str, daemonDirectory: str | None, diagnostics: Diagnostics) -> str:
    """
    The xinetd.conf text of an inetd.conf's text: one block per service,
    separated by blank lines.
    """
    entries = (
        unwrapTcpd(entry, daemonDirectory, diagnostics)
        for entry in readEntries(text, path, diagnostics)
    )
    return "\n".join(formatEntry(entry) for entry in entries if entry is not None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="txinetd-itox",
        description="Convert an inetd.conf into xinetd.conf service entries (on standard output).",
    )
    parser.add_argument(
        "--daemon-dir",
        "-daemon_dir",
        metavar="DIR",
        help="where the daemons that tcpd starts live (needed when a line uses tcpd)",
    )
    parser.add_argument(
        "inetdConf",
        nargs="?",
        metavar="inetd.conf",
        help="the file to convert (default: standard input)",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """
    The C{txinetd-itox} command.

    @param argv: the arguments (default: the command line's).
    @return: the exit status: 1 if any line could not be converted (every
        problem is written to C{stderr} as C{file:line: severity: message}),
        0 otherwise.
    """
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout.buffer if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    arguments = _parser().parse_args(argv)
    path = arguments.inetdConf
    try:
        if path is None:
            path = STDIN
            data = readBounded(stdin)
        else:
            data = readInetdConf(path)
    except OSError as e:
        stderr.write(f"txinetd-itox: cannot read {path}: {e.strerror}\n")
        return 1
    diagnostics = Diagnostics()
    text = data.decode("utf-8", "surrogateescape")
    stdout.write(
        convert(text, path, arguments.daemon_dir, diagnostics).encode("utf-8", "surrogateescape")
    )
    stdout.flush()
    for diagnostic in diagnostics.inFileOrder():
        stderr.write(f"{diagnostic}\n")
    return 1 if diagnostics.count(Severity.ERROR, Severity.FATAL) else 0
