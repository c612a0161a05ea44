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
from txinetd.endpoint import RedirectTLS, TLSSettings
from txinetd.tls import checkRedirectSettings, checkSettings, formatName


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


class _CertificateFiles(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.authority = Authority(self.directory)

    def corrupt(self) -> str:
        """
        A file with a PEM certificate block that is not a certificate.
        """
        path = os.path.join(self.directory, "corrupt.pem")
        with open(path, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        return path

    def assertBadCertificate(self, problem: str | None, path: str) -> None:
        """
        C{problem} says that C{path} holds a PEM block that OpenSSL cannot
        read, with OpenSSL's reason.
        """
        prefix = f"TLS: bad certificate in {path}: "
        assert problem is not None
        self.assertTrue(problem.startswith(prefix), problem)
        self.assertIn("asn1", problem[len(prefix) :].lower())


class CheckSettingsTests(_CertificateFiles):
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

    def test_corruptCertificate(self) -> None:
        """
        A PEM block that is not a certificate is a problem, not a crash.
        """
        issued = self.authority.server("server", "localhost")
        corrupt = self.corrupt()
        for settings in [
            TLSSettings(corrupt, issued.key),
            TLSSettings(issued.certificate, issued.key, clientCA=corrupt),
        ]:
            with self.subTest(settings=settings):
                self.assertBadCertificate(checkSettings(settings), corrupt)


class CheckRedirectSettingsTests(_CertificateFiles):
    def test_usable(self) -> None:
        """
        The system's CAs, or a file of CA certificates, are usable.
        """
        self.assertEqual(
            [
                checkRedirectSettings(RedirectTLS("b.example")),
                checkRedirectSettings(RedirectTLS("b.example", self.authority.path)),
            ],
            [None, None],
        )

    def test_redirectProblems(self) -> None:
        """
        A CA file that cannot be read or holds no usable certificate, and a
        name that is no host name, are named with why.
        """
        missing = os.path.join(self.directory, "missing.pem")
        cases = {
            RedirectTLS("b.example", missing): (
                f"TLS: cannot read {missing}: No such file or directory"
            ),
            RedirectTLS("a..b"): "TLS: bad host name a..b: Empty Label",
        }
        for settings, message in cases.items():
            with self.subTest(settings=settings):
                self.assertEqual(checkRedirectSettings(settings), message)
        corrupt = self.corrupt()
        self.assertBadCertificate(checkRedirectSettings(RedirectTLS("b.example", corrupt)), corrupt)
