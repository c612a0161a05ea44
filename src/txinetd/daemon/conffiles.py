# -*- test-case-name: tests.daemon.test_conffiles,tests.test_fuzz_config -*-
"""
Reading a configuration's files: the main one, what it includes, and
inetd.conf for C{-inetd_compat}.

Reading is bounded whatever the files say: a file is not included again
while it is being read (an include loop is reported), includes nest at most
L{MAX_INCLUDE_DEPTH} deep, at most L{MAX_FILES} files and L{MAX_SIZE} bytes
are read, only regular files and pipes are read (a pipe without a writer
reads as empty; a device such as C{/dev/zero} is refused).

With strict modes (the default), as sshd's C{StrictModes}, a file (the
inetd.conf included) or an C{includedir} directory that anyone but root and
the daemon's user could have written, or that is on a path such a user could
change, is refused (see L{txinetd.daemon.safefiles.openForReading}): it would
let that user run commands as root.

The text is parsed by L{txinetd.core.grammar}.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from txinetd.core.diagnostics import Diagnostics, Location, systemError
from txinetd.core.grammar import Entry, EntryParser
from txinetd.core.inetdconf import readEntries
from txinetd.daemon.safefiles import UnsafeFile, openForReading

MAX_INCLUDE_DEPTH = 16
#: At most this many files are read for one configuration...
MAX_FILES = 4096
#: ...and at most this many bytes, all files together.
MAX_SIZE = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


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
        EntryParser(path, text.split("\n"), self.diagnostics, self.entries, self).parse()

    def include(self, path: str, location: Location) -> None:
        self.noteRelative(path, location)
        self.readFile(path, location)

    def includeDirectory(self, directory: str, location: Location) -> None:
        self.noteRelative(directory, location)
        resolved = self.resolve(directory)
        if self.strictModes:
            problem = _directoryProblem(resolved)
            if problem is not None:
                self.diagnostics.error(
                    f"Unable to read included directory: {directory} ({problem})", location
                )
                return
        for path in includedFiles(resolved, directory, self.diagnostics, location):
            self.readFile(path, location)


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


def readBounded(stream: BinaryIO) -> bytes:
    """
    A stream's bytes to its end, at most L{MAX_SIZE} of them.

    @raise OSError: if reading fails or there are more.
    """
    data = stream.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise OSError(errno.EFBIG, f"larger than {MAX_SIZE} bytes")
    return data


def readInetdConf(path: str, strictModes: bool = False) -> bytes:
    """
    The bytes of an inetd.conf, which must be a regular file of at most
    L{MAX_SIZE} bytes (a device or a pipe is not opened for reading long).

    @param strictModes: refuse a file that others than root and the
        daemon's user could have written (see L{openForReading}).
    @raise OSError: if it cannot or may not be read; its C{strerror} says
        why (L{UnsafeFile}: strict modes refuse it).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = openForReading(path, flags) if strictModes else os.open(path, flags)
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return readBounded(f)


def parseInetdConf(path: str, diagnostics: Diagnostics, strictModes: bool = True) -> list[Entry]:
    """
    The service entries of an inetd.conf file; a file that cannot be read
    (see L{readInetdConf}) is no services (with a warning), and a missing one
    is no services silently, as xinetd (Debian's unit gives
    C{-inetd_compat} to systems that have no inetd.conf).  A file strict
    modes refuse is an error, as a refused C{include}: a reload that meets
    it is rejected, so the services read while it was safe keep running.
    """
    try:
        data = readInetdConf(path, strictModes)
    except FileNotFoundError:
        return []
    except UnsafeFile as e:
        diagnostics.error(f"Unable to read {path} ({e.strerror})")
        return []
    except OSError as e:
        diagnostics.warning(f"Unable to read {path}: {e.strerror}")
        return []
    diagnostics.noteFile(path)
    return readEntries(data.decode("utf-8", "surrogateescape"), path, diagnostics)
