# -*- test-case-name: tests.serve.test_hostsfiles -*-
"""
hosts.allow and hosts.deny read, and kept current while txinetd runs.

libwrap reads both files at every connection, and the tools that ban
clients (fail2ban's C{hostsdeny} action, DenyHosts, sshguard) and admins
count on that: a rule written there applies to the very next connection.
txinetd applies a change (an edit in place, a new file renamed over the
old one, a file created or removed) from the next decision on, without
reading unchanged files for every connection and without ever reading a
file on the reactor thread.  Two ways of noticing a change:

  - inotify (Linux): the directories of both files are watched.  Before
    each decision the events already queued are read (a non-blocking read
    of the inotify descriptor, so that a change made just before a
    connection arrived is seen by it); a file that changed is read again
    in a thread, and decisions wait for that read.  A decision costs one
    system call.
  - without inotify (another system, no inotify instance left, a watched
    directory removed): each decision stats both files in a thread, as the
    name lookups run, and reads again a file whose device, inode, size or
    times changed.  Concurrent decisions share the checks: at most one
    runs, and the decisions that arrived while it ran wait for the next.

L{HostsFiles.current} gives the rules to decide with.
"""

from __future__ import annotations

import array
import fcntl
import os
import stat
import termios
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.python.filepath import FilePath

from txinetd.core.events import Level, ProgramLog
from txinetd.core.libwrap import HostsAccess, HostsTable, parseHostsTable

__all__ = ["HostsFiles", "Notifier", "inotifyNotifier", "readHostsAccess", "readHostsFile"]

_T = TypeVar("_T")

RunInThread = Callable[..., Deferred[Any]]
"""
Runs a function with arguments in a thread; a L{Deferred} of its result.
"""

# inotify(7) event bits (as in twisted.internet.inotify).
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_IGNORED = 0x00008000

#: What a change of a file in a watched directory looks like.
WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)

#: Events that end a watch: the directory is gone.
WATCH_LOST = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED


class Notifier(Protocol):
    """
    What L{HostsFiles} needs of an inotify watcher
    (L{twisted.internet.inotify.INotify}).
    """

    def watch(
        self,
        path: FilePath[Any],
        mask: int = ...,
        autoAdd: bool = ...,
        callbacks: list[Callable[..., None]] | None = ...,
        recursive: bool = ...,
    ) -> Any:
        """
        Call every callback with C{(ignored, path, mask)} for each event of
        C{path} (a directory: its entries) that C{mask} selects.
        """

    def doRead(self) -> None:
        """
        Read and dispatch the events queued, without blocking.
        """

    def fileno(self) -> int:
        """
        The inotify descriptor.
        """

    def startReading(self) -> None:
        """
        Read events whenever the reactor sees them.
        """

    def loseConnection(self) -> None:
        """
        Stop watching.
        """


def inotifyNotifier(reactor: Any) -> Notifier | None:
    """
    An inotify watcher on C{reactor}, or L{None} where there is no inotify
    (or no instance left).
    """
    try:
        from twisted.internet.inotify import INotify

        notifier: Notifier = INotify(reactor)  # type: ignore[no-untyped-call]
    except Exception:
        return None
    return notifier


def _threadPool(reactor: Any) -> RunInThread:
    from twisted.internet.threads import deferToThreadPool

    def run(function: Callable[..., _T], *arguments: Any) -> Deferred[_T]:
        running: Deferred[_T] = deferToThreadPool(
            reactor, reactor.getThreadPool(), function, *arguments
        )
        return running

    return run


FileSignature = tuple[int, int, int, int, int]
"""
What tells a version of a file from another: its device, inode, size and
modification and change times (nanoseconds).
"""


def signatureOf(info: os.stat_result) -> FileSignature:
    """
    The L{FileSignature} of a file's status.
    """
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def fileSignature(path: str) -> FileSignature | None:
    """
    The L{FileSignature} of the file at C{path}, or L{None} if there is
    none (or it cannot be looked at).
    """
    try:
        return signatureOf(os.stat(path))
    except OSError:
        return None


def readHostsFile(path: str, allows: bool) -> tuple[FileSignature | None, HostsTable]:
    """
    Read and compile an access control file, with the signature of the
    version read.  A missing file is empty; a file that cannot be read is
    empty with a warning.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, HostsTable()
    except OSError as error:
        return fileSignature(path), HostsTable((), (f"cannot open {path}: {error.strerror}",))
    try:
        info = os.fstat(descriptor)
        signature = signatureOf(info)
        if not stat.S_ISREG(info.st_mode):
            reason = "Is a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return signature, HostsTable((), (f"cannot open {path}: {reason}",))
        chunks = []
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
    except OSError as error:
        return fileSignature(path), HostsTable((), (f"cannot read {path}: {error.strerror}",))
    finally:
        os.close(descriptor)
    return signature, parseHostsTable(path, b"".join(chunks).decode("utf-8", "replace"), allows)


def readHostsTable(path: str, allows: bool) -> HostsTable:
    """
    Read and compile an access control file (see L{readHostsFile}).
    """
    return readHostsFile(path, allows)[1]


def readHostsAccess(
    allowPath: str = "/etc/hosts.allow", denyPath: str = "/etc/hosts.deny"
) -> HostsAccess:
    """
    Read both files once.
    """
    return HostsAccess(readHostsTable(allowPath, True), readHostsTable(denyPath, False))


def _readChanged(
    paths: tuple[str, str],
    known: tuple[FileSignature | None, FileSignature | None],
    force: frozenset[int],
) -> dict[int, tuple[FileSignature | None, HostsTable]]:
    """
    Read again the files whose signature is not C{known} (and those in
    C{force}); runs in a thread.

    @return: the new signature and rules of each file read, by index
        (0: hosts.allow, 1: hosts.deny).
    """
    read = {}
    for index, path in enumerate(paths):
        if index in force or fileSignature(path) != known[index]:
            read[index] = readHostsFile(path, allows=index == 0)
    return read


class HostsFiles:
    """
    hosts.allow and hosts.deny as they are now (see the module's
    docstring): the L{txinetd.serve.lookups.HostsRules} of a daemon that
    uses them.

    @ivar access: the rules last read.
    @ivar notifier: the inotify watcher, or L{None} when the files are
        checked with C{stat} at each decision.
    """

    #: Connections are checked against the files.
    apply = True

    def __init__(
        self,
        reactor: Any,
        allowPath: str,
        denyPath: str,
        say: ProgramLog,
        runInThread: RunInThread | None = None,
        makeNotifier: Callable[[Any], Notifier | None] = inotifyNotifier,
    ) -> None:
        """
        @param say: writes the files' warnings and the watch's trouble to
            the program log.
        """
        self.reactor = reactor
        self.say = say
        self.paths = (allowPath, denyPath)
        self.runInThread = runInThread or _threadPool(reactor)
        self.makeNotifier = makeNotifier
        self.notifier: Notifier | None = None
        #: The names whose events matter, for each file (its own, and its
        #: target's if it is a symbolic link).
        self.names: tuple[frozenset[bytes], ...] = ()
        self.access = HostsAccess()
        #: Whether the files were read once.
        self.loaded = False
        self.signatures: tuple[FileSignature | None, FileSignature | None] = (None, None)
        #: The files known to have changed since they were last read.
        self.stale: set[int] = set()
        #: Whether a read (or a check) runs in a thread.
        self.busy = False
        #: Decisions that wait for the read or check now running.
        self.waitingForRunning: list[Deferred[HostsAccess | None]] = []
        #: Decisions that wait for the next one.
        self.waitingForNext: list[Deferred[HostsAccess | None]] = []

    # --- life ---------------------------------------------------------------

    def read(self) -> None:
        """
        Read both files now, before the reactor serves anything (at start-up,
        as the configuration is).
        """
        self._apply(_readChanged(self.paths, self.signatures, frozenset({0, 1})))
        self.loaded = True

    def start(self) -> None:
        """
        Start watching the files (read them first if L{read} was not called):
        from now on a change is seen by the next decision.
        """
        if not self.loaded:
            self.read()
        if self.notifier is not None:
            return
        self.names = tuple(
            frozenset(
                os.fsencode(os.path.basename(candidate))
                for candidate in (path, os.path.realpath(path))
            )
            for path in self.paths
        )
        self.notifier = self.makeNotifier(self.reactor)
        if self.notifier is None:
            return
        try:
            for directory in self._directories():
                self.notifier.watch(FilePath(directory), mask=WATCH_MASK, callbacks=[self._event])
        except Exception as e:
            self._watchLost(f"cannot watch the directory of {self.paths[0]}: {e}")
            return
        self.notifier.startReading()

    def stop(self) -> None:
        """
        Stop watching (decisions then check the files in a thread).
        """
        notifier, self.notifier = self.notifier, None
        if notifier is not None:
            notifier.loseConnection()

    def reread(self) -> None:
        """
        Read both files again before the next decision (a reconfiguration).
        """
        self.stale |= {0, 1}
        if self.notifier is not None:
            self._startRead()

    def _directories(self) -> list[str]:
        """
        The directories to watch: each file's, and its target's if it is a
        symbolic link.
        """
        directories: list[str] = []
        for path in self.paths:
            for candidate in (path, os.path.realpath(path)):
                directory = os.path.dirname(os.path.abspath(candidate))
                if directory not in directories:
                    directories.append(directory)
        return directories

    def _watchLost(self, why: str) -> None:
        """
        inotify cannot be used (any more): check the files at each decision.
        """
        self.say(Level.WARNING, f"hosts.allow/hosts.deny: {why}; checking them at each connection")
        self.stop()
        self.stale |= {0, 1}

    # --- inotify --------------------------------------------------------------

    def _event(self, ignored: object, path: FilePath[Any], mask: int) -> None:
        if mask & WATCH_LOST and self.notifier is not None:
            self._watchLost(f"a watched directory is gone ({path.path!r})")
            return
        name = os.fsencode(path.basename())
        changed = {index for index, names in enumerate(self.names) if name in names}
        if not changed:
            return
        self.stale |= changed
        self._startRead()

    # --- decisions --------------------------------------------------------------

    def fresh(self) -> HostsAccess | None:
        """
        The rules to decide a connection that arrived now with, if they are
        known without reading anything (with inotify, when neither file
        changed since it was last read); else L{None}: ask L{current}.
        """
        self._readEvents()
        if self.notifier is not None and not self.busy and not self.stale:
            return self.access
        return None

    def now(self) -> tuple[bool, HostsAccess | None]:
        """
        The rules to decide a connection that arrived now with, if they are
        known without reading anything (see L{fresh}).

        @return: whether they are known, and they.
        """
        access = self.fresh()
        return access is not None, access

    def current(self) -> Deferred[HostsAccess | None]:
        """
        The rules to decide a connection that arrived now with: at once if
        neither file changed since it was last read, else once it has been
        read again.
        """
        access = self.fresh()
        if access is not None:
            return succeed(access)
        if self.notifier is not None:
            waiting: Deferred[HostsAccess | None] = Deferred()
            self.waitingForRunning.append(waiting)
            self._startRead()
            return waiting
        # Without inotify: a check that started after this decision.
        waiting = Deferred()
        if self.busy:
            self.waitingForNext.append(waiting)
        else:
            self.waitingForRunning.append(waiting)
            self._startRead()
        return waiting

    def _readEvents(self) -> None:
        """
        Dispatch the inotify events already queued (the reactor may not
        have read them yet), if any: asking how many bytes wait is cheaper
        than a read that finds none.
        """
        notifier = self.notifier
        if notifier is None:
            return
        waiting = array.array("i", [0])
        try:
            fcntl.ioctl(notifier.fileno(), termios.FIONREAD, waiting)
        except OSError:
            waiting[0] = 1
        if waiting[0]:
            notifier.doRead()

    def _startRead(self) -> None:
        """
        Read the stale files (with inotify) or check both (without), in a
        thread, unless that already runs.
        """
        if self.busy:
            return
        self.busy = True
        force, self.stale = frozenset(self.stale), set()
        reading = self.runInThread(_readChanged, self.paths, self.signatures, force)
        reading.addCallbacks(self._read, self._failed, errbackArgs=(force,))

    def _read(self, read: dict[int, tuple[FileSignature | None, HostsTable]]) -> None:
        self._apply(read)
        self._done()

    def _failed(self, failure: Any, force: frozenset[int]) -> None:
        self.say(Level.ERROR, f"cannot read hosts.allow/hosts.deny: {failure.getErrorMessage()}")
        self.stale |= force
        self._done()

    def _done(self) -> None:
        """
        A read or check ended: answer the decisions it was for, or start
        the next one they need.
        """
        self.busy = False
        # Changes made while the thread read are read again first.
        self._readEvents()
        if self.notifier is not None:
            if self.stale:
                self._startRead()
                return
            ready = self.waitingForRunning + self.waitingForNext
            self.waitingForRunning, self.waitingForNext = [], []
        else:
            ready, self.waitingForRunning = self.waitingForRunning, []
            if self.waitingForNext:
                self.waitingForRunning, self.waitingForNext = self.waitingForNext, []
                self._startRead()
        for waiting in ready:
            waiting.callback(self.access)

    def _apply(self, read: dict[int, tuple[FileSignature | None, HostsTable]]) -> None:
        if not read:
            return
        signatures = list(self.signatures)
        tables = [self.access.allow, self.access.deny]
        for index, (signature, table) in read.items():
            # The same warnings are said once: a device (/dev/null) changes
            # at every write to it, and is read again each time.
            if table.warnings != tables[index].warnings:
                for warning in table.warnings:
                    self.say(Level.WARNING, warning)
            signatures[index], tables[index] = signature, table
        self.signatures = (signatures[0], signatures[1])
        self.access = HostsAccess(tables[0], tables[1])
