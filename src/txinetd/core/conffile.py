# -*- test-case-name: tests.core.test_conffile,tests.test_fuzz_config -*-
"""
The xinetd.conf lexer and parser: text to raw entries.

This module knows the grammar only (section 2 of the xinetd reference):
C{defaults} and C{service} entries, attribute lines with C{=}, C{+=} and
C{-=}, C{include} and C{includedir}.  What an attribute means is
L{txinetd.core.attributes}' business and how entries combine is
L{txinetd.core.config}'s.

Reading is bounded whatever the files say: a file is not included again
while it is being read (an include loop is reported), includes nest at most
L{MAX_INCLUDE_DEPTH} deep, at most L{MAX_FILES} files and L{MAX_SIZE} bytes
are read, only regular files and pipes are read (a pipe without a writer
reads as empty; a device such as C{/dev/zero} is refused).

With strict modes (the default), as sshd's C{StrictModes}, a file or an
C{includedir} directory that anyone but root and the daemon's user could
have written, or that is on a path such a user could change, is refused
(see L{txinetd.daemon.safefiles.openForReading}): it would let that user run
commands as root.
"""

from __future__ import annotations

import enum
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from txinetd.core.diagnostics import Diagnostics, Location, Severity, systemError
from txinetd.daemon.safefiles import UnsafeFile, openForReading

MAX_LINE = 16 * 1024
TOO_LONG = f"line longer than {MAX_LINE} characters"
MAX_INCLUDE_DEPTH = 16
#: At most this many files are read for one configuration...
MAX_FILES = 4096
#: ...and at most this many bytes, all files together.
MAX_SIZE = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
#: What C{isspace} accepts in the C locale: white space for blank lines,
#: entry braces and the end of an attribute name.
WHITESPACE = " \t\n\v\f\r"


class Operator(enum.Enum):
    """
    An attribute line's operator.
    """

    SET = "="
    ADD = "+="
    REMOVE = "-="


class EntryKind(enum.Enum):
    """
    The two kinds of entry.
    """

    DEFAULTS = "defaults"
    SERVICE = "service"


@dataclass(frozen=True)
class AttributeLine:
    """
    One C{name op values...} line.

    @ivar name: the attribute name, in lower case.
    @ivar op: its L{Operator}.
    @ivar values: the value tokens (possibly none).
    @ivar location: where the line is.
    """

    name: str
    op: Operator
    values: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Entry:
    """
    A C{defaults} or C{service} entry whose lines all parsed.

    @ivar kind: its L{EntryKind}.
    @ivar name: the service name (the word after C{service}); C{"defaults"}
        for a defaults entry.
    @ivar location: where its first line is.
    @ivar lines: its attribute lines, in order.
    """

    kind: EntryKind
    name: str
    location: Location
    lines: tuple[AttributeLine, ...]


class _LineSyntaxError(Exception):
    """
    An attribute line that does not parse.
    """


def _tokens(text: str) -> list[str]:
    """
    Split on spaces and tabs only, as xinetd does: a CR or any other
    character stays part of its token.
    """
    return [token for token in text.replace("\t", " ").split(" ") if token]


def _isBlank(text: str) -> bool:
    stripped = text.lstrip(WHITESPACE)
    return not stripped or stripped.startswith("#")


def _isClosing(text: str) -> bool:
    return text.strip(WHITESPACE) == "}"


def _isCommentedClosing(text: str) -> bool:
    """
    Whether a line is C{}} followed by a comment, which txinetd takes as
    the end of the entry (xinetd takes it as a bad attribute line).
    """
    words = _tokens(text)
    return len(words) >= 2 and words[0] == "}" and words[1].startswith("#")


def _closes(text: str) -> bool:
    return "}" in text and (_isClosing(text) or _isCommentedClosing(text))


def _isOpening(text: str) -> bool:
    return text.strip(WHITESPACE) == "{"


#: The words that begin a top-level line.
_TOP_LEVEL = frozenset({"defaults", "service", "include", "includedir"})


def _startsEntry(text: str) -> bool:
    """
    Whether a line inside an entry is the start of another: a top-level
    keyword not followed by an operator (no attribute has such a name), so
    the entry it is in lacks its C{}}.
    """
    words = _tokens(text)
    return (
        bool(words)
        and words[0].lower() in _TOP_LEVEL
        and not (len(words) > 1 and words[1].startswith(("=", "+=", "-=")))
    )


class _Unreadable(Exception):
    """
    A configuration file that cannot or may not be read.

    @ivar reason: why, in words added to the message about an included
        file; L{None} where xinetd's message gives no reason.
    """

    def __init__(self, text: str, reason: str | None = None) -> None:
        super().__init__(text)
        self.reason = reason

    @classmethod
    def fromError(cls, error: OSError) -> _Unreadable:
        """
        The failure of a system call, reported as xinetd reports it.
        """
        return cls(systemError(error))

    @classmethod
    def refused(cls, reason: str) -> _Unreadable:
        """
        A file that txinetd will not read.
        """
        return cls(reason, reason)


class _Configuration:
    """
    What the readers of one configuration's files share: where entries and
    diagnostics go, and the limits that bound the time and memory that any
    input takes (include loops, devices, pipes, huge files).

    @ivar files: how many more files may be read (L{MAX_FILES}).
    @ivar size: how many more bytes may be read (L{MAX_SIZE}).
    @ivar reading: the identities (device, inode) of the files being read,
        outermost first: the current chain of includes.
    """

    def __init__(
        self,
        diagnostics: Diagnostics,
        entries: list[Entry],
        baseDirectory: str,
        warnRelative: bool = False,
        strictModes: bool = True,
    ) -> None:
        self.diagnostics = diagnostics
        self.entries = entries
        self.baseDirectory = baseDirectory
        self.warnRelative = warnRelative
        self.strictModes = strictModes
        self.files = MAX_FILES
        self.size = MAX_SIZE
        self.reading: list[tuple[int, int]] = []

    def readFile(self, path: str, includedFrom: Location | None = None) -> None:
        """
        Parse one configuration file and, recursively, what it includes,
        appending its entries in file order.

        @param path: the file, as the configuration (or command line) names
            it; a relative path is resolved against the base directory.
        @param includedFrom: the C{include} line, or L{None} for the main
            file.
        """
        try:
            data, identity = self.load(path)
        except _Unreadable as e:
            self.reportUnreadable(path, e, includedFrom)
            return
        self.reading.append(identity)
        try:
            self.parseText(data.decode("utf-8", "surrogateescape"), path)
        finally:
            self.reading.pop()

    def reportUnreadable(
        self, path: str, error: _Unreadable, includedFrom: Location | None
    ) -> None:
        if includedFrom is None:
            self.diagnostics.fatal(f"open( {path} ) failed: {error}")
            return
        # A system error comes with the path the system was given; a file
        # txinetd refuses, with the reason.
        reason = (
            f"{self.named(path)}: {error}" if error.reason is None else f"{path} ({error.reason})"
        )
        self.diagnostics.error(
            f"Unable to open included configuration file: {reason}", includedFrom
        )

    def resolve(self, path: str) -> str:
        """
        The path a configuration's path stands for: relative paths are
        resolved against the base directory.
        """
        return os.path.normpath(os.path.join(self.baseDirectory, path))

    def named(self, path: str) -> str:
        """
        A path as the configuration writes it, followed by the path it
        resolves to when that differs.
        """
        resolved = self.resolve(path)
        return path if resolved == path else f"{path} ({resolved})"

    def noteRelative(self, path: str, location: Location) -> None:
        """
        Warn, when asked to, about an include path that depends on the
        directory txinetd is started in.
        """
        if self.warnRelative and not os.path.isabs(path):
            self.diagnostics.warning(
                f"relative path {path} resolves against the directory txinetd starts in "
                f"(here {self.baseDirectory}; / under systemd); give an absolute path",
                location,
            )

    def load(self, path: str) -> tuple[bytes, tuple[int, int]]:
        """
        Read a file within the limits: it must be a regular file or a pipe,
        not one of the files being read, and fit in what is left of
        L{MAX_SIZE}.  A pipe is read to its end; one without a writer reads
        as empty.

        @return: its bytes and its identity.
        @raise _Unreadable: if it cannot or may not be read.
        """
        if len(self.reading) > MAX_INCLUDE_DEPTH:
            raise _Unreadable.refused(f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
        if self.files <= 0:
            raise _Unreadable.refused(f"more than {MAX_FILES} files read")
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        full = os.path.join(self.baseDirectory, path)
        try:
            fd = openForReading(full, flags) if self.strictModes else os.open(full, flags)
        except UnsafeFile as e:
            raise _Unreadable.refused(str(e.strerror)) from None
        except OSError as e:
            raise _Unreadable.fromError(e) from None
        except ValueError:
            # No file name holds a NUL byte.
            raise _Unreadable.refused("a NUL byte in the name") from None
        try:
            info = os.fstat(fd)
            identity = self.check(info)
            if stat.S_ISFIFO(info.st_mode):
                os.set_blocking(fd, True)
            self.files -= 1
            return self.readAll(fd), identity
        finally:
            os.close(fd)

    def check(self, info: os.stat_result) -> tuple[int, int]:
        """
        Refuse what L{load} may not read.

        @return: the file's identity.
        @raise _Unreadable: if it is not a regular file or a pipe, or if it
            is one of the files being read.
        """
        if stat.S_ISDIR(info.st_mode):
            raise _Unreadable.fromError(OSError(errno.EISDIR, os.strerror(errno.EISDIR)))
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise _Unreadable.refused("not a regular file")
        identity = (info.st_dev, info.st_ino)
        if identity in self.reading:
            raise _Unreadable.refused("include loop")
        return identity

    def readAll(self, fd: int) -> bytes:
        """
        Read a file to its end, counting its bytes against L{MAX_SIZE}.

        @raise _Unreadable: if it does not fit or reading fails (a
            regular file that would block, such as C{/proc/kmsg}, fails).
        """
        chunks = []
        try:
            while chunk := os.read(fd, min(_CHUNK, self.size + 1)):
                chunks.append(chunk)
                self.size -= len(chunk)
                if self.size < 0:
                    raise _Unreadable.refused(f"configuration larger than {MAX_SIZE} bytes")
        except OSError as e:
            raise _Unreadable.fromError(e) from None
        return b"".join(chunks)

    def parseText(self, text: str, path: str) -> None:
        self.diagnostics.noteFile(path)
        _FileReader(self, path, text.split("\n")).parse()


class _FileReader:
    """
    The parser of one file; includes are parsed by nested readers that share
    one L{_Configuration}.
    """

    def __init__(self, configuration: _Configuration, path: str, lines: list[str]) -> None:
        self.configuration = configuration
        self.path = path
        self.lines = lines
        self.diagnostics = configuration.diagnostics
        self.entries = configuration.entries
        self.index = 0

    def location(self, index: int | None = None) -> Location:
        return Location(self.path, (self.index if index is None else index) + 1)

    def nextLine(self) -> tuple[int, str] | None:
        """
        The next line that is neither blank nor a comment, or L{None} at the
        end of the file.
        """
        while self.index < len(self.lines):
            index = self.index
            text = self.lines[index]
            self.index += 1
            if not _isBlank(text):
                return index, text
        return None

    def skipEntry(self, location: Location) -> None:
        """
        Skip lines up to and including the next line that closes an entry,
        as xinetd does to resynchronise after an error, or up to the next
        line that starts an entry (which is read next; xinetd would skip it
        too).

        @param location: the entry being skipped, for the warning given when
            the file ends first.
        """
        while (item := self.nextLine()) is not None:
            if _closes(item[1]):
                return
            if _startsEntry(item[1]):
                self.index = item[0]
                return
        self.diagnostics.warning("missing } in last service entry", location)

    def entryError(self, kind: EntryKind, message: str, location: Location) -> None:
        """
        Report an error that loses an entry: an error for a service, fatal
        for the defaults (losing them could lose an C{only_from}).
        """
        severity = Severity.FATAL if kind is EntryKind.DEFAULTS else Severity.ERROR
        self.diagnostics.add(severity, message, location)

    def parse(self) -> None:
        while (item := self.nextLine()) is not None:
            index, text = item
            if len(text) > MAX_LINE:
                self.diagnostics.error(TOO_LONG + "; ignored", self.location(index))
                continue
            words = _tokens(text)
            keyword = words[0].lower()
            location = self.location(index)
            if keyword == "defaults":
                self.parseEntry(EntryKind.DEFAULTS, "defaults", location)
            elif keyword not in ("service", "include", "includedir"):
                self.diagnostics.error("missing service keyword", location)
                self.skipEntry(location)
            elif len(words) < 2:
                self.diagnostics.error("service name missing", location)
                self.skipEntry(location)
            elif keyword == "service":
                self.parseEntry(EntryKind.SERVICE, words[1], location)
            elif keyword == "include":
                self.include(words[1], location)
            else:
                self.includeDirectory(words[1], location)

    def parseEntry(self, kind: EntryKind, name: str, location: Location) -> None:
        item = self.nextLine()
        if item is None or not _isOpening(item[1]):
            label = "defaults" if kind is EntryKind.DEFAULTS else f"Service {name}"
            self.entryError(kind, f"{label}: missing '{{'", location)
            if item is None or not _closes(item[1]):
                self.skipEntry(location)
            return
        lines: list[AttributeLine] = []
        broken = False
        while (item := self.nextLine()) is not None:
            index, text = item
            if _isClosing(text):
                break
            if _isCommentedClosing(text):
                self.diagnostics.warning(
                    "'}' followed by a comment closes the entry here; xinetd 2.3.15 "
                    "would discard this entry and the next one",
                    self.location(index),
                )
                break
            if _startsEntry(text):
                # The entry lacks its '}': it ends here, and this line is
                # read again as the start of the next one.
                self.index = index
                if not broken:
                    self.entryError(kind, self.unclosed(kind, name, location), self.location(index))
                return
            if broken:
                continue
            if len(text) > MAX_LINE:
                self.entryError(kind, TOO_LONG, self.location(index))
                broken = True
                continue
            try:
                lines.append(self.parseAttribute(text, self.location(index)))
            except _LineSyntaxError as e:
                self.entryError(kind, str(e), self.location(index))
                broken = True
        else:
            self.entryError(kind, "incomplete entry", location)
            self.diagnostics.warning("missing } in last service entry", location)
            return
        if not broken:
            self.entries.append(Entry(kind, name, location, tuple(lines)))

    @staticmethod
    def unclosed(kind: EntryKind, name: str, location: Location) -> str:
        """
        The message for an entry whose C{}} is missing, given at the line
        that starts the next entry.
        """
        label = "the defaults" if kind is EntryKind.DEFAULTS else f"service {name}"
        return (
            f"missing '}}' before this line: {label}, opened at line {location.line}, ends "
            "here and is discarded"
        )

    def parseAttribute(self, text: str, location: Location) -> AttributeLine:
        body = text.lstrip(WHITESPACE)
        end = 0
        while end < len(body) and body[end] not in WHITESPACE + "=":
            end += 1
        name, rest = body[:end], body[end:]
        if rest.startswith("="):
            raise _LineSyntaxError(f"Attribute {name} needs a space before operator")
        rest = rest.lstrip(WHITESPACE)
        if not rest:
            raise _LineSyntaxError(f"Nothing after attribute: {name}")
        for op in (Operator.ADD, Operator.REMOVE, Operator.SET):
            if rest.startswith(op.value):
                break
        else:
            raise _LineSyntaxError(f"Bad operator for attribute: {name}")
        values = _tokens(rest[len(op.value) :])
        for position, token in enumerate(values):
            if token.startswith("#"):
                self.diagnostics.warning(
                    f"'{' '.join(values[position:])}' after the values of {name} is taken as a "
                    "comment; xinetd 2.3.15 would take it as values",
                    location,
                )
                values = values[:position]
                break
        return AttributeLine(name.lower(), op, tuple(values), location)

    def include(self, path: str, location: Location) -> None:
        self.configuration.noteRelative(path, location)
        self.configuration.readFile(path, location)

    def includeDirectory(self, directory: str, location: Location) -> None:
        self.configuration.noteRelative(directory, location)
        resolved = self.configuration.resolve(directory)
        if self.configuration.strictModes:
            problem = _directoryProblem(resolved)
            if problem is not None:
                self.diagnostics.error(
                    f"Unable to read included directory: {directory} ({problem})", location
                )
                return
        for path in includedFiles(resolved, directory, self.diagnostics, location):
            self.configuration.readFile(path, location)


def _directoryProblem(path: str) -> str | None:
    """
    Why an C{includedir} directory may not be read with strict modes, or
    L{None} (a directory that cannot be opened is reported by
    L{includedFiles}).
    """
    try:
        os.close(openForReading(path, os.O_RDONLY | os.O_DIRECTORY))
    except UnsafeFile as e:
        return str(e.strerror)
    except (OSError, ValueError):
        return None
    return None


def includedFiles(
    resolved: str, directory: str, diagnostics: Diagnostics, location: Location
) -> Iterator[str]:
    """
    The files of an C{includedir}, in byte order, skipping names that contain
    a dot or end in C{~} (as xinetd, which says nothing: txinetd names each,
    since packages ship files such as C{finger.xinetd} meant to be copied
    under another name) and entries that are not regular files.

    @param resolved: the directory's path, resolved against the base
        directory.
    @param directory: the directory's path as the configuration writes it
        (used in messages and in the yielded paths).
    """
    named = directory if resolved == directory else f"{directory} ({resolved})"
    try:
        names = os.listdir(resolved)
    except OSError as e:
        diagnostics.error(f"Unable to read included directory: {named}: {systemError(e)}", location)
        return
    except ValueError:
        # No directory name holds a NUL byte.
        diagnostics.error(
            f"Unable to read included directory: {directory} (a NUL byte in the name)", location
        )
        return
    for name in sorted(names, key=os.fsencode):
        path = os.path.join(directory, name)
        if "." in name or name.endswith("~"):
            which = "contains a dot" if "." in name else "ends in ~"
            diagnostics.info(
                f"{path} is skipped: includedir reads no file whose name {which}, as xinetd",
                location,
            )
            continue
        try:
            mode = os.stat(os.path.join(resolved, name)).st_mode
        except OSError as e:
            diagnostics.error(f"Unable to stat includedir file {path}: {systemError(e)}", location)
            continue
        if not stat.S_ISREG(mode):
            diagnostics.error(f"{path} is not a regular file. It is being skipped.", location)
            continue
        yield path


def parseText(
    text: str, path: str, diagnostics: Diagnostics, baseDirectory: str, strictModes: bool = True
) -> list[Entry]:
    """
    Parse configuration text as if it had been read from C{path}; files it
    includes are read from disk.

    @param strictModes: refuse included files and directories that others
        than root and the daemon's user could have written.
    @return: the entries that parsed, in file order.
    """
    entries: list[Entry] = []
    configuration = _Configuration(diagnostics, entries, baseDirectory, strictModes=strictModes)
    configuration.parseText(text, path)
    return entries


def parseConfig(
    path: str,
    diagnostics: Diagnostics,
    baseDirectory: str,
    warnRelative: bool = False,
    strictModes: bool = True,
) -> list[Entry]:
    """
    Parse a configuration file and everything it includes.

    @param path: the main configuration file.
    @param diagnostics: where every problem is recorded.
    @param baseDirectory: the directory relative paths are resolved against
        (the daemon's working directory at start-up).
    @param warnRelative: whether relative C{include} and C{includedir}
        paths are warned about (C{--check}).
    @param strictModes: refuse files and directories that others than root
        and the daemon's user could have written (see L{_Configuration}).
    @return: the entries that parsed, in file order, includes expanded in
        place.
    """
    entries: list[Entry] = []
    _Configuration(diagnostics, entries, baseDirectory, warnRelative, strictModes).readFile(path)
    return entries
