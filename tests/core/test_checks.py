# -*- test-case-name: tests.core.test_checks -*-
"""
Tests for L{txinetd.core.checks}: the fill and check steps of each service
(section 2.9 of the xinetd reference), the listening family, banner files,
the daemon's credentials and the introspection services' rule.

Every configuration is loaded with L{tests.fakes.FakeSystem}: no lookup
touches the machine's users, services or resolver.
"""

from __future__ import annotations

import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from tests.core.test_inheritance import EXTERNAL, LoadingCase, defaults, entry
from tests.fakes import (
    INTERNAL_SERVICES,
    PROTOCOLS,
    ConfigFiles,
    FakeSystem,
    describe,
)
from txinetd.core.checks import requiresOnlyFrom
from txinetd.core.config import Listening, ServiceKind
from txinetd.core.values import (
    FailureFlag,
    Flag,
    HostSpec,
    RedirectSpec,
    ServiceType,
    SocketType,
    SuccessFlag,
    UserSpec,
)
from txinetd.serve.banners import MAX_BANNER

# --- 2.9 fill and check ------------------------------------------------------------


#: Shorthands for the table below.
_EXT = "; ".join(EXTERNAL)
_RPC = "socket_type = dgram; wait = yes; user = root; server = /bin/cat"
_REDIRECT = "user = root; redirect = 127.0.0.1 23"

#: (service name, its lines separated by "; ", messages...): the fill and
#: check steps in order.  The messages are at the entry's first line; a
#: service with an error is dropped, one with only warnings kept.
FILL_AND_CHECK: list[tuple[str, ...]] = [
    ("ftp", "socket_type = stream; wait = no; user = root", "error: Must specify a server in ftp"),
    (
        "ftp",
        f"{_EXT}; flags = NAMEINARGS",
        "error: Must specify server args if using NAMEINARGS flag",
    ),
    ("ftp", f"{_EXT}; flags = IPv4 IPv6", "warning: Service ftp will use IPv6 or fallback to IPv4"),
    (
        "ftp",
        "wait = no; user = root; server = /bin/cat",
        "error: Port not specified for service: ftp and no protocol given",
    ),
    (
        "ftp",
        "socket_type = raw; wait = no; user = root; server = /bin/cat",
        "error: Port not specified for service: ftp and no protocol given",
    ),
    (
        "ftp",
        "wait = no; user = root; server = /bin/cat; port = 21",
        "error: A protocol or a socket_type must be specified for service: ftp.",
        "error: Service ftp missing attribute socket_type - DISABLING",
    ),
    (
        "gopher",
        _EXT,
        "error: Port not specified and can't find service: gopher with getservbyname",
    ),
    (
        "gopher",
        f"{_EXT}; type = UNLISTED",
        "error: Unlisted service: gopher must have a port entry",
    ),
    (
        "echo",
        "type = INTERNAL UNLISTED; socket_type = stream; wait = no",
        "error: Unlisted service: echo must have a port entry",
    ),
    (
        "echo",
        "type = INTERNAL; socket_type = stream; wait = no; port = 31999",
        "error: Service echo expects port 7, not 31999",
    ),
    (
        "gopher",
        f"{_EXT}; port = 70",
        "error: service/protocol combination not in /etc/services: gopher/tcp",
    ),
    (
        "ntalk",
        "protocol = tcp; wait = no; user = root; server = /bin/cat; port = 518",
        "error: service/protocol combination not in /etc/services: ntalk/tcp",
    ),
    (
        "echo",
        "type = INTERNAL; socket_type = stream; wait = no; flags = INTERCEPT",
        "warning: Internal services cannot be intercepted: echo ",
        "warning: Multi-threaded services cannot be intercepted: echo",
    ),
    (
        "echo",
        "type = INTERNAL; socket_type = dgram; wait = yes; flags = INTERCEPT",
        "warning: Internal services cannot be intercepted: echo ",
    ),
    (
        "ftp",
        f"{_EXT}; flags = INTERCEPT",
        "warning: Multi-threaded services cannot be intercepted: ftp",
    ),
    (
        "trap",
        "type = UNLISTED; port = 5000; socket_type = seqpacket; wait = no; flags = SENSOR; "
        "protocol = tcp",
        "error: No such internal service: sensor/seqpacket - DISABLING",
        "error: Service trap: socket_type seqpacket is not supported: txinetd serves stream "
        "(TCP) and dgram (UDP) sockets only",
    ),
    (
        "bogus",
        "type = INTERNAL UNLISTED; port = 5000; socket_type = stream; wait = no",
        "error: No such internal service: bogus/stream - DISABLING",
    ),
    (
        "time",
        "type = INTERNAL UNLISTED; port = 5000; socket_type = seqpacket; wait = no; protocol = tcp",
        "error: No such internal service: time/seqpacket - DISABLING",
        "error: Service time: socket_type seqpacket is not supported: txinetd serves stream "
        "(TCP) and dgram (UDP) sockets only",
    ),
    (
        "mux",
        f"{_EXT}; type = TCPMUX",
        "error: Service: mux (tcpmux) should have UNLISTED in type.",
        "error: service/protocol combination not in /etc/services: mux/tcp",
    ),
    (
        "mux",
        "type = TCPMUXPLUS UNLISTED; protocol = udp; wait = yes; user = root; server = /bin/cat",
        "error: Service: mux (tcpmux) should have tcp in protocol.",
    ),
    ("nfsd", f"type = RPC; {_RPC}; rpc_version = 1", "error: unknown RPC service: nfsd"),
    (
        "rstatd",
        f"type = RPC; {_RPC}",
        "error: Service rstatd missing attribute rpc_version - DISABLING",
    ),
    (
        "mine",
        f"type = RPC UNLISTED; {_RPC}; rpc_version = 1-2",
        "error: Service mine missing attribute rpc_number - DISABLING",
    ),
    (
        "telnet",
        f"socket_type = dgram; protocol = tcp; wait = no; {_REDIRECT}",
        "error: Only tcp sockets are supported for redirected service telnet",
        "error: Service telnet has socket_type dgram, but does not wait - DISABLING; write "
        "wait = yes (the server reads the datagrams from the socket it is given)",
        "error: Service telnet: socket_type dgram and protocol tcp disagree "
        "(tcp sockets are stream)",
    ),
    (
        "telnet",
        f"socket_type = stream; wait = yes; {_REDIRECT}",
        "error: Redirected service telnet must not wait",
    ),
    (
        "telnet",
        f"socket_type = stream; wait = no; {_REDIRECT}; flags = NAMEINARGS",
        "error: Redirected service telnet should not have NAMEINARGS flag set",
    ),
    (
        "telnet",
        "socket_type = stream; wait = no; redirect = 127.0.0.1 23",
        "error: Service telnet missing attribute user - DISABLING",
    ),
    (
        "echo",
        "type = INTERNAL; socket_type = stream; wait = no; flags = NAMEINARGS; server_args = x",
        "error: Service echo is INTERNAL and has NAMEINARGS flag set",
    ),
    (
        "echo",
        "type = INTERNAL; socket_type = dgram; wait = no",
        "error: Service echo has socket_type dgram, but does not wait - DISABLING; write "
        "wait = yes (the server reads the datagrams from the socket it is given)",
    ),
    (
        "echo",
        "socket_type = stream; protocol = udp; wait = no; user = root; server = /bin/cat",
        "error: Service echo: socket_type stream and protocol udp disagree (udp sockets are dgram)",
    ),
    (
        "echo",
        "socket_type = dgram; protocol = TCP; wait = yes; user = root; server = /bin/cat",
        "error: Service echo: socket_type dgram and protocol tcp disagree (tcp sockets are stream)",
    ),
    (
        "ftp",
        "socket_type = stream; user = root; server = /bin/cat; id = ftp-x",
        "error: Service ftp-x missing attribute wait - DISABLING",
    ),
    (
        "icmpd",
        "type = UNLISTED; port = 5000; protocol = icmp; server = /bin/cat",
        "error: Service icmpd missing attribute socket_type - DISABLING",
        "error: Service icmpd missing attribute wait - DISABLING",
        "error: Service icmpd missing attribute user - DISABLING",
    ),
    (
        "auth",
        f"{_EXT}; log_on_success = USERID PID; log_on_failure = USERID",
        "warning: auth service: clearing USERID option from log_on_success",
        "warning: auth service: clearing USERID option from log_on_failure",
    ),
    (
        "ftp",
        f"{_EXT}; log_on_success = TRAFFIC HOST",
        "warning: Service ftp is not redirected: the TRAFFIC flag has no effect",
    ),
]


class FillAndCheckTests(LoadingCase):
    def test_table(self) -> None:
        """
        Each fill or check problem gives xinetd's message at the entry's
        line; errors drop the service, warnings keep it.
        """
        for name, lines, *messages in FILL_AND_CHECK:
            with self.subTest(name=name, lines=lines):
                config = self.load("\n", entry(name, *lines.split("; ")))
                self.assertEqual(
                    describe(config.diagnostics), [f"xinetd.conf:2: {m}" for m in messages]
                )
                survives = all(m.startswith("warning:") for m in messages)
                self.assertEqual(len(config.services), int(survives))

    def test_flagsCleared(self) -> None:
        """
        Warnings that keep the service also fix it: IPv4 is cleared when
        IPv6 is set too, INTERCEPT and USERID are cleared, TRAFFIC dropped.
        """
        both = self.load(entry("ftp", *EXTERNAL, "flags = IPv4 IPv6 INTERCEPT")).services[0]
        self.assertEqual((both.flags, both.family), ({Flag.IPV6}, socket.AF_INET6))
        auth = self.load(
            entry("auth", *EXTERNAL, "log_on_success = USERID PID", "log_on_failure = USERID HOST")
        ).services[0]
        self.assertEqual(
            (auth.port, auth.log_on_success, auth.log_on_failure),
            (113, {SuccessFlag.PID}, {FailureFlag.HOST}),
        )
        traffic = self.load(entry("ftp", *EXTERNAL, "log_on_success = TRAFFIC HOST")).services[0]
        self.assertEqual(traffic.log_on_success, {SuccessFlag.HOST})

    def test_interceptClearedOnWaitingExternal(self) -> None:
        """
        INTERCEPT, which xinetd keeps for an external service that waits,
        is not supported: it is cleared with a warning at the entry's line
        that the address rules are not applied to each connection.
        """
        config = self.load(
            entry(
                "ftp",
                "socket_type = stream",
                "wait = yes",
                "user = root",
                "server = /bin/cat",
                "flags = INTERCEPT",
            )
        )
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:1: warning: Service ftp: INTERCEPT is not supported: the address "
                "rules apply to the client that starts the server, not to those it serves after"
            ],
        )
        self.assertEqual(config.services[0].flags, frozenset())

    def test_trafficFromDefaultsDroppedSilently(self) -> None:
        """
        TRAFFIC inherited from the defaults is dropped from non-redirected
        services without a warning, even when they modify the list; a
        redirected service keeps it.
        """
        config = self.load(
            defaults("log_on_success = TRAFFIC PID"),
            entry("ftp", *EXTERNAL),
            entry("smtp", *EXTERNAL, "log_on_success += HOST"),
            entry(
                "telnet",
                "socket_type = stream",
                "wait = no",
                "user = root",
                "redirect = sabrina 23",
            ),
        )
        self.assertEqual(describe(config.diagnostics), [])
        self.assertEqual(
            [s.log_on_success for s in config.services],
            [
                {SuccessFlag.PID},
                {SuccessFlag.PID, SuccessFlag.HOST},
                {SuccessFlag.PID, SuccessFlag.TRAFFIC},
            ],
        )

    def test_argv(self) -> None:
        """
        argv is the server's base name and the arguments, or with NAMEINARGS
        the arguments alone, whatever the order of C{flags} and
        C{server_args}.
        """
        cases = [
            ((), ("cat",)),
            (("server_args = a b",), ("cat", "a", "b")),
            (("flags = NAMEINARGS", "server_args = in.fingerd -l"), ("in.fingerd", "-l")),
            (("server_args = in.fingerd -l", "flags = NAMEINARGS"), ("in.fingerd", "-l")),
        ]
        for lines, argv in cases:
            with self.subTest(lines=lines):
                service = self.loadOne(entry("finger", *EXTERNAL, *lines))
                self.assertEqual((service.server, service.argv), ("/bin/cat", argv))

    def test_protocolAgreement(self) -> None:
        """
        txinetd serves TCP stream sockets and UDP datagram sockets, whatever
        name of /etc/protocols gives the protocol.  A service whose socket
        type and protocol disagree, or that wants another socket type or
        protocol, is dropped with the reason (see L{FILL_AND_CHECK}).
        """
        system = FakeSystem(protocols={**PROTOCOLS, "sctp": 132, "transmission": 6})
        unsupported = "is not supported: txinetd serves stream (TCP) and dgram (UDP) sockets only"
        cases = [
            ("stream", "tcp", None),
            ("dgram", "udp", None),
            ("stream", "transmission", None),
            ("dgram", "transmission", "socket_type dgram and protocol transmission disagree"),
            ("stream", "udp", "socket_type stream and protocol udp disagree"),
            ("stream", "sctp", f"protocol sctp {unsupported}"),
            ("dgram", "icmp", f"protocol icmp {unsupported}"),
            ("raw", "tcp", f"socket_type raw {unsupported}"),
            ("raw", "icmp", f"socket_type raw {unsupported}"),
            ("seqpacket", "sctp", f"socket_type seqpacket {unsupported}"),
            ("seqpacket", "udp", f"socket_type seqpacket {unsupported}"),
        ]
        for socketType, protocol, problem in cases:
            with self.subTest(socketType=socketType, protocol=protocol):
                config = self.load(
                    entry(
                        "mine",
                        "type = UNLISTED",
                        "port = 5000",
                        f"socket_type = {socketType}",
                        f"protocol = {protocol}",
                        "wait = yes",
                        "user = root",
                        "server = /bin/cat",
                    ),
                    system=system,
                )
                expected = (
                    [] if problem is None else [f"xinetd.conf:1: error: Service mine: {problem}"]
                )
                self.assertEqual(
                    [
                        message.split(" (")[0] if "disagree" in message else message
                        for message in describe(config.diagnostics)
                    ],
                    expected,
                )
                self.assertEqual(len(config.services), int(problem is None))

    def test_inference(self) -> None:
        """
        C{stream} implies C{tcp} and C{dgram} C{udp}, and the other way
        round; the port comes from /etc/services.
        """
        cases = [
            ("echo", "socket_type = stream", SocketType.STREAM, "tcp", 7),
            ("echo", "socket_type = dgram", SocketType.DGRAM, "udp", 7),
            ("echo", "protocol = tcp", SocketType.STREAM, "tcp", 7),
            ("ntalk", "protocol = udp", SocketType.DGRAM, "udp", 518),
        ]
        for name, line, socketType, protocol, port in cases:
            with self.subTest(line=line):
                service = self.loadOne(
                    entry(name, line, "wait = yes", "user = nobody", "server = /bin/cat")
                )
                self.assertEqual(
                    (service.socket_type, service.protocol, service.port),
                    (socketType, protocol, port),
                )

    def test_internalService(self) -> None:
        """
        An internal service needs neither user nor server.
        """
        service = self.loadOne(
            entry("daytime", "type = INTERNAL", "socket_type = stream", "wait = no")
        )
        self.assertEqual(
            (service.kind, service.port, service.server, service.argv, service.user),
            (ServiceKind.INTERNAL, 13, None, (), None),
        )

    def test_sensor(self) -> None:
        """
        SENSOR makes the service internal, served by the C{sensor} built-in
        whatever the name; no server is needed.
        """
        service = self.loadOne(
            entry(
                "trap",
                "type = UNLISTED",
                "port = 5000",
                "socket_type = stream",
                "wait = no",
                "flags = SENSOR",
                "deny_time = 10",
            ),
            internal=INTERNAL_SERVICES | {("sensor", "stream")},
        )
        self.assertEqual(
            (service.kind, ServiceType.INTERNAL in service.type, service.deny_time, service.server),
            (ServiceKind.SENSOR, True, 10, None),
        )

    def test_tcpmuxClient(self) -> None:
        """
        A TCPMUX client needs no port and has no socket of its own.
        """
        service = self.loadOne(
            entry(
                "mux",
                "type = TCPMUX UNLISTED",
                "protocol = tcp",
                "wait = no",
                "user = root",
                "server = /bin/cat",
            )
        )
        self.assertEqual(
            (service.listening, service.listens, service.port, service.socket_type),
            (Listening.THROUGH_TCPMUX, False, None, SocketType.STREAM),
        )

    def test_rpc(self) -> None:
        """
        RPC services need C{rpc_version} and, unlisted, C{rpc_number}; no
        port.
        """
        rpc = ("socket_type = dgram", "wait = yes", "user = root", "server = /bin/cat")
        config = self.load(
            entry("rstatd", "type = RPC", *rpc, "rpc_version = 1-3"),
            entry("mine", "type = RPC UNLISTED", *rpc, "rpc_version = 2", "rpc_number = 300000"),
        )
        self.assertEqual(describe(config.diagnostics), [])
        self.assertEqual(
            [(s.port, s.rpc_version, s.rpc_number) for s in config.services],
            [(None, (1, 3), None), (None, (2, 2), 300000)],
        )

    def test_redirect(self) -> None:
        """
        A redirected service ignores C{server}.
        """
        service = self.loadOne(entry("telnet", *EXTERNAL, "redirect = sabrina telnet"))
        self.assertEqual(
            (service.redirect, service.server, service.argv),
            (RedirectSpec(HostSpec("sabrina", ("192.168.1.15",)), 23), None, ()),
        )


class FamilyTests(LoadingCase):
    def test_familyAndAddress(self) -> None:
        """
        The listening family and address: dual stack C{::} by default,
        C{0.0.0.0} with C{flags = IPv4}, the bind address's family, and for
        a host name with both families the IPv4 address unless
        C{flags = IPv6}.
        """
        v4, v6 = socket.AF_INET, socket.AF_INET6
        cases = [
            ((), v6, "::"),
            (("flags = IPv4",), v4, "0.0.0.0"),
            (("flags = IPv6",), v6, "::"),
            (("bind = 127.0.0.1",), v4, "127.0.0.1"),
            (("interface = ::1",), v6, "::1"),
            (("bind = dual",), v4, "192.0.2.7"),
            (("bind = dual", "flags = IPv6"), v6, "2001:db8::7"),
            (("bind = dual", "flags = IPv4"), v4, "192.0.2.7"),
            (("bind = sixonly",), v6, "2001:db8::6"),
        ]
        for lines, family, address in cases:
            with self.subTest(lines=lines):
                service = self.loadOne(entry("ftp", *EXTERNAL, *lines))
                self.assertEqual((service.family, service.bindAddress), (family, address))

    def test_bindAndInterfaceAreOneAttribute(self) -> None:
        config = self.load(entry("ftp", *EXTERNAL, "bind = 127.0.0.1", "interface = ::1"))
        self.assertEqual(config.services[0].bindAddress, "127.0.0.1")
        self.assertEqual(
            describe(config.diagnostics),
            ["xinetd.conf:8: warning: Service ftp: attribute already set: interface"],
        )

    def test_bindFromDefaults(self) -> None:
        service = self.loadOne(defaults("bind = ::1"), entry("ftp", *EXTERNAL))
        self.assertEqual((service.family, service.bindAddress), (socket.AF_INET6, "::1"))


class BannerFileTests(LoadingCase):
    """
    Banner files are checked at load: only regular files of at most
    L{MAX_BANNER} bytes; a missing one is read again at each connection.
    """

    def test_refused(self) -> None:
        """
        A FIFO, a device, a directory or a file over L{MAX_BANNER} bytes as
        a banner (inherited from the defaults too) drops the service with
        its file and line; a missing file and a regular one are fine.
        """
        fifo = os.path.join(self.files.base, "fifo")
        os.mkfifo(fifo)
        large = os.path.join(self.files.base, "large")
        with open(large, "wb") as f:
            f.write(b"x" * (MAX_BANNER + 1))
        fits = os.path.join(self.files.base, "fits")
        with open(fits, "wb") as f:
            f.write(b"x" * MAX_BANNER)
        missing = os.path.join(self.files.base, "missing")
        config = self.load(
            defaults(f"banner_fail = {fifo}"),
            entry("ftp", *EXTERNAL, f"banner = {fits}", f"banner_success = {missing}"),
            entry(
                "telnet", *EXTERNAL[:2], "user = root", "server = /bin/cat", "banner = /dev/zero"
            ),
            entry("smtp", *EXTERNAL, f"banner_success = {self.files.base}"),
            entry("pop3", *EXTERNAL, f"banner = {large}"),
        )
        self.assertEqual(self.ids(config), [])
        self.assertEqual(
            describe(config.diagnostics),
            [
                f"xinetd.conf:5: error: Service ftp: banner_fail {fifo}: not a regular file",
                "xinetd.conf:14: error: Service telnet: banner /dev/zero: not a regular file",
                f"xinetd.conf:14: error: Service telnet: banner_fail {fifo}: not a regular file",
                f"xinetd.conf:22: error: Service smtp: banner_success {self.files.base}: "
                "not a regular file",
                f"xinetd.conf:22: error: Service smtp: banner_fail {fifo}: not a regular file",
                f"xinetd.conf:30: error: Service pop3: banner {large}: larger than "
                f"{MAX_BANNER} bytes",
                f"xinetd.conf:30: error: Service pop3: banner_fail {fifo}: not a regular file",
            ],
        )

    def test_fine(self) -> None:
        """
        A regular file of L{MAX_BANNER} bytes and a missing file are fine.
        """
        fits = os.path.join(self.files.base, "fits")
        with open(fits, "wb") as f:
            f.write(b"x" * MAX_BANNER)
        missing = os.path.join(self.files.base, "missing")
        service = self.loadOne(
            entry("ftp", *EXTERNAL, f"banner = {fits}", f"banner_fail = {missing}")
        )
        self.assertEqual((service.banner, service.banner_fail), (fits, missing))


class CredentialTests(LoadingCase):
    def test_nonRootDaemon(self) -> None:
        """
        A daemon that is not root can only run servers as itself: another
        user is an error at load.
        """
        config = self.load(
            entry("ftp", *EXTERNAL),
            entry("telnet", *EXTERNAL[:2], "user = alice", "server = /bin/cat"),
            entry("smtp", *EXTERNAL[:2], "user = 1000", "server = /bin/cat"),
            entry("finger", *EXTERNAL[:2], "user = alice", "server = /bin/cat", "group = 4242424"),
            euid=1000,
        )
        self.assertEqual(self.ids(config), ["telnet", "smtp"])
        self.assertEqual(
            describe(config.diagnostics),
            [
                "xinetd.conf:1: error: Service ftp: txinetd runs as uid 1000 and cannot run "
                "servers as user root",
                "xinetd.conf:22: error: Service finger: txinetd runs as uid 1000 and cannot run "
                "servers as group 4242424",
            ],
        )

    def test_numericUser(self) -> None:
        """
        A numeric user is not looked up; its gid is the same number.
        """
        service = self.loadOne(entry("ftp", *EXTERNAL[:2], "user = 4242", "server = /bin/cat"))
        self.assertEqual(service.user, UserSpec("4242", 4242, 4242))


INTROSPECTION_CONFIG = """\
defaults
{
    only_from = 127.0.0.1
}
service xadmin
{
    type = INTERNAL UNLISTED
    port = 9100
    socket_type = stream
    wait = no
    only_from = 127.0.0.1
}
service services
{
    type = INTERNAL UNLISTED
    port = 9101
    socket_type = stream
    wait = no
}
service SERVERS
{
    type = INTERNAL UNLISTED
    port = 9102
    socket_type = stream
    wait = no
    only_from =
}
service echo
{
    type = INTERNAL
    socket_type = stream
    wait = no
}
service xadmin
{
    id = xadmin-sensor
    type = INTERNAL UNLISTED
    port = 9103
    socket_type = stream
    wait = no
    flags = SENSOR
}
"""


class IntrospectionRuleTests(SynchronousTestCase):
    """
    L{requiresOnlyFrom}: an introspection service needs an C{only_from} of
    its own.
    """

    def test_rule(self) -> None:
        """
        Only an introspection service without an C{only_from} of its own
        is refused (at load); an empty one counts, one from the defaults
        does not.
        """
        files = ConfigFiles(self)
        files.write("xinetd.conf", INTROSPECTION_CONFIG)
        available = INTERNAL_SERVICES | {
            ("servers", "stream"),
            ("services", "stream"),
            ("xadmin", "stream"),
            ("sensor", "stream"),
        }
        config = files.load(internal=available)
        self.assertEqual(
            [d.message for d in config.errors],
            [
                "Service services shows the daemon's state and needs an "
                "only_from of its own - DISABLING"
            ],
        )
        self.assertEqual(
            {service.id: requiresOnlyFrom(service) for service in config.services},
            {"xadmin": None, "SERVERS": None, "echo": None, "xadmin-sensor": None},
        )
