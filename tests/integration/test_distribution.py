"""
The xinetd.d files that distributions ship load unchanged: Debian's, as the
installed xinetd package provides them, and txinetd's own etc/ (laid out as
openSUSE ships them: one file per service and socket type).

Needs the Debian package xinetd for the Debian files (the CI script installs
it); those tests are skipped without it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from typing import TYPE_CHECKING

from twisted.trial.unittest import SkipTest, TestCase

from txinetd.core.config import Config
from txinetd.core.values import ServiceType, SocketType
from txinetd.daemon.loading import loadConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBIAN = "/etc/xinetd.d"
BUILTINS = ("chargen", "daytime", "discard", "echo", "time")
#: Ports of the shipped files (servers and services are UNLISTED with their own).
PORTS = {
    "echo": 7,
    "discard": 9,
    "daytime": 13,
    "chargen": 19,
    "time": 37,
    "servers": 9099,
    "services": 9098,
}


def enabled(directory: str, names: tuple[str, ...]) -> str:
    """
    A copy of C{directory} where only the files C{names} have their
    C{disable = yes} lines changed to C{disable = no}; the main file
    includes it.

    @return: the main file's path.
    """
    copy = tempfile.mkdtemp(prefix="txinetd-dist-")
    target = os.path.join(copy, "xinetd.d")
    shutil.copytree(directory, target)
    for name in names:
        path = os.path.join(target, name)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^(\s*disable\s*=\s*)yes", r"\1no", text))
    main = os.path.join(copy, "xinetd.conf")
    with open(main, "w") as f:
        f.write(f"defaults\n{{\n}}\n\nincludedir {target}\n")
    return main


def load(main: str) -> Config:
    return loadConfig(main, baseDirectory=os.path.dirname(main))


if TYPE_CHECKING:
    _Base = TestCase
else:
    _Base = object


class DistributionFilesMixin(_Base):
    """
    Checks shared by the Debian files and txinetd's own.
    """

    directory: str

    def test_asShipped(self) -> None:
        """
        As shipped, every service is disabled: nothing to start, no problem.
        """
        config = load(enabled(self.directory, ()))
        self.assertEqual(config.diagnostics, ())
        self.assertEqual(config.services, ())

    def test_eachFileEnabled(self) -> None:
        """
        Each file, enabled alone, loads without a problem and gives its
        services on their standard ports.
        """
        names = sorted(os.listdir(self.directory))
        self.assertTrue(names)
        for name in names:
            config = load(enabled(self.directory, (name,)))
            self.assertEqual(config.diagnostics, (), name)
            self.assertTrue(config.services, name)
            builtin = name.removesuffix("-udp")
            for service in config.services:
                self.assertIn(ServiceType.INTERNAL, service.type)
                self.assertEqual(service.name, builtin)
                self.assertEqual(service.port, PORTS[builtin])
                self.assertEqual(service.family, socket.AF_INET6)
                if name.endswith("-udp"):
                    self.assertEqual(service.socket_type, SocketType.DGRAM)


class DebianFilesTests(DistributionFilesMixin, TestCase):
    """
    The files of Debian's xinetd package (openSUSE ships the same ones, with
    the stream and dgram services of each built-in in separate files, as
    Debian's C{-udp} files and the first entry of its other files).
    """

    directory = DEBIAN

    def setUp(self) -> None:
        if not os.path.isfile(os.path.join(DEBIAN, "echo-udp")):
            raise SkipTest("Debian's xinetd package is not installed")

    def test_combinedFile(self) -> None:
        """
        Debian's C{echo} file holds both the stream and the dgram service.
        """
        config = load(enabled(self.directory, ("echo",)))
        self.assertEqual(
            sorted((s.id, s.protocol, s.port) for s in config.services),
            [("echo-dgram", "udp", 7), ("echo-stream", "tcp", 7)],
        )


class OwnFilesTests(DistributionFilesMixin, TestCase):
    """
    txinetd's etc/xinetd.d.
    """

    directory = os.path.join(ROOT, "etc", "xinetd.d")

    def test_allEnabled(self) -> None:
        """
        With every file enabled, all ten built-ins load.
        """
        config = load(enabled(self.directory, tuple(os.listdir(self.directory))))
        self.assertEqual(config.diagnostics, ())
        self.assertEqual(
            sorted(s.id for s in config.services),
            sorted(f"{b}-{k}" for b in BUILTINS for k in ("stream", "dgram")),
        )

    def test_mainFile(self) -> None:
        """
        etc/xinetd.conf includes /etc/xinetd.d by its absolute path (the
        systemd unit starts txinetd in /); with that path pointing to
        etc/xinetd.d, it loads without a problem, relative paths warned
        about included.
        """
        with open(os.path.join(ROOT, "etc", "xinetd.conf")) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^includedir /etc/xinetd\.d$")
        copy = tempfile.mkdtemp(prefix="txinetd-dist-")
        self.addCleanup(shutil.rmtree, copy)
        main = os.path.join(copy, "xinetd.conf")
        with open(main, "w") as f:
            f.write(text.replace("/etc/xinetd.d", self.directory))
        config = loadConfig(main, baseDirectory="/", warnRelative=True)
        self.assertEqual(config.diagnostics, ())
        self.assertEqual(config.defaults.instances, 50)
