# -*- test-case-name: tests.core.test_conffile,tests.test_fuzz_config -*-
"""
Configuration diagnostics: every problem found in a configuration, with the
file and line it comes from, collected so that all of them are reported at
once.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from txinetd.core.events import Level

#: At most this many diagnostics are kept for one configuration; the
#: others are counted in one last diagnostic (see L{Diagnostics.add}).
MAX_DIAGNOSTICS = 10_000
_SURROGATE = re.compile("[\ud800-\udfff]")


class Severity(enum.Enum):
    """
    How bad a diagnostic is.

    @cvar FATAL: the configuration cannot be used at all (unreadable main
        file, a bad C{defaults} section, no service left).
    @cvar ERROR: the entry it belongs to is dropped, the others run; or a
        line was ignored that the configuration cannot mean to have (an
        unknown attribute name): C{--check} fails and a reconfiguration is
        refused, but at start-up the entry runs without it, as in xinetd.
    @cvar WARNING: the line is ignored or taken in a way the user may not
        expect; the entry is kept.
    @cvar INFO: nothing is lost; said because it may not be what the user
        meant (a file that C{includedir} skips, as xinetd does).
    """

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def worse(self, other: Severity) -> Severity:
        """
        The worse of two severities.
        """
        return self if _RANK[self] <= _RANK[other] else other


_RANK = {severity: rank for rank, severity in enumerate(Severity)}

_LEVELS = {
    Severity.FATAL: Level.ERROR,
    Severity.ERROR: Level.ERROR,
    Severity.WARNING: Level.WARNING,
    Severity.INFO: Level.INFO,
}

#: The messages that xinetd writes at another level than their severity
#: gives: it drops a service for a bad type or flag, or for an empty list,
#: with a WARNING; it drops a token it cannot parse with an ERROR and keeps
#: the service; it notes an IPv6 fallback at INFO.
XINETD_LEVELS: tuple[tuple[re.Pattern[str], Level], ...] = (
    (
        re.compile(r"Bad (service type|service flag|log_on_success flag|log_on_failure flag): "),
        Level.WARNING,
    ),
    (re.compile(r"attribute \S+ expects at least 1 value and none was given\.$"), Level.WARNING),
    (re.compile(r"operator '-=' not supported for env attribute$"), Level.WARNING),
    (re.compile(r"failed to parse "), Level.ERROR),
    (re.compile(r"(Internal|Multi-threaded) services cannot be intercepted: "), Level.ERROR),
    (re.compile(r"Service \S+ will use IPv6 or fallback to IPv4$"), Level.INFO),
)


def printable(text: str) -> str:
    """
    C{text} with the bytes that are not UTF-8 (which the lexer keeps as
    surrogate escapes) written as C{\\xNN}, so that it can be written to
    any text stream.
    """

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(escape, text)


def didYouMean(word: str, known: Iterable[str]) -> str:
    """
    A hint naming the known word closest to a misspelt one.

    @param word: what the configuration says.
    @param known: the words it may say, as they are written in messages.
    @return: C{" (did you mean only_from?)"}, a hint about DOS line ends
        when the word is a known one followed by a carriage return, or an
        empty string when no known word is close enough.
    """
    spelling = {candidate.lower(): candidate for candidate in known}
    if word.endswith("\r") and word.rstrip("\r").lower() in spelling:
        return " (the line ends with a carriage return: the file has DOS line ends)"
    close = difflib.get_close_matches(word.lower(), list(spelling), n=1, cutoff=0.6)
    return f" (did you mean {spelling[close[0]]}?)" if close else ""


def systemError(error: OSError) -> str:
    """
    A failed system call's error as xinetd words it (its C{%m}):
    C{No such file or directory (errno = 2)}.
    """
    return f"{error.strerror} (errno = {error.errno})"


@dataclass(frozen=True)
class Location:
    """
    A place in a configuration file.

    @ivar path: the file's path as the configuration names it.
    @ivar line: the 1-based line number.
    """

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Diagnostic:
    """
    One problem in a configuration.

    @ivar severity: see L{Severity}.
    @ivar message: xinetd's message text for the problem.
    @ivar location: where it is, or L{None} for problems of the whole
        configuration.
    """

    severity: Severity
    message: str
    location: Location | None = None

    @property
    def level(self) -> Level:
        """
        The program-log level of the message: xinetd's, for a message xinetd
        writes too, else the one its severity gives.
        """
        for pattern, level in XINETD_LEVELS:
            if pattern.match(self.message):
                return level
        return _LEVELS[self.severity]

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location is not None else ""
        return printable(f"{where}{self.severity.value}: {self.message}")


class Diagnostics:
    """
    An ordered collection of L{Diagnostic}s.

    At most L{MAX_DIAGNOSTICS} are kept, so that a huge file of garbage
    cannot take unbounded memory; the rest are summed up in one diagnostic,
    as bad as the worst of them, at the place of the first.
    """

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._files: dict[str, int] = {}
        self._dropped = 0
        self._firstDropped: Location | None = None
        self._worstDropped = Severity.INFO

    def noteFile(self, path: str) -> None:
        """
        Record that a configuration file is being read, so that
        L{inFileOrder} can sort by the order in which files were read.
        """
        self._files.setdefault(path, len(self._files))

    def add(self, severity: Severity, message: str, location: Location | None = None) -> None:
        """
        Record a problem: keep it, or past L{MAX_DIAGNOSTICS}, count it in
        the summary that L{items} ends with.
        """
        if len(self._items) < MAX_DIAGNOSTICS:
            self._items.append(Diagnostic(severity, message, location))
            return
        if not self._dropped:
            self._firstDropped = location
        self._dropped += 1
        self._worstDropped = self._worstDropped.worse(severity)

    def error(self, message: str, location: Location | None = None) -> None:
        """
        Record an L{Severity.ERROR}.
        """
        self.add(Severity.ERROR, message, location)

    def warning(self, message: str, location: Location | None = None) -> None:
        """
        Record a L{Severity.WARNING}.
        """
        self.add(Severity.WARNING, message, location)

    def info(self, message: str, location: Location | None = None) -> None:
        """
        Record a L{Severity.INFO}.
        """
        self.add(Severity.INFO, message, location)

    def fatal(self, message: str, location: Location | None = None) -> None:
        """
        Record a L{Severity.FATAL} problem.
        """
        self.add(Severity.FATAL, message, location)

    @property
    def items(self) -> tuple[Diagnostic, ...]:
        """
        Every diagnostic, in the order found.
        """
        if not self._dropped:
            return tuple(self._items)
        summary = Diagnostic(
            self._worstDropped,
            f"{self._dropped} more problems from here on are not reported",
            self._firstDropped,
        )
        return (*self._items, summary)

    def inFileOrder(self) -> tuple[Diagnostic, ...]:
        """
        Every diagnostic, sorted by the order in which their files were read
        (see L{noteFile}), then by line; diagnostics without a location come
        first, and those of one line keep the order in which they were found.
        """

        def key(diagnostic: Diagnostic) -> tuple[int, int]:
            location = diagnostic.location
            if location is None:
                return (-1, 0)
            return (self._files.get(location.path, len(self._files)), location.line)

        return tuple(sorted(self.items, key=key))

    def count(self, *severities: Severity) -> int:
        """
        How many diagnostics have one of C{severities}.
        """
        return sum(1 for d in self.items if d.severity in severities)

    @property
    def isFatal(self) -> bool:
        """
        Whether any diagnostic is L{Severity.FATAL}.
        """
        return anyFatal(self.items)


def anyFatal(diagnostics: Iterable[Diagnostic]) -> bool:
    """
    Whether any of C{diagnostics} is L{Severity.FATAL}: the configuration
    they are about cannot be used at all.
    """
    return any(d.severity is Severity.FATAL for d in diagnostics)


class ConfigError(Exception):
    """
    A configuration that cannot be used.  Its string is every diagnostic,
    one per line.

    @ivar diagnostics: the L{Diagnostic}s.
    """

    def __init__(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        super().__init__("\n".join(str(d) for d in diagnostics))
        self.diagnostics = diagnostics
