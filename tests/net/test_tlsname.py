"""
Tests for L{txinetd.net.tlsname}: a redirect target's certificate is
checked against the name during the handshake, in memory, with
certificates of a test CA.
"""

from __future__ import annotations

import os

from service_identity import CertificateError, VerificationError
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import ClientFactory, Protocol, ServerFactory
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase

from tests.certificates import Authority, Issued
from txinetd.core.endpoint import RedirectTLS, TLSSettings
from txinetd.net.tls import clientCreator, describeTLSFailure, serverOptions
from txinetd.net.tlsname import NameChecking


class _Recorder(Protocol):
    """
    Records what it receives and why its connection ended; says
    C{secret} once connected, as a client of a redirect would.
    """

    def __init__(self, say: bytes = b"") -> None:
        self.say = say
        self.received: list[bytes] = []
        self.reason: Failure | None = None

    def connectionMade(self) -> None:
        if self.say and self.transport is not None:
            self.transport.write(self.say)

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        self.reason = reason


class NameCheckingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.authority = Authority(self.directory)

    def handshake(self, issued: Issued, name: str) -> tuple[bytes, Failure | None]:
        """
        A TLS client for C{name}, trusting the test CA only, to a server
        with C{issued}: what the server received, and why the client's
        connection ended (L{None} if it did not).
        """
        serverSide = _Recorder()
        server = TLSMemoryBIOProtocol(
            TLSMemoryBIOFactory(
                serverOptions(TLSSettings(issued.certificate, issued.key)), False, ServerFactory()
            ),
            serverSide,
        )
        clientSide = _Recorder(b"secret")
        creator = clientCreator(RedirectTLS(name, self.authority.path))
        self.assertIsInstance(creator, NameChecking)
        client = TLSMemoryBIOProtocol(
            TLSMemoryBIOFactory(creator, True, ClientFactory.forProtocol(Protocol)), clientSide
        )
        pump = connect(
            server,
            FakeTransport(server, isServer=True),
            client,
            FakeTransport(client, isServer=False),
        )
        pump.flush()
        return b"".join(serverSide.received), clientSide.reason

    def test_match(self) -> None:
        received, reason = self.handshake(self.authority.server("good", "localhost"), "localhost")
        self.assertEqual((received, reason), (b"secret", None))

    def test_otherName(self) -> None:
        """
        A certificate for another name: nothing reaches the target.
        """
        issued = self.authority.server("wrong", "wrong.example")
        received, reason = self.handshake(issued, "localhost")
        self.assertEqual(received, b"")
        assert reason is not None
        self.assertIsInstance(reason.value, VerificationError)

    def test_noSubjectAltName(self) -> None:
        """
        A certificate with the name in its common name only, and no
        subjectAltName, is refused like one for another name (Twisted
        26.10 alone logs service-identity's L{CertificateError} and accepts
        it for any name): nothing reaches the target, and the reason says
        why.
        """
        issued = self.authority.server("localhost")
        received, reason = self.handshake(issued, "localhost")
        self.assertEqual(received, b"")
        assert reason is not None
        self.assertIsInstance(reason.value, CertificateError)
        self.assertEqual(
            describeTLSFailure(reason),
            "the certificate is not valid for the name: "
            "Certificate does not contain any `subjectAltName`s.",
        )
        self.assertEqual(self.handshake(issued, "another.example")[0], b"")

    def test_address(self) -> None:
        """
        A literal address is checked against the certificate's IP
        addresses.
        """
        issued = self.authority.server("address", "127.0.0.1")
        self.assertEqual(self.handshake(issued, "127.0.0.1"), (b"secret", None))
        received, reason = self.handshake(issued, "127.0.0.2")
        self.assertEqual(received, b"")
        assert reason is not None
        self.assertIsInstance(reason.value, VerificationError)

    def test_untrusted(self) -> None:
        """
        A certificate of another CA fails on the chain, whatever its name.
        """
        other = Authority(self.directory, "another CA")
        received, reason = self.handshake(other.server("good", "localhost"), "localhost")
        self.assertEqual(received, b"")
        self.assertIsNotNone(reason)
