# -*- test-case-name: tests.core.test_endpoint -*-
"""
Tests for L{txinetd.core.endpoint}: C{listen} descriptions and UNIX sockets.
"""

from __future__ import annotations

import socket

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.endpoint import (
    ListenError,
    SystemdListen,
    TCPListen,
    TLSKeys,
    UNIXListen,
    parseListen,
    splitDescription,
)


class SplitTests(SynchronousTestCase):
    def test_twistedSyntax(self) -> None:
        """
        Positional and keyword arguments, with C{\\} escaping C{:} and
        C{=}, as Twisted splits them.
        """
        self.assertEqual(
            splitDescription(r"ssl:993:privateKey=/a\:b.pem:certKey=x\=y:extra"),
            ("ssl", ["993", "extra"], {"privateKey": "/a:b.pem", "certKey": "x=y"}),
        )

    def test_valueWithEquals(self) -> None:
        """
        Only the first C{=} of an argument separates key and value.
        """
        self.assertEqual(splitDescription("unix:/p:mode=a=b"), ("unix", ["/p"], {"mode": "a=b"}))

    def test_duplicateKeyword(self) -> None:
        self.assertRaises(ListenError, splitDescription, "tcp:1:backlog=1:backlog=2")

    def test_noType(self) -> None:
        for text in ("", ":80", "a=b:80"):
            with self.subTest(text=text):
                self.assertRaises(ListenError, splitDescription, text)

    @given(st.text(max_size=60))
    def test_anyText(self, text: str) -> None:
        """
        Any text is either parsed or rejected with L{ListenError}.
        """
        try:
            parseListen(text)
        except ListenError as e:
            self.assertTrue(str(e))


class ParseTests(SynchronousTestCase):
    def test_tcp(self) -> None:
        self.assertEqual(
            parseListen("tcp:8080:interface=127.0.0.1:backlog=10"),
            (
                TCPListen("tcp:8080:interface=127.0.0.1:backlog=10", 8080, "127.0.0.1", 10, False),
                None,
            ),
        )

    def test_tcp6(self) -> None:
        spec, keys = parseListen("tcp6:8080")
        self.assertEqual(spec, TCPListen("tcp6:8080", 8080, None, None, True))
        self.assertIsNone(keys)

    def test_tcpIPv6Interface(self) -> None:
        spec, _ = parseListen(r"tcp:25:interface=\:\:1")
        assert isinstance(spec, TCPListen)
        self.assertEqual((spec.interface, spec.ipv6), ("::1", True))

    def test_ssl(self) -> None:
        """
        C{ssl:} is TCP plus keys; C{certKey} defaults to C{privateKey}.
        """
        spec, keys = parseListen("ssl:993:privateKey=/k.pem")
        self.assertEqual(spec, TCPListen("ssl:993:privateKey=/k.pem", 993, None, None, False))
        self.assertEqual(keys, TLSKeys("/k.pem", "/k.pem", None))
        _, keys = parseListen("ssl:993:privateKey=/k:certKey=/c:extraCertChain=/x")
        self.assertEqual(keys, TLSKeys("/c", "/k", "/x"))

    def test_unix(self) -> None:
        self.assertEqual(
            parseListen("unix:/run/x.sock:mode=600:lockfile=1"),
            (UNIXListen("unix:/run/x.sock:mode=600:lockfile=1", "/run/x.sock", 0o600, None), None),
        )

    def test_systemd(self) -> None:
        self.assertEqual(
            parseListen("systemd:domain=INET6:name=imaps")[0],
            SystemdListen("systemd:domain=INET6:name=imaps", "imaps", None, socket.AF_INET6),
        )
        self.assertEqual(
            parseListen("systemd:index=2")[0], SystemdListen("systemd:index=2", None, 2, None)
        )

    def test_errors(self) -> None:
        """
        Each mistake is named.
        """
        cases = {
            "tcp:http": "bad port: 'http'",
            "tcp:70000": "port out of range: 70000",
            "tcp:80:interface=localhost": "interface is not a numeric address: localhost",
            "tcp:80:bogus=1": "unknown tcp option: bogus",
            "tcp": "tcp: expected a port number",
            "ssl:993": "ssl: privateKey is required",
            "unix:": "unix: expected a socket path",
            "unix:/a:mode=999": "bad mode: '999'",
            "systemd:domain=INET": "systemd: give exactly one of index= and name=",
            "systemd:index=0:name=a": "systemd: give exactly one of index= and name=",
            "systemd:name=a:domain=IPX": "systemd: unknown domain IPX (INET, INET6 or UNIX)",
            "le:443": "unsupported endpoint type le (tcp, tcp6, ssl, unix or systemd)",
        }
        for text, message in cases.items():
            with self.subTest(text=text):
                error = self.assertRaises(ListenError, parseListen, text)
                self.assertEqual(str(error), message)
