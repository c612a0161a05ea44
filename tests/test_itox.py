# -*- test-case-name: tests.test_itox -*-
"""
Tests for L{txinetd.itox}: inetd.conf converted to xinetd.conf entries that
load to the same services as C{-inetd_compat}, tcpd wrappers turned into
libwrap entries, and the C{txinetd-itox} command.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from importlib.metadata import entry_points

from twisted.trial.unittest import SynchronousTestCase

from tests.documented import MAX_SIZE
from txinetd.core.config import Config, ServiceConfig
from txinetd.core.diagnostics import Diagnostics, Location
from txinetd.core.values import Flag
from txinetd.daemon.loading import loadConfig
from txinetd.itox import convert, main

from .fakes import FakeSystem, fakeInternalServices

INETD_CONF = """\
# services, a blank line and a comment

echo\tstream\ttcp\tnowait\troot\tinternal
echo\tdgram\tudp\twait\troot\tinternal
daytime stream tcp6 nowait root internal
telnet stream tcp nowait.40 nobody.nogroup /bin/cat cat -u
127.0.0.1:smtp stream tcp nowait alice:users /bin/cat
rstatd/1-3 dgram rpc/udp wait root /bin/cat rpc.rstatd
ftp stream tcp nowait root /usr/sbin/tcpd in.ftpd -l
finger stream tcp nowait nobody /usr/sbin/tcpd /bin/cat
"""

PAGE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "inetd-conf.md"
)

#: The services of INETD_CONF that tcpd wraps.
WRAPPED = {"ftp", "finger"}

EXPECTED_ECHO_AND_FTP = """\
service echo
{
\tsocket_type\t= stream
\tprotocol\t= tcp
\twait\t\t= no
\tuser\t\t= root
\tgroups\t\t= yes
\tid\t\t= echo-stream
\ttype\t\t= INTERNAL
}

service ftp
{
\tsocket_type\t= stream
\tprotocol\t= tcp
\twait\t\t= no
\tuser\t\t= root
\tgroups\t\t= yes
\tserver\t\t= /usr/sbin/in.ftpd
\tserver_args\t= -l
\tlibwrap\t\t= in.ftpd
\tflags\t\t= REUSE
}
"""


def run(*arguments: str, stdin: bytes = b"", cwd: str | None = None) -> tuple[int, str, list[str]]:
    """
    Run L{main} with in-memory streams.

    @return: the exit status, standard output and standard error's lines.
    """
    out, err = io.BytesIO(), io.StringIO()
    status = main(list(arguments), io.BytesIO(stdin), out, err)
    return status, out.getvalue().decode(), err.getvalue().splitlines()


class ConvertTests(SynchronousTestCase):
    def test_blocks(self) -> None:
        """
        Each line is a C{service} block with the attributes C{-inetd_compat}
        gives it, their C{=} aligned on a tab stop; blocks are separated by
        a blank line.
        """
        text = (
            "echo stream tcp nowait root internal\n"
            "ftp stream tcp nowait root /usr/sbin/tcpd in.ftpd -l\n"
        )
        diagnostics = Diagnostics()
        self.assertEqual(convert(text, "x", "/usr/sbin", diagnostics), EXPECTED_ECHO_AND_FTP)
        self.assertEqual(diagnostics.items, ())

    def test_namesInArguments(self) -> None:
        """
        An external server keeps its argv verbatim with NAMEINARGS, as
        C{-inetd_compat} runs it; C{user.group} and C{address:service} are
        split.
        """
        text = "127.0.0.1:smtp stream tcp nowait alice:users /bin/cat cat -u\n"
        lines = convert(text, "x", None, Diagnostics()).splitlines()
        self.assertEqual(lines[:2], ["service smtp", "{"])
        self.assertIn("\tbind\t\t= 127.0.0.1", lines)
        self.assertIn("\tuser\t\t= alice", lines)
        self.assertIn("\tgroup\t\t= users", lines)
        self.assertIn("\tserver_args\t= cat -u", lines)
        self.assertIn("\tflags\t\t= REUSE NOLIBWRAP NAMEINARGS", lines)

    def test_absoluteTcpdDaemon(self) -> None:
        """
        A tcpd daemon named by an absolute path needs no daemon directory;
        without other arguments it gets no C{server_args}.
        """
        text = "finger stream tcp nowait nobody /usr/sbin/tcpd /usr/sbin/in.fingerd\n"
        diagnostics = Diagnostics()
        lines = convert(text, "x", None, diagnostics).splitlines()
        self.assertIn("\tserver\t\t= /usr/sbin/in.fingerd", lines)
        self.assertIn("\tlibwrap\t\t= in.fingerd", lines)
        self.assertEqual([line for line in lines if "server_args" in line], [])
        self.assertEqual(diagnostics.items, ())

    def test_tcpdNeedsDaemonDirectory(self) -> None:
        """
        A tcpd line whose daemon is not an absolute path, without a daemon
        directory, is an error with its file and line; the other lines are
        converted.
        """
        diagnostics = Diagnostics()
        output = convert(INETD_CONF, "inetd.conf", None, diagnostics)
        self.assertNotIn("service ftp", output)
        self.assertIn("service finger", output)
        self.assertIn("service echo", output)
        self.assertEqual(
            [str(d) for d in diagnostics.inFileOrder()],
            [
                "inetd.conf:6: warning: inetd.conf: the limit .40 of telnet is ignored",
                "inetd.conf:9: error: You must use option --daemon-dir if you use tcpd",
            ],
        )

    def test_tcpdWithoutDaemon(self) -> None:
        diagnostics = Diagnostics()
        output = convert(
            "ftp stream tcp nowait root /usr/sbin/tcpd\n", "c", "/usr/sbin", diagnostics
        )
        self.assertEqual(output, "")
        self.assertEqual(
            [str(d) for d in diagnostics.items],
            ["c:1: error: tcpd needs the daemon's name as its first argument"],
        )


def loadMain(directory: str, text: str, inetdConf: str | None = None) -> Config:
    path = os.path.join(directory, "xinetd.conf")
    with open(path, "w") as f:
        f.write(text)
    return loadConfig(
        path,
        system=FakeSystem(),
        internalServices=fakeInternalServices(),
        baseDirectory=directory,
        euid=0,
        inetdConf=inetdConf,
    )


def byId(config: Config) -> dict[str, ServiceConfig]:
    """
    The services of a configuration by id, without their locations.
    """
    nowhere = Location("", 0)
    return {s.id: dataclasses.replace(s, location=nowhere) for s in config.services}


class RoundTripTests(SynchronousTestCase):
    """
    The converted file, loaded as an xinetd.conf, runs the services that
    C{-inetd_compat} runs for the same inetd.conf.
    """

    def setUp(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        inetd = os.path.join(directory, "inetd.conf")
        with open(inetd, "w") as f:
            f.write(INETD_CONF)
        diagnostics = Diagnostics()
        converted = convert(INETD_CONF, inetd, "/usr/sbin", diagnostics)
        self.assertEqual(len(diagnostics.items), 1)
        self.converted = loadMain(directory, converted)
        self.compat = loadMain(directory, "defaults\n{\n}\n", inetd)

    def test_loadsCleanly(self) -> None:
        self.assertEqual(self.converted.diagnostics, ())
        self.assertEqual(
            sorted(byId(self.converted)),
            [
                "daytime-stream",
                "echo-dgram",
                "echo-stream",
                "finger",
                "ftp",
                "rstatd",
                "smtp",
                "telnet",
            ],
        )

    def test_sameServices(self) -> None:
        converted, compat = byId(self.converted), byId(self.compat)
        self.assertEqual(converted.keys(), compat.keys())
        for serviceId in converted.keys() - WRAPPED:
            self.assertEqual(converted[serviceId], compat[serviceId])

    def test_tcpdRewritten(self) -> None:
        """
        A tcpd service runs the real daemon with the same argv, checked by
        libwrap under the daemon's name.
        """
        converted, compat = byId(self.converted), byId(self.compat)
        ftp, finger = converted["ftp"], converted["finger"]
        self.assertEqual(
            (ftp.server, ftp.argv, ftp.libwrap, ftp.flags),
            ("/usr/sbin/in.ftpd", ("in.ftpd", "-l"), "in.ftpd", frozenset({Flag.REUSE})),
        )
        self.assertEqual(
            (finger.server, finger.argv, finger.libwrap), ("/bin/cat", ("cat",), "cat")
        )
        self.assertEqual(compat["ftp"].argv, ftp.argv)
        self.assertEqual(
            dataclasses.replace(
                compat["ftp"],
                server=ftp.server,
                server_args=("-l",),
                flags=ftp.flags,
                libwrap="in.ftpd",
                specified=compat["ftp"].specified | {"libwrap"},
            ),
            ftp,
        )


class DocumentedTests(SynchronousTestCase):
    def test_example(self) -> None:
        """
        The example of docs/inetd-conf.md is what the converter writes.
        """
        with open(PAGE, encoding="utf-8") as f:
            section = f.read().split("# Converting inetd.conf\n", 1)[1]
        blocks = section.split("```\n")
        diagnostics = Diagnostics()
        self.assertEqual(convert(blocks[1], "inetd-conf.md", "/usr/sbin", diagnostics), blocks[3])
        self.assertEqual(diagnostics.items, ())


class MainTests(SynchronousTestCase):
    def test_standardInput(self) -> None:
        status, out, err = run("--daemon-dir", "/usr/sbin", stdin=INETD_CONF.encode())
        self.assertEqual(status, 0)
        self.assertEqual(out.count("service "), 8)
        self.assertIn("\tserver\t\t= /usr/sbin/in.ftpd\n", out)
        self.assertEqual(
            err, ["<stdin>:6: warning: inetd.conf: the limit .40 of telnet is ignored"]
        )

    def test_fileAndItoxSpelling(self) -> None:
        """
        A file argument is read instead of standard input; itox's
        C{-daemon_dir} is accepted.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("ftp stream tcp nowait root /usr/sbin/tcpd in.ftpd -l\n")
        status, out, err = run("-daemon_dir", "/opt/sbin", path, stdin=b"junk\n")
        self.assertEqual((status, err), (0, []))
        self.assertIn("\tserver\t\t= /opt/sbin/in.ftpd\n", out)

    def test_errorsExitOne(self) -> None:
        """
        Every bad line is reported with its line number, the good ones are
        converted, and the exit status is 1.
        """
        text = (
            b"short stream tcp\n"
            b"echo stream tcp nowait root internal\n"
            b"x stream sctp nowait root internal\n"
        )
        status, out, err = run(stdin=text)
        self.assertEqual(status, 1)
        self.assertEqual(out.count("service "), 1)
        self.assertEqual(
            err,
            [
                "<stdin>:1: error: inetd.conf line has fewer than 6 fields",
                "<stdin>:3: error: inetd.conf: unknown protocol sctp for x",
            ],
        )

    def test_tcpdWithoutDaemonDirectory(self) -> None:
        status, out, err = run(stdin=INETD_CONF.encode())
        self.assertEqual(status, 1)
        self.assertIn("service finger\n", out)
        self.assertIn("<stdin>:9: error: You must use option --daemon-dir if you use tcpd", err)

    def test_unreadableFile(self) -> None:
        status, out, err = run("/nonexistent/inetd.conf")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err, ["txinetd-itox: cannot read /nonexistent/inetd.conf: No such file or directory"]
        )

    def test_limits(self) -> None:
        """
        The input is read within the limits of a configuration file: a
        regular file, or standard input, of at most L{MAX_SIZE} bytes.
        """
        status, out, err = run("/dev/zero")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err, ["txinetd-itox: cannot read /dev/zero: not a regular file"])
        status, out, err = run(stdin=b"#" * (MAX_SIZE + 1))
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err, [f"txinetd-itox: cannot read <stdin>: larger than {MAX_SIZE} bytes"])

    def test_consoleScript(self) -> None:
        """
        The installed C{txinetd-itox} command converts standard input.
        """
        (script,) = entry_points(group="console_scripts", name="txinetd-itox")
        self.assertEqual(script.value, "txinetd.itox:main")
        command = os.path.join(os.path.dirname(sys.executable), "txinetd-itox")
        result = subprocess.run(
            [command],
            input=b"echo stream tcp nowait root internal\n",
            capture_output=True,
            timeout=30,
            check=False,
        )
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(result.stdout, EXPECTED_ECHO_AND_FTP.split("\n\n")[0].encode() + b"\n")
