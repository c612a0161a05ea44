# -*- test-case-name: tests.daemon.test_conffiles -*-
"""
Tests for L{txinetd.daemon.conffiles}: C{include} and C{includedir}, the
bounds on what is read, and strict modes.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SkipTest

from tests.core.test_grammar import AFTER, ParsingCase, names
from tests.fakes import describe
from txinetd.core.diagnostics import Diagnostics, Location
from txinetd.daemon.conffiles import includedFiles, parseConfig

# --- 2.3 include / includedir -------------------------------------------------


class IncludeTests(ParsingCase):
    def test_includeInPlace(self) -> None:
        """
        An included file's entries come where the C{include} line is, and
        its diagnostics carry its own path and lines.
        """
        self.files.write("xinetd.conf", "service a\n{\n}\ninclude more.conf\nservice c\n{\n}\n")
        self.files.write("more.conf", "\nservice b\n{\nbad\n}\nservice b2\n{\n}\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["a", "b2", "c"])
        self.assertEqual(entries[1].location, Location("more.conf", 6))
        self.assertEqual(diagnostics, ["more.conf:4: error: Nothing after attribute: bad"])

    def test_onlyFirstWordAfterInclude(self) -> None:
        """
        Words after the file name are ignored.
        """
        self.files.write("xinetd.conf", "include more.conf and more\n")
        self.files.write("more.conf", "service b\n{\n}\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual((names(entries), diagnostics), (["b"], []))

    def test_nestedIncludes(self) -> None:
        """
        Included files may include further files.
        """
        self.files.write("xinetd.conf", "include one\nservice z\n{\n}\n")
        self.files.write("one", "service a\n{\n}\ninclude two\n")
        self.files.write("two", "service b\n{\n}\nincludedir d\n")
        self.files.write("d/c", "service c\n{\n}\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual((names(entries), diagnostics), (["a", "b", "c", "z"], []))

    def test_missingInclude(self) -> None:
        """
        A missing included file is an error at the include line; parsing
        goes on.
        """
        self.files.write("xinetd.conf", "\ninclude nowhere.conf\n" + AFTER)
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:2: error: Unable to open included configuration file: nowhere.conf "
                f"({self.files.base}/nowhere.conf): No such file or directory (errno = 2)"
            ],
        )
        path = os.path.join(self.files.base, "xinetd.d", "..", "nowhere.conf")
        self.files.write("xinetd.conf", f"include {path}\n")
        _, diagnostics = self.parseFiles()
        self.assertEqual(
            diagnostics,
            [
                f"xinetd.conf:1: error: Unable to open included configuration file: {path} "
                f"({self.files.base}/nowhere.conf): No such file or directory (errno = 2)"
            ],
        )
        path = os.path.join(self.files.base, "nowhere.conf")
        self.files.write("xinetd.conf", f"include {path}\n")
        _, diagnostics = self.parseFiles()
        self.assertEqual(
            diagnostics,
            [
                f"xinetd.conf:1: error: Unable to open included configuration file: {path}: "
                "No such file or directory (errno = 2)"
            ],
        )

    def test_relativePathsWarned(self) -> None:
        """
        With C{warnRelative} (C{--check}), a relative C{include} or
        C{includedir} path is warned about, naming the directory it
        resolves against; absolute ones are not.
        """
        self.files.write("d/x", AFTER)
        self.files.write("y", "")
        base = self.files.base
        self.files.write("xinetd.conf", f"include y\nincludedir d\ninclude {base}/y\n")
        diagnostics = Diagnostics()
        entries = parseConfig("xinetd.conf", diagnostics, base, warnRelative=True)
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            describe(diagnostics.items),
            [
                f"xinetd.conf:{line}: warning: relative path {path} resolves against the "
                f"directory txinetd starts in (here {base}; / under systemd); give an "
                "absolute path"
                for line, path in [(1, "y"), (2, "d")]
            ],
        )
        self.assertEqual(self.parseFiles(), (entries, []))

    def test_missingMainFile(self) -> None:
        """
        A main file that cannot be opened is fatal, with no location.
        """
        diagnostics = Diagnostics()
        self.assertEqual(parseConfig("absent.conf", diagnostics, self.files.base), [])
        self.assertEqual(
            describe(diagnostics.items),
            ["fatal: open( absent.conf ) failed: No such file or directory (errno = 2)"],
        )

    def test_includeDepthLimit(self) -> None:
        """
        A file that includes itself is read once: the include is refused
        as a loop.  (A chain of distinct files deeper than
        L{MAX_INCLUDE_DEPTH} is refused too; see tests.test_fuzz_config.)
        """
        self.files.write("loop.conf", "service s\n{\n}\ninclude loop.conf\n")
        entries, diagnostics = self.parseFiles("loop.conf")
        self.assertEqual(len(entries), 1)
        self.assertEqual(
            diagnostics,
            [
                "loop.conf:4: error: Unable to open included configuration file: loop.conf "
                "(include loop)"
            ],
        )

    def test_relativePathsFromBaseDirectory(self) -> None:
        """
        Relative include and includedir paths resolve against the base
        directory, not against the including file's directory.
        """
        self.files.write("etc/xinetd.conf", "include etc/extra\nincludedir etc/xinetd.d\n")
        self.files.write("etc/extra", "service extra\n{\n}\n")
        self.files.write("etc/xinetd.d/echo", "service echo\n{\n}\n")
        entries, diagnostics = self.parseFiles("etc/xinetd.conf")
        self.assertEqual((names(entries), diagnostics), (["extra", "echo"], []))
        self.assertEqual(entries[1].location, Location("etc/xinetd.d/echo", 1))

    def test_absolutePaths(self) -> None:
        """
        Absolute paths are used as they are.
        """
        target = os.path.join(self.files.base, "abs")
        self.files.write("abs", "service abs\n{\n}\n")
        self.files.write("xinetd.conf", f"include {target}\n")
        entries, _ = self.parseFiles()
        self.assertEqual(entries[0].location, Location(target, 1))


class IncludeDirectoryTests(ParsingCase):
    def test_byteOrderAndSkippedNames(self) -> None:
        """
        Files are read in byte order (C{E} before C{a}); names containing a
        dot or ending in C{~} are skipped, as in xinetd, and each is named
        with the reason (xinetd says nothing).
        """
        for name in ["b", "a", "E", "_z", "foo.conf", ".hidden", "ftp.rpmsave", "backup~", "Z9"]:
            self.files.write(f"d/{name}", f"service {name}\n{{\n}}\n")
        self.files.write("xinetd.conf", "includedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["E", "Z9", "_z", "a", "b"])
        dot = "is skipped: includedir reads no file whose name contains a dot, as xinetd"
        self.assertEqual(
            diagnostics,
            [
                f"xinetd.conf:1: info: d/.hidden {dot}",
                "xinetd.conf:1: info: d/backup~ is skipped: includedir reads no file whose name "
                "ends in ~, as xinetd",
                f"xinetd.conf:1: info: d/foo.conf {dot}",
                f"xinetd.conf:1: info: d/ftp.rpmsave {dot}",
            ],
        )

    def test_subdirectoryNotRecursed(self) -> None:
        """
        A sub-directory is reported and skipped, not recursed.
        """
        self.files.write("d/sub/inner", "service inner\n{\n}\n")
        self.files.write("d/z", "service z\n{\n}\n")
        self.files.write("xinetd.conf", "\nincludedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["z"])
        self.assertEqual(
            diagnostics, ["xinetd.conf:2: error: d/sub is not a regular file. It is being skipped."]
        )

    def test_symlinks(self) -> None:
        """
        Symbolic links are followed; a dangling one cannot be stat'ed.
        """
        self.files.write("real", "service linked\n{\n}\n")
        os.makedirs(os.path.join(self.files.base, "d"))
        os.symlink(os.path.join(self.files.base, "real"), os.path.join(self.files.base, "d/a"))
        os.symlink("/nonexistent/target", os.path.join(self.files.base, "d/b"))
        self.files.write("xinetd.conf", "includedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["linked"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: Unable to stat includedir file d/b: "
                "No such file or directory (errno = 2)"
            ],
        )

    def test_unreadableDirectory(self) -> None:
        """
        A directory that cannot be listed (missing, or a file) is an error;
        parsing goes on.
        """
        self.files.write("plain", "")
        errors = {
            "missing": "No such file or directory (errno = 2)",
            "plain": "Not a directory (errno = 20)",
        }
        for directory, error in errors.items():
            with self.subTest(directory=directory):
                self.files.write("xinetd.conf", f"includedir {directory}\n" + AFTER)
                entries, diagnostics = self.parseFiles()
                self.assertEqual(names(entries), ["after"])
                self.assertEqual(
                    diagnostics,
                    [
                        f"xinetd.conf:1: error: Unable to read included directory: {directory} "
                        f"({self.files.base}/{directory}): {error}"
                    ],
                )

    def test_includedFiles(self) -> None:
        """
        L{includedFiles} yields the paths as the configuration writes them.
        """
        self.files.write("d/x", "")
        diagnostics = Diagnostics()
        found = list(
            includedFiles(os.path.join(self.files.base, "d"), "d", diagnostics, Location("c", 1))
        )
        self.assertEqual((found, diagnostics.items), (["d/x"], ()))


NOBODY = 65534


class StrictModesTests(ParsingCase):
    """
    Configuration files and C{includedir} directories that others than
    root (and the daemon's user) could have written are refused, as sshd's
    C{StrictModes} refuses such files: a file such a user drops would run
    commands as root.  (Changing owners needs root.)
    """

    def setUp(self) -> None:
        super().setUp()
        if os.geteuid() != 0:
            raise SkipTest("changing owners needs root")

    def path(self, name: str) -> str:
        return os.path.join(self.files.base, name)

    def test_worldWritableDirectory(self) -> None:
        """
        An C{includedir} anyone can write to is not read at all (anyone
        could rename or replace its files); parsing goes on.
        """
        self.files.write("d/a", "service a\n{\n}\n")
        os.chmod(self.path("d"), 0o777)
        self.files.write("xinetd.conf", "includedir d\n" + AFTER)
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["after"])
        self.assertEqual(
            diagnostics,
            ["xinetd.conf:1: error: Unable to read included directory: d (writable by everyone)"],
        )

    def test_stickyDirectory(self) -> None:
        """
        In a sticky directory anyone can write to (others cannot replace
        root's files there), root's files are read; a file another user
        dropped, or one anyone (or a group with other members) can write,
        is refused with the line of its C{includedir}.
        """
        for name in ("a", "b", "c", "d", "e"):
            self.files.write(f"d/{name}", f"service {name}\n{{\n}}\n")
        os.chmod(self.path("d"), 0o1777)
        os.chown(self.path("d/b"), NOBODY, NOBODY)
        os.chmod(self.path("d/c"), 0o666)
        os.chmod(self.path("d/d"), 0o664)
        os.chown(self.path("d/d"), 0, NOBODY)
        os.chmod(self.path("d/e"), 0o664)
        self.files.write("xinetd.conf", "\nincludedir d\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), ["a", "e"])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:2: error: Unable to open included configuration file: d/b "
                f"(owned by uid {NOBODY})",
                "xinetd.conf:2: error: Unable to open included configuration file: d/c "
                "(writable by everyone)",
                "xinetd.conf:2: error: Unable to open included configuration file: d/d "
                f"(writable by group {NOBODY})",
            ],
        )

    def test_pathOpenToOthers(self) -> None:
        """
        A file whose path goes through a directory another user owns (who
        could replace it) is refused, and so is a symbolic link planted in
        a directory others can write.
        """
        self.files.write("theirs/sub/conf", "service x\n{\n}\n")
        os.chown(self.path("theirs"), NOBODY, NOBODY)
        self.files.write("real", "service real\n{\n}\n")
        os.makedirs(self.path("shared"))
        os.chmod(self.path("shared"), 0o1777)
        os.symlink(self.path("real"), self.path("shared/link"))
        self.files.write("xinetd.conf", "include theirs/sub/conf\ninclude shared/link\n")
        entries, diagnostics = self.parseFiles()
        self.assertEqual(names(entries), [])
        self.assertEqual(
            diagnostics,
            [
                "xinetd.conf:1: error: Unable to open included configuration file: "
                f"theirs/sub/conf (directory {self.path('theirs')} is owned by uid {NOBODY})",
                "xinetd.conf:2: error: Unable to open included configuration file: shared/link "
                "(link is a symbolic link in a directory writable by everyone; not followed)",
            ],
        )

    def test_mainFile(self) -> None:
        """
        The main file is held to the same rule: refusing it is fatal.
        """
        self.files.write("xinetd.conf", AFTER)
        os.chown(self.path("xinetd.conf"), NOBODY, NOBODY)
        entries, diagnostics = self.parseFiles()
        self.assertEqual(
            (entries, diagnostics),
            ([], [f"fatal: open( xinetd.conf ) failed: owned by uid {NOBODY}"]),
        )

    def test_off(self) -> None:
        """
        Without strict modes every one of them is read, as by xinetd.
        """
        self.files.write("d/b", "service b\n{\n}\n")
        os.chmod(self.path("d"), 0o777)
        os.chown(self.path("d/b"), NOBODY, NOBODY)
        self.files.write("xinetd.conf", "includedir d\n" + AFTER)
        os.chown(self.path("xinetd.conf"), NOBODY, NOBODY)
        diagnostics = Diagnostics()
        entries = parseConfig("xinetd.conf", diagnostics, self.files.base, strictModes=False)
        self.assertEqual((names(entries), diagnostics.items), (["b", "after"], ()))
