# -*- test-case-name: tests.net.test_tls -*-
"""
TLS in front of any service, and TLS to a redirect target.

A TLS service's connections are accepted like any other.  Each is then put
behind a TLS bridge: txinetd speaks TLS to the client over the accepted
socket and relays the plaintext over a socketpair, whose other end is what
the service gets, exactly like an accepted plaintext socket.  The access
checks, limits, banners and logging run on that end as they would on a
plain connection; an external server gets it on fds 0-2, as stunnel's exec
mode does; a redirect reads it like a socket.  A service that runs in
process (a built-in or a plugin) needs no socket: its plaintext stays in
memory (L{txinetd.net.tlsdirect}), and admission sees a
L{DirectConnection} with the same addresses.

Before a service starts on a TLS connection txinetd waits for the
handshake, so that a client whose certificate is refused never reaches the
server, and so that an external server gets the client certificate's
subject and issuer in C{SSL_CLIENT_DN} and C{SSL_CLIENT_I_DN}.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from service_identity import CertificateError, VerificationError
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.protocol import ServerFactory
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from txinetd.core.endpoint import RedirectTLS, TLSSettings
from txinetd.net.acceptor import PendingConnection, attachProtocol
from txinetd.net.relay import Side, TLSSide, connectSides, stopSides
from txinetd.net.tlsbulk import WRITE_CHUNK, BulkTLSProtocol, tuneTransport
from txinetd.net.tlsdirect import DirectConnection, DirectTLSProtocol, PlaintextEnd
from txinetd.net.tlsname import NameChecking

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "ClientCertificate",
    "TLSError",
    "TLSFront",
    "checkRedirectSettings",
    "checkSettings",
    "clientCreator",
    "describeTLSFailure",
    "serverOptions",
]

#: Seconds a client has to complete the TLS handshake.
HANDSHAKE_TIMEOUT = 30.0

_PEM_KEY = re.compile(
    rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----\r?\n.+?\r?\n-----END \1PRIVATE KEY-----", re.DOTALL
)
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)
#: OpenSSL's short names where RFC 4514 has none.
_OPENSSL_NAMES = {
    NameOID.STREET_ADDRESS: "street",
    NameOID.TITLE: "title",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GN",
    NameOID.INITIALS: "initials",
    NameOID.PSEUDONYM: "pseudonym",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.GENERATION_QUALIFIER: "generationQualifier",
    NameOID.DN_QUALIFIER: "dnQualifier",
    NameOID.BUSINESS_CATEGORY: "businessCategory",
    NameOID.JURISDICTION_COUNTRY_NAME: "jurisdictionC",
    NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME: "jurisdictionST",
    NameOID.JURISDICTION_LOCALITY_NAME: "jurisdictionL",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
    NameOID.UNSTRUCTURED_NAME: "unstructuredName",
    x509.ObjectIdentifier("2.5.4.41"): "name",
}
#: The longest subject or issuer a client certificate may have, written
#: out as L{formatName} writes it.
MAX_NAME_LENGTH = 4096
#: Characters a distinguished name's value escapes (RFC 2253).
_DN_SPECIAL = re.compile(r'([,+"\\<>;])')


class TLSError(Exception):
    """
    TLS settings that cannot be used; the message says why.
    """


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TLSError(f"cannot read {path}: {e.strerror}") from None


def _certificates(path: str) -> list[Certificate]:
    """
    Every PEM certificate in a file, in order.
    """
    blocks = _PEM_CERTIFICATE.findall(_read(path))
    if not blocks:
        raise TLSError(f"no certificate in {path}")
    try:
        return [Certificate.loadPEM(block) for block in blocks]
    except (SSL.Error, crypto.Error) as e:
        raise TLSError(f"bad certificate in {path}: {describeSSLError(e)}") from None


def _privateKey(path: str) -> PrivateKeyTypes:
    """
    The (first) private key in a PEM file.
    """
    data = _read(path)
    match = _PEM_KEY.search(data)
    if match is None:
        raise TLSError(f"no private key in {path}")
    try:
        return serialization.load_pem_private_key(match.group(0), password=None)
    except (ValueError, TypeError) as e:
        raise TLSError(f"no usable private key in {path}: {e}") from None


def serverOptions(settings: TLSSettings) -> CertificateOptions:
    """
    The TLS server options of a service, read from its files now.

    @raise TLSError: if a file cannot be read or the key does not match.
    """
    certificates = _certificates(settings.certificate)
    chain = certificates[1:]
    if settings.chain is not None:
        chain += _certificates(settings.chain)
    key = _privateKey(settings.key)
    authorities = [] if settings.clientCA is None else _certificates(settings.clientCA)
    # The key and certificates go to OpenSSL as cryptography objects (pyOpenSSL
    # deprecates its own); the CA store still takes pyOpenSSL's.
    options = CertificateOptions(
        privateKey=key,  # type: ignore[arg-type]
        certificate=certificates[0].original.to_cryptography(),
        extraCertChain=[c.original.to_cryptography() for c in chain],
        verify=bool(authorities),
        caCerts=[c.original for c in authorities] or None,
        requireCertificate=settings.clientRequired,
    )
    try:
        options.getContext()
    except SSL.Error as e:
        raise TLSError(
            f"{settings.key} does not fit {settings.certificate}: {describeSSLError(e)}"
        ) from None
    return options


def _problem(build: Callable[[], object]) -> str | None:
    """
    The L{TLSError} that C{build} raises, as a configuration problem, or
    L{None}.
    """
    try:
        build()
    except TLSError as e:
        return f"TLS: {e}"
    return None


def checkSettings(settings: TLSSettings) -> str | None:
    """
    Why a service's TLS settings cannot be used, or L{None}.
    """
    return _problem(lambda: serverOptions(settings))


def clientCreator(settings: RedirectTLS) -> IOpenSSLClientConnectionCreator:
    """
    TLS to a redirect target whose certificate must be valid for
    C{settings.name} (checked with service-identity, by Twisted and by
    L{NameChecking}).

    @raise TLSError: if the CA file cannot be read or the name is no host
        name.
    """
    if settings.ca is None:
        trust = platformTrust()  # type: ignore[no-untyped-call]
    else:
        trust = trustRootFromCertificates(_certificates(settings.ca))  # type: ignore[no-untyped-call]
    try:
        creator = optionsForClientTLS(settings.name, trust)
    except UnicodeError as e:
        raise TLSError(f"bad host name {settings.name}: {e}") from None
    return NameChecking(creator, settings.name)


def checkRedirectSettings(settings: RedirectTLS) -> str | None:
    """
    Why the TLS settings of a redirect cannot be used, or L{None}.
    """
    return _problem(lambda: clientCreator(settings))


def describeSSLError(error: BaseException) -> str:
    """
    OpenSSL's reasons, without the library and function names.
    """
    if (
        isinstance(error, SSL.Error | crypto.Error)
        and error.args
        and isinstance(error.args[0], list)
    ):
        reasons = [str(entry[-1]) for entry in error.args[0] if entry]
        if reasons:
            return "; ".join(reasons)
    return str(error) or type(error).__name__


def describeTLSFailure(failure: Failure | BaseException) -> str:
    """
    Why a TLS connection ended before its handshake completed.
    """
    error = failure.value if isinstance(failure, Failure) else failure
    if isinstance(error, SSL.Error):
        return describeSSLError(error)
    if isinstance(error, VerificationError | CertificateError):
        return f"the certificate is not valid for the name: {error}"
    return str(error) or type(error).__name__


def _printable(text: str) -> str:
    """
    C{text} with every character that is not printable (control
    characters, line and paragraph separators, format characters) written
    as its UTF-8 bytes in C{\\XX} form, as OpenSSL's C{ASN1_STRFLGS_ESC_CTRL}
    (which stunnel uses for C{SSL_CLIENT_DN}) writes control characters.
    """
    return "".join(
        character
        if character.isprintable()
        else "".join(f"\\{byte:02X}" for byte in character.encode("utf-8", "surrogatepass"))
        for character in text
    )


def formatName(name: x509.Name) -> str:
    """
    A distinguished name on one line, in the certificate's order, as
    stunnel gives it to servers (C{C=PL, O=Example, CN=client}): separators
    are escaped with a backslash, and characters that are not printable as
    C{\\XX} (a NUL, CR, LF or ESC never reaches a server's environment or
    a log).
    """
    parts = []
    for rdn in name.rdns:
        # A multi-valued RDN is one part, its attributes joined by " + ".
        values = []
        for attribute in rdn:
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
            escaped = _printable(_DN_SPECIAL.sub(r"\\\1", value))
            key = _OPENSSL_NAMES.get(attribute.oid, attribute.rfc4514_attribute_name)
            values.append(f"{key}={escaped}")
        parts.append(" + ".join(values))
    return ", ".join(parts)


@dataclass(frozen=True)
class ClientCertificate:
    """
    The certificate a client presented.

    @ivar subject: its subject, as L{formatName} writes it.
    @ivar issuer: its issuer, likewise.
    """

    subject: str
    issuer: str

    @classmethod
    def fromX509(cls, certificate: Any) -> ClientCertificate:
        """
        From pyOpenSSL's peer certificate.

        @raise ValueError: if its names cannot be decoded, or are longer than
            L{MAX_NAME_LENGTH} characters written out (they go to a log line
            and to a server's environment).
        """
        read: x509.Certificate = certificate.to_cryptography()
        subject, issuer = formatName(read.subject), formatName(read.issuer)
        if max(len(subject), len(issuer)) > MAX_NAME_LENGTH:
            raise ValueError(f"a name longer than {MAX_NAME_LENGTH} characters")
        return cls(subject, issuer)

    def environment(self) -> dict[str, str]:
        """
        What an external server gets in its environment.
        """
        return {"SSL_CLIENT_DN": self.subject, "SSL_CLIENT_I_DN": self.issuer}


class _HandshakeWait:
    """
    The wait for one TLS connection's handshake: its outcome, who waits for
    it, and its timeout.  A subclass says how the connection is aborted
    (L{abort}).
    """

    def __init__(self, reactor: Any, timeout: float) -> None:
        self.outcome: ClientCertificate | Failure | None = None
        self.handshaken = False
        self.waiting: list[Deferred[ClientCertificate | None]] = []
        self.timer = reactor.callLater(timeout, self.timedOut)

    def whenSecured(self) -> Deferred[ClientCertificate | None]:
        """
        A L{Deferred} that fires with the client's L{ClientCertificate}
        (L{None} if it sent none) once the handshake is done, or fails with
        why it was not.  Cancelling it while the handshake runs abandons
        the connection (see L{abandon}).
        """
        secured: Deferred[ClientCertificate | None] = Deferred(self._cancelled)
        if self.handshaken or self.outcome is not None:
            self._fire(secured)
        else:
            self.waiting.append(secured)
        return secured

    def _fire(self, secured: Deferred[ClientCertificate | None]) -> None:
        if isinstance(self.outcome, Failure):
            secured.errback(self.outcome)
        else:
            secured.callback(self.outcome)

    def _conclude(self, outcome: ClientCertificate | Failure | None) -> None:
        if self.handshaken or isinstance(self.outcome, Failure):
            return
        self.outcome = outcome
        self.handshaken = not isinstance(outcome, Failure)
        self._stopTimer()
        waiting, self.waiting = self.waiting, []
        for secured in waiting:
            self._fire(secured)

    def _cancelled(self, secured: Deferred[ClientCertificate | None]) -> None:
        """
        Nobody waits for the handshake any more: the connection will not
        be served.  C{secured} fails with
        L{twisted.internet.defer.CancelledError} alone.
        """
        self.waiting.remove(secured)
        self.abandon()

    def abandon(self) -> None:
        """
        The connection could not be taken over, or will not be served: end
        whatever was adopted.
        """
        self._conclude(Failure(TLSError("the client went away")))  # type: ignore[no-untyped-call]
        self.abort()

    def timedOut(self) -> None:
        self.timer = None
        self._conclude(Failure(TLSError("handshake timed out")))  # type: ignore[no-untyped-call]
        self.abort()

    def secured(self, transport: Any) -> None:
        """
        The handshake on C{transport} (the TLS protocol) is done: the
        client's certificate, if it sent one, is read.
        """
        peer = transport.getPeerCertificate() if transport is not None else None
        try:
            certificate = None if peer is None else ClientCertificate.fromX509(peer)
        except ValueError as e:
            # A name that cannot be decoded: refused, like a bad certificate.
            reason = TLSError(f"unreadable client certificate: {_printable(str(e))}")
            self._conclude(Failure(reason))  # type: ignore[no-untyped-call]
            self.abort()
            return
        self._conclude(certificate)

    def abort(self) -> None:
        """
        Abort the connection.
        """
        raise NotImplementedError

    def _stopTimer(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


class _Bridge(_HandshakeWait):
    """
    One TLS connection and the plaintext socketpair end the service gets.
    """

    def __init__(self, reactor: Any, timeout: float) -> None:
        super().__init__(reactor, timeout)
        self.secure = _SecureSide(self, reactor)
        self.plain = Side(self, reactor)

    def abort(self) -> None:
        stopSides((self.secure, self.plain), True)

    def handshakeDone(self) -> None:
        self.secured(self.secure.transport)

    def sideLost(self, side: Side, reason: Failure) -> None:
        if side is self.secure:
            self._conclude(self.secure.reason)
            self.plain.orphan(reason)
        elif self.handshaken or self.plain.received:
            # What the service sent still reaches the client.
            self.secure.orphan(reason)
        else:
            # A client the service turned away without a word.
            stopSides((self.secure,), True)
        if self.secure.lost and self.plain.lost:
            self._stopTimer()


class _InProcess(_HandshakeWait):
    """
    One TLS connection whose plaintext stays in process (see
    L{txinetd.net.tlsdirect}).
    """

    def __init__(self, reactor: Any, timeout: float) -> None:
        super().__init__(reactor, timeout)
        self.plain = PlaintextEnd(self)

    def abort(self) -> None:
        transport: Any = self.plain.transport
        if transport is not None:
            transport.abortConnection()

    def handshakeDone(self) -> None:
        self.secured(self.plain.transport)

    def tlsLost(self, reason: Failure) -> None:
        self._conclude(reason)
        self._stopTimer()


class _SecureSide(TLSSide):
    """
    The client's side of a bridge, behind Twisted's TLS protocol.
    """

    def __init__(self, bridge: _Bridge, clock: Any) -> None:
        super().__init__(bridge, clock)
        self.bridge = bridge

    def handshakeCompleted(self) -> None:
        self.bridge.handshakeDone()
        super().handshakeCompleted()


class _BridgedConnection(PendingConnection):
    """
    The plaintext end of a L{_Bridge}, as the service gets it.  Closed
    before the handshake is done with nothing sent (a client refused by
    the access rules or limits), it ends the TLS connection at once, so
    that a ClientHello already received is never answered: the bridge
    would otherwise see the end closed only at a later wake-up, after the
    TLS side had read the ClientHello and answered it.
    """

    def __init__(
        self, reactor: Any, sock: socket.socket, client: PendingConnection, bridge: _Bridge
    ) -> None:
        super().__init__(reactor, sock, client.rawPeer, client.rawLocal)
        self.bridge = bridge
        self.written = False

    def sendNow(self, data: bytes, closing: bool = False) -> bytes:
        self.written = self.written or bool(data)
        return super().sendNow(data, closing)

    def send(self, data: bytes) -> Deferred[None]:
        self.written = self.written or bool(data)
        return super().send(data)

    def close(self) -> None:
        # Neither handshaken nor ended yet (a timeout, a handshake that
        # failed, an abandoned bridge have ended it).
        pending = not self.bridge.handshaken and self.bridge.outcome is None
        turnedAway = pending and not (self.closed or self.written)
        super().close()
        if turnedAway:
            self.bridge.abandon()


class TLSFront:
    """
    Puts a service's accepted connections behind TLS.

    @ivar options: the server options.  A reconfiguration makes a new
        front, so new connections get the new certificates and established
        ones keep theirs.
    """

    def __init__(
        self,
        reactor: Any,
        options: CertificateOptions,
        timeout: float = HANDSHAKE_TIMEOUT,
    ) -> None:
        self.reactor = reactor
        self.options = options
        self.timeout = timeout
        # One factory makes the TLS connections of every client.
        self.factory = TLSMemoryBIOFactory(options, False, ServerFactory())

    def secure(
        self, connection: PendingConnection, inProcess: bool = False
    ) -> PendingConnection | None:
        """
        Take over an accepted connection; the plaintext end it returns has
        the client's addresses, and its C{whenSecured} tells when the
        handshake is done.

        @param inProcess: whether the service runs in process: then the
            plaintext end is a L{DirectConnection}, in memory, which only
            such a service can be given (no socketpair).
        @return: L{None} if the connection could not be taken over (the
            client is closed).
        """
        if inProcess:
            return self._secureInProcess(connection)
        try:
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError:
            connection.close()
            return None
        bridge = _Bridge(self.reactor, self.timeout)
        tlsProtocol = BulkTLSProtocol(self.factory, bridge.secure)  # type: ignore[no-untyped-call]
        plain = _BridgedConnection(self.reactor, theirs, connection, bridge)
        # The client's addresses, which a PROXY header may have named.
        plain.peer, plain.local = connection.peer, connection.local
        plain.whenSecured = bridge.whenSecured
        try:
            # Handshake records and the first reply go out at once (stunnel does the same).
            with contextlib.suppress(OSError):
                connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            attachProtocol(self.reactor, connection.fileno(), connection.family, tlsProtocol)
            attachProtocol(self.reactor, mine.fileno(), socket.AF_UNIX, bridge.plain)
            # What the service sends is read, and encrypted, in large pieces.
            cast(Any, bridge.plain.transport).bufferSize = WRITE_CHUNK
            tuneTransport(tlsProtocol.transport)
        except OSError:
            # The client reset the connection before it could be adopted.
            bridge.abandon()
            plain.close()
            return None
        finally:
            connection.close()
            mine.close()
        connectSides(bridge.secure, bridge.plain)
        return plain

    def _secureInProcess(self, connection: PendingConnection) -> DirectConnection | None:
        """
        Take over an accepted connection for a service that runs in
        process: no socketpair, the plaintext stays in memory.
        """
        wait = _InProcess(self.reactor, self.timeout)
        tlsProtocol = DirectTLSProtocol(self.factory, wait.plain)  # type: ignore[no-untyped-call]
        try:
            with contextlib.suppress(OSError):
                connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            attachProtocol(self.reactor, connection.fileno(), connection.family, tlsProtocol)
        except OSError:
            # The client reset the connection before it could be adopted.
            wait.abandon()
            return None
        finally:
            connection.close()
        plain = DirectConnection(self.reactor, connection, tlsProtocol, wait.plain)
        plain.whenSecured = wait.whenSecured
        return plain
