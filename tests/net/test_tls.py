# -*- test-case-name: tests.net.test_tls -*-
"""
Tests for L{txinetd.net.tls}'s pure parts: how a client certificate's names
are written, how settings are checked, and how a TLS bridge, or a TLS
connection whose plaintext stays in process, waits for its handshake
(with a L{Clock} and string transports).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import Any, cast

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IReactorFDSet
from twisted.internet.protocol import Factory
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.certificates import Authority
from tests.documented import TLS_HANDSHAKE_SECONDS
from txinetd.core.endpoint import RedirectTLS, TLSSettings
from txinetd.net.acceptor import PendingConnection
from txinetd.net.tls import (
    MAX_NAME_LENGTH,
    ClientCertificate,
    TLSError,
    TLSFront,
    _Bridge,
    _InProcess,
    checkRedirectSettings,
    checkSettings,
    formatName,
    serverOptions,
)
from txinetd.net.tlsbulk import TRANSPORT_CHUNK, WRITE_CHUNK, BulkTLSProtocol


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

    def test_notPrintable(self) -> None:
        """
        Characters that are not printable (NUL, CR, LF, ESC, a line
        separator) are written as their UTF-8 bytes in C{\\XX} form, after
        the separators are escaped; other letters stay as they are.
        """
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "ev\x00il\r\n\x1b[31m\u2028 \u00e9,")]
        )
        self.assertEqual(formatName(name), "CN=ev\\00il\\0D\\0A\\1B[31m\\E2\\80\\A8 \u00e9\\,")

    def test_openSSLNames(self) -> None:
        """
        Every attribute OpenSSL has a short name for is written with it, and
        a multi-valued RDN as its attributes joined by C{ + }, as stunnel's
        one-line form (OpenSSL's C{oneline}) writes them.
        """
        self.assertEqual(formatName(ALL_NAMES), ALL_NAMES_ONELINE)

    def test_asOpenSSLWritesIt(self) -> None:
        """
        The same name in a certificate, as the C{openssl} command writes it
        with stunnel's options.
        """
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SkipTest("no openssl command")
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        issued = Authority(directory).issue("all", ALL_NAMES, ("localhost",))
        options = "oneline,-esc_msb,-space_eq"
        written = subprocess.run(
            [openssl, "x509", "-in", issued.certificate, "-noout", "-subject", "-nameopt", options],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.assertEqual(written, f"subject={formatName(ALL_NAMES)}\n")

    def test_tooLong(self) -> None:
        """
        A certificate whose names are longer than L{MAX_NAME_LENGTH} written
        out is not read (it would be refused, as one whose names cannot be
        decoded).
        """
        long = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 60)] * 80)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        authority = Authority(directory)
        issued = authority.issue("long", long, ("localhost",))
        self.assertGreater(len(formatName(long)), MAX_NAME_LENGTH)
        self.assertRaises(ValueError, ClientCertificate.fromX509, _pyOpenSSL(issued.certificate))
        fine = authority.issue("fine", ALL_NAMES, ("localhost",))
        self.assertEqual(
            ClientCertificate.fromX509(_pyOpenSSL(fine.certificate)).subject, ALL_NAMES_ONELINE
        )


def _pyOpenSSL(path: str) -> crypto.X509:
    """
    A PEM certificate file as pyOpenSSL's peer certificate object.
    """
    with open(path, "rb") as f:
        return crypto.load_certificate(crypto.FILETYPE_PEM, f.read())


#: A name with every attribute OpenSSL has a short name for, and a
#: multi-valued RDN last.
ALL_NAMES = x509.Name(
    [
        x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)])
        for oid, value in (
            (NameOID.COUNTRY_NAME, "PL"),
            (NameOID.STATE_OR_PROVINCE_NAME, "Maz"),
            (NameOID.LOCALITY_NAME, "W"),
            (NameOID.STREET_ADDRESS, "Main 1"),
            (NameOID.ORGANIZATION_NAME, "Ex"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, "Dev"),
            (NameOID.TITLE, "Boss"),
            (NameOID.SURNAME, "Smith"),
            (NameOID.GIVEN_NAME, "Alice"),
            (NameOID.INITIALS, "A"),
            (NameOID.PSEUDONYM, "al"),
            (NameOID.USER_ID, "alice"),
            (NameOID.SERIAL_NUMBER, "42"),
            (NameOID.EMAIL_ADDRESS, "a@e.org"),
            (NameOID.POSTAL_CODE, "00-001"),
            (NameOID.GENERATION_QUALIFIER, "Jr"),
            (NameOID.DN_QUALIFIER, "q"),
            (NameOID.BUSINESS_CATEGORY, "bc"),
            (NameOID.JURISDICTION_COUNTRY_NAME, "PL"),
            (NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME, "M"),
            (NameOID.JURISDICTION_LOCALITY_NAME, "W"),
            (NameOID.ORGANIZATION_IDENTIFIER, "VATPL"),
            (NameOID.UNSTRUCTURED_NAME, "un"),
            (x509.ObjectIdentifier("2.5.4.41"), "nm"),
            (NameOID.DOMAIN_COMPONENT, "org"),
        )
    ]
    + [
        x509.RelativeDistinguishedName(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org"),
                x509.NameAttribute(NameOID.COMMON_NAME, "alice"),
            ]
        )
    ]
)
ALL_NAMES_ONELINE = (
    "C=PL, ST=Maz, L=W, street=Main 1, O=Ex, OU=Dev, title=Boss, SN=Smith, GN=Alice, "
    "initials=A, pseudonym=al, UID=alice, serialNumber=42, emailAddress=a@e.org, "
    "postalCode=00-001, generationQualifier=Jr, dnQualifier=q, businessCategory=bc, "
    "jurisdictionC=PL, jurisdictionST=M, jurisdictionL=W, organizationIdentifier=VATPL, "
    "unstructuredName=un, name=nm, DC=org, O=Org + CN=alice"
)


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


class _Secured(StringTransport):
    """
    The TLS transport of a client that completed its handshake without a
    certificate.
    """

    def getPeerCertificate(self) -> None:
        return None


class _Unreadable:
    """
    A peer certificate whose names cannot be decoded.
    """

    def to_cryptography(self) -> _Unreadable:
        return self

    @property
    def subject(self) -> x509.Name:
        raise ValueError("invalid UTF8String \x00")


class _UnreadablySecured(StringTransport):
    def getPeerCertificate(self) -> _Unreadable:
        return _Unreadable()


class BridgeTests(SynchronousTestCase):
    """
    L{_Bridge} waits for the handshake: it times out, can be abandoned, and
    the wait can be cancelled, each ending both sides once.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.bridge = _Bridge(self.clock, TLS_HANDSHAKE_SECONDS)
        self.secure = _Secured()
        self.plain = StringTransport()
        self.bridge.secure.makeConnection(self.secure)
        self.bridge.plain.makeConnection(self.plain)

    def assertEnded(self) -> None:
        """
        Both sides were aborted and the timer is gone.
        """
        self.assertEqual((self.secure.disconnected, self.plain.disconnected), (True, True))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def loseSides(self) -> None:
        """
        The reactor reports both connections lost, as after an abort.
        """
        self.bridge.secure.connectionLost(Failure(ConnectionLost()))
        self.bridge.plain.connectionLost(Failure(ConnectionLost()))

    def assertFailsWith(self, message: str) -> None:
        """
        A new wait fails at once with L{TLSError} C{message}.
        """
        failure = self.failureResultOf(self.bridge.whenSecured(), TLSError)
        self.assertEqual(str(failure.value), message)

    def test_secured(self) -> None:
        """
        A completed handshake fires every wait, then and later, and stops
        the timer.
        """
        waiting = self.bridge.whenSecured()
        self.assertNoResult(waiting)
        self.bridge.handshakeDone()
        self.assertIsNone(self.successResultOf(waiting))
        self.assertIsNone(self.successResultOf(self.bridge.whenSecured()))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertFalse(self.plain.disconnecting)

    def test_frontTimeout(self) -> None:
        """
        A service's TLS front gives its clients the documented
        L{TLS_HANDSHAKE_SECONDS} for their handshake (docs/tls-and-sockets.md).
        """
        self.assertEqual(TLSFront(self.clock, CertificateOptions()).timeout, TLS_HANDSHAKE_SECONDS)

    def test_unreadableName(self) -> None:
        """
        A client certificate whose names cannot be decoded fails the wait,
        with the reason in printable form, and aborts both sides.
        """
        bridge = _Bridge(self.clock, TLS_HANDSHAKE_SECONDS)
        secure, plain = _UnreadablySecured(), StringTransport()
        bridge.secure.makeConnection(secure)
        bridge.plain.makeConnection(plain)
        waiting = bridge.whenSecured()
        bridge.handshakeDone()
        failure = self.failureResultOf(waiting, TLSError)
        self.assertEqual(
            str(failure.value), "unreadable client certificate: invalid UTF8String \\00"
        )
        self.assertEqual((secure.disconnected, plain.disconnected), (True, True))

    def test_timeout(self) -> None:
        """
        A handshake not done in L{TLS_HANDSHAKE_SECONDS} seconds fails the wait
        with C{handshake timed out} and aborts both sides.
        """
        waiting = self.bridge.whenSecured()
        self.clock.advance(TLS_HANDSHAKE_SECONDS - 0.5)
        self.assertNoResult(waiting)
        self.assertFalse(self.secure.disconnecting)
        self.clock.advance(0.5)
        failure = self.failureResultOf(waiting, TLSError)
        self.assertEqual(str(failure.value), "handshake timed out")
        self.assertEnded()
        self.loseSides()
        self.assertFailsWith("handshake timed out")

    def test_abandon(self) -> None:
        """
        An abandoned bridge fails the wait and aborts both sides; the timer
        never fires.
        """
        waiting = self.bridge.whenSecured()
        self.bridge.abandon()
        failure = self.failureResultOf(waiting, TLSError)
        self.assertEqual(str(failure.value), "the client went away")
        self.assertEnded()
        self.loseSides()
        self.assertFailsWith("the client went away")

    def test_cancel(self) -> None:
        """
        Cancelling the wait fails it with L{CancelledError} alone and
        abandons the bridge: both sides are aborted, the timer is gone, and
        what happens to the connections later fires nothing again.
        """
        waiting = self.bridge.whenSecured()
        other = self.bridge.whenSecured()
        waiting.cancel()
        self.failureResultOf(waiting, CancelledError)
        self.failureResultOf(other, TLSError)
        self.assertEnded()
        self.loseSides()
        self.bridge.handshakeDone()
        self.clock.advance(TLS_HANDSHAKE_SECONDS)
        self.assertFailsWith("the client went away")


class _SecuredTLS(_Secured):
    """
    The TLS protocol of a connection served in process.
    """

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def abortConnection(self) -> None:
        self.aborted = True


class InProcessTests(SynchronousTestCase):
    """
    L{_InProcess} waits for the handshake of a TLS connection whose
    plaintext stays in process, as a bridge does.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.wait = _InProcess(self.clock, TLS_HANDSHAKE_SECONDS)
        self.tls = _SecuredTLS()
        self.wait.plain.makeConnection(self.tls)

    def test_secured(self) -> None:
        """
        The handshake done (told by the TLS layer to the plaintext end)
        fires the wait with the client's certificate (none here) and stops
        the timer.
        """
        waiting = self.wait.whenSecured()
        self.assertNoResult(waiting)
        self.wait.plain.handshakeCompleted()
        self.assertIsNone(self.successResultOf(waiting))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertFalse(self.tls.aborted)

    def test_lost(self) -> None:
        """
        A connection lost during the handshake fails the wait with why
        (which admission logs as C{FAIL: id tls}) and stops the timer.
        """
        waiting = self.wait.whenSecured()
        self.wait.plain.connectionLost(Failure(ConnectionLost("reset")))
        self.failureResultOf(waiting, ConnectionLost)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout(self) -> None:
        """
        A handshake not done in L{TLS_HANDSHAKE_SECONDS} seconds fails the
        wait and aborts the TLS connection.
        """
        waiting = self.wait.whenSecured()
        self.clock.advance(TLS_HANDSHAKE_SECONDS - 0.5)
        self.assertNoResult(waiting)
        self.clock.advance(0.5)
        failure = self.failureResultOf(waiting, TLSError)
        self.assertEqual(str(failure.value), "handshake timed out")
        self.assertTrue(self.tls.aborted)

    def test_cancel(self) -> None:
        """
        Cancelling the wait aborts the TLS connection and stops the timer.
        """
        waiting = self.wait.whenSecured()
        waiting.cancel()
        self.failureResultOf(waiting, CancelledError)
        self.assertTrue(self.tls.aborted)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class _AdoptingReactor(Clock):
    """
    A reactor that gives each adopted connection a string transport.
    """

    def __init__(self) -> None:
        super().__init__()
        self.adopted: list[tuple[Any, StringTransport]] = []

    def adoptStreamConnection(self, fileno: int, family: int, factory: Factory) -> None:
        protocol = factory.buildProtocol(None)
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.adopted.append((protocol, transport))


class FrontTests(SynchronousTestCase):
    def front(self) -> tuple[_AdoptingReactor, PendingConnection, StringTransport]:
        """
        A connection put behind TLS for an external server: the reactor,
        the plaintext end the service gets, and the client's transport.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        issued = Authority(directory).server("server", "localhost")
        reactor = _AdoptingReactor()
        front = TLSFront(reactor, serverOptions(TLSSettings(issued.certificate, issued.key)))
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        plain = front.secure(PendingConnection(cast(IReactorFDSet, reactor), ours, "", ""))
        assert plain is not None
        self.addCleanup(plain.close)
        (_, secure), _ = reactor.adopted
        return reactor, plain, secure

    def test_turnedAwayAborts(self) -> None:
        """
        Closing the plaintext end before the handshake, with nothing sent
        (a client refused by the access rules or limits), aborts the
        client's connection at once, before its ClientHello is read.
        """
        _, plain, secure = self.front()
        plain.close()
        self.assertTrue(secure.disconnected)
        self.assertEqual(secure.value(), b"")

    def test_answeredOrSecuredNotAborted(self) -> None:
        """
        A plaintext end that sent something (a banner), or whose handshake
        is done (its server got it), is closed without ending the client's
        connection: what was sent is still delivered.
        """
        _, plain, secure = self.front()
        # (The bridge's end of the socketpair is not read here: the send
        # fails, but it was made.)
        self.failureResultOf(plain.send(b"go away\r\n"), BrokenPipeError)
        plain.close()
        self.assertFalse(secure.disconnected)
        _, plain, secure = self.front()
        cast(Any, plain).bridge.secured(None)
        plain.close()
        self.assertFalse(secure.disconnected)

    def test_bulkTransports(self) -> None:
        """
        A connection put behind TLS for an external server gets the bulk
        TLS protocol, whose TCP transport sends and holds a chunk's
        records, and a plaintext end that reads a chunk at a time.
        """
        reactor, _, _ = self.front()
        (tls, secure), (_, clear) = reactor.adopted
        self.assertIsInstance(tls, BulkTLSProtocol)
        self.assertEqual(
            (getattr(secure, "SEND_LIMIT", None), getattr(secure, "bufferSize", None)),
            (TRANSPORT_CHUNK, TRANSPORT_CHUNK),
        )
        self.assertEqual(getattr(clear, "bufferSize", None), WRITE_CHUNK)
