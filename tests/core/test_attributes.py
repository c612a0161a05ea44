# -*- test-case-name: tests.core.test_attributes -*-
"""
Tests for L{txinetd.core.attributes}: the attribute table of section 3 of the
xinetd reference (arity, where each attribute is allowed) and every
converter, with every error message.
"""

from __future__ import annotations

import re
import resource
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import FakeSystem, addresses, intervals
from txinetd.core.addressentries import DomainEntry, NetworkEntry
from txinetd.core.attributes import ATTRIBUTES, Arity, Where
from txinetd.core.endpoint import Listen, UNIXListen
from txinetd.core.numbers import LONG_MAX, LONG_MIN, MAX_ID, parseInteger, parsePort, parseSize
from txinetd.core.proxyprotocol import ConnectionEnv, ProxyLocal, ProxyVersion
from txinetd.core.values import (
    FOREVER,
    BadValue,
    CpsSpec,
    EnvEntry,
    FailureFlag,
    Flag,
    GroupSpec,
    HostSpec,
    LogKind,
    LogSpec,
    RedirectSpec,
    ServiceType,
    SocketType,
    SuccessFlag,
    UserSpec,
)

INFINITY = resource.RLIM_INFINITY
_S, _D, _B = Where.SERVICE, Where.DEFAULTS, Where.BOTH
_FIXED, _VAR, _LIST = Arity.FIXED, Arity.VARIABLE, Arity.LIST

#: Sections 2.5, 2.7 and 3: (arity, where, value count, -= allowed).
TABLE: dict[str, tuple[Arity, Where, int, bool]] = {
    **{
        name: (_FIXED, _S, 1, True)
        for name in [
            "id",
            "socket_type",
            "protocol",
            "wait",
            "user",
            "group",
            "server",
            "nice",
            "port",
            "rpc_version",
            "rpc_number",
            "libwrap",
            "deny_time",
            "disable",
            "rlimit_as",
            "rlimit_cpu",
            "rlimit_data",
            "rlimit_rss",
            "rlimit_stack",
            "rlimit_files",
            "listen",
            "tls_certificate",
            "tls_key",
            "tls_chain",
            "tls_client_ca",
            "tls_client_cert",
            "redirect_tls",
            "redirect_tls_name",
            "redirect_tls_ca",
            "proxy_local",
            "proxy_timeout",
            "redirect_proxy",
        ]
    },
    **{
        name: (_FIXED, _B, 1, True)
        for name in [
            "groups",
            "instances",
            "per_source",
            "max_load",
            "umask",
            "bind",
            "interface",
            "v6only",
            "banner",
            "banner_success",
            "banner_fail",
        ]
    },
    "cps": (_FIXED, _B, 2, True),
    "redirect": (_FIXED, _S, 2, True),
    **{name: (_VAR, _S, 1, True) for name in ["type", "flags", "server_args", "access_times"]},
    "log_type": (_VAR, _B, 1, True),
    **{
        name: (_LIST, _B, 1, True)
        for name in ["only_from", "no_access", "log_on_success", "log_on_failure", "passenv"]
    },
    "env": (_LIST, _S, 1, False),
    "proxy_protocol": (_VAR, _S, 1, True),
    "connection_env": (_VAR, _S, 1, True),
    "proxy_from": (_LIST, _S, 1, True),
    "disabled": (_LIST, _D, 1, True),
    "enabled": (_LIST, _D, 1, True),
}


R = ServiceType
F = Flag


def localhost(text: str = "127.0.0.1") -> HostSpec:
    return HostSpec(text, (text,))


#: (attribute, tokens, value): values every converter accepts.
VALID: list[tuple[str, Sequence[str], Any]] = [
    ("id", ["ftp-Public"], "ftp-Public"),
    ("type", ["INTERNAL", "unlisted"], (R.INTERNAL, R.UNLISTED)),
    (
        "type",
        ["RPC", "TcpMux", "TCPMUXPLUS", "SPECIAL"],
        (R.RPC, R.TCPMUX, R.TCPMUXPLUS, R.SPECIAL),
    ),
    ("flags", [f.value for f in Flag], tuple(Flag)),
    ("flags", ["ipv4", "IPV6", "nameinargs"], (F.IPV4, F.IPV6, F.NAMEINARGS)),
    ("socket_type", ["stream"], SocketType.STREAM),
    ("socket_type", ["DGRAM"], SocketType.DGRAM),
    ("socket_type", ["Raw"], SocketType.RAW),
    ("socket_type", ["seqpacket"], SocketType.SEQPACKET),
    ("protocol", ["tcp"], "tcp"),
    ("protocol", ["UDP"], "udp"),
    ("wait", ["yes"], True),
    ("wait", ["NO"], False),
    ("user", ["root"], UserSpec("root", 0, 0)),
    ("user", ["alice"], UserSpec("alice", 1000, 100)),
    ("user", ["4242"], UserSpec("4242", 4242, 4242)),
    ("user", [str(MAX_ID)], UserSpec(str(MAX_ID), MAX_ID, MAX_ID)),
    ("group", ["users"], GroupSpec("users", 100)),
    ("group", ["77"], GroupSpec("77", 77)),
    ("groups", ["YES"], True),
    ("groups", ["no"], False),
    ("server", ["/bin/cat"], "/bin/cat"),
    ("server_args", ["-l", '"a', 'b"'], ("-l", '"a', 'b"')),
    ("instances", ["UNLIMITED"], None),
    ("instances", ["unlimited"], None),
    ("instances", ["0"], 0),
    ("instances", ["+5"], 5),
    ("instances", ["20\r"], 20),
    ("per_source", ["5"], 5),
    ("per_source", ["Unlimited"], None),
    ("cps", ["50", "10"], CpsSpec(50, 10)),
    ("cps", ["0", "5"], CpsSpec(0, 5)),
    ("max_load", ["2"], 2.0),
    ("max_load", ["2.5"], 2.5),
    ("max_load", ["-1"], -1.0),
    ("nice", ["10"], 10),
    ("nice", ["-5"], -5),
    ("nice", ["+3"], 3),
    ("nice", ["2147483647"], 2**31 - 1),
    ("nice", ["-2147483648"], -(2**31)),
    ("umask", ["022"], 0o22),
    ("umask", ["0777"], 0o777),
    ("umask", ["7"], 0o7),
    ("umask", ["0"], 0),
    ("env", ["A=1", "B=", "C=x=y"], (EnvEntry("A", "1"), EnvEntry("B", ""), EnvEntry("C", "x=y"))),
    ("passenv", ["PATH", "TZ"], ("PATH", "TZ")),
    ("port", ["0"], 0),
    ("port", ["65535"], 65535),
    ("port", ["+80"], 80),
    ("redirect", ["192.168.1.15", "23"], RedirectSpec(localhost("192.168.1.15"), 23)),
    ("redirect", ["::1", "2323"], RedirectSpec(localhost("::1"), 2323)),
    ("redirect", ["sabrina", "telnet"], RedirectSpec(HostSpec("sabrina", ("192.168.1.15",)), 23)),
    ("redirect", ["127.0.0.1", "65535"], RedirectSpec(localhost(), 65535)),
    ("bind", ["127.0.0.1"], localhost()),
    ("bind", ["::1"], localhost("::1")),
    ("bind", ["localhost"], HostSpec("localhost", ("127.0.0.1", "::1"))),
    ("interface", ["charly"], HostSpec("charly", ("192.168.1.1",))),
    ("v6only", ["Yes"], True),
    ("v6only", ["no"], False),
    ("banner", ["/etc/issue.net"], "/etc/issue.net"),
    ("banner_success", ["/etc/welcome"], "/etc/welcome"),
    ("banner_fail", ["/etc/go-away"], "/etc/go-away"),
    (
        "access_times",
        ["7:00-12:30", "13:30-21:00"],
        intervals((420, 750), (810, 1260)),
    ),
    ("access_times", ["0:00-23:59"], intervals((0, 1439))),
    ("access_times", ["07:05-7:06"], intervals((425, 426))),
    # As in xinetd, missing digits read as 0.
    ("access_times", [":00-8:00"], intervals((0, 480))),
    (
        "only_from",
        ["0.0.0.0/0", "192.168.{1,2}", ".example.com"],
        (
            *addresses("0.0.0.0/0"),
            # Factorized: one /24 per value in the braces.
            NetworkEntry(4, 0xC0A80100, 24),
            NetworkEntry(4, 0xC0A80200, 24),
            DomainEntry(".example.com"),
        ),
    ),
    ("only_from", [], ()),
    ("no_access", ["10.0.0.0/8"], addresses("10.0.0.0/8")),
    ("log_type", ["FILE", "/var/log/servicelog"], LogSpec(LogKind.FILE, "/var/log/servicelog")),
    ("log_type", ["file", "x", "100", "200"], LogSpec(LogKind.FILE, "x", soft=100, hard=200)),
    ("log_type", ["FILE", "x", "1K", "1K"], LogSpec(LogKind.FILE, "x", soft=1024, hard=1024)),
    ("log_type", ["SYSLOG", "daemon"], LogSpec(LogKind.SYSLOG, facility="daemon", level="info")),
    (
        "log_type",
        ["syslog", "LOCAL7", "Debug"],
        LogSpec(LogKind.SYSLOG, facility="local7", level="debug"),
    ),
    (
        "log_on_success",
        ["pid", "Host", "USERID", "EXIT", "DURATION", "TRAFFIC"],
        tuple(SuccessFlag),
    ),
    ("log_on_success", [], ()),
    ("log_on_failure", ["host", "ATTEMPT", "UserId"], tuple(FailureFlag)),
    ("rpc_version", ["1"], (1, 1)),
    ("rpc_version", ["2-4"], (2, 4)),
    ("rpc_number", ["100001"], 100001),
    ("rpc_number", ["4294967295"], 2**32 - 1),
    ("rpc_version", ["4294967295"], (2**32 - 1, 2**32 - 1)),
    ("rpc_version", ["1-1024"], (1, 1024)),
    ("libwrap", ["in.ftpd"], "in.ftpd"),
    ("deny_time", ["FOREVER"], FOREVER),
    ("deny_time", ["never"], 0),
    ("deny_time", ["60"], 60),
    ("deny_time", ["9223372036854775807"], 2**63 - 1),
    ("disable", ["yes"], True),
    ("disable", ["No"], False),
    ("disabled", ["ftp", "Telnet"], ("ftp", "Telnet")),
    ("enabled", ["echo"], ("echo",)),
    ("rlimit_as", ["UNLIMITED"], INFINITY),
    ("rlimit_as", ["64K"], 65536),
    ("rlimit_data", ["2m"], 2 * 1024 * 1024),
    ("rlimit_rss", ["100"], 100),
    ("rlimit_rss", ["0"], None),
    ("rlimit_stack", ["8M\r"], 8 * 1024 * 1024),
    ("rlimit_files", ["1K"], 1024),
    ("rlimit_files", ["unlimited"], INFINITY),
    ("rlimit_cpu", ["30"], 30),
    ("rlimit_cpu", ["0"], None),
    ("rlimit_cpu", ["Unlimited"], INFINITY),
    ("rlimit_cpu", ["9223372036854775807"], 2**63 - 1),
    ("rlimit_data", ["8796093022207M"], (2**43 - 1) * 2**20),
    (
        "listen",
        ["unix:/run/a.sock"],
        Listen(UNIXListen("unix:/run/a.sock", "/run/a.sock", 0o666, None), None),
    ),
    ("tls_certificate", ["/etc/ssl/a.pem"], "/etc/ssl/a.pem"),
    ("tls_key", ["/etc/ssl/a.key"], "/etc/ssl/a.key"),
    ("tls_chain", ["/etc/ssl/chain.pem"], "/etc/ssl/chain.pem"),
    ("tls_client_ca", ["/etc/ssl/ca.pem"], "/etc/ssl/ca.pem"),
    ("tls_client_cert", ["Optional"], False),
    ("tls_client_cert", ["required"], True),
    ("redirect_tls", ["yes"], True),
    ("redirect_tls_name", ["backend.example"], "backend.example"),
    ("redirect_tls_ca", ["/etc/ssl/ca.pem"], "/etc/ssl/ca.pem"),
    ("proxy_protocol", ["V1", "v2"], (ProxyVersion.V1, ProxyVersion.V2)),
    ("proxy_from", ["10.0.0.0/8"], addresses("10.0.0.0/8")),
    ("proxy_local", ["Serve"], ProxyLocal.SERVE),
    ("proxy_local", ["refuse"], ProxyLocal.REFUSE),
    ("proxy_timeout", ["1"], 1),
    ("proxy_timeout", ["3600"], 3600),
    ("redirect_proxy", ["v2"], ProxyVersion.V2),
    ("connection_env", ["ucspi", "SYSTEMD"], (ConnectionEnv.UCSPI, ConnectionEnv.SYSTEMD)),
]

#: (attribute, tokens, messages): every converter error.
INVALID: list[tuple[str, Sequence[str], Sequence[str]]] = [
    ("type", ["INTERNAL", "bogus"], ["Bad service type: bogus"]),
    ("type", [], ["attribute type expects at least 1 value and none was given."]),
    ("flags", ["DISABLE"], ["Bad service flag: DISABLE"]),
    ("flags", ["DEFER"], ["Bad service flag: DEFER"]),
    ("flags", [], ["attribute flags expects at least 1 value and none was given."]),
    (
        "socket_type",
        ["stream\r"],
        [
            "Bad socket type: stream\r (the line ends with a carriage return: "
            "the file has DOS line ends)"
        ],
    ),
    ("socket_type", ["tcp"], ["Bad socket type: tcp"]),
    ("protocol", ["sctp"], ["Protocol sctp not in /etc/protocols"]),
    ("wait", ["maybe"], ["Bad value for wait: maybe"]),
    ("user", ["mallory"], ["Unknown user: mallory"]),
    ("user", ["\u00b2"], ["Unknown user: \u00b2"]),
    ("user", [str(MAX_ID + 1)], [f"Error parsing user as a number: {MAX_ID + 1}"]),
    ("group", ["wheel"], ["Unknown group: wheel"]),
    ("group", ["99999999999"], ["Error parsing group as a number: 99999999999"]),
    ("groups", ["1"], ["Bad value for groups: 1"]),
    ("server", ["/etc/motd"], ["Server /etc/motd is not executable"]),
    ("server", ["/usr/sbin/nothere"], ["Unable to stat: /usr/sbin/nothere."]),
    ("server_args", [], ["attribute server_args expects at least 1 value and none was given."]),
    ("instances", ["-1"], ["Number of instances is invalid: -1"]),
    ("instances", ["ten"], ["Number of instances is invalid: ten"]),
    ("instances", ["5x"], ["Number of instances is invalid: 5x"]),
    ("instances", ["0x10"], ["Number of instances is invalid: 0x10"]),
    ("per_source", ["-3"], ["Number of per source instances is invalid: -3"]),
    ("per_source", ["many"], ["Number of per source instances is invalid: many"]),
    ("cps", ["x", "10"], ["cps argument not a number"]),
    ("cps", ["5", "y"], ["cps time argument not a number"]),
    ("cps", ["-1", "10"], ["cps arguments invalid"]),
    ("max_load", ["0"], ["error parsing max_load argument"]),
    ("max_load", ["0.0"], ["error parsing max_load argument"]),
    ("max_load", ["nan"], ["error parsing max_load argument"]),
    ("max_load", ["high"], ["error reading max_load argument"]),
    ("nice", ["x"], ["Error parsing: x"]),
    ("nice", ["1.5"], ["Error parsing: 1.5"]),
    ("nice", ["2147483648"], ["Error parsing: 2147483648"]),
    ("nice", ["-2147483649"], ["Error parsing: -2147483649"]),
    ("nice", ["9" * 40], [f"Error parsing: {'9' * 40}"]),
    ("umask", ["0o17"], ["umask argument is invalid."]),
    ("umask", ["8"], ["umask argument is invalid."]),
    ("umask", ["1000"], ["umask argument is invalid."]),
    ("umask", ["-1"], ["umask argument is invalid."]),
    ("umask", ["0_22"], ["umask argument is invalid."]),
    ("env", ["A=1", "NOEQ"], ["NOEQ has no '='"]),
    ("port", ["65536"], ["port number is invalid"]),
    ("port", ["-1"], ["port number is invalid"]),
    ("port", ["http"], ["port number is invalid"]),
    ("redirect", ["127.0.0.1", "65536"], ["port number too large"]),
    ("redirect", ["127.0.0.1", "nosuch"], ["port number invalid"]),
    ("redirect", ["127.0.0.1", "0"], ["port number invalid"]),
    ("redirect", ["127.0.0.1", "-5"], ["port number invalid"]),
    ("redirect", ["127.0.0.1", "+-5"], ["port number invalid"]),
    ("redirect", ["127.0.0.1", "\u0663"], ["port number invalid"]),
    ("redirect", ["127.0.0.1", "ntalk"], ["port number invalid"]),
    ("redirect", ["unknown.example", "23"], ["no addresses returned"]),
    ("redirect", ["fe80::zz", "23"], ["bad address"]),
    ("bind", ["nosuchhost"], ["no addresses returned"]),
    ("bind", ["1:2:3"], ["bad address"]),
    ("interface", ["256.1.1.1"], ["no addresses returned"]),
    ("v6only", ["maybe"], ["Bad value for v6only: maybe"]),
    ("access_times", ["12:00-24:00"], ["invalid time interval"]),
    ("access_times", ["7:60-8:00"], ["invalid time interval"]),
    ("access_times", ["25:00-26:00"], ["invalid time interval"]),
    ("access_times", ["7:00"], ["incorrect time interval"]),
    ("access_times", ["7-8"], ["incorrect time interval"]),
    ("access_times", ["7:0x-8:00"], ["incorrect time interval"]),
    ("access_times", ["7:00-8:00-9:00"], ["incorrect time interval"]),
    ("access_times", ["1:00-2:00", "9:00-8:00"], ["invalid time interval: 9:00-8:00"]),
    ("access_times", ["8:00-8:00"], ["invalid time interval: 8:00-8:00"]),
    ("access_times", [], ["attribute access_times expects at least 1 value and none was given."]),
    (
        "only_from",
        ["10.0.0.1,10.0.0.2"],
        ["Address: 10.0.0.1,10.0.0.2 has a comma in it - remove the comma"],
    ),
    ("no_access", ["a,b"], ["Address: a,b has a comma in it - remove the comma"]),
    ("log_type", [], ["attribute log_type expects at least 1 value and none was given."]),
    ("log_type", ["CONSOLE"], ["Unknown log type: CONSOLE"]),
    ("log_type", ["FILE"], ["wrong number of arguments"]),
    ("log_type", ["FILE", "x", "1", "2", "3"], ["wrong number of arguments"]),
    ("log_type", ["FILE", "x", "big"], ["soft limit is invalid"]),
    ("log_type", ["FILE", "x", "-1"], ["soft limit is invalid"]),
    ("log_type", ["FILE", "x", "1K", "huge"], ["hard limit is invalid"]),
    ("log_type", ["FILE", "x", "2K", "1K"], ["hard limit (1024) is less than soft limit (2048)"]),
    ("log_type", ["SYSLOG"], ["wrong number of arguments"]),
    ("log_type", ["SYSLOG", "daemon", "info", "x"], ["wrong number of arguments"]),
    ("log_type", ["SYSLOG", "kern"], ["Unknown syslog facility: kern"]),
    ("log_type", ["SYSLOG", "local8"], ["Unknown syslog facility: local8 (did you mean local7?)"]),
    ("log_type", ["SYSLOG", "daemon", "loud"], ["Unknown syslog level: loud"]),
    ("log_on_success", ["PID", "RECORD"], ["Bad log_on_success flag: RECORD"]),
    ("log_on_failure", ["PID"], ["Bad log_on_failure flag: PID"]),
    ("rpc_version", ["4-2"], ["bad version range: 4-2"]),
    ("rpc_version", ["x"], ["bad version range: x"]),
    ("rpc_version", ["1-"], ["bad version range: 1-"]),
    ("rpc_version", ["-1"], ["bad version range: -1"]),
    ("rpc_number", ["-1"], ["Error parsing: -1"]),
    ("rpc_number", ["4294967296"], ["Error parsing: 4294967296"]),
    ("rpc_version", ["4294967296"], ["bad version range: 4294967296"]),
    ("rpc_version", ["1-1025"], ["bad version range: 1-1025"]),
    ("rpc_number", ["abc"], ["Error parsing: abc"]),
    ("deny_time", ["-5"], ["Error parsing: -5"]),
    ("deny_time", ["soon"], ["Error parsing: soon"]),
    ("deny_time", ["9" * 310], [f"Error parsing: {'9' * 310}"]),
    ("instances", ["9223372036854775808"], ["Number of instances is invalid: 9223372036854775808"]),
    ("disable", ["maybe"], ["Bad value: maybe"]),
    ("rlimit_as", ["12X"], ["Address space limit is invalid: 12X"]),
    ("rlimit_as", ["-1"], ["Address space limit is invalid: -1"]),
    ("rlimit_data", ["K"], ["Data limit is invalid: K"]),
    ("rlimit_rss", ["1G"], ["RSS limit is invalid: 1G"]),
    ("rlimit_stack", ["lots"], ["Stack limit is invalid: lots"]),
    ("rlimit_files", ["1.5K"], ["Max files limit is invalid: 1.5K"]),
    ("rlimit_cpu", ["30K"], ["CPU limit is invalid: 30K"]),
    ("rlimit_as", ["9" * 30], [f"Address space limit is invalid: {'9' * 30}"]),
    ("rlimit_data", ["9223372036854775808"], ["Data limit is invalid: 9223372036854775808"]),
    ("rlimit_data", ["8796093022208M"], ["Data limit is invalid: 8796093022208M"]),
    ("rlimit_stack", ["9007199254740992K"], ["Stack limit is invalid: 9007199254740992K"]),
    (
        "listen",
        ["tor:80"],
        [
            "Bad listen description tor:80: unsupported endpoint type tor "
            "(tcp, tcp6, ssl, unix or systemd)"
        ],
    ),
    ("tls_client_cert", ["maybe"], ["Bad value for tls_client_cert: maybe"]),
    ("redirect_tls", ["sure"], ["Bad value for redirect_tls: sure"]),
    ("proxy_protocol", ["v3"], ["Bad value for proxy_protocol: v3"]),
    (
        "proxy_protocol",
        [],
        ["attribute proxy_protocol expects at least 1 value and none was given."],
    ),
    ("proxy_local", ["maybe"], ["Bad value for proxy_local: maybe"]),
    ("proxy_timeout", ["0"], ["Bad value for proxy_timeout: 0 (1 to 3600 seconds)"]),
    ("proxy_timeout", ["3601"], ["Bad value for proxy_timeout: 3601 (1 to 3600 seconds)"]),
    ("proxy_timeout", ["x"], ["Bad value for proxy_timeout: x (1 to 3600 seconds)"]),
    ("redirect_proxy", ["v3"], ["Bad value for redirect_proxy: v3"]),
    ("connection_env", ["inetd"], ["Bad value for connection_env: inetd"]),
]

#: Converters that accept a value with a warning: (attribute, tokens, value, warnings).
WARNED: list[tuple[str, Sequence[str], Any, Sequence[str]]] = [
    ("passenv", ["PATH", "NOPE"], ("PATH",), ["undefined environment variable: NOPE"]),
    (
        "log_on_failure",
        ["HOST", "RECORD"],
        (FailureFlag.HOST,),
        ["RECORD is obsolete and has no effect"],
    ),
    ("log_on_failure", ["record"], (), ["record is obsolete and has no effect"]),
]


class _Context:
    """
    A L{txinetd.core.attributes.ConvertContext} that keeps the warnings.
    """

    def __init__(self) -> None:
        self.system = FakeSystem()
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def convert(name: str, tokens: Sequence[str]) -> tuple[Any, list[str]]:
    """
    Convert C{tokens} with the converter of attribute C{name}.
    """
    context = _Context()
    return ATTRIBUTES[name].convert(tuple(tokens), context), context.warnings


class TableTests(SynchronousTestCase):
    def test_everyAttribute(self) -> None:
        """
        The table has exactly the attributes of xinetd 2.3.15 (no C{mdns})
        and txinetd's C{listen}, C{tls_*} and C{redirect_tls*}, each with
        its arity, place, value count and operators.
        """
        self.assertEqual(set(ATTRIBUTES), set(TABLE))
        for name, (arity, where, count, removable) in TABLE.items():
            with self.subTest(name=name):
                spec = ATTRIBUTES[name]
                self.assertEqual(
                    (spec.arity, spec.where, spec.count, spec.removable),
                    (arity, where, count, removable),
                )

    def test_interfaceIsBind(self) -> None:
        """
        C{interface} is the same attribute as C{bind}.
        """
        self.assertIs(ATTRIBUTES["interface"], ATTRIBUTES["bind"])
        self.assertEqual(ATTRIBUTES["interface"].name, "bind")

    def test_everyConverterTested(self) -> None:
        """
        Every attribute has valid cases below, and every attribute whose
        converter can reject a value has invalid ones.
        """
        accepting = {"id", "banner", "banner_success", "banner_fail", "libwrap"}
        accepting |= {"tls_certificate", "tls_key", "tls_chain", "tls_client_ca"}
        accepting |= {"redirect_tls_name", "redirect_tls_ca"}
        accepting |= {"passenv", "disabled", "enabled", "proxy_from"}
        self.assertEqual({case[0] for case in VALID}, set(TABLE))
        self.assertEqual({case[0] for case in INVALID} | accepting, set(TABLE))


class ConverterTests(SynchronousTestCase):
    def test_valid(self) -> None:
        """
        Each converter accepts its values (keywords in any case) without a
        warning.
        """
        for name, tokens, value in VALID:
            with self.subTest(name=name, tokens=tokens):
                self.assertEqual(convert(name, tokens), (value, []))

    def test_invalid(self) -> None:
        """
        Each converter rejects bad values with xinetd's message.
        """
        for name, tokens, messages in INVALID:
            with self.subTest(name=name, tokens=tokens):
                error = self.assertRaises(BadValue, convert, name, tokens)
                self.assertEqual(error.messages, tuple(messages))

    def test_warned(self) -> None:
        """
        Some values are accepted with a warning.
        """
        for name, tokens, value, warnings in WARNED:
            with self.subTest(name=name, tokens=tokens):
                self.assertEqual(convert(name, tokens), (value, list(warnings)))

    def test_syslogFacilitiesAndLevels(self) -> None:
        """
        Every facility and level of section 3 is accepted, in any case.
        """
        facilities = ["daemon", "auth", "authpriv", "user", "mail", "lpr", "news", "uucp", "ftp"]
        facilities += [f"local{n}" for n in range(8)]
        levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
        for facility in facilities:
            for level in levels:
                value, _ = convert("log_type", ["SYSLOG", facility.upper(), level.upper()])
                self.assertEqual((value.facility, value.level), (facility, level))

    def test_fileLogDefaultHardLimit(self) -> None:
        """
        Without a hard limit, it is the soft one plus 1%, at least 5 KiB and
        at most 20 KiB more.
        """
        cases = [("10K", 10240, 10240 + 5120), ("1M", 1048576, 1048576 + 10485)]
        cases.append(("10M", 10485760, 10485760 + 20480))
        for text, soft, hard in cases:
            with self.subTest(text=text):
                value, _ = convert("log_type", ["FILE", "log", text])
                self.assertEqual((value.soft, value.hard), (soft, hard))


# --- numbers ------------------------------------------------------------------

_C_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*")


def inLong(value: int | None) -> int | None:
    """
    C{value} if a C long holds it, else L{None} (C{strtol}'s C{ERANGE}).
    """
    return value if value is not None and LONG_MIN <= value <= LONG_MAX else None


def strtolReference(text: str) -> int | None:
    """
    What xinetd's C{parse_base10} accepts (a whole-string C{strtol} with
    white space around, within a C long), or L{None}.
    """
    match = _C_INTEGER.fullmatch(text)
    return None if match is None else inLong(int(match.group(1)))


def nonNegative(value: int | None, multiplier: int) -> int | None:
    """
    A size: C{value} times C{multiplier} if it is not negative and fits a
    C long, else L{None}.
    """
    return None if value is None or value < 0 else inLong(value * multiplier)


_numberish = st.text(alphabet=st.sampled_from(list("0123456789+- \t\r\n\v\fxX_.kKmM\u0663\u00b2a")))


class NumberTests(SynchronousTestCase):
    def check(self, parse: Any, text: str, expected: int | None) -> None:
        if expected is None:
            self.assertRaises(ValueError, parse, text)
        else:
            self.assertEqual(parse(text), expected)

    @given(_numberish)
    def test_parseIntegerAgreesWithStrtol(self, text: str) -> None:
        """
        L{parseInteger} accepts exactly what C{strtol} accepts whole.
        """
        self.check(parseInteger, text, strtolReference(text))

    @given(
        st.one_of(
            st.integers(),
            st.integers(min_value=LONG_MAX - 2, max_value=LONG_MAX + 2),
            st.integers(min_value=LONG_MIN - 2, max_value=LONG_MIN + 2),
        ),
        st.sampled_from(["", " ", "\t", "\r"]),
        st.sampled_from(["", "+"]),
    )
    def test_parseIntegerRoundTrip(self, value: int, space: str, plus: str) -> None:
        """
        Every integer a C long holds reads back; any other is refused, as
        C{strtol} refuses it with C{ERANGE}.
        """
        sign = plus if value >= 0 else ""
        self.check(parseInteger, f"{space}{sign}{value}{space}", inLong(value))

    def test_parseIntegerOctal(self) -> None:
        """
        Base 8 takes octal digits only, with no prefix.
        """
        for text, expected in [("017", 15), ("+7", 7), ("8", None), ("0o17", None)]:
            with self.subTest(text=text):
                self.check(lambda t: parseInteger(t, 8), text, expected)

    @given(_numberish)
    def test_parseSize(self, text: str) -> None:
        """
        L{parseSize} is a non-negative integer with an optional C{K} or
        C{M} suffix once trailing white space is removed; without suffixes
        it is a non-negative integer.
        """
        stripped = text.rstrip(" \t\n\v\f\r")
        multiplier = {"k": 1024, "m": 1024 * 1024}.get(stripped[-1:].lower(), 1)
        body = stripped[:-1] if multiplier > 1 else stripped
        self.check(parseSize, text, nonNegative(strtolReference(body), multiplier))
        self.check(
            lambda t: parseSize(t, allowSuffix=False), text, nonNegative(strtolReference(text), 1)
        )

    def test_parsePort(self) -> None:
        for text, expected in [("0", 0), ("65535", 65535), ("65536", None), ("-1", None)]:
            with self.subTest(text=text):
                self.check(parsePort, text, expected)
