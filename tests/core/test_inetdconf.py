# -*- test-case-name: tests.core.test_inetdconf -*-
"""
Tests for L{txinetd.core.inetdconf}: inetd.conf services read with
C{-inetd_compat}.
"""

from __future__ import annotations

import os
import socket
import tempfile

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.documented import MAX_SIZE
from tests.fakes import FakeSystem, describe, fakeInternalServices
from txinetd.core.config import Config
from txinetd.core.diagnostics import Diagnostics
from txinetd.core.values import Flag, ServiceType, SocketType
from txinetd.daemon.conffiles import parseInetdConf
from txinetd.daemon.loading import loadConfig

INETD_CONF = """\
# a comment, then services
echo\tstream\ttcp\tnowait\troot\tinternal
echo\tdgram\tudp\twait\troot\tinternal
ftp stream tcp nowait root /usr/sbin/tcpd in.ftpd -l
telnet stream tcp6 nowait.40 nobody.nogroup /bin/cat
127.0.0.1:smtp stream tcp nowait alice:users /bin/cat cat -u
rstatd/1-3 dgram rpc/udp wait root /bin/cat rpc.rstatd
short stream tcp
daytime stream sctp nowait root internal
chargen stream tcp sometimes root internal
"""


def load(inetdText: str) -> Config:
    directory = tempfile.mkdtemp(prefix="txinetd-inetd-")
    main = os.path.join(directory, "xinetd.conf")
    inetd = os.path.join(directory, "inetd.conf")
    with open(main, "w") as f:
        f.write("defaults\n{\n}\n")
    with open(inetd, "w") as f:
        f.write(inetdText)
    return loadConfig(
        main,
        system=FakeSystem(),
        internalServices=fakeInternalServices(),
        baseDirectory=directory,
        euid=0,
        inetdConf=inetd,
    )


class InetdConfTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.config = load(INETD_CONF)
        self.services = {service.id: service for service in self.config.services}

    def test_internal(self) -> None:
        """
        C{internal} services are INTERNAL, named C{<name>-<socktype>} (xinetd
        names them all C{-dgram}).
        """
        stream, dgram = self.services["echo-stream"], self.services["echo-dgram"]
        self.assertIn(ServiceType.INTERNAL, stream.type)
        self.assertEqual(
            (stream.socket_type, stream.port, stream.wait), (SocketType.STREAM, 7, False)
        )
        self.assertEqual((dgram.socket_type, dgram.port, dgram.wait), (SocketType.DGRAM, 7, True))
        self.assertTrue(stream.groups)

    def test_external(self) -> None:
        """
        External services get REUSE, NOLIBWRAP and NAMEINARGS, argv verbatim
        from the seventh field, and groups = yes.
        """
        ftp = self.services["ftp"]
        self.assertEqual(ftp.server, "/usr/sbin/tcpd")
        self.assertEqual(ftp.argv, ("in.ftpd", "-l"))
        self.assertEqual(ftp.flags, {Flag.REUSE, Flag.NOLIBWRAP, Flag.NAMEINARGS})
        self.assertEqual((ftp.port, ftp.user.name, ftp.groups), (21, "root", True))  # type: ignore[union-attr]

    def test_familyUserGroupAndLimit(self) -> None:
        """
        C{tcp6} selects IPv6, C{user.group} both, a missing argv is the
        server's name, and C{nowait.max} is ignored with a warning.
        """
        telnet = self.services["telnet"]
        self.assertIn(Flag.IPV6, telnet.flags)
        self.assertEqual(telnet.family, socket.AF_INET6)
        self.assertEqual((telnet.user.name, telnet.group.name), ("nobody", "nogroup"))  # type: ignore[union-attr]
        self.assertEqual(telnet.argv, ("cat",))

    def test_bindAddress(self) -> None:
        """
        C{address:service} binds the service to that address.
        """
        smtp = self.services["smtp"]
        self.assertEqual((smtp.bindAddress, smtp.port, smtp.argv), ("127.0.0.1", 25, ("cat", "-u")))
        self.assertEqual(smtp.group.name, "users")  # type: ignore[union-attr]

    def test_rpc(self) -> None:
        rstatd = self.services["rstatd"]
        self.assertIn(ServiceType.RPC, rstatd.type)
        self.assertEqual((rstatd.rpc_version, rstatd.protocol), ((1, 3), "udp"))

    def test_problems(self) -> None:
        """
        Malformed lines are reported with file and line and skipped.
        """
        lines = [line.split(": ", 1)[1] for line in describe(self.config.diagnostics)]
        self.assertEqual(
            lines,
            [
                "warning: inetd.conf: the limit .40 of telnet is ignored",
                "error: inetd.conf line has fewer than 6 fields",
                "error: inetd.conf: unknown protocol sctp for daytime",
                "error: inetd.conf: sometimes is neither wait nor nowait",
            ],
        )

    def test_missingFile(self) -> None:
        """
        A missing inetd.conf is no services, silently, as in xinetd: Debian's
        unit gives C{-inetd_compat} to systems without one.
        """
        diagnostics = Diagnostics()
        self.assertEqual(parseInetdConf("/nonexistent/inetd.conf", diagnostics), [])
        self.assertEqual(diagnostics.items, ())


class LimitTests(SynchronousTestCase):
    """
    An inetd.conf is read within the limits of a configuration file: a
    regular file of at most L{MAX_SIZE} bytes.
    """

    def refused(self, path: str) -> list[str]:
        diagnostics = Diagnostics()
        self.assertEqual(parseInetdConf(path, diagnostics), [])
        return describe(diagnostics.items)

    def test_tooLarge(self) -> None:
        path = os.path.abspath(self.mktemp())
        with open(path, "wb") as f:
            f.truncate(MAX_SIZE + 1)
        self.assertEqual(
            self.refused(path),
            [f"warning: Unable to read {path}: larger than {MAX_SIZE} bytes"],
        )

    def test_largestRead(self) -> None:
        """
        A file of exactly L{MAX_SIZE} bytes is read.
        """
        path = os.path.abspath(self.mktemp())
        line = b"echo stream tcp nowait root internal\n"
        with open(path, "wb") as f:
            f.write(line)
            f.write(b"#" * (MAX_SIZE - len(line)))
        diagnostics = Diagnostics()
        (entry,) = parseInetdConf(path, diagnostics)
        self.assertEqual((entry.name, describe(diagnostics.items)), ("echo", []))

    def test_notRegular(self) -> None:
        """
        Devices, pipes and directories are refused without being read (a
        pipe without a writer does not block).
        """
        pipe = os.path.abspath(self.mktemp())
        os.mkfifo(pipe)
        directory = os.path.dirname(pipe)
        cases = {"/dev/zero": "not a regular file", pipe: "not a regular file"}
        cases[directory] = "Is a directory"
        for path, reason in cases.items():
            with self.subTest(path=path):
                self.assertEqual(self.refused(path), [f"warning: Unable to read {path}: {reason}"])


NOBODY = 65534


class StrictModesTests(SynchronousTestCase):
    """
    With strict modes an inetd.conf that others than root (and the daemon's
    user) could have written is refused, as the xinetd configuration is:
    its lines name commands run as root.  Refusing it is an error, so a
    reload that meets it is rejected.
    """

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "inetd.conf")
        with open(self.path, "w") as f:
            f.write("echo stream tcp nowait root internal\n")

    def parsed(self, strictModes: bool = True) -> tuple[list[str], list[str]]:
        diagnostics = Diagnostics()
        entries = parseInetdConf(self.path, diagnostics, strictModes)
        return [entry.name for entry in entries], describe(diagnostics.items)

    def needRoot(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("changing owners needs root")

    def test_safe(self) -> None:
        """
        A file of the daemon's user that only it can write is read.
        """
        self.assertEqual(self.parsed(), (["echo"], []))

    def test_writableByEveryone(self) -> None:
        os.chmod(self.path, 0o666)
        self.assertEqual(
            self.parsed(), ([], [f"error: Unable to read {self.path} (writable by everyone)"])
        )

    def test_ownedByAnother(self) -> None:
        self.needRoot()
        os.chown(self.path, NOBODY, NOBODY)
        self.assertEqual(
            self.parsed(), ([], [f"error: Unable to read {self.path} (owned by uid {NOBODY})"])
        )

    def test_directoryOfAnother(self) -> None:
        """
        A file in a directory another user owns (who could replace it) is
        refused too.
        """
        self.needRoot()
        os.chown(self.directory, NOBODY, NOBODY)
        reason = f"directory {self.directory} is owned by uid {NOBODY}"
        self.assertEqual(self.parsed(), ([], [f"error: Unable to read {self.path} ({reason})"]))

    def test_off(self) -> None:
        """
        Without strict modes it is read, as by xinetd.
        """
        os.chmod(self.path, 0o666)
        self.assertEqual(self.parsed(strictModes=False), (["echo"], []))

    def test_load(self) -> None:
        """
        A whole load that meets a refused inetd.conf has an error (a reload
        keeps the running configuration); without strict modes it has the
        file's service.
        """
        main = os.path.join(self.directory, "xinetd.conf")
        with open(main, "w") as f:
            f.write("defaults\n{\n}\n")
        os.chmod(self.path, 0o666)
        loaded = {
            strictModes: loadConfig(
                main,
                system=FakeSystem(),
                internalServices=fakeInternalServices(),
                euid=0,
                inetdConf=self.path,
                strictModes=strictModes,
            )
            for strictModes in (True, False)
        }
        self.assertEqual(
            [[item.message for item in config.errors] for config in loaded.values()],
            [[f"Unable to read {self.path} (writable by everyone)"], []],
        )
        self.assertEqual([len(config.services) for config in loaded.values()], [0, 1])
