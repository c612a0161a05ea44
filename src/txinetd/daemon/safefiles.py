# -*- test-case-name: tests.daemon.test_safefiles -*-
"""
Files txinetd writes (service logs, C{-filelog}, the state dump, the pid
file) and reads as configuration, safe from other local users.

txinetd runs as root.  A user who can write to a directory on the path of
a file txinetd opens for writing can plant a symbolic link (or a hard link)
there and make txinetd append to a file of root's (C{fs.protected_symlinks}
is off on many systems and in containers).  L{openForWriting} walks the
path one component at a time with C{openat}: a symbolic link is followed
only in a directory that no one but root (or the daemon's user) can write,
and the file itself, in such a directory, must be a regular file with a
single link.

A directory or file is I{open to others} (L{openToOthers}) when it belongs
to someone else than root and the daemon's user, or others can write to
it: everyone, or a group with another member, as sshd's C{StrictModes}
judges it.  L{openForReading} opens a configuration file only if neither
it nor a directory on its path is.  L{reachDirectory} is the walk of
L{openForWriting} for a file that is not opened (a UNIX socket's): the
directory that holds it, reached by the same rule.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import re
import stat
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

__all__ = [
    "ReachedDirectory",
    "UnsafeFile",
    "openForReading",
    "openForWriting",
    "openToOthers",
    "reachDirectory",
    "removeFile",
    "trustedUsers",
]

#: How many symbolic links a path may go through (as Linux's MAXSYMLINKS).
MAX_LINKS = 40

_DIRECTORY = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: What C{/proc/<pid>/fd/N} links to when the file is no file of a
#: directory: C{pipe:[123]}, C{socket:[123]}, C{anon_inode:[eventfd]}.
_KERNEL_OBJECT = re.compile(r"[a-z_]+:\[[^/]*\]")


class UnsafeFile(OSError):
    """
    A file that txinetd will not open: C{strerror} says why.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EPERM, reason)


def trustedUsers() -> frozenset[int]:
    """
    The users whose files and directories txinetd trusts: root and the
    daemon's own user.
    """
    return frozenset({0, os.geteuid()})


def groupOfTrusted(gid: int, trusted: Collection[int]) -> bool:
    """
    Whether every user who has group C{gid} (as primary group, or in the
    group's member list) is trusted: then no one else can write through
    the group's permission.  A group that no user has (a checkout's
    C{users} group) is one of trusted users.
    """
    try:
        names = grp.getgrgid(gid).gr_mem
    except KeyError:
        names = []
    members = set()
    for name in names:
        try:
            members.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    members.update(entry.pw_uid for entry in pwd.getpwall() if entry.pw_gid == gid)
    return members <= set(trusted)


def openToOthers(info: os.stat_result, trusted: Collection[int]) -> str | None:
    """
    Why a file or directory is open to others than the C{trusted} users,
    or L{None} if it is not.
    """
    mode = info.st_mode
    if info.st_uid not in trusted:
        return f"owned by uid {info.st_uid}"
    if mode & stat.S_IWOTH:
        return "writable by everyone"
    if mode & stat.S_IWGRP and not groupOfTrusted(info.st_gid, trusted):
        return f"writable by group {info.st_gid}"
    return None


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _openDirectory(name: str, at: int) -> int:
    return os.open(name, _DIRECTORY, dir_fd=at)


def _shared(info: os.stat_result, trusted: Collection[int]) -> bool:
    """
    Whether a directory is a trusted user's sticky one (such as C{/tmp}):
    others may add entries, but not rename or remove the ones they do not
    own.
    """
    return bool(info.st_mode & stat.S_ISVTX) and info.st_uid in trusted


class _Walk:
    """
    One walk down a path: the directory reached and the name left in it.

    @ivar directory: a descriptor of the directory that holds L{name}.
    @ivar name: the last component, which is not a symbolic link (or does
        not exist) when the walk is done.
    @ivar unsafe: why that directory is open to others, or L{None}.
    @ivar where: the directory's path as walked, for messages.
    @ivar kernelLink: whether L{name} is a link to an open file of the
        kernel's (C{/proc/self/fd/N} to a pipe), which only the kernel
        can follow; it is in a directory that is not open to others.
    @ivar pinned: whether no one but trusted users can make the path, as
        written, lead to another directory than L{directory}: every
        directory and link on the way was found in a directory not open to
        others, or belongs to a trusted user in a trusted user's sticky
        one (whose other users cannot rename it), and no C{..} was taken.
    """

    def __init__(
        self,
        path: str,
        trusted: Collection[int],
        followLast: bool = True,
        strict: bool = False,
    ) -> None:
        """
        @param followLast: whether a symbolic link at the end of the path
            is followed (where it may be) or is itself the file.
        @param strict: refuse every directory on the way that is open to
            others, unless it is a trusted user's sticky one.
        """
        self.path = path
        self.trusted = trusted
        self.followLast = followLast
        self.strict = strict
        absolute = path.startswith("/")
        self.where = "/" if absolute else os.getcwd()
        self.directory = os.open("/" if absolute else ".", _DIRECTORY)
        self.name = ""
        self.unsafe: str | None = None
        self.info: os.stat_result | None = None
        self.kernelLink = False
        self.pinned = True
        try:
            self._walk(deque(_components(path)))
        except BaseException:
            os.close(self.directory)
            raise

    def _enter(self, directory: int, where: str) -> None:
        os.close(self.directory)
        self.directory = directory
        self.where = where

    def _check(self) -> None:
        """
        Note whether the current directory is open to others; in a strict
        walk, refuse it.
        """
        info = self.info = os.fstat(self.directory)
        self.unsafe = openToOthers(info, self.trusted)
        if self.strict and self.unsafe is not None and not _shared(info, self.trusted):
            raise UnsafeFile(f"directory {self.where} is {self.unsafe}")

    def _walk(self, parts: deque[str]) -> None:
        if not parts:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        links = 0
        while parts:
            name = parts.popleft()
            self._check()
            if name == "..":
                self.pinned = False
                self._enter(_openDirectory("..", self.directory), os.path.dirname(self.where))
                if not parts:
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
                continue
            try:
                info = os.stat(name, dir_fd=self.directory, follow_symlinks=False)
            except FileNotFoundError:
                if parts:
                    raise
                self.name = name
                return
            if stat.S_ISLNK(info.st_mode) and (parts or self.followLast):
                if self.unsafe is not None:
                    raise self.planted(name)
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                target = os.readlink(name, dir_fd=self.directory)
                if not parts and _KERNEL_OBJECT.fullmatch(target):
                    self.name, self.kernelLink = name, True
                    return
                if target.startswith("/"):
                    self._enter(os.open("/", _DIRECTORY), "/")
                parts.extendleft(reversed(_components(target)))
                if not parts:
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
                continue
            if not parts:
                self.name = name
                return
            self._pin(info)
            self._enter(_openDirectory(name, self.directory), os.path.join(self.where, name))

    def _pin(self, entry: os.stat_result) -> None:
        """
        Note whether the directory C{entry}, found in the current one,
        could be renamed or replaced by an untrusted user (see L{pinned}).
        """
        if self.unsafe is None:
            return
        here = self.info
        sticky = here is not None and _shared(here, self.trusted)
        if not (sticky and entry.st_uid in self.trusted):
            self.pinned = False

    def planted(self, name: str) -> UnsafeFile:
        """
        The refusal of a symbolic link C{name} in the current directory,
        which is open to others.
        """
        return UnsafeFile(f"{name} is a symbolic link in a directory {self.unsafe}; not followed")

    def open(self, flags: int, mode: int, check: Callable[[os.stat_result], None]) -> int:
        """
        Open L{name} (never through a symbolic link the walk did not
        follow), give what it is to C{check}, and end the walk.

        @raise UnsafeFile: if C{check} refuses it.
        """
        noFollow = 0 if self.kernelLink else os.O_NOFOLLOW
        try:
            fd = os.open(self.name, flags | noFollow | os.O_CLOEXEC, mode, dir_fd=self.directory)
        except OSError as e:
            if e.errno == errno.ELOOP and self.unsafe is not None:
                raise self.planted(self.name) from None
            raise
        finally:
            self.close()
        try:
            check(os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def close(self) -> None:
        os.close(self.directory)


def openForWriting(
    path: str,
    flags: int,
    mode: int = 0o644,
    replace: bool = False,
    trusted: Collection[int] | None = None,
) -> int:
    """
    Open a file txinetd writes, never through a symbolic link or a hard
    link that another user could have planted: symbolic links are followed
    only in directories that are not open to others, and in a directory
    open to others the file must be a regular file with one link.  Opening
    never blocks (C{O_NONBLOCK}; a FIFO without a reader fails).

    @param flags: C{os.open} flags (C{O_WRONLY}, C{O_APPEND}, C{O_CREAT}...).
    @param replace: remove the file (or a link in its place) first and
        create it anew (C{O_EXCL}).
    @param trusted: the users whose directories are safe (default:
        L{trustedUsers}).
    @return: the descriptor.
    @raise OSError: if it cannot be opened; L{UnsafeFile} if txinetd will
        not open it, with the reason.
    """
    trusted = trustedUsers() if trusted is None else trusted
    walk = _Walk(path, trusted, followLast=not replace)
    unsafe = walk.unsafe

    def check(info: os.stat_result) -> None:
        if unsafe is None:
            return
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"not a regular file, in a directory {unsafe}")
        if info.st_nlink > 1:
            raise UnsafeFile(f"a file with {info.st_nlink} links, in a directory {unsafe}")

    if replace:
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(walk.name, dir_fd=walk.directory)
        except BaseException:
            walk.close()
            raise
        flags |= os.O_CREAT | os.O_EXCL
    return walk.open(flags | os.O_NONBLOCK, mode, check)


def removeFile(path: str, trusted: Collection[int] | None = None) -> None:
    """
    Remove a file txinetd made (or a link in its place), through the same
    walk as L{openForWriting}.

    @raise OSError: if it cannot be removed.
    """
    walk = _Walk(path, trustedUsers() if trusted is None else trusted, followLast=False)
    try:
        os.unlink(walk.name, dir_fd=walk.directory)
    finally:
        walk.close()


@dataclass(frozen=True)
class ReachedDirectory:
    """
    The directory that will hold a file txinetd makes, reached by
    L{reachDirectory}.

    @ivar directory: an C{O_PATH} descriptor of it (the caller closes it).
    @ivar name: the file's name in it (not followed if it is a link).
    @ivar pinned: whether the path, as written, cannot be made to lead
        elsewhere by an untrusted user (see L{_Walk.pinned}): then giving
        the path to a system call that resolves it again is safe.
    """

    directory: int
    name: str
    pinned: bool


def reachDirectory(path: str, trusted: Collection[int] | None = None) -> ReachedDirectory:
    """
    Reach the directory of C{path} one component at a time, by the rule of
    L{openForWriting}: a symbolic link is followed only in a directory that
    is not open to others.  The last component is not followed.

    @param trusted: the users whose directories are safe (default:
        L{trustedUsers}).
    @raise OSError: if it cannot be reached; L{UnsafeFile} if a symbolic
        link on the way is in a directory open to others.
    """
    walk = _Walk(path, trustedUsers() if trusted is None else trusted, followLast=False)
    return ReachedDirectory(walk.directory, walk.name, walk.pinned)


def openForReading(path: str, flags: int, trusted: Collection[int] | None = None) -> int:
    """
    Open a configuration file (or directory) that only trusted users can
    have written, as sshd's C{StrictModes} wants: every directory on the
    way, and the file, must not be open to others (a trusted user's
    sticky directory, such as C{/tmp}, may be on the way), and a symbolic
    link is followed only in a directory that is not.

    @param flags: C{os.open} flags (C{O_RDONLY}, C{O_NONBLOCK}...).
    @param trusted: the users trusted (default: L{trustedUsers}).
    @return: the descriptor.
    @raise OSError: if it cannot be opened; L{UnsafeFile} if it may not
        be read, with the reason.
    """
    trusted = trustedUsers() if trusted is None else trusted

    def check(info: os.stat_result) -> None:
        reason = openToOthers(info, trusted)
        device = stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
        shared = stat.S_ISDIR(info.st_mode) and _shared(info, trusted)
        # A device is the caller's to refuse (it is no file of anyone's).
        if reason is not None and not (device or shared):
            raise UnsafeFile(reason)

    return _Walk(path, trusted, strict=True).open(flags, 0, check)
