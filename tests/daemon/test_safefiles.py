# -*- test-case-name: tests.daemon.test_safefiles -*-
"""
Tests for L{txinetd.daemon.safefiles}: files opened for writing never through a
link another user could have planted, with real directories whose owners
and modes stand for those other users (the tests that change owners need
root).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from txinetd.daemon.safefiles import (
    UnsafeFile,
    groupOfTrusted,
    openForWriting,
    openToOthers,
    reachDirectory,
    removeFile,
    trustedUsers,
)

NOBODY = 65534
APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT


def needRoot() -> None:
    if os.geteuid() != 0:
        raise SkipTest("changing owners needs root")


class SafeFilesCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = tempfile.mkdtemp(dir="/tmp")
        self.addCleanup(shutil.rmtree, self.base, True)
        os.chmod(self.base, 0o755)
        self.secret = self.file("secret", b"secret\n", 0o600)

    def directory(self, name: str, mode: int = 0o755, owner: int | None = None) -> str:
        path = os.path.join(self.base, name)
        os.mkdir(path)
        os.chmod(path, mode)
        if owner is not None:
            needRoot()
            os.chown(path, owner, -1)
        return path

    def file(self, name: str, content: bytes = b"", mode: int = 0o644) -> str:
        path = os.path.join(self.base, name)
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def append(self, path: str, data: bytes = b"line\n") -> None:
        fd = openForWriting(path, APPEND)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def assertSecretKept(self) -> None:
        with open(self.secret, "rb") as f:
            self.assertEqual(f.read(), b"secret\n")

    def refusal(self, path: str) -> str:
        with self.assertRaises(UnsafeFile) as caught:
            self.append(path)
        self.assertSecretKept()
        return str(caught.exception.strerror)


class OpenForWritingTests(SafeFilesCase):
    def test_regularFiles(self) -> None:
        """
        A new or existing regular file is opened for appending, also in a
        directory others can write (with O_NOFOLLOW).
        """
        shared = self.directory("shared", 0o1777)
        for directory in (self.base, shared):
            path = os.path.join(directory, "log")
            self.append(path, b"one\n")
            self.append(path, b"two\n")
            with open(path, "rb") as f:
                self.assertEqual(f.read(), b"one\ntwo\n")

    def test_symlinkInSharedDirectory(self) -> None:
        """
        A symbolic link planted in a sticky world-writable directory is not
        followed, at the end of the path or on the way.
        """
        shared = self.directory("shared", 0o1777)
        os.symlink(self.secret, os.path.join(shared, "log"))
        self.assertEqual(
            self.refusal(os.path.join(shared, "log")),
            "log is a symbolic link in a directory writable by everyone; not followed",
        )
        os.symlink(self.base, os.path.join(shared, "sub"))
        self.assertEqual(
            self.refusal(os.path.join(shared, "sub", "secret")),
            "sub is a symbolic link in a directory writable by everyone; not followed",
        )

    def test_symlinkInOthersDirectory(self) -> None:
        """
        A directory that belongs to another user is open to him: a
        symbolic link there is not followed.
        """
        theirs = self.directory("theirs", 0o755, owner=NOBODY)
        os.symlink(self.secret, os.path.join(theirs, "log"))
        self.assertEqual(
            self.refusal(os.path.join(theirs, "log")),
            f"log is a symbolic link in a directory owned by uid {NOBODY}; not followed",
        )

    def test_groupWritable(self) -> None:
        """
        A directory its group can write is open to others when the group
        has a member that is not trusted (nobody's C{nogroup}), not when
        all are (root's group).
        """
        needRoot()
        grouped = self.directory("grouped", 0o775)
        os.chown(grouped, 0, NOBODY)
        os.symlink(self.secret, os.path.join(grouped, "log"))
        self.assertEqual(
            self.refusal(os.path.join(grouped, "log")),
            f"log is a symbolic link in a directory writable by group {NOBODY}; not followed",
        )
        os.chown(grouped, 0, 0)
        self.append(os.path.join(grouped, "log"))
        with open(self.secret, "rb") as f:
            self.assertEqual(f.read(), b"secret\nline\n")

    def test_symlinkInSafeDirectoryFollowed(self) -> None:
        """
        A symbolic link in directories only trusted users can write is
        followed, relative or absolute, to a file or a directory.
        """
        target = self.file("target")
        os.symlink("target", os.path.join(self.base, "relative"))
        os.symlink(self.base, os.path.join(self.base, "loop-free"))
        self.append(os.path.join(self.base, "relative"), b"a\n")
        self.append(os.path.join(self.base, "loop-free", "target"), b"b\n")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"a\nb\n")

    def test_hardLink(self) -> None:
        """
        In a directory others can write, a file with more than one link is
        refused (it may be a hard link to a file of root's).
        """
        shared = self.directory("shared", 0o1777)
        os.link(self.secret, os.path.join(shared, "log"))
        self.assertEqual(
            self.refusal(os.path.join(shared, "log")),
            "a file with 2 links, in a directory writable by everyone",
        )

    def test_fifo(self) -> None:
        """
        A FIFO in a directory others can write is not opened, and opening
        never waits for a reader.
        """
        shared = self.directory("shared", 0o1777)
        os.mkfifo(os.path.join(shared, "log"))
        with self.assertRaises(OSError) as caught:
            self.append(os.path.join(shared, "log"))
        self.assertEqual(caught.exception.errno, errno.ENXIO)
        reader = os.open(os.path.join(shared, "log"), os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, reader)
        self.assertEqual(
            self.refusal(os.path.join(shared, "log")),
            "not a regular file, in a directory writable by everyone",
        )

    def test_links(self) -> None:
        """
        A loop of symbolic links fails as the system's would; so do paths
        that name a directory.
        """
        os.symlink("b", os.path.join(self.base, "a"))
        os.symlink("a", os.path.join(self.base, "b"))
        with self.assertRaises(OSError) as caught:
            self.append(os.path.join(self.base, "a"))
        self.assertEqual(caught.exception.errno, errno.ELOOP)
        for path in ("/", self.base + "/..", self.base + "/."):
            with self.assertRaises(IsADirectoryError):
                self.append(path)

    def test_relative(self) -> None:
        """
        A relative path starts from the working directory; C{..} goes up.
        """
        self.directory("sub")
        cwd = os.getcwd()
        self.addCleanup(os.chdir, cwd)
        os.chdir(os.path.join(self.base, "sub"))
        self.append("../relative.log", b"x\n")
        with open(os.path.join(self.base, "relative.log"), "rb") as f:
            self.assertEqual(f.read(), b"x\n")

    def test_replace(self) -> None:
        """
        C{replace} makes a new file where a link was (the link goes, its
        target stays), and L{removeFile} removes it.
        """
        shared = self.directory("shared", 0o1777)
        path = os.path.join(shared, "pid")
        os.symlink(self.secret, path)
        fd = openForWriting(path, os.O_WRONLY, 0o644, replace=True)
        os.write(fd, b"42\n")
        os.close(fd)
        self.assertSecretKept()
        info = os.lstat(path)
        self.assertTrue(stat.S_ISREG(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o644)
        removeFile(path)
        self.assertFalse(os.path.lexists(path))
        os.symlink(self.base, os.path.join(shared, "sub"))
        with self.assertRaises(UnsafeFile):
            removeFile(os.path.join(shared, "sub", "secret"))
        self.assertSecretKept()


class ReachDirectoryTests(SafeFilesCase):
    def reached(self, path: str) -> tuple[os.stat_result, str, bool]:
        place = reachDirectory(path)
        try:
            return os.fstat(place.directory), place.name, place.pinned
        finally:
            os.close(place.directory)

    def test_trustedWay(self) -> None:
        """
        The directory of a path through trusted directories (and a trusted
        user's sticky one) is reached, and the path is pinned: no one else
        can make it lead elsewhere.  The last component is not followed.
        """
        shared = self.directory("shared", 0o1777)
        sub = os.path.join(shared, "sub")
        os.mkdir(sub)
        os.symlink(self.secret, os.path.join(sub, "last"))
        info, name, pinned = self.reached(os.path.join(sub, "last"))
        expected = os.stat(sub)
        self.assertEqual((info.st_dev, info.st_ino), (expected.st_dev, expected.st_ino))
        self.assertEqual((name, pinned), ("last", True))

    def test_symlinkRefused(self) -> None:
        """
        A symbolic link on the way in a directory others can write is
        refused, as for a file txinetd writes.
        """
        shared = self.directory("shared", 0o1777)
        os.symlink(self.base, os.path.join(shared, "sub"))
        with self.assertRaises(UnsafeFile) as caught:
            reachDirectory(os.path.join(shared, "sub", "s.sock"))
        self.assertEqual(
            caught.exception.strerror,
            "sub is a symbolic link in a directory writable by everyone; not followed",
        )

    def test_othersDirectoryNotPinned(self) -> None:
        """
        A directory found in another user's directory (or their own
        directory in a sticky one) is reached, but the path is not pinned:
        they could rename it and put a link in its place.
        """
        theirs = self.directory("theirs", 0o755, owner=NOBODY)
        os.mkdir(os.path.join(theirs, "sub"))
        self.assertFalse(self.reached(os.path.join(theirs, "sub", "s.sock"))[2])
        self.assertTrue(self.reached(os.path.join(theirs, "s.sock"))[2])
        shared = self.directory("shared", 0o1777)
        os.mkdir(os.path.join(shared, "own"))
        self.assertTrue(self.reached(os.path.join(shared, "own", "s.sock"))[2])
        os.chown(os.path.join(shared, "own"), NOBODY, -1)
        self.assertFalse(self.reached(os.path.join(shared, "own", "s.sock"))[2])
        back = os.path.join(self.base, "..", os.path.basename(self.base), "s.sock")
        self.assertFalse(self.reached(back)[2])


class TrustTests(SynchronousTestCase):
    def test_trusted(self) -> None:
        self.assertEqual(trustedUsers(), frozenset({0, os.geteuid()}))

    def test_groups(self) -> None:
        """
        Root's group has only trusted members; C{nogroup} has nobody; a
        group no user has cannot be used by others.
        """
        self.assertTrue(groupOfTrusted(0, {0}))
        self.assertFalse(groupOfTrusted(NOBODY, {0}))
        self.assertTrue(groupOfTrusted(4242424, {0}))

    def test_openToOthers(self) -> None:
        info = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        self.assertIsNone(openToOthers(info, {0}))
        mode = stat.S_IFDIR | 0o1777
        shared = os.stat_result((mode, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        self.assertEqual(openToOthers(shared, {0}), "writable by everyone")
        theirs = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 1, 1000, 0, 0, 0, 0, 0))
        self.assertEqual(openToOthers(theirs, {0}), "owned by uid 1000")
        self.assertIsNone(openToOthers(theirs, {0, 1000}))
