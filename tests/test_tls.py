# -*- test-case-name: tests.test_tls -*-
"""
Tests for L{txinetd.tls}'s pure parts: how a client certificate's names
are written, and how settings are checked.
"""

from __future__ import annotations

import os

from cryptography import x509
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import Authority
from txinetd.endpoint import TLSSettings
from txinetd.tls import checkSettings, formatName


class FormatNameTests(SynchronousTestCase):
    def test_order(self) -> None:
        """
        Attributes in the certificate's order, with OpenSSL's short names.
        """
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Ops"),
                x509.NameAttribute(NameOID.COMMON_NAME, "alice"),
                x509.NameAttribute(NameOID.EMAIL_ADDRESS, "alice@example.org"),
            ]
        )
        self.assertEqual(formatName(name), "C=PL, OU=Ops, CN=alice, emailAddress=alice@example.org")

    def test_escaping(self) -> None:
        """
        Separators and quotes in a value are escaped with a backslash, so
        the line splits back into its parts.
        """
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'a,b+c"d\\e<f>g;h')])
        self.assertEqual(formatName(name), 'CN=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h')


class CheckSettingsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.authority = Authority(self.directory)

    def test_combinedFile(self) -> None:
        """
        One file with the certificate and the key is enough.
        """
        issued = self.authority.issue("both", x509.Name([]), ("localhost",), combined=True)
        self.assertIsNone(checkSettings(TLSSettings(issued.certificate, issued.key)))

    def test_problems(self) -> None:
        """
        Each unusable file is named with why.
        """
        issued = self.authority.server("server", "localhost")
        garbage = os.path.join(self.directory, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        cases = {
            TLSSettings(garbage, issued.key): f"TLS: no certificate in {garbage}",
            TLSSettings(issued.certificate, garbage): f"TLS: no private key in {garbage}",
            TLSSettings(issued.certificate, issued.key, clientCA=garbage): (
                f"TLS: no certificate in {garbage}"
            ),
        }
        for settings, message in cases.items():
            with self.subTest(settings=settings):
                self.assertEqual(checkSettings(settings), message)
